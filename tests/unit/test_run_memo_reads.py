"""When the daemon may read only what changed (issue 11, item 4): the RunMemo's choice
between a full read and a refresh, with a directory that records what it was asked.
The refresh itself is proved equal to a full read against slapd
(tests/integration/test_incremental_read.py)."""

from __future__ import annotations

from connector.core.model import Scope, Snapshot
from connector.service.reconcile import RunMemo

IT = Scope.parse("it-centre")
ONE = "20261201100000.000000Z#000000#000#000000"
LATER = "20261201110000.000000Z#000000#000#000000"
TWO_PROVIDERS = LATER + " 20261201110000.000000Z#000000#002#000000"


class Recorder:
    """The three calls RunMemo.read makes, answered and recorded."""

    def __init__(self, sees_csn: bool | None = True, doubt: bool = False) -> None:
        self.calls: list[str] = []
        self.sees_csn = sees_csn
        self.doubt = doubt

    def snapshot(self, scope, absorbed=()):  # type: ignore[no-untyped-def]
        self.calls.append("full")
        return Snapshot(())

    def refreshed(self, previous, since, scope, absorbed=()):  # type: ignore[no-untyped-def]
        self.calls.append(f"refresh since {since[:14]}")
        return None if self.doubt else previous

    def can_refresh(self, snapshot):  # type: ignore[no-untyped-def]
        return self.sees_csn


def reads(memo: RunMemo, directory: Recorder, stamps: list[str | None],
          every: int = 12) -> list[str]:
    kinds = []
    for stamp in stamps:
        memo.read(directory, stamp, IT, (), every)  # type: ignore[arg-type]
        kinds.append(memo.last_read)
    return kinds


def test_after_a_full_read_the_next_runs_refresh_from_the_stamp_before_the_last_read():
    directory = Recorder()
    assert reads(RunMemo(), directory, [ONE, LATER, LATER]) == ["full", "incremental",
                                                                  "incremental"]
    assert directory.calls == ["full", "refresh since 20261201100000",
                               "refresh since 20261201110000"]


def test_a_full_read_at_least_every_nth_run():
    assert reads(RunMemo(), Recorder(), [ONE] * 7, every=3) == [
        "full", "incremental", "incremental", "full", "incremental", "incremental", "full"]


def test_no_refresh_without_a_stamp_or_before_entrycsn_is_known_visible():
    assert reads(RunMemo(), Recorder(), [None, None, ONE]) == ["full", "full", "full"]
    assert reads(RunMemo(), Recorder(sees_csn=False), [ONE, LATER, LATER]) == ["full"] * 3
    # an empty first read cannot tell: the next full read asks again
    memo, unsure = RunMemo(), Recorder(sees_csn=None)
    assert reads(memo, unsure, [ONE, LATER]) == ["full", "full"]
    unsure.sees_csn = True
    assert reads(memo, unsure, [LATER, LATER]) == ["full", "incremental"]


def test_a_doubt_or_a_provider_new_to_the_stamp_reads_in_full():
    assert reads(RunMemo(), Recorder(doubt=True), [ONE, LATER]) == ["full", "full"]
    assert reads(RunMemo(), Recorder(), [ONE, TWO_PROVIDERS, TWO_PROVIDERS]) == [
        "full", "full", "incremental"]
