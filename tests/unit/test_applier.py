"""The phased parallel applier: revocations first, a few operations in flight, and a
clean end on a lost link, a stop request, a failing listener or an unexpected error."""

from __future__ import annotations

import threading
import time

import pytest

from connector.core.actions import Action, Kind
from connector.core.results import Outcome
from connector.directory.apply import apply_in_phases
from connector.errors import DirectoryError, DirectoryUnavailable


def actions(kind: Kind, n: int) -> list[Action]:
    return [Action(kind, f"uid=u{i},ou=people,dc=x", "test") for i in range(n)]


class Recorder:
    """A send that records what was sent and how many were in flight at most."""

    def __init__(self, fail: set[str] = frozenset(), lose_at: int | None = None,
                 crash_at: int | None = None, delay: float = 0.0005) -> None:
        self.sent: list[Action] = []
        self.fail, self.lose_at, self.crash_at, self.delay = fail, lose_at, crash_at, delay
        self.lock = threading.Lock()
        self.flying = self.most = 0
        self.crashed = False
        self.after_crash = 0  # sends begun after the defect was raised

    def __call__(self, action: Action) -> Action | None:
        with self.lock:
            self.after_crash += self.crashed
            self.sent.append(action)
            count = len(self.sent)
            self.flying += 1
            self.most = max(self.most, self.flying)
        try:
            time.sleep(self.delay)
            if self.lose_at is not None and count >= self.lose_at:
                raise DirectoryUnavailable("ldap://127.0.0.1: connection lost")
            if self.crash_at is not None and count == self.crash_at:
                with self.lock:
                    self.crashed = True
                raise RuntimeError("a defect in a send")
            if action.dn in self.fail:
                raise DirectoryError("insufficientAccessRights")
            return None
        finally:
            with self.lock:
                self.flying -= 1


def test_every_action_is_sent_once_revocations_before_grants_with_at_most_workers_in_flight():
    plan = actions(Kind.CREATE, 40) + actions(Kind.LOCK, 30) + actions(Kind.GROUP_ADD, 20)
    send, outcomes = Recorder(), []
    apply_in_phases(send, plan, outcomes.append, None, workers=4)
    assert sorted(id(a) for a in send.sent) == sorted(id(a) for a in plan)
    assert [o.action for o in outcomes if o.error] == []
    kinds = [a.kind for a in send.sent]
    assert kinds == sorted(kinds, key=list(Kind).index)  # each phase ends before the next
    assert 1 < send.most <= 4


def test_a_refused_operation_is_reported_and_the_rest_are_still_sent():
    plan = actions(Kind.CREATE, 20)
    send, outcomes = Recorder(fail={plan[3].dn}), []
    apply_in_phases(send, plan, outcomes.append, None, workers=3)
    assert len(outcomes) == 20
    assert [(o.action.dn, o.error) for o in outcomes if o.error] == [
        (plan[3].dn, "insufficientAccessRights")]


def test_a_lost_link_stops_new_sends_reports_those_in_flight_and_raises():
    plan = actions(Kind.CREATE, 200)
    send, outcomes = Recorder(lose_at=10), []
    with pytest.raises(DirectoryUnavailable):
        apply_in_phases(send, plan, outcomes.append, None, workers=4)
    assert 10 <= len(send.sent) < 10 + 2 * 4  # only those already handed to a worker
    assert len(outcomes) == len(send.sent)  # every one sent is reported


def test_a_stop_request_ends_the_run_between_operations():
    plan = actions(Kind.CREATE, 200) + actions(Kind.GROUP_ADD, 5)
    stop, outcomes = threading.Event(), []

    def on_outcome(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if len(outcomes) == 5:
            stop.set()

    send = Recorder()
    apply_in_phases(send, plan, on_outcome, stop, workers=4)
    assert 5 <= len(send.sent) <= 5 + 2 * 4  # those taken already, as the audit lag allows
    assert len(outcomes) == len(send.sent)
    assert all(a.kind is Kind.CREATE for a in send.sent)  # the next phase never began


def test_a_listener_that_fails_stops_the_sends_and_its_error_reaches_the_caller():
    plan = actions(Kind.CREATE, 200)
    send = Recorder()

    def on_outcome(outcome: Outcome) -> None:
        raise OSError("No space left on device")  # the audit cannot be written

    with pytest.raises(OSError, match="No space"):
        apply_in_phases(send, plan, on_outcome, None, workers=4)
    assert len(send.sent) <= 2 * 4  # never more than the audit's lag ahead of it
    time.sleep(0.05)
    assert len(send.sent) <= 2 * 4  # and no worker goes on afterwards


def test_an_unexpected_error_in_a_send_stops_the_phase_and_is_raised():
    plan = actions(Kind.CREATE, 200)
    send, outcomes = Recorder(crash_at=7), []
    with pytest.raises(RuntimeError, match="a defect"):
        apply_in_phases(send, plan, outcomes.append, None, workers=4)
    assert len(send.sent) >= 7
    # what was queued is dropped; only a worker already past its check may still send
    assert send.after_crash <= 4 - 1


def test_the_sends_never_run_more_than_twice_the_workers_ahead_of_the_audit():
    plan = actions(Kind.CREATE, 100)
    send, ahead = Recorder(delay=0), []

    def on_outcome(outcome: Outcome) -> None:
        time.sleep(0.001)  # a slow audit disk
        ahead.append(len(send.sent) - len(ahead))

    apply_in_phases(send, plan, on_outcome, None, workers=4)
    assert len(ahead) == 100 and max(ahead) <= 2 * 4


def test_no_threads_are_left_behind():
    before = threading.active_count()
    apply_in_phases(Recorder(), actions(Kind.CREATE, 30), lambda o: None, None, workers=4)
    assert threading.active_count() == before
