// The school journal on this device for Swift apps: async functions over the Rust core, an AsyncStream of
// sync events, and a key provider over the Keychain. It mirrors `school.journal.Journal` in Kotlin call for
// call. (No Swift compiler runs in this project's CI; the Kotlin twin is the one exercised end to end.)

import Foundation
import JournalFFI
import Security

/// Supplies the 32-byte key that seals the journal on this device.
public protocol KeyProvider {
    /// The key; the same bytes every time for the same journal.
    func key() throws -> Data
}

/// The journal's key in the Keychain, readable only on this device after its first unlock.
public struct KeychainKeyProvider: KeyProvider {
    public let account: String

    public init(account: String = "journal-store") {
        self.account = account
    }

    public func key() throws -> Data {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrAccount as String: account,
            kSecReturnData as String: true,
        ]
        var found: AnyObject?
        if SecItemCopyMatching(query as CFDictionary, &found) == errSecSuccess, let data = found as? Data {
            return data
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard SecRandomCopyBytes(kSecRandomDefault, bytes.count, &bytes) == errSecSuccess else {
            throw KeychainError.noRandom
        }
        let key = Data(bytes)
        let add: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrAccount as String: account,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            kSecValueData as String: key,
        ]
        let status = SecItemAdd(add as CFDictionary, nil)
        guard status == errSecSuccess else { throw KeychainError.status(status) }
        return key
    }
}

/// Why the Keychain could not give a key.
public enum KeychainError: Error {
    case noRandom
    case status(OSStatus)
}

/// Passes sync events into an AsyncStream.
private final class StreamListener: SyncListenerFfi, @unchecked Sendable {
    let continuation: AsyncStream<SyncEventFfi>.Continuation

    init(_ continuation: AsyncStream<SyncEventFfi>.Continuation) {
        self.continuation = continuation
    }

    func onEvent(event: SyncEventFfi) {
        continuation.yield(event)
    }
}

/// The school journal on this device.
public final class Journal {
    private let handle: JournalHandle

    private init(handle: JournalHandle) {
        self.handle = handle
    }

    deinit {
        handle.stopLiveSync()
    }

    /// Runs a call into the core off the caller's thread (the core reads and writes SQLite), as the Kotlin
    /// twin does on `Dispatchers.IO`.
    private func io<T>(_ work: @escaping () throws -> T) async throws -> T {
        try await Task.detached(priority: .userInitiated) { try work() }.value
    }

    /// Opens (or creates) the journal at `path`, sealed with the key `keys` provides.
    public static func open(path: String, keys: KeyProvider) async throws -> Journal {
        try Journal(handle: JournalHandle.open(path: path, key: keys.key()))
    }

    /// Uses a sign-in the app kept (relay address, device token, and the certificate fingerprint if any).
    public func signIn(server: String, token: String, pin: String? = nil) throws {
        try handle.signIn(server: server, token: token, pin: pin)
    }

    /// Redeems an access code; keep the returned token (and pin) in the Keychain. `pin` is the certificate
    /// fingerprint printed on the access slip, for a relay with a certificate of its own.
    public func redeem(server: String, code: String, label: String, pin: String? = nil) async throws -> SignIn {
        try await handle.redeem(server: server, code: code, label: label, pin: pin)
    }

    /// Syncs every document once; offline throws `JournalError.Offline` and keeps every edit.
    public func syncNow() async throws -> SyncSummary { try await handle.syncNow(listener: nil) }

    /// Syncs in the background while iterated: progress, per-document status and new-item events.
    public func syncEvents() -> AsyncStream<SyncEventFfi> {
        AsyncStream { continuation in
            do {
                try handle.startLiveSync(listener: StreamListener(continuation))
            } catch {
                continuation.finish()
            }
            continuation.onTermination = { [handle] _ in handle.stopLiveSync() }
        }
    }

