"""Which notices a run gives (SPEC §14): one per event and run, a failure once when
it begins and once when it ends, nothing for a dry run or a run with nothing done."""

from __future__ import annotations

from connector.core.actions import Action, Kind, Plan
from connector.core.notices import notices
from connector.core.results import Outcome, RunResult

ALL = frozenset({"changes", "guard", "failure", "credentials"})


def result(code: int = 0, *, dry_run: bool = False, locks: int = 0) -> RunResult:
    run = RunResult("R1", "province:BTE", "cn=connector-bte", dry_run)
    actions = tuple(Action(Kind.LOCK, f"uid=B{n},ou=people", "terminated", employee_id=f"B{n}",
                           clause="6.2.1") for n in range(locks))
    run.plan = Plan(actions=actions, managed=10)
    run.outcomes = [Outcome(a, None) for a in actions] if not dry_run and code == 0 else []
    run.exit_code = code
    return run


def events(run: RunResult, **options: object) -> list[str]:
    return [n.event for n in notices(run, "vi", ALL, **options)]  # type: ignore[arg-type]


def test_a_run_that_changed_something_gives_one_changes_notice_listing_the_locked():
    (notice,) = notices(result(locks=3), "vi", ALL)
    assert notice.event == "changes" and notice.subject.startswith("[bhxh-connector] province:BTE")
    locked = notice.tables[1]
    assert [row[0] for row in locked.rows] == ["B0", "B1", "B2"]
    assert {row[3] for row in locked.rows} == {"6.2.1"}


def test_a_dry_run_and_a_run_with_nothing_done_say_nothing():
    assert events(result(dry_run=True, locks=2)) == []
    assert events(result()) == []


def test_a_guard_trip_names_the_approval_command():
    run = result(3, locks=4)
    run.pending_plan = "/state/pending-province-BTE-R1.json"
    (notice,) = notices(run, "en", ALL)
    assert notice.event == "guard" and notice.pending_plan == run.pending_plan
    assert f"connector apply {run.pending_plan} --allow-mass-lock" in notice.paragraphs


def test_a_failure_is_told_when_it_begins_and_when_runs_succeed_again():
    assert events(result(4)) == ["failure"]
    assert events(result(4), failing_before=True) == []
    (recovered,) = notices(result(0), "vi", ALL, failing_before=True)
    assert recovered.event == "failure" and recovered.recovered


def test_events_not_chosen_are_not_sent():
    assert notices(result(4), "vi", frozenset({"changes"})) == []


def test_credentials_go_to_the_unit_s_contact_only_when_it_names_one():
    run = result()
    run.credential_units = [{"code": "BTE", "unit_type": "province", "file": "/s/R1-BTE.csv.age",
                             "accounts": [{"employee_id": "B1", "full_name": "An",
                                           "dn": "uid=B1"}]}]
    (notice,) = notices(run, "vi", ALL, contacts={("province", "bte"): "it@bte.vn"})
    assert notice.to == ("it@bte.vn",) and notice.attachments == ("/s/R1-BTE.csv.age",)
    assert notices(run, "vi", ALL, contacts={}) == []
