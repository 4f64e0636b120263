package school.journal

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.withContext
import school.journal.ffi.AbsenceInfo
import school.journal.ffi.AnnouncementAudience
import school.journal.ffi.AttachmentInfo
import school.journal.ffi.AttendanceEntry
import school.journal.ffi.ChildInfo
import school.journal.ffi.ConflictInfo
import school.journal.ffi.HomeworkInfo
import school.journal.ffi.JournalHandle
import school.journal.ffi.LessonInfo
import school.journal.ffi.MarkInfo
import school.journal.ffi.Me
import school.journal.ffi.MessageInfo
import school.journal.ffi.NewsInfo
import school.journal.ffi.RefusedEditInfo
import school.journal.ffi.SignIn
import school.journal.ffi.StudentInfo
import school.journal.ffi.SubjectAverageInfo
import school.journal.ffi.SyncEventFfi
import school.journal.ffi.SyncListenerFfi
import school.journal.ffi.SyncSummary
import school.journal.ffi.ThreadSummaryInfo

/** Supplies the 32-byte key that seals the journal on this device (see `KeystoreKeyProvider`). */
fun interface KeyProvider {
    /** The key; the same bytes every time for the same journal. */
    fun key(): ByteArray
}

/**
 * The school journal on this device. Every call is a suspend function that runs the Rust core off the main
 * thread; [syncEvents] is a Flow of sync events while the journal syncs in the background. Errors arrive as
 * `JournalException` subclasses whose messages say what to do. Mirrors `JournalKit.Journal` in Swift.
 */
class Journal private constructor(private val handle: JournalHandle) : AutoCloseable {
    companion object {
        /** Opens (or creates) the journal at [path], sealed with the key [keys] provides. */
        suspend fun open(path: String, keys: KeyProvider): Journal =
            withContext(Dispatchers.IO) { Journal(JournalHandle.open(path, keys.key())) }
    }

    private suspend fun <T> io(block: () -> T): T = withContext(Dispatchers.IO) { block() }

    /** Uses a sign-in the app kept (relay address, device token, and the certificate fingerprint if any). */
    fun signIn(server: String, token: String, pin: String? = null) = handle.signIn(server, token, pin)

    /**
     * Redeems an access code; keep the returned token (and pin) in the Keystore. [pin] is the certificate
     * fingerprint printed on the access slip, for a relay with a certificate of its own.
     */
    suspend fun redeem(server: String, code: String, label: String, pin: String? = null): SignIn =
        handle.redeem(server, code, label, pin)

    /** Syncs every document once; offline throws `JournalException.Offline` and keeps every edit. */
    suspend fun syncNow(): SyncSummary = handle.syncNow(null)

    /** Syncs in the background while collected: progress, per-document status and new-item events. */
    fun syncEvents(): Flow<SyncEventFfi> = callbackFlow {
        val listener = object : SyncListenerFfi {
            override fun onEvent(event: SyncEventFfi) {
                trySend(event)
            }
        }
        handle.startLiveSync(listener)
        awaitClose { handle.stopLiveSync() }
    }.buffer(Channel.UNLIMITED)

    /** Who is signed in. */
    suspend fun me(): Me? = io { handle.me() }

    /** A parent's children. */
    suspend fun children(): List<ChildInfo> = io { handle.children() }

    /** Lessons of a day (YYYY-MM-DD): a teacher's own. */
    suspend fun lessonsOn(day: String): List<LessonInfo> = io { handle.lessonsOn(day) }

    /** The students of a lesson's class. */
    suspend fun lessonStudents(lesson: String): List<StudentInfo> = io { handle.lessonStudents(lesson) }

    /** Marks attendance for a lesson in one step. */
    suspend fun markAttendance(lesson: String, entries: List<AttendanceEntry>) =
        io { handle.markAttendance(lesson, entries) }

    /** Puts or changes a mark; returns its id. */
    suspend fun putMark(student: String, lesson: String, value: String, kind: String, comment: String = ""): String =
        io { handle.putMark(student, lesson, value, kind, comment) }

    /** Puts or changes a mark as a correction that gives its reason; returns its id. */
    suspend fun correctMark(student: String, lesson: String, value: String, kind: String, reason: String): String =
        io { handle.correctMark(student, lesson, value, kind, reason) }