    public func me() async throws -> Me? { try await io { try self.handle.me() } }
    public func children() async throws -> [ChildInfo] { try await io { try self.handle.children() } }
    public func lessonsOn(day: String) async throws -> [LessonInfo] {
        try await io { try self.handle.lessonsOn(day: day) }
    }
    public func lessonStudents(lesson: String) async throws -> [StudentInfo] {
        try await io { try self.handle.lessonStudents(lesson: lesson) }
    }
    public func markAttendance(lesson: String, entries: [AttendanceEntry]) async throws {
        try await io { try self.handle.markAttendance(lesson: lesson, entries: entries) }
    }
    public func putMark(student: String, lesson: String, value: String, kind: String, comment: String = "") async throws -> String {
        try await io { try self.handle.putMark(student: student, lesson: lesson, value: value, kind: kind, comment: comment) }
    }
    public func correctMark(student: String, lesson: String, value: String, kind: String, reason: String) async throws -> String {
        try await io { try self.handle.correctMark(student: student, lesson: lesson, value: value, kind: kind, reason: reason) }
    }
    public func correctAttendance(lesson: String, student: String, code: String?, reason: String) async throws {
        try await io { try self.handle.correctAttendance(lesson: lesson, student: student, code: code, reason: reason) }
    }
    public func removeMark(student: String, mark: String) async throws {
        try await io { try self.handle.removeMark(student: student, mark: mark) }
    }
    public func setTopic(lesson: String, topic: String) async throws {
        try await io { try self.handle.setTopic(lesson: lesson, topic: topic) }
    }
    public func setHomework(lesson: String, text: String, due: String? = nil) async throws {
        try await io { try self.handle.setHomework(lesson: lesson, text: text, due: due) }
    }
    public func conflicts() async throws -> [ConflictInfo] { try await io { try self.handle.conflicts() } }
    public func resolveConflict(key: String, choice: UInt32) async throws {
        try await io { try self.handle.resolveConflict(key: key, choice: choice) }
    }
    public func marks(student: String, from: String, to: String, subject: String? = nil) async throws -> [MarkInfo] {
        try await io { try self.handle.marks(student: student, from: from, to: to, subject: subject) }
    }
    public func subjectAverages(student: String, from: String, to: String, subject: String? = nil) async throws -> [SubjectAverageInfo] {
        try await io { try self.handle.subjectAverages(student: student, from: from, to: to, subject: subject) }
    }
    public func absences(student: String, from: String, to: String) async throws -> [AbsenceInfo] {
        try await io { try self.handle.absences(student: student, from: from, to: to) }
    }
    public func homework(student: String, from: String, to: String) async throws -> [HomeworkInfo] {
        try await io { try self.handle.homework(student: student, from: from, to: to) }
    }
    public func refusedEdits() async throws -> [RefusedEditInfo] { try await io { try self.handle.refusedEdits() } }
    public func retryRefusedEdit(number: Int64) async throws -> String {
        try await io { try self.handle.retryRefusedEdit(number: number) }
    }
    public func discardRefusedEdit(number: Int64) async throws { try await io { try self.handle.discardRefusedEdit(number: number) } }
    public func news() async throws -> [NewsInfo] { try await io { try self.handle.news() } }
    public func markNewsSeen() async throws { try await io { try self.handle.markNewsSeen() } }
    public func threads() async throws -> [ThreadSummaryInfo] { try await io { try self.handle.threads() } }
    public func threadMessages(thread: String) async throws -> [MessageInfo] {
        try await io { try self.handle.threadMessages(thread: thread) }
    }
    public func startConversation(to: [String], subject: String, text: String, attachments: [AttachmentInfo] = []) async throws -> String {
        try await io { try self.handle.startConversation(to: to, subject: subject, text: text, attachments: attachments) }
    }
    public func sendMessage(thread: String, text: String, attachments: [AttachmentInfo] = []) async throws {
        try await io { try self.handle.sendMessage(thread: thread, text: text, attachments: attachments) }
    }
    public func markThreadRead(thread: String) async throws {
        try await io { try self.handle.markThreadRead(thread: thread) }
    }
    public func announce(classId: String, audience: AnnouncementAudience, subject: String, text: String) async throws -> UInt32 {
        try await io { try self.handle.announce(class: classId, audience: audience, subject: subject, text: text) }
    }
    public func weeklyDigest(classId: String, day: String) async throws -> UInt32 {
        try await io { try self.handle.weeklyDigest(class: classId, day: day) }
    }
    public func reportPdf(kind: String, classId: String? = nil, subject: String? = nil, term: String? = nil, student: String? = nil) async throws -> Data {
        try await io { try self.handle.reportPdf(kind: kind, class: classId, subject: subject, term: term, student: student) }
    }

    /// Stops background sync; the core's handle is freed when the last reference to this journal goes
    /// (Swift releases objects itself, where Kotlin's `close` frees the handle at once).
    public func close() { handle.stopLiveSync() }
}
