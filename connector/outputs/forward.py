"""Audit lines forwarded off the host (SPEC §12): each line as an RFC 5424 message to
a syslog collector, at least once and in order. The last forwarded ``seq`` is kept in
the state directory, so that lines a collector did not take (down, refused, cut off)
go at the next run; a down collector costs at most the connect timeout.

TCP and TLS use octet-counting framing (RFC 6587 §3.4.1, RFC 5425), and a batch
counts as taken only when the collector has read it to the end (it closes the
connection after our end of stream). UDP (RFC 5426) has no acknowledgement: a
datagram the network drops is lost, which the README says."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from connector.core.chain import head_of
from connector.core.urls import split_syslog_url
from connector.outputs.files import write_atomically

STATE_NAME = "audit-forwarded.json"
#: RFC 5424 PRI: facility 13 ("log audit"), severity 6 (informational)
PRI = 13 * 8 + 6
APP_NAME = "bhxh-connector"
MSGID = "audit"
BOM = b"\xef\xbb\xbf"
#: frames gathered before one send: a 100,000-line backlog in a few hundred writes
_BATCH = 256 * 1024
#: UDP: how long to listen for a "port unreachable" after the last datagram
_UDP_WAIT = 0.05


@dataclass(frozen=True)
class Forwarded:
    """What one forwarding pass did: lines taken by the collector, lines still
    waiting, and why it stopped short (None: nothing waits)."""

    sent: int
    waiting: int
    error: str | None = None


@dataclass(frozen=True)
class Mark:
    """The last line the collector took: its ``seq`` and SHA-256, and where the next
    line starts in the audit file (a hint: a rotated, restarted or rewritten file is
    searched instead)."""

    seq: int
    sha256: str
    offset: int

    @classmethod
    def load(cls, path: Path) -> Mark:
        """The mark in the state file; none yet (or unreadable) is seq 0: the current
        file is sent whole, which at-least-once allows and a lost mark must not stop."""
        try:
            data = json.loads(path.read_bytes())
            return cls(int(data["seq"]), str(data["sha256"]), int(data["offset"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls(0, "", 0)

    def save(self, path: Path, audit: Path) -> None:
        data = {"audit": str(audit), "seq": self.seq, "sha256": self.sha256,
                "offset": self.offset}
        write_atomically(path, json.dumps(data).encode() + b"\n")


#: a line past the mark: ``(seq, offset just past it in the current file (0: in the
#: rotated one), its bytes)``
Line = tuple[int, int, bytes]


def frame(line: bytes, host: str, procid: str) -> bytes:
    """One RFC 5424 message for an audit line: its own ``ts`` as TIMESTAMP (a late
    delivery keeps the time of the event), no structured data, the JSON as UTF-8."""
    start = line.find(b'"ts": "')
    stamp = line[start + 7:line.find(b'"', start + 7)] if start >= 0 else b"-"
    return b"<%d>1 %s %s %s %s %s - %s%s" % (PRI, stamp or b"-", host.encode(), APP_NAME.encode(),
                                            procid.encode(), MSGID.encode(), BOM, line)


def after(audit: Path, mark: Mark) -> Iterator[Line]:
    """Each chained line past the mark, in order. The mark's offset is tried first
    (one seek: the line there must be ``seq + 1`` chained to the marked line). Else the
    marked line is searched for in the file; not there (logrotate moved it away, or
    the trail restarted), the lines past it in the rotated file (``<path>.1``) go
    first, then the whole current file."""
    with _opened(audit) as handle:
        if handle is None:
            return
        size = os.fstat(handle.fileno()).st_size
        if mark.seq and 0 < mark.offset <= size:
            handle.seek(mark.offset)
            first = handle.readline()
            if not first and _last(handle, mark.offset) == mark.sha256:
                return
            if first and head_of(first) == (mark.seq + 1, mark.sha256):
                handle.seek(mark.offset)
                yield from _lines(handle, mark.offset)
                return
        handle.seek(0)
        found = _past(handle, mark)
        if found is not None:
            handle.seek(found)
            yield from _lines(handle, found)
            return
        with _opened(Path(f"{audit}.1")) as rotated:
            if rotated is not None and mark.seq and (start := _past(rotated, mark)) is not None:
                rotated.seek(start)
                yield from ((seq, 0, line) for seq, _, line in _lines(rotated, start))
        handle.seek(0)
        yield from _lines(handle, 0)


def _past(handle: BinaryIO, mark: Mark) -> int | None:
    """The offset just past the marked line in this file, or None."""
    if not mark.seq:
        return None
    offset = 0
    for raw in handle:
        offset += len(raw)
        head = head_of(raw)
        if head is not None and head[0] == mark.seq \
                and hashlib.sha256(raw.rstrip(b"\n")).hexdigest() == mark.sha256:
            return offset
    return None


def _lines(handle: BinaryIO, offset: int) -> Iterator[Line]:
    """The chained lines from here on (lines from before the chain have no ``seq``
    to mark, and are not forwarded)."""
    for raw in handle:
        offset += len(raw)
        head = head_of(raw)
        if head is not None:
            yield head[0], offset, raw.rstrip(b"\n")


def _last(handle: BinaryIO, end: int) -> str | None:
    """SHA-256 of the last line before ``end``."""
    handle.seek(max(end - 65536, 0))
    tail = handle.read(end - max(end - 65536, 0)).rstrip(b"\n")
    return hashlib.sha256(tail[tail.rfind(b"\n") + 1:]).hexdigest() if tail else None


def _last_seq(handle: BinaryIO, end: int) -> int | None:
    handle.seek(max(end - 65536, 0))
    tail = handle.read(end - max(end - 65536, 0)).rstrip(b"\n")
    head = head_of(tail[tail.rfind(b"\n") + 1:])
    return head[0] if head else None


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[BinaryIO | None]:
    try:
        handle = path.open("rb")
    except OSError:
        yield None
        return
    with handle:
        yield handle


def waiting(audit: Path, state_dir: Path) -> int:
    """Lines of the trail the collector has not taken: the file's last ``seq`` less
    the mark's (one small read; status and the run log show it)."""
    mark = Mark.load(state_dir / STATE_NAME)
    with _opened(audit) as handle:
        if handle is None:
            return 0
        size = os.fstat(handle.fileno()).st_size
        last = _last_seq(handle, size) if size else None
    if last is None:
        return 0
    return last - mark.seq if last >= mark.seq else last  # a restarted trail: all of it


