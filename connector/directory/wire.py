"""The fast wire path, quarantined: everything that reaches into ldap3's internals.

ldap3 builds every request as a tree of pyasn1 objects and encodes it
generically: ≈0.5 ms of CPU per add, more than slapd spends committing it.
Add, modify and search requests have a fixed, simple shape, so ``ber`` encodes
them directly (≈20 µs) and this module sends them on the ldap3 connection and
reads their answers there. It relies on ldap3 2.9.1's connection internals (the
version is pinned): ``CANARY`` lists every attribute it touches and a unit test
checks each; ``CONNECTOR_LDAP__FAST_WIRE=false`` falls back to plain
``conn.add`` / ``conn.modify`` and ldap3's standard decoding, and the contract
suite runs over both paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connector.directory.ber import (
    CONTROLS,
    SEARCH_DONE,
    SEARCH_ENTRY,
    SEQUENCE,
    add_request,
    decode_entry,
    integer,
    ldap_result,
    modify_request,
    paged_cookie,
    tlv,
    tlv_header,
)

#: The ldap3 internals this module relies on, as (object, attribute) paths.
CANARY = (
    ("Connection", "connection_lock"), ("Connection", "server"), ("Connection", "request"),
    ("Connection", "strategy"), ("Connection", "socket"),
    ("Server", "next_message_id"),
    ("strategy", "_outstanding"), ("strategy", "decode_response_fast"),
)

# ----------------------------------------------------------------- sending on ldap3


def send_add(conn: Any, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
    request = {"type": "addRequest", "entry": dn, "attributes": attributes, "controls": None}
    send_encoded(conn, add_request(dn, attributes), request)


def send_modify(conn: Any, dn: str, mods: Sequence[tuple[str, str, Sequence[str | bytes]]],
                controls: bytes = b"") -> None:
    request = {"type": "modifyRequest", "entry": dn, "changes": mods, "controls": None}
    send_encoded(conn, modify_request(dn, mods), request, controls)


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
    code, text = ldap_result(data, start)
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
                _, start, end = tlv_header(data, 0)
                if len(data) >= end:
                    _, id_start, id_end = tlv_header(data, start)
                    if int.from_bytes(data[id_start:id_end], "big") != message_id:
                        raise LDAPSocketReceiveError("invalid messageId received")
                    _, op_start, _ = tlv_header(data, id_end)
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
                    page.code, page.message = ldap_result(data, op_start)
                    if op_end < end and data[op_end] == CONTROLS:
                        _, controls_start, controls_end = tlv_header(data, op_end)
                        page.cookie = paged_cookie(data, controls_start, controls_end)
                    return page
                i = end                                             # references: skipped
            buffer = data[i:]