    /** Corrects one student's attendance with the reason (a sick note); `code` null marks them present. */
    suspend fun correctAttendance(lesson: String, student: String, code: String?, reason: String) =
        io { handle.correctAttendance(lesson, student, code, reason) }

    /** Removes a mark. */
    suspend fun removeMark(student: String, mark: String) = io { handle.removeMark(student, mark) }

    /** Sets a lesson's topic. */
    suspend fun setTopic(lesson: String, topic: String) = io { handle.setTopic(lesson, topic) }

    /** Sets a lesson's homework. */
    suspend fun setHomework(lesson: String, text: String, due: String? = null) =
        io { handle.setHomework(lesson, text, due) }

    /** Cells two devices set differently. */
    suspend fun conflicts(): List<ConflictInfo> = io { handle.conflicts() }

    /** Keeps one value of a conflict. */
    suspend fun resolveConflict(key: String, choice: UInt) = io { handle.resolveConflict(key, choice) }

    /** A student's marks in a period. */
    suspend fun marks(student: String, from: String, to: String, subject: String? = null): List<MarkInfo> =
        io { handle.marks(student, from, to, subject) }

    /** A student's average per subject in a period. */
    suspend fun subjectAverages(student: String, from: String, to: String, subject: String? = null): List<SubjectAverageInfo> =
        io { handle.subjectAverages(student, from, to, subject) }

    /** A student's absences in a period. */
    suspend fun absences(student: String, from: String, to: String): List<AbsenceInfo> =
        io { handle.absences(student, from, to) }

    /** A student's homework in a period. */
    suspend fun homework(student: String, from: String, to: String): List<HomeworkInfo> =
        io { handle.homework(student, from, to) }

    /** Edits the relay refused. */
    suspend fun refusedEdits(): List<RefusedEditInfo> = io { handle.refusedEdits() }

    /** Puts a refused edit back to go out at the next sync; returns its document. */
    suspend fun retryRefusedEdit(number: Long): String = io { handle.retryRefusedEdit(number) }

    /** Lets a refused edit go. */
    suspend fun discardRefusedEdit(number: Long) = io { handle.discardRefusedEdit(number) }

    /** What is new since the user last looked. */
    suspend fun news(): List<NewsInfo> = io { handle.news() }

    /** Marks the feed seen. */
    suspend fun markNewsSeen() = io { handle.markNewsSeen() }

    /** Conversations. */
    suspend fun threads(): List<ThreadSummaryInfo> = io { handle.threads() }

    /** Messages of a conversation. */
    suspend fun threadMessages(thread: String): List<MessageInfo> = io { handle.threadMessages(thread) }

    /** Starts a conversation, with files if any (512 KiB in all); returns its id. */
    suspend fun startConversation(
        to: List<String>,
        subject: String,
        text: String,
        attachments: List<AttachmentInfo> = emptyList(),
    ): String = io { handle.startConversation(to, subject, text, attachments) }

    /** Writes in a conversation, with files if any. */
    suspend fun sendMessage(thread: String, text: String, attachments: List<AttachmentInfo> = emptyList()) =
        io { handle.sendMessage(thread, text, attachments) }

    /** A class teacher's announcement to every family (or every student) of the class; returns how many. */
    suspend fun announce(classId: String, audience: AnnouncementAudience, subject: String, text: String): UInt =
        io { handle.announce(classId, audience, subject, text) }

    /** The weekly digest of the week holding [day] to every family of the class; returns how many. */
    suspend fun weeklyDigest(classId: String, day: String): UInt = io { handle.weeklyDigest(classId, day) }

    /** Records that a conversation was read. */
    suspend fun markThreadRead(thread: String) = io { handle.markThreadRead(thread) }

    /** A report as PDF bytes, made on the device. */
    suspend fun reportPdf(kind: String, classId: String? = null, subject: String? = null, term: String? = null, student: String? = null): ByteArray =
        io { handle.reportPdf(kind, classId, subject, term, student) }

    /** Stops background sync and frees the journal. */
    override fun close() {
        handle.stopLiveSync()
        handle.close()
    }
}
