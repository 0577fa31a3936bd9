"""``connector audit verify`` (SPEC §12): recompute the chain of one trail (a rotated
set, oldest first) and check it against the head this identity anchored in the
directory. Streamed: a 1,000,000-line trail is read once, a line at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from connector.core.chain import Break, verify
from connector.errors import ConfigError


def _lines(paths: Sequence[Path], where: list[tuple[int, Path, int]]) -> Iterator[tuple[int,
                                                                                     bytes]]:
    """Every line of the files in turn, numbered across them; ``where`` keeps, per file,
    the first overall number, to name a break by file and line."""
    number = 0
    for path in paths:
        where.append((number + 1, path, 0))
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise ConfigError(f"cannot read the audit trail {path}: {exc.strerror}") from None
        with handle:
            for raw in handle:
                number += 1
                yield number, raw.rstrip(b"\n")


def verify_trail(paths: Sequence[Path], anchor: tuple[int, str] | None) -> dict[str, Any]:
    """The report of ``audit verify``: ``ok``, ``lines``, ``head_seq``, ``head_sha256``,
    ``anchor_seq``, ``first_break`` (None or ``{seq, line, problem}``, plus ``file``)."""
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"cannot read the audit trail {path}: not a regular file")
    where: list[tuple[int, Path, int]] = []
    verdict = verify(_lines(paths, where), want=[anchor[0]] if anchor else [])
    problem = verdict.first_break
    if problem is None and anchor is not None:
        seq, digest = anchor
        found = (verdict.found or {}).get(seq)
        if verdict.head_seq < seq:
            problem = Break(verdict.head_seq, verdict.lines,
                            f"the trail ends at seq {verdict.head_seq}, before the head "
                            f"anchored in the directory (seq {seq}): lines were removed")
        elif found is not None and found != digest:
            problem = Break(seq, 0, f"the line at the anchored seq {seq} does not have the "
                            "anchored hash: the trail was rewritten")
    report: dict[str, Any] = {
        "ok": problem is None, "lines": verdict.lines, "head_seq": verdict.head_seq,
        "head_sha256": verdict.head_sha256, "anchor_seq": anchor[0] if anchor else None,
        "unchained_lines": verdict.unchained, "first_break": None}
    if problem is not None:
        file, line = _located(where, problem.line)
        report["first_break"] = {"seq": problem.seq, "line": line, "file": str(file),
                                 "problem": problem.problem}
    return report


def _located(where: list[tuple[int, Path, int]], number: int) -> tuple[Path | str, int]:
    found: tuple[Path | str, int] = ("", number)
    for first, path, _ in where:
        if number >= first:
            found = (path, number - first + 1)
    return found
