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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: The ldap3 internals this module relies on, as (object, attribute) paths.
CANARY = (
    ("Connection", "connection_lock"), ("Connection", "server"), ("Connection", "request"),
    ("Connection", "strategy"), ("Connection", "socket"),
    ("Connection", "post_send_single_response"), ("Server", "next_message_id"),
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


def send_modify(conn: Any, dn: str,
                mods: Sequence[tuple[str, str, Sequence[str | bytes]]]) -> None:
    request = {"type": "modifyRequest", "entry": dn, "changes": mods, "controls": None}
    send_encoded(conn, modify_request(dn, mods), request)


def send_encoded(conn: Any, operation: bytes, request: dict[str, Any]) -> None:
    """Send an encoded request on an ldap3 connection, then wait for its result through
    ldap3's own response handling (errors raise as usual). A connection ldap3 has
    already torn down (its table of outstanding requests gone) is a send error, like
    any other lost link."""
    from ldap3.core.exceptions import LDAPSocketSendError

    with conn.connection_lock:
        outstanding = getattr(conn.strategy, "_outstanding", None)
        if outstanding is None or conn.socket is None:
            raise LDAPSocketSendError("socket sending error: the connection is closed")
        message_id = conn.server.next_message_id()
        conn.request = request
        outstanding[message_id] = request
        try:
            conn.socket.sendall(message(message_id, operation))
        except (OSError, AttributeError, TypeError) as exc:
            outstanding.pop(message_id, None)
            raise LDAPSocketSendError(f"socket sending error: {exc}") from None
        conn.post_send_single_response(message_id)


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
