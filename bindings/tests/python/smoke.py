"""The same story through the generated Python bindings: redeem, offline edits, sync, a parent sees exactly
its own child's marks. Arguments: relay URL, teacher code, parent code, a scratch directory."""

import asyncio
import datetime
import os
import sys

import journal_mobile as j


def candidate_days():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    monday = today - datetime.timedelta(days=today.weekday())
    start = datetime.date(today.year if today.month >= 8 else today.year - 1, 9, 1)
    return [str(monday + datetime.timedelta(days=d)) for d in range(5)] + [
        str(start + datetime.timedelta(days=d)) for d in range(7)
    ]


async def main(url, teacher_code, parent_code, scratch):
    teacher = j.JournalHandle.open(os.path.join(scratch, "teacher.db"), bytes([7] * 32))
    sign_in = await teacher.redeem(url, teacher_code, "tablet")
    assert sign_in.role == "teacher", sign_in
    await teacher.sync_now(None)
    day, lesson = next(
        (d, l[0]) for d in candidate_days() for l in [teacher.lessons_on(d)] if l
    )

    teacher.sign_in("http://127.0.0.1:9", sign_in.token)
    try:
        await teacher.sync_now(None)
        raise AssertionError("a sync with no relay must fail")
    except j.JournalError.Offline as offline:
        assert "saved" in str(offline), offline
    teacher.put_mark("s5a1", lesson.id, "4", "oral", "")
    try:
        teacher.put_mark("s5a1", lesson.id, "9", "oral", "")
        raise AssertionError("a mark of 9 must be refused")
    except j.JournalError.Invalid:
        pass
    teacher.sign_in(url, sign_in.token)
    summary = await teacher.sync_now(None)
    assert not summary.refused, summary

    parent = j.JournalHandle.open(os.path.join(scratch, "parent.db"), bytes([9] * 32))
    assert (await parent.redeem(url, parent_code, "phone")).role == "parent"

    class Events(j.SyncListenerFfi):
        def __init__(self):
            self.seen = []

        def on_event(self, event):
            self.seen.append(event)

    events = Events()
    await parent.sync_now(events)
    assert any(isinstance(e, j.SyncEventFfi.PROGRESS) for e in events.seen), events.seen
    marks = parent.marks("s5a1", day, day, None)
    assert [m.value for m in marks] == ["4"], marks
    averages = parent.subject_averages("s5a1", day, day, None)
    assert [(a.subject, a.average, a.marks) for a in averages] == [(marks[0].subject, "4.00", 1)], averages
    assert parent.refused_edits() == []
    for act in (parent.retry_refused_edit, parent.discard_refused_edit):
        try:
            act(1)
            raise AssertionError("there is no refused edit 1 to act on")
        except j.JournalError.NotFound:
            pass
    try:
        parent.marks("s5a3", day, day, None)
        raise AssertionError("another family's child must not be on the phone")
    except j.JournalError.NotFound:
        pass
    print("python story: OK")


asyncio.run(main(*sys.argv[1:5]))
