"""Which audit lines the forwarder sends (SPEC §12): those past the collector's mark,
found by one seek when the file only grew, by a search when it was rotated, restarted
or rewritten; and the RFC 5424 frame of a line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from connector.core.chain import ZERO, chained
from connector.core.urls import split_syslog_url
from connector.outputs.forward import BOM, Mark, after, frame, waiting


def trail(path: Path, count: int, seq: int = 0, prev: str = ZERO) -> tuple[int, str]:
    data, seq, prev = chained([f'{{"ts": "2026-12-07T10:00:0{n % 10}+07:00", "n": {n}}}\n'
                               for n in range(count)], seq, prev)
    with path.open("ab") as handle:
        handle.write(data)
    return seq, prev


def mark_at(path: Path, seq: int) -> Mark:
    offset = 0
    for raw in path.read_bytes().splitlines(keepends=True):
        offset += len(raw)
        if raw.startswith(b'{"seq": %d,' % seq):
            return Mark(seq, hashlib.sha256(raw.rstrip(b"\n")).hexdigest(), offset)
    raise AssertionError(seq)


def seqs(path: Path, mark: Mark) -> list[int]:
    return [seq for seq, _, _ in after(path, mark)]


def test_a_grown_file_gives_the_lines_past_the_mark(tmp_path):
    audit = tmp_path / "audit.jsonl"
    trail(audit, 5)
    mark = mark_at(audit, 3)
    assert seqs(audit, mark) == [4, 5]
    assert seqs(audit, mark_at(audit, 5)) == []


def test_no_mark_yet_gives_the_whole_file(tmp_path):
    audit = tmp_path / "audit.jsonl"
    trail(audit, 3)
    assert seqs(audit, Mark.load(tmp_path / "missing.json")) == [1, 2, 3]


def test_a_damaged_mark_file_counts_as_no_mark(tmp_path):
    state = tmp_path / "state.json"
    state.write_text('{"seq": "x"', encoding="utf-8")
    assert Mark.load(state) == Mark(0, "", 0)


def test_a_rotated_file_s_waiting_lines_come_before_the_new_file_s(tmp_path):
    audit = tmp_path / "audit.jsonl"
    seq, prev = trail(audit, 4)
    mark = mark_at(audit, 2)
    audit.rename(tmp_path / "audit.jsonl.1")
    trail(audit, 2, seq, prev)
    assert seqs(audit, mark) == [3, 4, 5, 6]


def test_a_restarted_chain_is_sent_whole(tmp_path):
    audit = tmp_path / "audit.jsonl"
    trail(audit, 4)
    mark = mark_at(audit, 4)
    audit.unlink()
    trail(audit, 2)  # seq 1 again: no anchor to continue from
    assert seqs(audit, mark) == [1, 2]
    assert waiting(audit, tmp_path) == 2


def test_a_rewritten_line_at_the_mark_makes_the_forwarder_search(tmp_path):
    audit = tmp_path / "audit.jsonl"
    trail(audit, 4)
    mark = mark_at(audit, 2)
    lines = audit.read_bytes().splitlines(keepends=True)
    audit.write_bytes(b"".join(lines[:2]) + b'{"inserted": true}\n' + b"".join(lines[2:]))
    assert seqs(audit, mark) == [3, 4]  # the unchained insertion is not a line to send


def test_the_frame_is_rfc5424_with_the_line_s_own_time_and_a_bom():
    line = b'{"seq": 1, "prev": "' + ZERO.encode() + b'", "ts": "2026-12-07T10:00:00+07:00"}'
    assert frame(line, "host1", "42") == (b"<110>1 2026-12-07T10:00:00+07:00 host1 "
                                          b"bhxh-connector 42 audit - " + BOM + line)


@pytest.mark.parametrize(("url", "expected"), [
    ("tcp://logs.example", ("tcp", "logs.example", 601)),
    ("udp://127.0.0.1", ("udp", "127.0.0.1", 514)),
    ("tls://[::1]:7000", ("tls", "::1", 7000)),
])
def test_syslog_urls_take_default_ports(url, expected):
    assert split_syslog_url(url) == expected


@pytest.mark.parametrize("url", ["http://logs", "tcp://", "tcp://h:99999", "tcp://h/path",
                                 "tcp://user@h"])
def test_a_malformed_syslog_url_is_refused(url):
    with pytest.raises(ValueError):
        split_syslog_url(url)
