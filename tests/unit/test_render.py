"""What the operator reads: the plan table and the run summary."""

from __future__ import annotations

from connector.core.actions import Action, Held, Kind, Plan
from connector.core.model import Rejected
from connector.core.render import action_table, run_report
from connector.core.results import RunResult
from connector.sources.roster import RosterResult
from tests.helpers import LAYOUT


def plan() -> Plan:
    return Plan(
        actions=(Action(Kind.LOCK, f"uid=A,{LAYOUT.central_dn}", "terminated",
                        employee_id="A", clause="6.2.1"),
                 Action(Kind.LOCK, f"uid=B,{LAYOUT.central_dn}", "not_on_roster",
                        employee_id="B", clause="9.2"),
                 Action(Kind.CREATE, f"uid=C,{LAYOUT.central_dn}", "new_on_roster",
                        employee_id="C", changes=(("cn", "Lê Văn C"),))),
        managed=40,
        containers=(LAYOUT.central_dn,),
        held=(Held("D", f"uid=D,{LAYOUT.central_dn}", "6.2.3", "violation"),),
    )


def test_dry_run_report_lists_every_action_with_reason_and_clause_and_the_counts():
    roster = RosterResult((), tuple(Rejected(i, f"R{i}", "bad") for i in range(2, 30)), (), 30)
    result = RunResult("run-1", "it-centre", "cn=x", True, roster, plan(), duration=0.5)
    text = run_report(result)
    assert "DRY RUN" in text
    for needle in ("lock", "A", "terminated", "6.2.1", "B", "not_on_roster", "9.2", "create",
                   "Lê Văn C"):
        assert needle in text
    assert "Plan: lock 2 (6.2.1: 1, 9.2: 1) · create 1" in text
    assert "Held: 1 active person keeps a sticky lock" in text
    assert "Rejected rows (28;" in text and "... and 8 more (all of them in --json)" in text


def test_apply_report_caps_the_table_and_shows_the_result():
    many = tuple(Action(Kind.CREATE, f"uid=U{i},{LAYOUT.central_dn}", "new_on_roster",
                        employee_id=f"U{i}")
                 for i in range(60))
    result = RunResult("run-2", "it-centre", "cn=x", False, None, Plan(many, 0), duration=1.0)
    text = run_report(result)
    assert "... and 10 more" in text and "Result: 0 applied, 0 failed" in text
    assert len(action_table(many)) == 61


def test_guard_stop_is_reported_with_its_message():
    result = RunResult("run-3", "it-centre", "cn=x", False, None, plan(), exit_code=3,
                       error="safety guard: the plan locks 2 of 40 managed accounts")
    text = run_report(result)
    assert "Stopped: safety guard" in text and "Exit code 3" in text
    assert "Result:" not in text


def test_a_province_is_not_told_to_unlock_a_misuse_hold_it_may_not_lift():
    """Issue 25 #16: the Held hint named `connector unlock` for a 6.3 hold in a
    province's run, which the ACLs and the rules refuse it."""
    held = Plan((), managed=3, held=(Held("M", "uid=M", "6.3", "misuse"),
                                     Held("V", "uid=V", "6.2.3", "violation")))
    province = run_report(RunResult("r", "province:BTE", "cn=x", True, None, held))
    assert "6.3 (a misuse hold only the IT Centre may lift (Art. 6 §3): ask it): M" in province
    assert "6.2.2/6.2.3 (lift with `connector unlock` once it is settled): V" in province
    centre = run_report(RunResult("r", "it-centre", "cn=x", True, None, held))
    assert "6.3 (lift with `connector unlock` after the investigation): M" in centre
    assert "Held: 2 active people keep" in centre


def test_people_not_active_and_without_an_account_are_counted_not_dropped():
    roster = RosterResult((), (), (), 5)
    result = RunResult("r", "province:BTE", "cn=x", True, roster,
                       Plan((), managed=1, without_account=2))
    text = run_report(result)
    assert "2 not active and without an account (nothing to do)" in text
    assert "Directory: 1 account in 0 managed OUs" in text
    assert result.to_dict()["summary"]["not_active_without_account"] == 2


def test_an_apply_names_its_plan_and_does_not_suggest_a_dry_run_it_lacks():
    actions = tuple(Action(Kind.LOCK, f"uid=A{i}", "terminated", employee_id=f"A{i}",
                           clause="6.2.1") for i in range(60))
    result = RunResult("r2", "it-centre", "cn=x", False, None, Plan(actions, managed=60),
                       duration=0.53, plan_id="p1", plan_file="plan.json")
    text = run_report(result)
    assert "apply of plan p1 (plan.json)" in text
    assert "list them all with connector show plan.json or --json" in text
    assert "--dry-run" not in text and "in 0.53s" in text
