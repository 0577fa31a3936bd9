"""LDAP's BER (X.690) as RFC 4511 uses it: pure encoders for the few requests the
connector sends (add, modify, search, the paged and assertion controls) and decoders
for the answers it reads (entries, results, cookies). No I/O and no ldap3: checked
byte for byte against ldap3's own encoder in ``tests/unit/test_ber.py``; ``wire``
sends and receives them on ldap3's connection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
OCTET_STRING = 0x04
ENUMERATED = 0x0A
ADD_REQUEST = 0x68  # [APPLICATION 8] constructed
MODIFY_REQUEST = 0x66  # [APPLICATION 6] constructed
OPERATIONS = {"add": 0, "delete": 1, "replace": 2}


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes((size,))
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + _length(len(value)) + value


def octets(value: str | bytes) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return tlv(OCTET_STRING, data)


def integer(value: int, tag: int = INTEGER) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def _attribute(name: str, values: Iterable[str | bytes]) -> bytes:
    return tlv(SEQUENCE, octets(name) + tlv(SET, b"".join(octets(v) for v in values)))


def message(message_id: int, operation: bytes) -> bytes:
    """LDAPMessage ::= SEQUENCE { messageID, protocolOp } (no controls)."""
    return tlv(SEQUENCE, integer(message_id) + operation)


def add_request(dn: str, attributes: Mapping[str, Sequence[str | bytes]]) -> bytes:
    body = b"".join(_attribute(name, values) for name, values in attributes.items())
    return tlv(ADD_REQUEST, octets(dn) + tlv(SEQUENCE, body))


def modify_request(dn: str, changes: Sequence[tuple[str, str, Sequence[str | bytes]]]) -> bytes:
    """``changes``: (operation, attribute, values) with operation add/delete/replace."""
    body = b"".join(
        tlv(SEQUENCE, integer(OPERATIONS[op], ENUMERATED) + _attribute(name, values))
        for op, name, values in changes
    )
    return tlv(MODIFY_REQUEST, octets(dn) + tlv(SEQUENCE, body))


def assertion_filter(attribute: str, values: Sequence[str]) -> bytes:
    """``(&(attribute=v1)(attribute=v2)…)``: every value still on the entry."""
    clauses = b"".join(equality(attribute, value) for value in values)
    return clauses if len(values) == 1 else tlv(FILTER_AND, clauses)


def assertion_control(attribute: str, values: Sequence[str]) -> bytes:
    """The Assertion control (RFC 4528), critical: slapd applies the operation only if
    the entry matches, else answers assertionFailed (122) and changes nothing."""
    return tlv(SEQUENCE, octets(ASSERTION_OID) + BOOLEAN_TRUE
               + octets(assertion_filter(attribute, values)))


SEARCH_REQUEST = 0x63  # [APPLICATION 3] constructed
SEARCH_ENTRY = 0x64  # [APPLICATION 4]
SEARCH_DONE = 0x65  # [APPLICATION 5]
CONTROLS = 0xA0  # [0] constructed, in LDAPMessage
FILTER_AND = 0xA0
FILTER_EQUALITY = 0xA3
FILTER_GREATER_OR_EQUAL = 0xA5
FILTER_PRESENT = 0x87  # [7] primitive
FILTER_EXTENSIBLE = 0xA9  # [9] constructed: MatchingRuleAssertion
MATCH_TYPE = 0x82  # [2] type
MATCH_VALUE = 0x83  # [3] matchValue
MATCH_DN_ATTRIBUTES = b"\x84\x01\xff"  # [4] dnAttributes TRUE
BOOLEAN_TRUE = b"\x01\x01\xff"
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
ASSERTION_OID = "1.3.6.1.1.12"
SCOPE_CODES = {"base": 0, "one": 1, "sub": 2}


def equality(attribute: str, value: str) -> bytes:
    return tlv(FILTER_EQUALITY, octets(attribute) + octets(value))


def search_filter(object_class: str, uid: str | None = None,
                  changed_since: str | None = None, rdn: str | None = None) -> bytes:
    """``(objectClass=X)`` (``*``: present), and ``(uid=Y)``, ``(entryCSN>=Z)`` and
    ``(A:dn:=V)`` for ``rdn`` ``A=V`` (an entry with that RDN anywhere in its DN) when
    given: the only filters the directory adapter sends, so no filter-string parser
    (and no escaping)."""
    clause = (tlv(FILTER_PRESENT, b"objectClass") if object_class == "*"
              else equality("objectClass", object_class))
    if uid is None and changed_since is None and rdn is None:
        return clause
    if uid is not None:
        clause += equality("uid", uid)
    if changed_since is not None:
        clause += tlv(FILTER_GREATER_OR_EQUAL, octets("entryCSN") + octets(changed_since))
    if rdn is not None:
        attribute, _, value = rdn.partition("=")
        clause += tlv(FILTER_EXTENSIBLE, tlv(MATCH_TYPE, attribute.encode("utf-8"))
                      + tlv(MATCH_VALUE, value.encode("utf-8")) + MATCH_DN_ATTRIBUTES)
    return tlv(FILTER_AND, clause)


def search_request(base: str, scope: str, filter_: bytes, attributes: Sequence[str],
                   size_limit: int = 0) -> bytes:
    body = (octets(base) + integer(SCOPE_CODES[scope], ENUMERATED)
            + integer(0, ENUMERATED) + integer(size_limit) + integer(0)
            + b"\x01\x01\x00" + filter_
            + tlv(SEQUENCE, b"".join(octets(name) for name in attributes)))
    return tlv(SEARCH_REQUEST, body)


def paged_control(size: int, cookie: bytes) -> bytes:
    value = tlv(SEQUENCE, integer(size) + octets(cookie))
    return tlv(SEQUENCE, octets(PAGED_RESULTS_OID) + octets(value))


def tlv_header(data: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the TLV at ``i``."""
    tag = data[i]
    size = data[i + 1]
    i += 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[i:i + count], "big")
        i += count
    return tag, i, i + size


