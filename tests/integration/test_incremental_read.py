"""The daemon's incremental read (issue 11, item 4), against a real slapd with syncprov,
bound as the delegated identities under the generated ACLs.

The property that makes it safe: after any writes by others, the snapshot refreshed
from the last one (the entries whose entryCSN is at least the contextCSN read before
it, plus every DN) is exactly the snapshot a full read gives, account for account and
in the same order, with the same groups, provinces and admins.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.core.model import Scope
from connector.directory.ldap import LdapDirectory
from connector.service.reconcile import Request, RunMemo, reconcile
from connector.settings import load_settings
from connector.testing.delegation import install_delegation
from connector.testing.slapd import SYNCPROV_LDIF, SlapdServer, _tool, sample_units
from tests.helpers import LAYOUT, roster_csv, row

pytestmark = pytest.mark.integration

IT = Scope.parse("it-centre")
BTE = Scope.parse("province:BTE")
#: every OU a write may land in: managed by one scope or the other, or by neither
PLACES = [LAYOUT.central_dn, LAYOUT.vendors_dn, LAYOUT.admins_dn("BTE"),
          LAYOUT.people_dn("BTE"), LAYOUT.people_dn("HCM")]
COUNTER = itertools.count(1)


def person_ldif(uid: str, place: str) -> str:
    return (f"dn: uid={uid},{place}\nchangetype: add\nobjectClass: inetOrgPerson\n"
            f"uid: {uid}\ncn: Người {uid}\nsn: {uid}\nemployeeNumber: {uid}\n"
            "departmentNumber: TTCNTT\n")


@pytest.fixture(scope="module")
def world():
    server = SlapdServer(units=sample_units())
    server.start()
    try:
        server.ldapmodify_config(SYNCPROV_LDIF)
        identities = install_delegation(server, sample_units())
        for place in PLACES:
            for _ in range(3):
                server.modify_as_root(person_ldif(f"P{next(COUNTER)}", place))
        yield server, identities
    finally:
        server.stop()


def directory(server: SlapdServer, identity, scope: Scope) -> LdapDirectory:  # type: ignore[no-untyped-def]
    settings = load_settings(None, scope=str(scope), ldap={
        "url": server.url, "bind_dn": identity.dn, "bind_password": identity.password})
    return LdapDirectory(settings.ldap, settings.layout_value, scope)


#: (kind, place index, another place index, a number): one write by someone else
WRITES = st.tuples(st.sampled_from(["add", "modify", "lock", "unlock-record", "delete",
                                    "move", "group"]),
                   st.integers(0, len(PLACES) - 1), st.integers(0, len(PLACES) - 1),
                   st.integers(0, 10_000))


def write(server: SlapdServer, present: dict[str, str], kind: str, here: int, there: int,
          number: int) -> None:
    """One write as another administrator would make it (the rootDN: no ACL in the way)."""
    place = PLACES[here]
    in_place = sorted(uid for uid, at in present.items() if at == place)
    if kind == "add" or not in_place:
        uid = f"P{next(COUNTER)}"
        server.modify_as_root(person_ldif(uid, place))
        present[uid] = place
        return
    uid = in_place[number % len(in_place)]
    dn = f"uid={uid},{place}"
    if kind == "modify":
        server.modify_as_root(f"dn: {dn}\nchangetype: modify\nreplace: cn\ncn: Đổi {number}\n"
                              f"-\nreplace: mail\nmail: p{number}@vss.gov.vn\n")
    elif kind == "lock":
        server.modify_as_root(f"dn: {dn}\nchangetype: modify\nreplace: pwdAccountLockedTime\n"
                              "pwdAccountLockedTime: 000001010000Z\n")
    elif kind == "unlock-record":
        server.modify_as_root(f"dn: {dn}\nchangetype: modify\nreplace: description\n"
                              "description: bhxh-lock:6.2.3:violation:2026-12-01T00:00:00Z:x\n")
    elif kind == "delete":
        server.modify_as_root(f"dn: {dn}\nchangetype: delete\n")
        del present[uid]
    elif kind == "move":
        server.modify_as_root(f"dn: {dn}\nchangetype: modrdn\nnewrdn: uid={uid}\n"
                              f"deleteoldrdn: 1\nnewsuperior: {PLACES[there]}\n")
        present[uid] = PLACES[there]
    else:  # a group member added or removed by hand
        group = LAYOUT.province_group_dn("BTE")
        member = f"uid={uid},{place}"
        op = "add" if number % 2 else "delete"
        with contextlib.suppress(Exception):  # already a member, or not one: no change
            server.modify_as_root(f"dn: {group}\nchangetype: modify\n{op}: member\n"
                                  f"member: {member}\n")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(writes=st.lists(WRITES, min_size=0, max_size=6), scope=st.sampled_from([IT, BTE]))
def test_a_refreshed_snapshot_equals_a_full_read_after_any_writes_by_others(world, writes,
                                                                           scope):
    server, identities = world
    reader = directory(server, identities[str(scope)], scope)
    try:
        stamp = reader.change_stamp()
        assert stamp, "syncprov keeps a contextCSN the identity can read"
        before = reader.snapshot(scope)
        assert reader.can_refresh(before) in (True, None)
        present = {a.employee_id: a.container for a in before.accounts}
        # the writes may also land where this scope does not look
        for uid, place in _everyone(server).items():
            present.setdefault(uid, place)
        for kind, here, there, number in writes:
            write(server, present, kind, here, there, number)
        refreshed = reader.refreshed(before, stamp, scope)
        full = reader.snapshot(scope)
        assert refreshed is not None
        assert refreshed == full
    finally:
        reader.close()


def _everyone(server: SlapdServer) -> dict[str, str]:
    """uid → container of every person in the places a write may land in."""
    found = {}
    for place in PLACES:
        out = server._run([_tool("ldapsearch"), "-LLL", "-x", "-H", server.url, "-D",
                           server.root_dn, "-w", server.root_password, "-b", place, "-s",
                           "one", "(objectClass=inetOrgPerson)", "uid"], stdin="")
        for line in out.splitlines():
            if line.startswith("uid: "):
                found[line[5:]] = place
    return found


def test_an_unknown_new_entry_is_a_doubt_not_a_guess(world):
    """An entry listed but neither changed nor known (a stamp from after it was written:
    a clock or a replica in doubt) makes the refresh give up: the caller reads in full."""
    server, identities = world
    reader = directory(server, identities["it-centre"], IT)
    try:
        before = reader.snapshot(IT)
        server.modify_as_root(person_ldif(f"P{next(COUNTER)}", LAYOUT.central_dn))
        server.modify_as_root(f"dn: {LAYOUT.people_dn('HCM')}\nchangetype: modify\n"
                              "replace: description\ndescription: later\n")
        later = reader.change_stamp()  # newer than the entry: it reads as unchanged
        assert later is not None
        assert reader.refreshed(before, later, IT) is None
    finally:
        reader.close()


def test_an_identity_whose_filters_cannot_see_entrycsn_never_reads_incrementally(tmp_path):
    with SlapdServer(units=sample_units()) as server:
        server.ldapmodify_config(SYNCPROV_LDIF)
        identity = install_delegation(server, sample_units())["it-centre"]
        server.ldapmodify_config("dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\n"
                                 "add: olcAccess\nolcAccess: {0}to attrs=entryCSN by * none\n")
        settings = _settings(server, identity, tmp_path)
        roster = tmp_path / "roster.csv"
        roster.write_text(roster_csv([row("TW1"), row("TW2")]), encoding="utf-8")
        memo = RunMemo()
        reads = []
        for number in range(4):
            server.modify_as_root(f"dn: {LAYOUT.people_dn('HCM')}\nchangetype: modify\n"
                                  f"replace: description\ndescription: {number}\n")
            reads.append(_run(settings, roster, memo).directory_read)
        assert reads == ["full"] * 4


def _settings(server, identity, tmp_path, every: int = 12):  # type: ignore[no-untyped-def]
    return load_settings(None, scope="it-centre",
                         audit={"path": str(tmp_path / "audit.jsonl")},
                         state={"dir": str(tmp_path / "state")},
                         ldap={"url": server.url, "bind_dn": identity.dn,
                               "bind_password": identity.password},
                         schedule={"full_read_every": every})


def _run(settings, roster, memo, dry_run=False):  # type: ignore[no-untyped-def]
    def connect() -> LdapDirectory:
        return LdapDirectory(settings.ldap, settings.layout_value, IT)
    return reconcile(settings, connect,
                     Request(roster_path=roster, today=dt.date(2026, 12, 1), dry_run=dry_run),
                     memo=memo)


def test_the_daemon_reads_changes_only_and_in_full_every_nth_run(tmp_path):
    """After any change the daemon's run reads only what changed, plans exactly what a
    fresh one-shot run plans, and reads in full at least every full_read_every runs."""
    with SlapdServer(units=sample_units()) as server:
        server.ldapmodify_config(SYNCPROV_LDIF)
        identity = install_delegation(server, sample_units())["it-centre"]
        settings = _settings(server, identity, tmp_path, every=4)
        roster = tmp_path / "roster.csv"
        roster.write_text(roster_csv([row("TW1"), row("TW2"), row("TW3")]), encoding="utf-8")
        memo = RunMemo()
        assert _run(settings, roster, memo).directory_read == "full"  # creates 3
        # the tree was empty: whether filters see entryCSN is learnt from this read
        assert _run(settings, roster, memo).directory_read == "full"
        reads, plans = [], []
        for number in range(7):
            server.modify_as_root(f"dn: uid=TW{number % 3 + 1},{LAYOUT.central_dn}\n"
                                  f"changetype: modify\nreplace: cn\ncn: Khác {number}\n")
            fresh = [a.to_dict() for a in _run(settings, roster, None, dry_run=True)
                     .plan.actions]
            result = _run(settings, roster, memo)
            reads.append(result.directory_read)
            plans.append(([a.to_dict() for a in result.plan.actions], fresh))
        assert all(ours == fresh and [a["action"] for a in ours] == ["update"]
                   for ours, fresh in plans)
        assert reads == ["incremental", "incremental", "incremental", "full",
                         "incremental", "incremental", "incremental"]
