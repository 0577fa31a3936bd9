"""The delegation of Art. 6 §1 as OpenLDAP ACLs (``bootstrap --print-acl``).

Generated from the units file, one rule set per province, ordered so that the
first matching rule is the right one:

 0  local root over ldapi (SASL EXTERNAL) manages everything, others fall through
 1  userPassword of an entry with a lock marker (``pwdAccountLockedTime`` or a
    ``bhxh-lock:`` record): nobody but the operator changes it, the holder
    included (ppolicy drops the lock on every password change, SPEC §2)
 1b pwdReset of such an entry: nobody but the operator sets it
 2  userPassword and pwdReset of an unlocked entry, per lane (SPEC §11): the
    lane's identity (the province's group for its people, the IT Centre for
    central, vendors and every ou=admins) writes userPassword (``=w``, never
    reads it) and sets pwdReset; the holder changes it giving the old one
    (``=wx``: Password Modify verifies the old password with the auth
    privilege); anonymous may bind with it; elsewhere (ou=system) the same
    without the lane identity
 3  the password policies: IT Centre only
 4  pwdPolicySubentry anywhere: IT Centre only (pointing an account at a policy
    without pwdLockout would silently cancel its lock)
 5  per province: pwdAccountLockedTime of its own people under a 6.3 hold — the
    province may add it (put a lost lock back), never delete it
 6  pwdAccountLockedTime and description of an entry under a 6.3 security hold
    (``description: bhxh-lock:6.3:…``): IT Centre only
 7  a ``bhxh-lock:6.3:`` description value (placing a hold): IT Centre only
 8  per province: ou=people — the province's admin group and the IT Centre
    add and modify (no delete: "add" on children, never "write");
    ou=admins — the IT Centre only; cn=province-admins-<CODE> member — IT only;
    and on each of these OU entries, ``add`` of its own RDN value (``ou=people``
    already holds ``ou: people``): a grant that can change nothing, for
    ``connector check`` to probe while the OU is still empty
 9  ou=central, ou=vendors, ou=provinces: the IT Centre adds and modifies
9b  ou=system: each identity writes its own ``bhxh-audit-head:`` value (SPEC §12)
10  everything else: authenticated identities read, anonymous nothing

DNs are written with ``dn.exact``/``dn.children``, which slapd compares in
normalised form, so no regex (and no lower-case trap) is needed.
"""

from __future__ import annotations

from connector.core.model import Layout
from connector.core.units import Units

HOLD_PREFIX = "bhxh-lock:6.3:"
LOCK_MARKERS = "(|(pwdAccountLockedTime=*)(description=bhxh-lock:*))"
#: read, and add values without deleting any: enough to put a lock back, not to lift it
READ_AND_ADD = "=arscxd"
#: POSIX regex, case-insensitive by hand: a province may not place a hold either.
HOLD_REGEX = "^[[:space:]]*[bB][hH][xX][hH]-[lL][oO][cC][kK]:6\\.3:"
#: the one ``description`` value an identity may write on itself: its audit head
ANCHOR_REGEX = "^bhxh-audit-head:[0-9]+:[0-9a-f]{64}$"
ROOT_PEERCRED = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"
UNLIMITED = ("size.soft=unlimited size.hard=unlimited size.prtotal=unlimited "
             "time.soft=unlimited time.hard=unlimited")


def _group(dn: str) -> str:
    return f'group/groupOfNames/member.exact="{dn}"'


def probe_rule(container: str, *grantees: str) -> str:
    """``add`` on the one value the container's RDN attribute already holds.

    It can change nothing (adding a value that is there is refused after the ACL
    check with attributeOrValueExists), so ``connector check`` can prove that the
    group holding the OU's ``children`` grant is in force even while the OU is empty.
    """
    attribute, value = rdn_of(container)
    grants = " ".join(f"by {g} add" for g in grantees)
    return (f'to dn.exact="{container}" attrs={attribute} val="{value}" {grants} '
            "by users read by * none")


def rdn_of(dn: str) -> tuple[str, str]:
    attribute, _, value = dn.split(",", 1)[0].partition("=")
    return attribute.strip(), value.strip()


