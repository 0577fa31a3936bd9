"""The direct BER encoder produces exactly the bytes ldap3's generic encoder does."""

from __future__ import annotations

import ldap3
from hypothesis import given
from hypothesis import strategies as st
from ldap3.operation.add import add_operation
from ldap3.operation.modify import modify_operation
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from pyasn1.codec.ber import encoder

from connector.directory import ber

text = st.text(min_size=1, max_size=300)


def reference(message_id: int, kind: str, request) -> bytes:
    message = LDAPMessage()
    message["messageID"] = MessageID(message_id)
    message["protocolOp"] = ProtocolOp().setComponentByName(kind, request)
    return encoder.encode(message)


@given(message_id=st.integers(min_value=1, max_value=2**31 - 1), dn=text,
       values=st.dictionaries(st.sampled_from(["cn", "sn", "mail", "description", "uid"]),
                              st.lists(text, min_size=1, max_size=3), min_size=1))
def test_add_request_matches_ldap3(message_id, dn, values):
    ours = ber.message(message_id, ber.add_request(dn, values))
    theirs = reference(message_id, "addRequest",
                       add_operation(dn, values, auto_encode=True, check_names=False))
    assert ours == theirs


@given(message_id=st.integers(min_value=1, max_value=2**31 - 1), dn=text,
       op=st.sampled_from(["add", "delete", "replace"]),
       values=st.lists(text, max_size=3))
def test_modify_request_matches_ldap3(message_id, dn, op, values):
    ours = ber.message(message_id, ber.modify_request(dn, [(op, "description", values),
                                                           (op, "mail", values)]))
    code = {"add": ldap3.MODIFY_ADD, "delete": ldap3.MODIFY_DELETE,
            "replace": ldap3.MODIFY_REPLACE}[op]
    changes = {"description": [(code, values)], "mail": [(code, values)]}
    theirs = reference(message_id, "modifyRequest",
                       modify_operation(dn, changes, auto_encode=True, check_names=False))
    assert ours == theirs


def test_long_lengths_use_the_long_form():
    assert ber.tlv(0x04, b"x" * 200)[:3] == b"\x04\x81\xc8"
    assert ber.tlv(0x04, b"x" * 70000)[:5] == b"\x04\x83\x01\x11\x70"


def test_every_ldap3_internal_the_fast_wire_path_touches_is_still_there():
    """A canary for an ldap3 upgrade: wire.py uses these attributes of ldap3 2.9.1's
    connection; if one goes, set CONNECTOR_LDAP__FAST_WIRE=false until wire.py follows."""
    import ldap3

    from connector.directory.wire import CANARY

    conn = ldap3.Connection(ldap3.Server("127.0.0.1", get_info=ldap3.NONE),
                            client_strategy=ldap3.SYNC)
    objects = {"Connection": conn, "Server": conn.server, "strategy": conn.strategy}
    missing = [f"{owner}.{name}" for owner, name in CANARY
               if not hasattr(objects[owner], name)]
    assert missing == []
    assert ldap3.__version__ == "2.9.1"


@given(message_id=st.integers(min_value=1, max_value=2**31 - 1), base=text,
       scope=st.sampled_from(["base", "one", "sub"]),
       object_class=st.sampled_from(["inetOrgPerson", "groupOfNames", "*"]),
       # ldap3's filter parser trims the value; ids never start or end with spaces
       uid=st.one_of(st.none(), st.text(min_size=1, max_size=40).filter(
           lambda value: value == value.strip())),
       attributes=st.lists(st.sampled_from(["uid", "cn", "description", "1.1"]), min_size=1,
                           max_size=4, unique=True),
       limit=st.integers(min_value=0, max_value=1000),
       since=st.one_of(st.none(), st.just("20261201101500.123456Z#000000#000#000000")),
       rdn=st.one_of(st.none(), st.just("ou=admins")))
def test_search_request_matches_ldap3(message_id, base, scope, object_class, uid, attributes,
                                      limit, since, rdn):
    from ldap3.operation.search import search_operation
    from ldap3.utils.conv import escape_filter_chars

    text_filter = f"(objectClass={object_class})"
    if uid is not None or since is not None or rdn is not None:
        text_filter = "(&" + text_filter + (
            f"(uid={escape_filter_chars(uid)})" if uid is not None else "") + (
            f"(entryCSN>={since})" if since is not None else "") + (
            "(ou:dn:=admins)" if rdn is not None else "") + ")"
    ours = ber.message(message_id, ber.search_request(
        base, scope, ber.search_filter(object_class, uid, since, rdn), attributes, limit))
    request = search_operation(base, text_filter, {"base": ldap3.BASE, "one": ldap3.LEVEL,
                                                   "sub": ldap3.SUBTREE}[scope],
                               ldap3.DEREF_NEVER, attributes, limit, 0, False,
                               auto_escape=False, auto_encode=True, check_names=False)
    theirs = reference(message_id, "searchRequest", request)
    # dnAttributes TRUE: RFC 4511 §5.1 has a true BOOLEAN's octet FF; ldap3 writes 01
    assert ours == (theirs.replace(b"admins\x84\x01\x01", b"admins\x84\x01\xff")
                    if rdn else theirs)


@given(dn=text, values=st.dictionaries(st.sampled_from(["cn", "sn", "mail", "description"]),
                                       st.lists(st.text(max_size=300), min_size=0, max_size=3),
                                       min_size=0, max_size=4))
def test_a_search_entry_decodes_to_the_text_ldap3_would_give(dn, values):
    from ldap3.protocol.rfc4511 import (
        LDAPDN,
        AttributeDescription,
        AttributeValue,
        PartialAttribute,
        PartialAttributeList,
        SearchResultEntry,
        Vals,
    )

    entry = SearchResultEntry()
    entry["object"] = LDAPDN(dn)
    attributes = PartialAttributeList()
    for i, (name, found) in enumerate(values.items()):
        attribute = PartialAttribute()
        attribute["type"] = AttributeDescription(name)
        vals = Vals()
        for j, value in enumerate(found):
            vals[j] = AttributeValue(value.encode("utf-8"))
        attribute["vals"] = vals
        attributes[i] = attribute
    entry["attributes"] = attributes
    data = reference(7, "searchResEntry", entry)
    _, start, _ = ber.tlv_header(data, 0)
    _, _, id_end = ber.tlv_header(data, start)
    _, op_start, op_end = ber.tlv_header(data, id_end)
    assert ber.decode_entry(data, op_start, op_end) == (dn, values)
