"""Group commit (issue 20, ``infra.group_commit``) on both stores, through the recorders
the ledger uses: concurrent appends share one transaction, and each is answered as if it
had been written alone (its own notification ids, its own version conflict or
``event_id`` clash), with nothing of a refused group kept."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent

from infra.event_ids import is_event_id_clash
from infra.group_commit import GroupCommitter
from services.application.ledger import Ledger


def _event(case: UUID, version: int, event_id: UUID | None = None) -> StoredEvent:
    state = f'{{"event_id":"{event_id or uuid4()}"}}'.encode()  # compact, as infra.mapper
    return StoredEvent(case, version, "tests:Event", state)


class _Held:
    """A committer whose first write waits until released, so that the writes arriving
    meanwhile queue up and are written together by the next leader."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder
        self.started, self.release = threading.Event(), threading.Event()
        self.calls: list[int] = []  # events per transaction
        self.committer = GroupCommitter(self._write)

    def _write(self, events: Sequence[StoredEvent]) -> Sequence[int] | None:
        self.calls.append(len(events))
        if len(self.calls) == 1:
            self.started.set()
            self.release.wait(10)
        ids: Sequence[int] | None = self.recorder._insert_alone(events)  # type: ignore[attr-defined]
        return ids

    def run(
        self, first: Sequence[StoredEvent], queued: Sequence[Sequence[StoredEvent]]
    ) -> list[Any]:
        """Write ``first``, then, while it is held, every one of ``queued`` at once; each
        write's answer (its ids, or the exception it raised), in the order given."""
        answers: list[Any] = [None] * (len(queued) + 1)

        def write(n: int, events: Sequence[StoredEvent]) -> None:
            try:
                answers[n] = self.committer.insert(events)
            except Exception as error:
                answers[n] = error

        leader = threading.Thread(target=write, args=(0, first))
        leader.start()
        assert self.started.wait(10)
        others = [threading.Thread(target=write, args=(n + 1, e)) for n, e in enumerate(queued)]
        for thread in others:
            thread.start()
        _wait_queued(self.committer, len(queued))
        self.release.set()
        for thread in [leader, *others]:
            thread.join(10)
        return answers


def _wait_queued(committer: GroupCommitter, count: int) -> None:
    for _ in range(1000):
        with committer._changed:
            if len(committer._queue) >= count:
                return
        threading.Event().wait(0.005)
    raise AssertionError("the writes did not queue up")


@pytest.fixture
def recorder(ledger: Ledger) -> ApplicationRecorder:
    return ledger.recorder


def _stored(recorder: ApplicationRecorder, case: UUID) -> list[int]:
    return [e.originator_version for e in recorder.select_events(case)]


def test_writes_arriving_meanwhile_share_one_transaction_and_get_their_own_ids(
    recorder: ApplicationRecorder,
) -> None:
    held = _Held(recorder)
    cases = [uuid4() for _ in range(6)]
    queued = [[_event(case, 1), _event(case, 2)] for case in cases[1:]]
    answers = held.run([_event(cases[0], 1)], queued)
    assert held.calls == [1, 10]  # the first alone, the five others in one transaction
    assert held.committer.groups == 1
    assert held.committer.grouped == 5
    for case, ids in zip(cases, answers, strict=True):
        assert not isinstance(ids, Exception), ids
        notifications = {n.id: n for n in recorder.select_notifications(None, 100)}
        assert [notifications[i].originator_id for i in ids] == [case] * len(ids)
        assert [notifications[i].originator_version for i in ids] == _stored(recorder, case)
    every = [i for ids in answers for i in ids]
    assert every == sorted(every)  # arrival order is commit order is notification order


def test_a_stale_version_in_a_group_refuses_that_write_alone(
    recorder: ApplicationRecorder,
) -> None:
    taken, free = uuid4(), [uuid4(), uuid4()]
    recorder.insert_events([_event(taken, 1)])
    held = _Held(recorder)
    queued = [[_event(free[0], 1)], [_event(taken, 1)], [_event(free[1], 1)]]
    answers = held.run([_event(uuid4(), 1)], queued)
    assert isinstance(answers[2], IntegrityError)
    assert not is_event_id_clash(answers[2])  # a version conflict, as it would be alone
    assert all(isinstance(a, list) and len(a) == 1 for n, a in enumerate(answers) if n != 2)
    assert _stored(recorder, taken) == [1]
    assert _stored(recorder, free[0]) == [1]
    assert _stored(recorder, free[1]) == [1]
    assert held.calls == [1, 3, 1, 1, 1]  # the group refused, then each write alone


def test_two_writes_of_one_version_in_a_group_store_the_first_only(
    recorder: ApplicationRecorder,
) -> None:
    case = uuid4()
    held = _Held(recorder)
    first, second = _event(case, 1), _event(case, 1)
    answers = held.run([_event(uuid4(), 1)], [[first], [second]])
    assert isinstance(answers[1], list)
    assert isinstance(answers[2], IntegrityError)
    (stored,) = recorder.select_events(case)
    assert stored.state == first.state


def test_an_event_id_used_twice_in_a_group_is_refused_as_a_clash(
    recorder: ApplicationRecorder,
) -> None:
    event_id = uuid4()
    held = _Held(recorder)
    answers = held.run(
        [_event(uuid4(), 1)], [[_event(uuid4(), 1, event_id)], [_event(uuid4(), 1, event_id)]]
    )
    assert isinstance(answers[1], list)
    assert isinstance(answers[2], IntegrityError)
    assert is_event_id_clash(answers[2])


def test_the_ledgers_recorder_groups_concurrent_appends(recorder: ApplicationRecorder) -> None:
    """Through ``insert_events`` itself, as ``app.save`` calls it: many threads at once."""
    group = getattr(recorder, "group", None)
    assert isinstance(group, GroupCommitter)
    cases = [uuid4() for _ in range(40)]
    barrier = threading.Barrier(len(cases))
    answers: dict[UUID, Any] = {}

    def write(case: UUID) -> None:
        barrier.wait()
        for version in (1, 2, 3):
            answers[case] = recorder.insert_events([_event(case, version)], tracking=None)

    threads = [threading.Thread(target=write, args=(case,)) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(_stored(recorder, case) == [1, 2, 3] for case in cases)
    assert len({ids[0] for ids in answers.values()}) == len(cases)


def test_group_commit_turns_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("LEDGER_GROUP_COMMIT", "0")
    with Ledger(f"sqlite:///{tmp_path / 'off.db'}") as ledger:
        assert getattr(ledger.recorder, "group", "absent") is None
