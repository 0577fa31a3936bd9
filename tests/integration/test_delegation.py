"""Scoped connectors bound as their delegated identities (Art. 6 §1, §3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from connector.testing.delegation import Identity, install_delegation
from connector.testing.slapd import SlapdServer, sample_units
from tests.conftest import connector_env
from tests.helpers import LAYOUT, ldap_entry, roster_csv, row, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def delegated(slapd) -> Iterator[tuple[SlapdServer, dict[str, Identity]]]:
    yield slapd, install_delegation(slapd, sample_units())


def env_for(server: SlapdServer, identity: Identity, tmp_path: Path) -> dict[str, str]:
    return connector_env(server, tmp_path, CONNECTOR_LDAP__BIND_DN=identity.dn,
                         CONNECTOR_LDAP__BIND_PASSWORD=identity.password,
                         CONNECTOR_SCOPE=identity.scope)


ROSTER = [
    row("TW1", "Nguyễn Văn An"),
    row("V1", "Đặng Quốc Bảo", unit_type="vendor", unit_code="VNPT"),
    row("BA1", "Nguyễn Thị Như", unit_type="province", unit_code="BTE", role="admin"),
    row("B1", "Trương Văn Lợi", unit_type="province", unit_code="BTE"),
    row("B2", "Huỳnh Thị Duyên", unit_type="province", unit_code="BTE"),
    row("H1", "Ngô Bảo Châu", unit_type="province", unit_code="HCM"),
]


def run(server, identity, tmp_path, rows, *args):
    (tmp_path / "roster.csv").write_text(roster_csv(rows), encoding="utf-8")
    return run_cli(["reconcile", *args], env_for(server, identity, tmp_path))


def dns(server: SlapdServer) -> set[str]:
    text = server.search(LAYOUT.base_dn, "(objectClass=inetOrgPerson)", ["1.1"])
    return {line[4:] for line in text.splitlines() if line.startswith("dn: ")}


@pytest.mark.container
def test_each_scope_does_only_its_own_part_of_the_same_roster(delegated, tmp_path):
    server, ids = delegated
    it = run(server, ids["it-centre"], tmp_path, ROSTER, "--json")
    assert it.returncode == 0, it.stderr
    assert dns(server) == {f"uid=TW1,{LAYOUT.central_dn}", f"uid=V1,{LAYOUT.vendors_dn}",
                           f"uid=BA1,{LAYOUT.admins_dn('BTE')}"}
    assert {r["employee_id"] for r in json.loads(it.stdout)["out_of_scope"]} == {"B1", "B2", "H1"}
    bte = run(server, ids["province:BTE"], tmp_path, ROSTER, "--json")
    assert bte.returncode == 0, bte.stderr
    data = json.loads(bte.stdout)
    assert {a["employee_id"] for a in data["actions"]} == {"B1", "B2"}
    assert {r["employee_id"] for r in data["out_of_scope"]} == {"TW1", "V1", "BA1", "H1"}
    assert f"uid=B1,{LAYOUT.people_dn('BTE')}" in dns(server)
    assert not any("ou=HCM" in dn for dn in dns(server))


@pytest.mark.container
def test_province_connector_locks_its_staff_and_counts_others_out_of_scope(delegated, tmp_path):
    server, ids = delegated
    run(server, ids["province:BTE"], tmp_path, ROSTER)
    changed = [*ROSTER[:3], row("B1", "Trương Văn Lợi", unit_type="province", unit_code="BTE",
                                status="sick_leave"),
               *ROSTER[4:]]
    result = run(server, ids["province:BTE"], tmp_path, changed, "--json")
    assert result.returncode == 0
    (action,) = json.loads(result.stdout)["actions"]
    assert (action["action"], action["employee_id"], action["clause"]) == ("lock", "B1", "6.2.1")


@pytest.mark.container
def test_admin_removed_from_the_group_loses_write_access_at_once(delegated, tmp_path):
    server, ids = delegated
    run(server, ids["it-centre"], tmp_path, ROSTER)
    admin_dn = f"uid=BA1,{LAYOUT.admins_dn('BTE')}"
    server.set_password(admin_dn, "admin-pw-0")
    # the operator's password must be changed at the first bind (pwdMustChange)
    first = ldap3.Connection(ldap3.Server(server.url, get_info=ldap3.NONE), admin_dn,
                             "admin-pw-0", auto_bind=True)
    assert first.extend.standard.modify_password(admin_dn, "admin-pw-0", "admin-pw-1")
    first.unbind()
    session = ldap3.Connection(ldap3.Server(server.url, get_info=ldap3.NONE), admin_dn,
                               "admin-pw-1", auto_bind=True)
    try:
        target = f"uid=B9,{LAYOUT.people_dn('BTE')}"
        assert session.add(target, ["inetOrgPerson"], {"uid": "B9", "cn": "X", "sn": "X"})
        leaving = [row("BA1", "Nguyễn Thị Như", unit_type="province", unit_code="BTE", role="admin",
                       status="terminated"), *ROSTER[:2], *ROSTER[3:]]
        result = run(server, ids["it-centre"], tmp_path, leaving, "--json")
        kinds = [(a["action"], a["employee_id"]) for a in json.loads(result.stdout)["actions"]]
        assert kinds == [("group_remove", "BA1"), ("lock", "BA1")]
        session.modify(target, {"mail": [(ldap3.MODIFY_REPLACE, ["late@bte.vn"])]})
        assert session.result["description"] == "insufficientAccessRights"
    finally:
        session.unbind()
    audit = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert any(x["action"] == "group_remove" and x["outcome"] == "ok" for x in audit)


@pytest.mark.container
def test_misuse_hold_only_the_it_centre_can_lift(delegated, tmp_path):
    server, ids = delegated
    run(server, ids["province:BTE"], tmp_path, ROSTER)
    it_env = env_for(server, ids["it-centre"], tmp_path)
    bte_env = env_for(server, ids["province:BTE"], tmp_path)
    locked = run_cli(["lock", "B1", "--reason", "misuse", "--note", "xuất dữ liệu trái phép"],
                     it_env)
    assert locked.returncode == 0, locked.stderr
    (value,) = ldap_entry(server, f"uid=B1,{LAYOUT.people_dn('BTE')}")["description"]
    assert value.startswith("bhxh-lock:6.3:misuse") and ids["it-centre"].dn in value
    assert value.endswith("note=xuất dữ liệu trái phép")
    refused = run_cli(["unlock", "B1"], bte_env)
    assert refused.returncode != 0 and "only the IT Centre" in refused.stderr
    assert run(server, ids["province:BTE"], tmp_path, ROSTER, "--json").returncode == 0
    assert "pwdAccountLockedTime" in server.search(f"uid=B1,{LAYOUT.people_dn('BTE')}",
                                                   attributes=["pwdAccountLockedTime"])
    lifted = run_cli(["unlock", "B1", "--note", "cleared"], it_env)
    assert lifted.returncode == 0
    audit = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    manual = [(x["action"], x["actor"], x["note"]) for x in audit if x["reason"] in
              ("misuse", "manual")]
    assert manual == [("lock", ids["it-centre"].dn, "xuất dữ liệu trái phép"),
                      ("unlock", ids["it-centre"].dn, "cleared")]


def test_province_locks_and_unlocks_its_own_staff_by_hand(delegated, tmp_path):
    server, ids = delegated
    run(server, ids["province:BTE"], tmp_path, ROSTER)
    env = env_for(server, ids["province:BTE"], tmp_path)
    assert run_cli(["lock", "B2", "--reason", "violation"], env).returncode == 0
    assert "bhxh-lock:6.2.3:violation" in server.search(f"uid=B2,{LAYOUT.people_dn('BTE')}",
                                                        attributes=["description"])
    assert run_cli(["unlock", "B2"], env).returncode == 0
    refused = run_cli(["lock", "TW1", "--reason", "violation"], env)
    assert refused.returncode == 2 and "no account" in refused.stderr
    misuse = run_cli(["lock", "B2", "--reason", "misuse"], env)
    assert misuse.returncode == 2 and "IT Centre only" in misuse.stderr


@pytest.mark.container
def test_check_passes_for_correct_identities_and_flags_an_over_privileged_one(delegated,
                                                                              tmp_path):
    server, ids = delegated
    run(server, ids["it-centre"], tmp_path, ROSTER)
    run(server, ids["province:BTE"], tmp_path, ROSTER)
    for scope in ("it-centre", "province:BTE"):
        result = run_cli(["check"], env_for(server, ids[scope], tmp_path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "check passed" in result.stdout and "accounts" in result.stdout
    root = run_cli(["check"], connector_env(server, tmp_path, CONNECTOR_SCOPE="province:BTE"))
    assert root.returncode == 1 and "WRONG" in root.stdout


@pytest.mark.container
def test_check_on_empty_ous_proves_create_access_or_fails(delegated, tmp_path):
    """Nothing in ou=people,ou=BTE yet: the right identity passes on a No-Op create probe,
    the HCM identity configured as province:BTE fails (a "not verified" is no pass)."""
    server, ids = delegated
    assert server.search(LAYOUT.people_dn("BTE"), "(objectClass=inetOrgPerson)", ["1.1"]) \
        .count("dn: ") == 0
    (tmp_path / "roster.csv").write_text(roster_csv([]), encoding="utf-8")  # check reads it
    right = run_cli(["check"], env_for(server, ids["province:BTE"], tmp_path))
    assert right.returncode == 0, right.stdout + right.stderr
    assert f"[ok] create under {LAYOUT.people_dn('BTE')}" in right.stdout
    assert "not verified" not in right.stdout
    wrong = run_cli(["check"], connector_env(
        server, tmp_path, CONNECTOR_LDAP__BIND_DN=ids["province:HCM"].dn,
        CONNECTOR_LDAP__BIND_PASSWORD=ids["province:HCM"].password,
        CONNECTOR_SCOPE="province:BTE"))
    assert wrong.returncode == 1, wrong.stdout
    assert "check FAILED" in wrong.stdout and "check passed" not in wrong.stdout
    assert f"[WRONG] create under {LAYOUT.people_dn('BTE')}: cannot write" in wrong.stdout
    assert "NOT a member of" in wrong.stdout
    it = run_cli(["check"], env_for(server, ids["it-centre"], tmp_path))
    assert it.returncode == 0, it.stdout + it.stderr
    # the probes wrote nothing, and left the server whole: what is created next is there
    assert "connector-probe" not in server.search(LAYOUT.base_dn, "(uid=connector-probe-*)",
                                                  ["1.1"])
    assert run(server, ids["province:BTE"], tmp_path, ROSTER).returncode == 0
    assert {f"uid=B1,{LAYOUT.people_dn('BTE')}", f"uid=B2,{LAYOUT.people_dn('BTE')}"} <= \
        dns(server)


def test_bootstrap_creates_the_tree_once_and_says_so(tmp_path):
    with SlapdServer() as server:
        env = connector_env(server, tmp_path)
        dry = run_cli(["bootstrap", "--dry-run"], env)
        assert dry.returncode == 0 and "would create ou=people,ou=BTE" in dry.stdout
        first = run_cli(["bootstrap"], env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "created cn=province-admins-HCM" in first.stdout
        assert "Bảo hiểm xã hội tỉnh Bến Tre" in server.search(LAYOUT.province_dn("BTE"),
                                                             attributes=["description"]) \
            or "description::" in server.search(LAYOUT.province_dn("BTE"),
                                                attributes=["description"])
        second = run_cli(["bootstrap"], env)
        assert second.returncode == 0 and "nothing to do" in second.stdout


def test_print_acl_needs_no_server_and_targets_the_named_database():
    result = run_cli(["bootstrap", "--print-acl", "--database", "olcDatabase={2}mdb,cn=config"],
                     {})
    assert result.returncode == 0
    assert result.stdout.startswith("# Delegation")
    assert "dn: olcDatabase={2}mdb,cn=config" in result.stdout
    assert "olcAddContentAcl: TRUE" in result.stdout and "size.prtotal=unlimited" in result.stdout


def test_a_search_cut_short_by_server_limits_stops_the_run_instead_of_hiding_accounts(
        slapd, tmp_path):
    from connector.testing.delegation import add_service_account

    slapd.ldapadd([(f"uid=b{i},{LAYOUT.central_dn}", {"objectClass": ["inetOrgPerson"],
                                                       "uid": [f"b{i}"], "cn": ["Bùi"],
                                                       "sn": ["Bùi"]}) for i in range(520)])
    limited = add_service_account(slapd, "no-limits", LAYOUT.it_centre_group_dn, "it-centre")
    (tmp_path / "roster.csv").write_text(roster_csv([row(f"b{i}", "Bùi") for i in range(520)]))
    result = run_cli(["reconcile", "--dry-run"], env_for(slapd, limited, tmp_path))
    assert result.returncode != 0
    assert "cut the search" in result.stderr and "sizeLimitExceeded" in result.stderr
    assert "olcLimits" in result.stderr


def test_a_server_that_limits_whole_searches_but_allows_paging_is_paged_through(
        slapd, tmp_path):
    """Each search is asked in one piece first; a server whose limits cut that short
    but allow paging is asked again page by page, and every account is read."""
    from connector.testing.delegation import add_service_account

    slapd.ldapadd([(f"uid=p{i},{LAYOUT.central_dn}", {"objectClass": ["inetOrgPerson"],
                                                       "uid": [f"p{i}"], "cn": ["Phan"],
                                                       "sn": ["Phan"]}) for i in range(520)])
    paging = add_service_account(slapd, "pages-only", LAYOUT.it_centre_group_dn, "it-centre")
    slapd.ldapmodify_config(
        "dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nadd: olcLimits\n"
        f'olcLimits: dn.exact="{paging.dn}" size.soft=500 size.hard=500 '
        "size.prtotal=unlimited\n")
    (tmp_path / "roster.csv").write_text(roster_csv([row(f"p{i}", "Phan") for i in range(520)]))
    result = run_cli(["reconcile", "--dry-run", "--json"],
                     {**env_for(slapd, paging, tmp_path), "CONNECTOR_LDAP__PAGE_SIZE": "100"})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["managed_accounts"] == 520
    # every account seen: none issued twice, none locked as missing from the roster
    assert {a["action"] for a in report["actions"]} == {"update"}


def _audit(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.container
def test_a_password_reset_never_lifts_a_lock_the_rules_keep(delegated, tmp_path):
    """ppolicy drops pwdAccountLockedTime on every password change. The operator resets
    the passwords of a held 6.2.3, a 6.3 hold on province staff and a 6.2.1 whose person
    is still on leave: each binds again, and the next run of the managing scope puts the
    lock back with its recorded reason and clause and says it had been removed."""
    server, ids = delegated
    on_leave = [row(r["employee_id"], r["full_name"], unit_type=r["unit_type"],
                    unit_code=r["unit_code"], role=r["role"],
                    status="maternity_leave" if r["employee_id"] == "TW1" else
                    "violation" if r["employee_id"] == "B1" else "active")
                for r in ROSTER]
    for rows in (ROSTER, on_leave):
        assert run(server, ids["it-centre"], tmp_path, rows).returncode == 0
        assert run(server, ids["province:BTE"], tmp_path, rows).returncode == 0
    hold = run_cli(["lock", "B2", "--reason", "misuse", "--note", "phiếu 4711"],
                   env_for(server, ids["it-centre"], tmp_path))
    assert hold.returncode == 0, hold.stdout + hold.stderr
    back = [dict(r, status="active") if r["employee_id"] == "B1" else r for r in on_leave]
    (tmp_path / "roster.csv").write_text(roster_csv(back), encoding="utf-8")
    targets = {"TW1": (LAYOUT.central_dn, "6.2.1", "maternity_leave"),
               "B1": (LAYOUT.people_dn("BTE"), "6.2.3", "violation"),
               "B2": (LAYOUT.people_dn("BTE"), "6.3", "misuse")}
    for uid, (container, _, _) in targets.items():
        dn = f"uid={uid},{container}"
        assert ldap_entry(server, dn).get("pwdAccountLockedTime")
        server.set_password(dn, f"Reset-{uid}-2026")  # the operator, as a portal would
        assert "pwdAccountLockedTime" not in ldap_entry(server, dn)
        assert server.can_bind(dn, f"Reset-{uid}-2026")  # the lock is gone

    bte = run_cli(["reconcile", "--json"], env_for(server, ids["province:BTE"], tmp_path))
    assert bte.returncode == 0, bte.stdout + bte.stderr
    data = json.loads(bte.stdout)
    assert data["summary"]["locks_restored"] == 2
    restored = {a["employee_id"]: a for a in data["actions"] if a["action"] == "lock"}
    assert set(restored) == {"B1", "B2"} and all(a["outcome"] == "ok"
                                                 for a in restored.values())
    assert "removed outside the connector" in bte.stderr
    it = run_cli(["reconcile", "--json"], env_for(server, ids["it-centre"], tmp_path))
    assert it.returncode == 0, it.stdout + it.stderr
    assert json.loads(it.stdout)["summary"]["locks_restored"] == 1

    for uid, (container, clause, reason) in targets.items():
        dn = f"uid={uid},{container}"
        entry = ldap_entry(server, dn)
        assert entry["pwdAccountLockedTime"] == ["000001010000Z"], uid
        records = [d for d in entry["description"] if d.startswith("bhxh-lock:")]
        assert len(records) == 1 and records[0].startswith(f"bhxh-lock:{clause}:{reason}"), \
            records
        assert not server.can_bind(dn, f"Reset-{uid}-2026"), uid
    assert "phiếu 4711" in " ".join(ldap_entry(server, f"uid=B2,{LAYOUT.people_dn('BTE')}")
                                    ["description"])  # the hold's record is untouched
    lines = [line for line in _audit(tmp_path) if line["action"] == "lock"
             and "removed outside the connector" in str(line["note"])]
    assert {(line["employee_id"], line["clause"], line["reason"]) for line in lines} == {
        (uid, clause, reason) for uid, (_, clause, reason) in targets.items()}
    # and a further run finds nothing to do
    again = run_cli(["reconcile", "--json"], env_for(server, ids["province:BTE"], tmp_path))
    assert json.loads(again.stdout)["summary"]["planned"]["lock"] == 0


def test_effective_dates_are_enforced_by_the_directory_itself(delegated, tmp_path):
    """A hire who starts next week gets the account now and cannot bind before the first
    day; a contract whose last day is tomorrow binds today; one that ended yesterday is
    locked (6.2.1) however the status column reads."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    server, ids = delegated
    today = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    rows = [dict(row("B1", "Trương Văn Lợi", unit_type="province", unit_code="BTE"),
                 start_date=(today + dt.timedelta(days=7)).isoformat(), end_date=""),
            dict(row("B2", "Huỳnh Thị Duyên", unit_type="province", unit_code="BTE"),
                 start_date="", end_date=(today + dt.timedelta(days=1)).strftime("%d/%m/%Y")),
            dict(row("B3", "Lâm Quang Vinh", unit_type="province", unit_code="BTE"),
                 start_date="", end_date="")]
    header = (*("employee_id", "full_name", "email", "unit_type", "unit_code", "role",
                "status", "field"), "start_date", "end_date")
    (tmp_path / "roster.csv").write_text(roster_csv(rows, header=header), encoding="utf-8")
    first = run_cli(["reconcile", "--json"], env_for(server, ids["province:BTE"], tmp_path))
    assert first.returncode == 0, first.stdout + first.stderr
    people = LAYOUT.people_dn("BTE")
    for uid in ("B1", "B2", "B3"):
        server.set_password(f"uid={uid},{people}", f"Pw-{uid}-2026-x")
    assert not server.can_bind(f"uid=B1,{people}", "Pw-B1-2026-x")  # before the first day
    assert server.can_bind(f"uid=B2,{people}", "Pw-B2-2026-x")  # the last day is tomorrow
    dates = ["pwdStartTime", "pwdEndTime"]
    assert "pwdStartTime: " in server.search(f"uid=B1,{people}", attributes=dates)
    assert "pwdEndTime: " in server.search(f"uid=B2,{people}", attributes=dates)
    rows[2]["end_date"] = (today - dt.timedelta(days=1)).isoformat()  # ended yesterday
    rows[0]["start_date"] = ""  # the start is lifted: an emptied cell removes it
    (tmp_path / "roster.csv").write_text(roster_csv(rows, header=header), encoding="utf-8")
    second = run_cli(["reconcile", "--json"], env_for(server, ids["province:BTE"], tmp_path))
    assert second.returncode == 0, second.stdout + second.stderr
    done = {(a["employee_id"], a["action"], a["clause"]) for a in json.loads(second.stdout)
            ["actions"]}
    assert ("B3", "lock", "6.2.1") in done and ("B1", "update", None) in done
    assert "pwdStartTime" not in server.search(f"uid=B1,{people}", attributes=dates)
    assert server.can_bind(f"uid=B1,{people}", "Pw-B1-2026-x")
    assert not server.can_bind(f"uid=B3,{people}", "Pw-B3-2026-x")
