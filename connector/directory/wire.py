"""The fast wire path, quarantined: everything that reaches into ldap3's internals.

ldap3 builds every request as a tree of pyasn1 objects and encodes it
generically: ≈0.5 ms of CPU per add, more than slapd spends committing it.
Add and modify requests have a fixed, simple shape, so they are encoded here
directly (just enough BER, X.690, for RFC 4511 §4.6-4.7: ≈20 µs) and sent on
the ldap3 connection; search entries are decoded to raw values only. Both
rely on ldap3 2.9.1's connection internals (the version is pinned):
``CANARY`` lists every attribute they touch and a unit test checks each;
``CONNECTOR_LDAP__FAST_WIRE=false`` falls back to plain ``conn.add`` /
``conn.modify`` and ldap3's standard decoding, and the contract suite runs
over both paths. The encoders are pure functions, checked byte for byte
against ldap3's own encoder in ``tests/unit/test_ber.py``.

It stays one module past 400 lines on purpose: it is one job (the quarantine of
ldap3's internals), and keeping every such reach in one file is what lets the
canary test and one flag cover all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: The ldap3 internals this module relies on, as (object, attribute) paths.
CANARY = (
    ("Connection", "connection_lock"), ("Connection", "server"), ("Connection", "request"),
    ("Connection", "strategy"), ("Connection", "socket"),
    ("Server", "next_message_id"),
    ("strategy", "_outstanding"), ("strategy", "decode_response_fast"),
)

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


# ----------------------------------------------------------------- sending on ldap3


def send_add(conn: Any, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
    request = {"type": "addRequest", "entry": dn, "attributes": attributes, "controls": None}
    send_encoded(conn, add_request(dn, attributes), request)


def send_modify(conn: Any, dn: str, mods: Sequence[tuple[str, str, Sequence[str | bytes]]],
                controls: bytes = b"") -> None:
    request = {"type": "modifyRequest", "entry": dn, "changes": mods, "controls": None}
    send_encoded(conn, modify_request(dn, mods), request, controls)


def assertion_filter(attribute: str, values: Sequence[str]) -> bytes:
    """``(&(attribute=v1)(attribute=v2)…)``: every value still on the entry."""
    clauses = b"".join(equality(attribute, value) for value in values)
    return clauses if len(values) == 1 else tlv(FILTER_AND, clauses)


def assertion_control(attribute: str, values: Sequence[str]) -> bytes:
    """The Assertion control (RFC 4528), critical: slapd applies the operation only if
    the entry matches, else answers assertionFailed (122) and changes nothing."""
    return tlv(SEQUENCE, octets(ASSERTION_OID) + BOOLEAN_TRUE
               + octets(assertion_filter(attribute, values)))


def send_encoded(conn: Any, operation: bytes, request: dict[str, Any],
                 controls: bytes = b"") -> None:
    """Send an encoded request on an ldap3 connection's socket and read its one result
    there. A result other than success raises ldap3's exception for that code (the
    adapter maps those as it maps ldap3's own); a connection ldap3 has already torn
    down (its table of outstanding requests gone) is a send error, like any other lost
    link. ldap3's receive path (a buffer joined per message, a generic BER decode of
    the result) cost more client CPU per add than encoding it; slapd competes for the
    same two cores. ``request`` is what ldap3 would log (kept for its connection)."""
    from ldap3.core.exceptions import LDAPOperationResult
    from ldap3.core.results import RESULT_CODES

    with conn.connection_lock:
        conn.request = request
        sock, message_id = _send(conn, operation, controls)
        data, start = _one_message(sock, message_id)
    code, text = _result(data, start)
    if code != 0:
        raise LDAPOperationResult(result=code, description=RESULT_CODES.get(code, str(code)),
                                  message=text, response_type=request["type"])


def _send(conn: Any, operation: bytes, controls: bytes = b"") -> tuple[Any, int]:
    """Send one request on the ldap3 connection's socket (its lock held by the caller);
    returns the socket and the message id. A connection ldap3 has torn down (its table
    of outstanding requests gone) is a send error, like any other lost link."""
    from ldap3.core.exceptions import LDAPSocketSendError

    sock = conn.socket
    if sock is None or getattr(conn.strategy, "_outstanding", None) is None:
        raise LDAPSocketSendError("socket sending error: the connection is closed")
    message_id = conn.server.next_message_id()
    body = integer(message_id) + operation + (tlv(CONTROLS, controls) if controls else b"")
    try:
        sock.sendall(tlv(SEQUENCE, body))
    except (OSError, AttributeError, TypeError) as exc:
        raise LDAPSocketSendError(f"socket sending error: {exc}") from None
    return sock, message_id


def _receive(sock: Any, size: int) -> bytes:
    """What the socket has (at least a byte); a lost link is a receive error."""
    from ldap3.core.exceptions import LDAPSocketReceiveError

    try:
        chunk = sock.recv(size)
    except (OSError, AttributeError) as exc:
        raise LDAPSocketReceiveError(f"error receiving data: {exc}") from None
    if not chunk:
        raise LDAPSocketReceiveError("the server closed the connection")
    return chunk  # type: ignore[no-any-return]


def _one_message(sock: Any, message_id: int) -> tuple[bytes, int]:
    """Read one whole LDAPMessage; returns it and where its operation's value starts.
    Any other message id (an unsolicited notice of disconnection) is a receive error."""
    from ldap3.core.exceptions import LDAPSocketReceiveError

    data = b""
    while True:
        if len(data) >= 2:
            first = data[1]
            head = 2 + (first & 0x7F if first & 0x80 else 0)
            if len(data) >= head:
                _, start, end = _header(data, 0)
                if len(data) >= end:
                    _, id_start, id_end = _header(data, start)
                    if int.from_bytes(data[id_start:id_end], "big") != message_id:
                        raise LDAPSocketReceiveError("invalid messageId received")
                    _, op_start, _ = _header(data, id_end)
                    return data[:end], op_start
        data += _receive(sock, 4096)


def lean_search_entries(conn: Any) -> None:
    """Decode search entries to raw values only.

    ldap3 builds every entry twice (raw bytes and a formatted copy that goes
    through its config and schema lookups); the snapshot reads only the raw
    values, so the formatted copy is skipped. Other responses are untouched.
    """
    strategy = conn.strategy
    original = strategy.decode_response_fast

    def decode(message: dict[str, Any]) -> dict[str, Any]:
        if message["protocolOp"] != 4:  # not a searchResEntry
            return dict(original(message))
        payload = message["payload"]
        raw = {bytes(item[3][0][3]).decode("utf-8"): [bytes(v[3]) for v in item[3][1][3]]
               for item in payload[1][3]}
        return {"type": "searchResEntry", "raw_dn": payload[0][3],
                "dn": bytes(payload[0][3]).decode("utf-8"), "raw_attributes": raw,
                "attributes": raw}

    strategy.decode_response_fast = decode


# ----------------------------------------------------------------- searching

SEARCH_REQUEST = 0x63  # [APPLICATION 3] constructed
SEARCH_ENTRY = 0x64  # [APPLICATION 4]
SEARCH_DONE = 0x65  # [APPLICATION 5]
CONTROLS = 0xA0  # [0] constructed, in LDAPMessage
FILTER_AND = 0xA0
FILTER_EQUALITY = 0xA3
FILTER_GREATER_OR_EQUAL = 0xA5
FILTER_PRESENT = 0x87  # [7] primitive
BOOLEAN_TRUE = b"\x01\x01\xff"
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
ASSERTION_OID = "1.3.6.1.1.12"
SCOPE_CODES = {"base": 0, "one": 1, "sub": 2}


def equality(attribute: str, value: str) -> bytes:
    return tlv(FILTER_EQUALITY, octets(attribute) + octets(value))


def search_filter(object_class: str, uid: str | None = None,
                  changed_since: str | None = None) -> bytes:
    """``(objectClass=X)`` (``*``: present), and ``(uid=Y)`` and ``(entryCSN>=Z)`` when
    given: the only filters the directory adapter sends, so no filter-string parser
    (and no escaping)."""
    clause = (tlv(FILTER_PRESENT, b"objectClass") if object_class == "*"
              else equality("objectClass", object_class))
    if uid is None and changed_since is None:
        return clause
    if uid is not None:
        clause += equality("uid", uid)
    if changed_since is not None:
        clause += tlv(FILTER_GREATER_OR_EQUAL, octets("entryCSN") + octets(changed_since))
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


def _header(data: bytes, i: int) -> tuple[int, int, int]:
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
    """A searchResEntry's value (from ``i`` to ``end``) as (dn, {name: [text]}).

    Every TLV header is read inline, short lengths first (no call per header): this
    runs ~25 times per entry, 100,000 entries per national snapshot, and a call per
    header was half the cost of the read.
    """
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


def _result(data: bytes, i: int) -> tuple[int, str]:
    """An LDAPResult's (resultCode, diagnosticMessage)."""
    _, start, stop = _header(data, i)
    code = int.from_bytes(data[start:stop], "big")
    _, _, stop = _header(data, stop)                       # matchedDN
    _, start, stop = _header(data, stop)                   # diagnosticMessage
    return code, data[start:stop].decode("utf-8", "replace")