def acl_rules(layout: Layout, units: Units, operator_dn: str = ROOT_PEERCRED) -> list[str]:
    it = _group(layout.it_centre_group_dn)
    base = layout.base_dn
    rules = [
        f'to * by dn.exact="{operator_dn}" manage by * break',
        f"to attrs=userPassword filter={LOCK_MARKERS} by anonymous auth by * none",
        f"to attrs=pwdReset filter={LOCK_MARKERS} by users read by * none",
    ]
    # SPEC §11: each identity writes (=w: never reads) userPassword, and sets
    # pwdReset, on the unlocked entries of its own lane only
    for unit in units.provinces:
        own = _group(layout.province_group_dn(unit.code))
        rules += [
            f'to dn.children="{layout.people_dn(unit.code)}" attrs=userPassword '
            f"by self =wx by {own} =w by anonymous auth by * none",
            f'to dn.children="{layout.people_dn(unit.code)}" attrs=pwdReset '
            f"by {own} write by users read by * none",
            f'to dn.children="{layout.admins_dn(unit.code)}" attrs=userPassword '
            f"by self =wx by {it} =w by anonymous auth by * none",
            f'to dn.children="{layout.admins_dn(unit.code)}" attrs=pwdReset '
            f"by {it} write by users read by * none",
        ]
    for area in (layout.central_area_dn, layout.vendors_area_dn):
        rules += [
            f'to dn.children="{area}" attrs=userPassword by self =wx by {it} =w '
            "by anonymous auth by * none",
            f'to dn.children="{area}" attrs=pwdReset by {it} write by users read by * none',
        ]
    rules += [
        "to attrs=userPassword by self =wx by anonymous auth by * none",
        "to attrs=pwdReset by users read by * none",
        f'to dn.subtree="{layout.policies_dn}" by {it} write by users read by * none',
        f"to attrs=pwdPolicySubentry by {it} write by users read by * none",
    ]
    for unit in units.provinces:
        rules.append(
            f'to dn.children="{layout.people_dn(unit.code)}" filter=(description={HOLD_PREFIX}*) '
            f"attrs=pwdAccountLockedTime by {_group(layout.province_group_dn(unit.code))} "
            f"{READ_AND_ADD} by {it} write by users read by * none")
    rules += [
        f'to dn.subtree="{layout.provinces_dn}" filter=(description={HOLD_PREFIX}*) '
        f"attrs=pwdAccountLockedTime,description by {it} write by users read by * none",
        f'to dn.subtree="{base}" attrs=description val.regex="{HOLD_REGEX}" by {it} write '
        "by users read by * none",
    ]
    for unit in units.provinces:
        own = _group(layout.province_group_dn(unit.code))
        people = layout.people_dn(unit.code)
        admins = layout.admins_dn(unit.code)
        rules += [
            probe_rule(people, own, it),
            probe_rule(admins, it),
            f'to dn.exact="{people}" attrs=children by {own} add by {it} add '
            "by users read by * none",
            f'to dn.children="{people}" by {own} write by {it} write by users read by * none',
            f'to dn.exact="{admins}" attrs=children by {it} add by users read by * none',
            f'to dn.children="{admins}" by {it} write by users read by * none',
            f'to dn.exact="{layout.province_group_dn(unit.code)}" attrs=member '
            f"by {it} write by users read by * none",
        ]
    for area in (layout.central_area_dn, layout.vendors_area_dn):
        rules += [
            probe_rule(area, it),
            f'to dn.subtree="{area}" attrs=children by {it} add by users read by * none',
            f'to dn.children="{area}" by {it} write by users read by * none',
        ]
    rules += [
        f'to dn.subtree="{layout.provinces_dn}" attrs=children by {it} add '
        "by users read by * none",
        f'to dn.children="{layout.provinces_dn}" by {it} write by users read by * none',
        # SPEC §12: each identity anchors its audit head on its own entry, nothing more
        f'to dn.children="{layout.system_dn}" attrs=description val.regex="{ANCHOR_REGEX}" '
        "by self write by users read by * none",
        "to * by users read by * none",
    ]
    return rules


def limit_rules(layout: Layout, units: Units, operator_dn: str = ROOT_PEERCRED) -> list[str]:
    """Let the connector identities, and the operator who runs ``reorganize`` and
    ``bootstrap`` over ldapi, read whole OUs (default size limit: 500)."""
    groups = [layout.it_centre_group_dn, *(layout.province_group_dn(u.code)
                                           for u in units.provinces)]
    return [f'dn.exact="{operator_dn}" {UNLIMITED}',
            *(f'{_group(dn).replace("member.exact", "member")} {UNLIMITED}' for dn in groups)]


def acl_ldif(layout: Layout, units: Units, database: str = "olcDatabase={1}mdb,cn=config",
             operator_dn: str = ROOT_PEERCRED) -> str:
    """LDIF for ``ldapmodify -Y EXTERNAL -H ldapi:///`` that replaces the database's rules."""
    lines = [
        "# Delegation of Decision 2366/QD-BHXH Art. 6 §1, generated by `connector bootstrap",
        "# --print-acl`. Apply: ldapmodify -Y EXTERNAL -H ldapi:/// -f acl.ldif",
        f"dn: {database}",
        "changetype: modify",
        "replace: olcAccess",
    ]
    lines += [f"olcAccess: {{{i}}}{rule}" for i, rule in enumerate(acl_rules(layout, units,
                                                                            operator_dn))]
    lines += ["-", "replace: olcLimits"]
    lines += [f"olcLimits: {{{i}}}{rule}" for i, rule in enumerate(limit_rules(layout, units,
                                                                             operator_dn))]
    lines += ["-", "replace: olcAddContentAcl", "olcAddContentAcl: TRUE", "-", ""]
    return "\n".join(lines)
