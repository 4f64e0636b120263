// The mobile story on the JVM, through the generated Kotlin bindings and the Kotlin wrapper, against the real
// relay: a teacher redeems a code, goes offline, marks a lesson, syncs; a parent redeems its code and, through
// the Flow of sync events, sees exactly its own child's marks; then they exchange messages with a photo, and
// the teacher's announcement and weekly digest reach the family. Arguments: relay URL, teacher code, parent
// code, a scratch directory.

import java.io.File
import java.time.DayOfWeek
import java.time.LocalDate
import java.time.ZoneOffset
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import school.journal.Journal
import school.journal.KeyProvider
import school.journal.ffi.AnnouncementAudience
import school.journal.ffi.AttachmentInfo
import school.journal.ffi.AttendanceEntry
import school.journal.ffi.JournalException
import school.journal.ffi.SyncEventFfi

fun check(condition: Boolean, message: () -> String) {
    if (!condition) {
        System.err.println("FAILED: " + message())
        kotlin.system.exitProcess(1)
    }
}

/** Days the demo school has lessons on: this week, else the first week of the year. */
fun candidateDays(): List<String> {
    val today = LocalDate.now(ZoneOffset.UTC)
    val monday = today.with(DayOfWeek.MONDAY)
    val yearStart = LocalDate.of(if (today.monthValue >= 8) today.year else today.year - 1, 9, 1)
    return (0L..4L).map { monday.plusDays(it).toString() } + (0L..6L).map { yearStart.plusDays(it).toString() }
}