def decode_entry(data: bytes, i: int, end: int) -> tuple[str, dict[str, list[str]]]:
    """A searchResEntry's value (from ``i`` to ``end``) as (dn, {name: [text]}). Every
    TLV header is read inline, short lengths first: a call per header (~25 per entry,
    100,000 entries per national snapshot) was half the cost of the read."""
    size = data[i + 1]                                       # objectName
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[i + 2:i + 2 + count], "big")
        i += 2 + count
    else:
        i += 2
    dn = data[i:i + size].decode("utf-8", "replace")
    i += size
    size = data[i + 1]                                       # attributes: SEQUENCE OF
    if size & 0x80:
        i += 2 + (size & 0x7F)
    else:
        i += 2
    values: dict[str, list[str]] = {}
    while i < end:
        size = data[i + 1]                                   # PartialAttribute
        if size & 0x80:
            count = size & 0x7F
            size = int.from_bytes(data[i + 2:i + 2 + count], "big")
            i += 2 + count
        else:
            i += 2
        attribute_end = i + size
        size = data[i + 1]                                   # type
        if size & 0x80:
            count = size & 0x7F
            size = int.from_bytes(data[i + 2:i + 2 + count], "big")
            i += 2 + count
        else:
            i += 2
        name = data[i:i + size].decode("ascii", "replace")
        i += size
        size = data[i + 1]                                   # vals: SET OF
        if 1 < size < 0x80 and data[i + 3] < 0x80 and i + 4 + data[i + 3] == attribute_end:
            # one short value, as nearly every attribute of a person entry has
            values[name] = [data[i + 4:attribute_end].decode("utf-8", "replace")]
            i = attribute_end
            continue
        if size & 0x80:
            i += 2 + (size & 0x7F)
        else:
            i += 2
        found = []
        while i < attribute_end:
            size = data[i + 1]
            if size & 0x80:
                count = size & 0x7F
                size = int.from_bytes(data[i + 2:i + 2 + count], "big")
                i += 2 + count
            else:
                i += 2
            found.append(data[i:i + size].decode("utf-8", "replace"))
            i += size
        values[name] = found
        i = attribute_end
    return dn, values


def ldap_result(data: bytes, i: int) -> tuple[int, str]:
    """An LDAPResult's (resultCode, diagnosticMessage)."""
    _, start, stop = tlv_header(data, i)
    code = int.from_bytes(data[start:stop], "big")
    _, _, stop = tlv_header(data, stop)                       # matchedDN
    _, start, stop = tlv_header(data, stop)                   # diagnosticMessage
    return code, data[start:stop].decode("utf-8", "replace")


def paged_cookie(data: bytes, i: int, end: int) -> bytes:
    """The paged-results cookie among the response controls at ``i`` (b"" if none)."""
    while i < end:
        _, start, control_end = tlv_header(data, i)
        _, oid_start, oid_end = tlv_header(data, start)
        if data[oid_start:oid_end] == PAGED_RESULTS_OID.encode():
            j = oid_end
            tag, value_start, value_end = tlv_header(data, j)
            if tag == 0x01:                                  # criticality
                tag, value_start, value_end = tlv_header(data, value_end)
            _, seq_start, _ = tlv_header(data, value_start)
            _, _, size_end = tlv_header(data, seq_start)       # size
            _, cookie_start, cookie_end = tlv_header(data, size_end)
            return bytes(data[cookie_start:cookie_end])
        i = control_end
    return b""
