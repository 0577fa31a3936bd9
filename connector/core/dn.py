"""DNs of accounts: ``uid=<id>,<container>`` with RFC 4514 escaping."""

from __future__ import annotations

import re


def account_dn(employee_id: str, container: str) -> str:
    return f"uid={escape_rdn_value(employee_id)},{container}"


_RDN_SPECIAL = re.compile(r'[,+"\\<>;=\x00]|^[# ]| $')


def escape_rdn_value(value: str) -> str:
    """RFC 4514 escaping (ids are already restricted; this is defence in depth)."""
    if not _RDN_SPECIAL.search(value):
        return value
    out = []
    for index, char in enumerate(value):
        if char in ',+"\\<>;=' or (char == "#" and index == 0) or (
            char == " " and index in (0, len(value) - 1)
        ):
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        else:
            out.append(char)
    return "".join(out)
