"""The audit trail's chain (SPEC §12): each line carries ``seq`` and ``prev``, the
SHA-256 of the previous line's exact bytes, so that an edited, removed, inserted or
reordered line shows. Pure: bytes in, bytes and hashes out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

ZERO = "0" * 64
PREFIX = b'{"seq": '
_PREV = b', "prev": "'
ANCHOR_PREFIX = "bhxh-audit-head:"


def chained(texts: Iterable[str], seq: int, prev: str) -> tuple[bytes, int, str]:
    """The lines (each a JSON object's text, newline-terminated) with ``seq`` and
    ``prev`` put first, as bytes; and the new head."""
    out = []
    sha256 = hashlib.sha256
    for text in texts:
        seq += 1
        line = f'{{"seq": {seq}, "prev": "{prev}", {text[1:].rstrip()}'.encode()
        prev = sha256(line).hexdigest()
        out.append(line)
    out.append(b"")
    return b"\n".join(out), seq, prev


def head_of(line: bytes) -> tuple[int, str] | None:
    """``(seq, prev)`` of a chained line, or None for a line with no chain fields."""
    if not line.startswith(PREFIX):
        return None
    end = line.find(_PREV, len(PREFIX))
    if end < 0:
        return None
    try:
        seq = int(line[len(PREFIX):end])
    except ValueError:
        return None
    start = end + len(_PREV)
    return seq, line[start:start + 64].decode("ascii", "replace")


def anchor_value(seq: int, sha256: str) -> str:
    return f"{ANCHOR_PREFIX}{seq}:{sha256}"


def parse_anchor(value: str) -> tuple[int, str] | None:
    if not value.startswith(ANCHOR_PREFIX):
        return None
    seq, _, digest = value[len(ANCHOR_PREFIX):].partition(":")
    if not seq.isdigit() or len(digest) != 64:
        return None
    return int(seq), digest


@dataclass
class Break:
    seq: int | None
    line: int
    problem: str


@dataclass
class Verdict:
    lines: int = 0
    head_seq: int = 0
    head_sha256: str = ZERO
    unchained: int = 0
    first_break: Break | None = None
    #: the hash of the line at each wanted seq (the anchor's), as found
    found: dict[int, str] | None = None


def verify(lines: Iterator[tuple[int, bytes]], want: Iterable[int] = (),
           start: tuple[int, str] | None = None) -> Verdict:
    """Walk the lines (number, bytes without the newline) and say where the chain first
    breaks. ``start``: the head the first chained line must follow (a rotated file
    continues the anchored chain); ``want``: seqs whose line hash to report."""
    verdict = Verdict(found={})
    wanted = set(want)
    seq, prev = start if start is not None else (None, None)
    sha256 = hashlib.sha256
    for number, line in lines:
        verdict.lines += 1
        head = head_of(line)
        if head is None:
            if seq is None:  # lines written before the trail was chained
                verdict.unchained += 1
                continue
            verdict.first_break = Break(None, number, "a line without seq and prev inside "
                                        "the chain (inserted, or edited)")
            return verdict
        line_seq, line_prev = head
        if seq is not None and line_seq != seq + 1:
            problem = (f"seq {line_seq} follows seq {seq}: " +
                       ("a line was removed here, or one inserted or moved from later"
                        if line_seq > seq + 1 else
                        "a line is repeated, inserted or out of order"))
            verdict.first_break = Break(line_seq, number, problem)
            return verdict
        if prev is not None and line_prev != prev:
            verdict.first_break = Break(line_seq, number, "prev does not match the line "
                                        "before it: that line was edited or removed")
            return verdict
        seq, prev = line_seq, sha256(line).hexdigest()
        if seq in wanted:
            verdict.found[seq] = prev  # type: ignore[index]
    verdict.head_seq, verdict.head_sha256 = (seq or 0), (prev or ZERO)
    return verdict
