"""The delegation enforced by the directory itself (Art. 6 §1), proved with real binds.

Matrix: identities (IT Centre, BTE admin, HCM admin, an ordinary user) × OUs ×
operations. The expected table is written out by hand: a rule change that
widens any lane turns a "denied" cell into a success and fails here.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator

import ldap3
import pytest

from connector.testing.delegation import Identity, install_delegation
from connector.testing.slapd import SlapdServer, sample_units
from tests.helpers import LAYOUT

pytestmark = pytest.mark.integration

LOCK_623 = "bhxh-lock:6.2.3:violation by=cn=seed"
HOLD = "bhxh-lock:6.3:misuse by=cn=connector-it-centre,ou=system,dc=bhxh,dc=gov,dc=vn"
OUS = {
    "central": LAYOUT.central_dn,
    "vendors": LAYOUT.vendors_dn,
    "BTE/people": LAYOUT.people_dn("BTE"),
    "BTE/admins": LAYOUT.admins_dn("BTE"),
    "HCM/people": LAYOUT.people_dn("HCM"),
    "HCM/admins": LAYOUT.admins_dn("HCM"),
}
OPERATIONS = ("create", "modify", "lock", "unlock", "policy", "move", "delete",
              "set-password", "pwd-reset")
#: What each identity may do, per OU; every other cell must be insufficientAccessRights.
#: set-password (Password Modify of someone's entry) and pwd-reset (SPEC §11): only in
#: the identity's own lane, where it issues accounts; the IT Centre may lock a province's
#: staff (Art. 6 §3) but sets no password there.
IT_LANE = {"central", "vendors", "BTE/admins", "HCM/admins"}
ALLOWED = {
    "it-centre": {ou: {"create", "modify", "lock", "unlock", "policy"}
                  | ({"set-password", "pwd-reset"} if ou in IT_LANE else set()) for ou in OUS},
    "province:BTE": {"BTE/people": {"create", "modify", "lock", "unlock", "set-password",
                                    "pwd-reset"}},
    "province:HCM": {"HCM/people": {"create", "modify", "lock", "unlock", "set-password",
                                    "pwd-reset"}},
    "user": {},
}


@pytest.fixture(scope="module")
def delegated() -> Iterator[tuple[SlapdServer, dict[str, Identity]]]:
    server = SlapdServer(units=sample_units())
    server.start()
    try:
        identities = install_delegation(server, sample_units())
        user_dn = f"uid=plain-user,{LAYOUT.people_dn('BTE')}"
        password = secrets.token_urlsafe(12)
        server.ldapadd([(user_dn, {"objectClass": ["inetOrgPerson"], "uid": ["plain-user"],
                                   "cn": ["Người Dùng"], "sn": ["Người"]})])
        server.set_password(user_dn, password)
        identities["user"] = Identity(user_dn, password, "user")
        yield server, identities
    finally:
        server.stop()


_open: list[ldap3.Connection] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    while _open:
        _open.pop().unbind()


def connect(server: SlapdServer, identity: Identity | None) -> ldap3.Connection:
    conn = ldap3.Connection(ldap3.Server(server.url, get_info=ldap3.NONE),
                            identity.dn if identity else None,
                            identity.password if identity else None, auto_bind=True,
                            raise_exceptions=False)
    _open.append(conn)
    return conn


_counter = itertools.count()


def seed(server: SlapdServer, container: str, locked: bool = False, **extra: list[str]) -> str:
    uid = f"t{next(_counter)}"
    attributes: dict[str, list[str]] = {"objectClass": ["inetOrgPerson"],
                                        "uid": [uid], "cn": ["Mục Tiêu"], "sn": ["Mục"]}
    if locked:
        attributes.update(pwdAccountLockedTime=["000001010000Z"],
                          description=[LOCK_623])
    attributes.update(extra)
    dn = f"uid={uid},{container}"
    server.ldapadd([(dn, attributes)])
    return dn


def attempt(server: SlapdServer, conn: ldap3.Connection, op: str, container: str) -> str:
    """Do one operation as ``conn``; return the LDAP result name."""
    if op == "create":
        uid = f"new{next(_counter)}"
        conn.add(f"uid={uid},{container}", ["inetOrgPerson"],
                 {"uid": uid, "cn": "Mới", "sn": "Mới"})
    elif op == "modify":
        conn.modify(seed(server, container), {"mail": [(ldap3.MODIFY_REPLACE, ["x@vss.gov.vn"])]})
    elif op == "lock":
        conn.modify(seed(server, container), {
            "pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, ["000001010000Z"])],
            "description": [(ldap3.MODIFY_ADD, ["bhxh-lock:6.2.1:terminated"])]})
    elif op == "unlock":
        conn.modify(seed(server, container, locked=True), {
            "pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])],
            "description": [(ldap3.MODIFY_DELETE, [LOCK_623])]})
    elif op == "policy":
        conn.modify(seed(server, container), {"pwdPolicySubentry": [
            (ldap3.MODIFY_REPLACE, [f"cn=default,{LAYOUT.policies_dn}"])]})
    elif op == "move":
        dn = seed(server, container)
        conn.modify_dn(dn, dn.split(",", 1)[0], new_superior=LAYOUT.admins_dn("BTE")
                       if "admins" not in container else LAYOUT.people_dn("BTE"))
    elif op == "delete":
        conn.delete(seed(server, container))
    elif op == "set-password":
        conn.extend.standard.modify_password(seed(server, container),
                                             new_password=f"Issued-{next(_counter)}-pw")
    elif op == "pwd-reset":
        conn.modify(seed(server, container), {"pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"])]})
    return str(conn.result["description"])


@pytest.mark.parametrize("identity", list(ALLOWED))
def test_acl_matrix(delegated, identity):
    server, identities = delegated
    conn = connect(server, identities[identity])
    got: dict[tuple[str, str], str] = {}
    for (ou, container), op in itertools.product(OUS.items(), OPERATIONS):
        got[(ou, op)] = attempt(server, conn, op, container)
    expected = {(ou, op): "success" if op in ALLOWED[identity].get(ou, set())
                else "insufficientAccessRights" for ou in OUS for op in OPERATIONS}
    wrong = {cell: (got[cell], want) for cell, want in expected.items() if got[cell] != want}
    assert not wrong, f"{identity}: (got, expected) per cell: {wrong}"


@pytest.mark.parametrize("identity,allowed", [("it-centre", True), ("province:BTE", False),
                                               ("province:HCM", False), ("user", False)])
def test_only_the_it_centre_changes_province_admin_groups(delegated, identity, allowed):
    server, identities = delegated
    conn = connect(server, identities[identity])
    member = seed(server, LAYOUT.admins_dn("BTE"))
    conn.modify(LAYOUT.province_group_dn("BTE"), {"member": [(ldap3.MODIFY_ADD, [member])]})
    assert conn.result["description"] == ("success" if allowed else "insufficientAccessRights")
    conn.modify(LAYOUT.it_centre_group_dn, {"member": [(ldap3.MODIFY_ADD, [member])]})
    assert conn.result["description"] == "insufficientAccessRights"


def test_security_hold_cannot_be_lifted_or_placed_by_a_province(delegated):
    server, identities = delegated
    held = seed(server, LAYOUT.people_dn("BTE"), pwdAccountLockedTime=["000001010000Z"],
                description=[HOLD, "Ghi chú"])
    bte = connect(server, identities["province:BTE"])
    for change in ({"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])]},
                   {"description": [(ldap3.MODIFY_DELETE, [HOLD])]},
                   {"description": [(ldap3.MODIFY_REPLACE, ["Ghi chú"])]}):
        bte.modify(held, change)
        assert bte.result["description"] == "insufficientAccessRights", change
    bte.modify(held, {"mail": [(ldap3.MODIFY_REPLACE, ["still@ok.vn"])]})
    assert bte.result["description"] == "success"  # the rest of the entry stays the province's
    plain = seed(server, LAYOUT.people_dn("BTE"))
    for fake in ("bhxh-lock:6.3:misuse", "BHXH-LOCK:6.3:misuse", " bhxh-lock:6.3:x"):
        bte.modify(plain, {"description": [(ldap3.MODIFY_ADD, [fake])]})
        assert bte.result["description"] == "insufficientAccessRights", fake
    it = connect(server, identities["it-centre"])
    it.modify(held, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])],
                     "description": [(ldap3.MODIFY_DELETE, [HOLD])]})
    assert it.result["description"] == "success"


def test_password_hashes_are_readable_by_nobody_and_anonymous_reads_nothing(delegated):
    server, identities = delegated
    it = connect(server, identities["it-centre"])
    it.search(LAYOUT.system_dn, "(objectClass=*)", attributes=["userPassword"])
    assert it.entries and all(not e.entry_attributes_as_dict.get("userPassword")
                              for e in it.entries)
    anonymous = connect(server, None)
    anonymous.search(LAYOUT.base_dn, "(objectClass=*)")
    assert anonymous.entries == []


def test_policies_are_the_it_centre_s_alone(delegated):
    server, identities = delegated
    for identity, result in (("province:BTE", "insufficientAccessRights"),
                             ("it-centre", "success")):
        conn = connect(server, identities[identity])
        conn.modify(LAYOUT.default_policy_dn, {"pwdLockout": [(ldap3.MODIFY_REPLACE,
                                                                ["TRUE"])]})
        assert conn.result["description"] == result, identity


def test_delegated_identities_page_past_the_default_size_limit(delegated):
    server, identities = delegated
    server.ldapadd([(f"uid=bulk{i},{LAYOUT.people_dn('HCM')}",
                     {"objectClass": ["inetOrgPerson"], "uid": [f"bulk{i}"], "cn": ["B"],
                      "sn": ["B"]}) for i in range(620)])
    conn = connect(server, identities["province:HCM"])
    entries = list(conn.extend.standard.paged_search(
        LAYOUT.people_dn("HCM"), "(uid=bulk*)", attributes=["uid"], paged_size=200,
        generator=True))
    assert len(entries) == 620


def _holder(server: SlapdServer, container: str, **extra: list[str]) -> Identity:
    """An account with a password of its own, so its holder can bind."""
    dn = seed(server, container, **extra)
    password = secrets.token_urlsafe(12)
    server.set_password(dn, password)
    return Identity(dn, password, "holder")


MARKERS = {
    "pwdAccountLockedTime only": {"pwdAccountLockedTime": ["000001010000Z"]},
    "lock record only": {"description": [LOCK_623]},
    "both": {"pwdAccountLockedTime": ["000001010000Z"], "description": [LOCK_623]},
    "6.3 record only": {"description": [HOLD]},
}


@pytest.mark.parametrize("marker", list(MARKERS))
@pytest.mark.parametrize("identity", ["it-centre", "province:BTE", "province:HCM", "user",
                                      "holder"])
def test_nobody_but_the_operator_changes_the_password_of_a_locked_entry(delegated, identity,
                                                                        marker):
    """ppolicy drops pwdAccountLockedTime on every password change: a change on an entry
    with a lock marker would lift the lock, so only the directory operator may make one."""
    server, identities = delegated
    # the holder's password is set before the marker, as it would be in life
    target = _holder(server, LAYOUT.people_dn("BTE"))
    mods = "\n".join(f"add: {name}\n" + "\n".join(f"{name}: {v}" for v in values) + "\n-"
                     for name, values in MARKERS[marker].items())
    server.modify_as_root(f"dn: {target.dn}\nchangetype: modify\n{mods}\n")
    who = target if identity == "holder" else identities[identity]
    if identity == "holder" and "pwdAccountLockedTime" in MARKERS[marker]:
        # a locked holder cannot even bind; the holder of a record-only entry can
        assert not server.can_bind(target.dn, target.password)
        return
    conn = connect(server, who)
    conn.modify(target.dn, {"userPassword": [(ldap3.MODIFY_REPLACE, ["Changed-" + marker])]})
    assert conn.result["description"] == "insufficientAccessRights"
    conn.extend.standard.modify_password(target.dn, target.password, "Other-pw-1234567")
    assert conn.result["description"] in ("insufficientAccessRights", "unwillingToPerform")
    conn.extend.standard.modify_password(target.dn, new_password="Issued-pw-1234567")
    assert conn.result["description"] in ("insufficientAccessRights", "unwillingToPerform")
    conn.modify(target.dn, {"pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"])]})
    assert conn.result["description"] == "insufficientAccessRights"
    after = server.search(target.dn, attributes=["pwdAccountLockedTime", "description"])
    for values in MARKERS[marker].values():
        assert all(v in after for v in values), after
    assert server.can_bind(target.dn, target.password) == ("pwdAccountLockedTime" not in
                                                           MARKERS[marker])


def test_an_unlocked_holder_changes_their_own_password_giving_the_old_one(delegated):
    server, _ = delegated
    holder = _holder(server, LAYOUT.people_dn("BTE"))
    conn = connect(server, holder)
    new = secrets.token_urlsafe(14)
    assert conn.extend.standard.modify_password(holder.dn, holder.password, new) is True, \
        conn.result
    assert server.can_bind(holder.dn, new)
    assert not server.can_bind(holder.dn, holder.password)


def test_a_province_puts_a_lost_hold_back_but_never_lifts_it(delegated):
    """A 6.3 hold whose pwdAccountLockedTime was dropped by a password reset: the
    province's own run may add the attribute back; it still may not remove it or the
    record."""
    server, identities = delegated
    held = seed(server, LAYOUT.people_dn("BTE"), description=[HOLD])
    hcm = connect(server, identities["province:HCM"])
    hcm.modify(held, {"pwdAccountLockedTime": [(ldap3.MODIFY_ADD, ["000001010000Z"])]})
    assert hcm.result["description"] == "insufficientAccessRights"
    bte = connect(server, identities["province:BTE"])
    bte.modify(held, {"pwdAccountLockedTime": [(ldap3.MODIFY_ADD, ["000001010000Z"])]})
    assert bte.result["description"] == "success"
    for change in ({"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, ["000001010000Z"])]},
                   {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])]},
                   {"description": [(ldap3.MODIFY_DELETE, [HOLD])]}):
        bte.modify(held, change)
        assert bte.result["description"] == "insufficientAccessRights", change
    assert "000001010000Z" in server.search(held, attributes=["pwdAccountLockedTime"])


@pytest.mark.parametrize("identity,container,granted", [
    ("province:BTE", LAYOUT.people_dn("BTE"), True),
    ("province:HCM", LAYOUT.people_dn("BTE"), False),
    ("province:BTE", LAYOUT.admins_dn("BTE"), False),
    ("it-centre", LAYOUT.admins_dn("BTE"), True),
    ("it-centre", LAYOUT.central_area_dn, True),
    ("user", LAYOUT.people_dn("BTE"), False),
])
def test_the_check_probe_grant_shows_who_may_create_and_can_change_nothing(
        delegated, identity, container, granted):
    """`connector check` adds to an OU entry the RDN value it already holds: granted to the
    group that may create there, and refused as a duplicate, so nothing ever changes."""
    server, identities = delegated
    before = server.search(container, "(objectClass=*)", ["*", "+"]).split("\n\n")[0]
    conn = connect(server, identities[identity])
    attribute, value = container.split(",", 1)[0].split("=")
    conn.modify(container, {attribute: [(ldap3.MODIFY_ADD, [value])]})
    assert conn.result["description"] == ("attributeOrValueExists" if granted
                                          else "insufficientAccessRights")
    if identity != "it-centre":  # (the IT Centre may edit the OU entries it manages anyway)
        conn.modify(container, {attribute: [(ldap3.MODIFY_ADD, ["another-value"])]})
        assert conn.result["description"] == "insufficientAccessRights"  # only that value
        conn.modify(container, {attribute: [(ldap3.MODIFY_DELETE, [value])]})
        assert conn.result["description"] == "insufficientAccessRights"
    assert server.search(container, "(objectClass=*)", ["*", "+"]).split("\n\n")[0] == before


ANCHOR = "bhxh-audit-head:7:" + "ab" * 32


@pytest.mark.parametrize("identity", ["it-centre", "province:BTE"])
def test_each_identity_anchors_its_audit_head_on_itself_and_nothing_else(delegated,
                                                                        identity):
    """SPEC §12: the head value on its own entry, replacing the old one; not another
    description value, not another identity's entry."""
    server, identities = delegated
    me = identities[identity]
    other = identities["province:HCM"]
    conn = connect(server, me)
    conn.modify(me.dn, {"description": [(ldap3.MODIFY_ADD, [ANCHOR])]})
    assert conn.result["description"] == "success"
    newer = "bhxh-audit-head:9:" + "cd" * 32
    conn.modify(me.dn, {"description": [(ldap3.MODIFY_DELETE, [ANCHOR]),
                                         (ldap3.MODIFY_ADD, [newer])]})
    assert conn.result["description"] == "success"
    for target, value in ((me.dn, "any other text"), (me.dn, "bhxh-audit-head:1:short"),
                          (other.dn, ANCHOR)):
        conn.modify(target, {"description": [(ldap3.MODIFY_ADD, [value])]})
        assert conn.result["description"] == "insufficientAccessRights", (target, value)