class Collector:
    """One connection to the collector, for one pass."""

    def __init__(self, url: str, timeout: float, ca_file: Path | None = None) -> None:
        self.scheme, self.host, self.port = split_syslog_url(url)
        self.timeout = timeout
        self.ca_file = ca_file

    def open(self) -> socket.socket:
        if self.scheme == "udp":
            sock = socket.socket(_family(self.host), socket.SOCK_DGRAM)
            sock.settimeout(self.timeout)
            sock.connect((self.host, self.port))
            return sock
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        if self.scheme == "tls":
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file
                                                 else None)
            sock = context.wrap_socket(sock, server_hostname=self.host)
        return sock

    def send(self, sock: socket.socket, frames: list[bytes]) -> None:
        if self.scheme == "udp":
            for message in frames:
                sock.send(message)
            return
        sock.sendall(b"".join(b"%d %s" % (len(m), m) for m in frames))

    def confirm(self, sock: socket.socket) -> None:
        """The collector read everything: our end of stream, then its close. A
        collector that keeps the connection open past the timeout has not said so."""
        if self.scheme == "udp":  # no acknowledgement: only a port said closed shows
            sock.settimeout(_UDP_WAIT)
            with contextlib.suppress(TimeoutError):
                sock.recv(1)  # an ICMP port unreachable raises ConnectionRefusedError
            return
        if isinstance(sock, ssl.SSLSocket):
            try:  # our close_notify; a collector that closes without its own has read it
                sock = sock.unwrap()
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                return
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def forward(audit: Path, state_dir: Path, collector: Collector) -> Forwarded:
    """Send the lines past the mark, in order, and move the mark to the last one the
    collector took. One pass at a time per state directory (a lock file): two runs
    ending together do not send the same lines twice over."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = os.open(state_dir / f"{STATE_NAME}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                   0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _pass(audit, state_dir / STATE_NAME, collector)
    finally:
        os.close(lock)


def _pass(audit: Path, state: Path, collector: Collector) -> Forwarded:
    mark = Mark.load(state)
    pending = after(audit, mark)
    first = next(pending, None)
    if first is None:
        return Forwarded(0, 0)
    host, procid = socket.gethostname()[:255] or "-", str(os.getpid())
    sent, taken = 0, mark
    try:
        sock = collector.open()
    except (OSError, ssl.SSLError) as exc:
        return Forwarded(0, waiting(audit, state.parent), _reason(collector, exc))
    try:
        with sock:
            batch, size, last = [frame(first[2], host, procid)], 0, first
            for item in pending:
                message = frame(item[2], host, procid)
                batch.append(message)
                size += len(message)
                last = item
                if size >= _BATCH:
                    collector.send(sock, batch)
                    sent += len(batch)
                    batch, size = [], 0
            collector.send(sock, batch)
            sent += len(batch)
            collector.confirm(sock)
            taken = Mark(last[0], hashlib.sha256(last[2]).hexdigest(), last[1])
    except (OSError, ssl.SSLError) as exc:
        return Forwarded(0, waiting(audit, state.parent), _reason(collector, exc))
    taken.save(state, audit)
    return Forwarded(sent, waiting(audit, state.parent))


def _reason(collector: Collector, exc: BaseException) -> str:
    what = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return (f"the syslog collector {collector.scheme}://{collector.host}:{collector.port} "
            f"did not take the audit lines: {what}")