def _paged_cookie(data: bytes, i: int, end: int) -> bytes:
    """The paged-results cookie among the response controls at ``i`` (b"" if none)."""
    while i < end:
        _, start, control_end = _header(data, i)
        _, oid_start, oid_end = _header(data, start)
        if data[oid_start:oid_end] == PAGED_RESULTS_OID.encode():
            j = oid_end
            tag, value_start, value_end = _header(data, j)
            if tag == 0x01:                                  # criticality
                tag, value_start, value_end = _header(data, value_end)
            _, seq_start, _ = _header(data, value_start)
            _, _, size_end = _header(data, seq_start)       # size
            _, cookie_start, cookie_end = _header(data, size_end)
            return bytes(data[cookie_start:cookie_end])
        i = control_end
    return b""


class SearchPage:
    """One page: its entries, the searchResDone's code and message, the next cookie."""

    __slots__ = ("code", "cookie", "entries", "message")

    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, list[str]]]] = []
        self.code = 0
        self.message = ""
        self.cookie = b""


def search_page(conn: Any, request: bytes, controls: bytes = b"") -> SearchPage:
    """Send one search on the ldap3 connection's socket and read its whole answer there.

    ldap3's receive loop re-concatenates its buffer for every message and decodes each
    through a generic BER tree (≈100 µs per entry); this reads into one buffer and walks
    just the shapes RFC 4511 §4.5.2 gives a search answer. Socket errors raise ldap3's
    LDAPSocketReceiveError / LDAPSocketSendError, like ldap3's own path.
    """
    from ldap3.core.exceptions import LDAPSocketReceiveError

    page = SearchPage()
    with conn.connection_lock:
        sock, message_id = _send(conn, request, controls)
        buffer = b""
        entries = page.entries
        while True:
            chunk = _receive(sock, 262144)
            data = buffer + chunk if buffer else chunk
            i, size = 0, len(data)
            while i + 2 <= size:
                first = data[i + 1]
                head = 2 + (first & 0x7F if first & 0x80 else 0)
                if i + head > size:
                    break
                end = i + head + (int.from_bytes(data[i + 2:i + head], "big")
                                  if first & 0x80 else first)
                if end > size:
                    break
                j = i + head                                        # messageID: short
                if data[j + 1] & 0x80 or int.from_bytes(
                        data[j + 2:j + 2 + data[j + 1]], "big") != message_id:
                    raise LDAPSocketReceiveError("invalid messageId received")
                j += 2 + data[j + 1]
                tag, op_start, op_end = data[j], j + 2, j + 2 + data[j + 1]
                if data[j + 1] & 0x80:
                    count = data[j + 1] & 0x7F
                    op_start = j + 2 + count
                    op_end = op_start + int.from_bytes(data[j + 2:op_start], "big")
                if tag == SEARCH_ENTRY:
                    entries.append(decode_entry(data, op_start, op_end))
                elif tag == SEARCH_DONE:
                    page.code, page.message = _result(data, op_start)
                    if op_end < end and data[op_end] == CONTROLS:
                        _, controls_start, controls_end = _header(data, op_end)
                        page.cookie = _paged_cookie(data, controls_start, controls_end)
                    return page
                i = end                                             # references: skipped
            buffer = data[i:]