fun main(args: Array<String>) = runBlocking {
    val (url, teacherCode, parentCode, dir) = args
    val teacherKey = KeyProvider { ByteArray(32) { 7 } }
    val parentKey = KeyProvider { ByteArray(32) { 9 } }

    val teacher = Journal.open(File(dir, "teacher.db").path, teacherKey)
    val signIn = teacher.redeem(url, teacherCode, "tablet")
    check(signIn.role == "teacher") { "teacher role: ${signIn.role}" }
    teacher.syncNow()

    val (day, lesson) = candidateDays().firstNotNullOfOrNull { day ->
        teacher.lessonsOn(day).firstOrNull()?.let { day to it }
    } ?: error("the demo teacher has no lessons")
    val students = teacher.lessonStudents(lesson.id)
    check(students.size == 3) { "5a has 3 students: $students" }

    // Offline: the relay is unreachable; the work is saved on the tablet.
    teacher.signIn("http://127.0.0.1:9", signIn.token)
    val offline = runCatching { teacher.syncNow() }.exceptionOrNull()
    check(offline is JournalException.Offline) { "offline sync: $offline" }
    check(offline!!.message!!.contains("saved")) { "offline message: ${offline.message}" }
    teacher.markAttendance(lesson.id, students.map { AttendanceEntry(it.id, if (it.id == "s5a2") "б" else null, "") })
    teacher.putMark("s5a1", lesson.id, "5", "oral", "Отличный ответ")
    teacher.putMark("s5a3", lesson.id, "3", "oral")
    // A correction gives its reason, which the relay's audit trail keeps; without one it is refused.
    val noReason = runCatching { teacher.correctAttendance(lesson.id, "s5a3", "о", " ") }.exceptionOrNull()
    check(noReason is JournalException.Invalid) { "a correction without a reason: $noReason" }
    teacher.correctAttendance(lesson.id, "s5a3", "о", "опоздал: автобус")
    val bad = runCatching { teacher.putMark("s5a1", lesson.id, "7", "oral") }.exceptionOrNull()
    check(bad is JournalException.Invalid) { "a mark of 7: $bad" }

    // The parent signs in and listens to the Flow of sync events.
    val parent = Journal.open(File(dir, "parent.db").path, parentKey)
    val early = runCatching { parent.startConversation(listOf("account:t-5a"), "Вопрос", "Здравствуйте") }.exceptionOrNull()
    check(early is JournalException.SignInRequired) { "a phone that never signed in: $early" }
    check(parent.redeem(url, parentCode, "phone").role == "parent") { "parent role" }
    val events = Channel<SyncEventFfi>(Channel.UNLIMITED)
    val listening = launch { parent.syncEvents().collect { events.send(it) } }
    // The parent's first sync settles before the teacher's edits go out, so they arrive as a live update:
    // that is what the feed announces (a document that arrives whole is not news).
    withTimeout(30_000) {
        while (true) {
            val event = events.receive()
            if (event is SyncEventFfi.Progress && event.total > 0uL && event.done == event.total) break
        }
    }
    // Back online: the teacher's edits go out; the parent's live session receives them.
    teacher.signIn(url, signIn.token)
    val summary = teacher.syncNow()
    check(summary.refused.isEmpty()) { "refused: ${summary.refused}" }
    withTimeout(30_000) {
        while (true) {
            val event = events.receive()
            val arrived = (event is SyncEventFfi.Received || event is SyncEventFfi.Progress) &&
                runCatching { parent.marks("s5a1", day, day).isNotEmpty() }.getOrDefault(false)
            if (arrived) break
        }
    }
    listening.cancel()

    val marks = parent.marks("s5a1", day, day)
    check(marks.map { it.value } == listOf("5")) { "the child's marks: $marks" }
    check(marks[0].comment == "Отличный ответ") { "comment: ${marks[0]}" }
    val averages = parent.subjectAverages("s5a1", day, day)
    check(averages.map { Triple(it.subject, it.average, it.marks) } == listOf(Triple(marks[0].subject, "5.00", 1u))) {
        "the subject's average: $averages"
    }
    val children = parent.children()
    check(children.map { it.student } == listOf("s5a1")) { "children: $children" }
    val foreign = runCatching { parent.marks("s5a3", day, day) }.exceptionOrNull()
    check(foreign is JournalException.NotFound) { "another family's child must not be on the phone: $foreign" }
    val news = parent.news()
    check(news.any { it.kind == "mark" && it.text == "5" }) { "news: $news" }
    // Apps show names: the subject's and the kind of work's from the school's documents, the child's.
    check(marks[0].subjectName != marks[0].subject && marks[0].kindName != marks[0].kind) { "names: ${marks[0]}" }
    check(news.filter { it.kind == "mark" }.all { it.aboutName == "Иванов Иван" && it.subjectName == marks[0].subjectName }) {
        "the feed by name: $news"
    }

    // Messages: the parent writes to the class teacher with a photo of a sick note; the teacher reads the
    // photo's bytes, answers, and announces a meeting to every family of the class, then sends the digest.
    val photo = ByteArray(2048) { (it % 251).toByte() }
    val thread = parent.startConversation(
        listOf("account:${signIn.account}"),
        "Пропуск",
        "Ваня болел, справка приложена.",
        listOf(AttachmentInfo("справка.jpg", "image/jpeg", photo)),
    )
    val tooBig = runCatching {
        parent.sendMessage(thread, "скан", listOf(AttachmentInfo("scan.png", "image/png", ByteArray(600 * 1024))))
    }.exceptionOrNull()
    check(tooBig is JournalException.Invalid && tooBig.message!!.contains("512 KiB")) { "a 600 KiB scan: $tooBig" }
    check(parent.syncNow().refused.isEmpty()) { "the conversation was refused" }
    teacher.syncNow()
    val inbox = teacher.threads()
    check(inbox.map { it.thread } == listOf(thread) && inbox[0].unread == 1u) { "teacher's inbox: $inbox" }
    val received = teacher.threadMessages(thread).single()
    check(received.text == "Ваня болел, справка приложена.") { "message: $received" }
    check(received.authorName == "Родитель: Иванов Иван") { "the parent by name on the tablet: $received" }
    check(inbox[0].participantNames.contains("Родитель: Иванов Иван")) { "participants by name: ${inbox[0]}" }
    val sickNote = received.attachments.single()
    check(sickNote.name == "справка.jpg" && sickNote.data.contentEquals(photo)) { "the photo arrived whole" }
    teacher.sendMessage(thread, "Спасибо, получил.")
    teacher.markThreadRead(thread)
    val families = teacher.announce("5a", AnnouncementAudience.PARENTS, "Собрание", "Собрание в четверг в 18:00.")
    check(families == 3u) { "5a has three families: $families" }
    check(teacher.weeklyDigest("5a", day) == 3u) { "a digest to each family" }
    check(teacher.syncNow().refused.isEmpty()) { "the teacher's messages were refused" }
    parent.syncNow()
    val subjects = parent.threads().map { it.subject }
    check("Собрание" in subjects && subjects.any { it.startsWith("Итоги недели") }) { "parent's threads: $subjects" }
    check(parent.threads().size == 3) { "only their own family's announcement and digest: $subjects" }
    val answer = parent.threadMessages(thread).last()
    check(answer.text == "Спасибо, получил." && !answer.mine) { "the teacher's answer: $answer" }

    parent.close()
    teacher.close()
    // A wrong key opens nothing and destroys nothing.
    val wrong = runCatching { Journal.open(File(dir, "teacher.db").path, parentKey) }.exceptionOrNull()
    check(wrong is JournalException.WrongKey) { "wrong key: $wrong" }
    Journal.open(File(dir, "teacher.db").path, teacherKey).use { again ->
        check(again.lessonsOn(day).isNotEmpty()) { "the right key still opens the journal" }
    }
    println("kotlin story: OK")
}
