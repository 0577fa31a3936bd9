"""The phased, parallel applier every backend shares: revocations first, a few
operations in flight, a lost link or a stop request ends it cleanly."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from connector.core.actions import Action, Kind
from connector.core.results import Outcome
from connector.errors import DirectoryError, DirectoryUnavailable, ScopeViolation


def phases(actions: Sequence[Action]) -> list[list[Action]]:
    """Actions grouped by kind, in plan order: each phase may run in parallel."""
    grouped: dict[Kind, list[Action]] = {}
    for action in actions:
        grouped.setdefault(action.kind, []).append(action)
    return [grouped[kind] for kind in Kind if kind in grouped]


def apply_in_phases(
    send: Callable[[Action], Action | None],
    actions: Sequence[Action],
    on_outcome: Callable[[Outcome], None],
    stop: threading.Event | None,
    workers: int,
) -> None:
    """Phases run in order (revocations first); inside a phase, ``workers`` in parallel.

    A refused operation is reported and the run goes on; a lost connection or a
    stop request lets in-flight operations finish, then raises or returns. ``send``
    may return the action as it was done (e.g. with a note), reported in its stead.
    """
    unavailable: list[DirectoryUnavailable] = []
    halted = threading.Event()

    def run(action: Action) -> Outcome:
        if halted.is_set():  # queued before a defect was raised: never sent after it
            return Outcome(action, "not sent: the run stopped on an internal error")
        try:
            done = send(action)
        except DirectoryUnavailable as exc:
            unavailable.append(exc)
            return Outcome(action, str(exc))
        except (DirectoryError, ScopeViolation) as exc:
            return Outcome(action, str(exc))
        except BaseException:
            halted.set()  # a defect: nothing new is sent while it is raised
            raise
        return Outcome(done or action)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply") as pool:
        for phase in phases(actions):
            for outcome in _run_phase(pool, run, phase, workers, unavailable, stop, halted):
                on_outcome(outcome)
            if unavailable:
                raise unavailable[0]
            if stop is not None and stop.is_set():
                return


def _run_phase(pool: ThreadPoolExecutor, run: Callable[[Action], Outcome],
               phase: Sequence[Action], workers: int, unavailable: list[DirectoryUnavailable],
               stop: threading.Event | None, halted: threading.Event) -> Iterator[Outcome]:
    """At most ``2 × workers`` in flight; nothing new once the link is lost or a stop
    is asked for."""
    pending: set[Future[Outcome]] = set()
    queue = iter(phase)
    exhausted = False
    while True:
        while not exhausted and len(pending) < workers * 2:
            action = None if unavailable or halted.is_set() or (
                stop is not None and stop.is_set()) else next(queue, None)
            if action is None:
                exhausted = True
                break
            pending.add(pool.submit(run, action))
        if not pending:
            return
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()
