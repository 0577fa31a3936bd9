"""A throwaway real syslog collector: Debian's ``rsyslogd`` in the foreground on a
free loopback port, receiving over TCP, UDP or TLS into a file, one raw RFC 5424
message per line. Stopped and started again on the same port, it plays a collector
that was down for a while."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from connector.testing.slapd import free_port

RSYSLOGD_PATHS = ("/usr/sbin/rsyslogd",)


class RsyslogMissing(RuntimeError):
    """rsyslogd is not installed (Debian: apt-get install rsyslog rsyslog-gnutls)."""


def find_rsyslogd() -> str:
    for path in RSYSLOGD_PATHS:
        if Path(path).exists():
            return path
    found = shutil.which("rsyslogd")
    if found is None:
        raise RsyslogMissing("rsyslogd not found: install Debian's 'rsyslog' package")
    return found


def _tls_lines(cert_dir: Path) -> str:
    return (f'global(DefaultNetstreamDriver="gtls" '
            f'DefaultNetstreamDriverCAFile="{cert_dir}/ca.pem" '
            f'DefaultNetstreamDriverCertFile="{cert_dir}/server.pem" '
            f'DefaultNetstreamDriverKeyFile="{cert_dir}/server.key")\n'
            'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" '
            'StreamDriver.AuthMode="anon")\n')


class Rsyslog:
    """``transport``: ``tcp``, ``udp`` or ``tls`` (``cert_dir`` then holds ``ca.pem``,
    ``server.pem`` and ``server.key``, see ``make_certificates``)."""

    def __init__(self, root: Path, transport: str = "tcp", cert_dir: Path | None = None) -> None:
        self.root = root
        self.transport = transport
        self.cert_dir = cert_dir
        self.port = free_port()
        self.received = root / "received.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.transport}://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        work = self.root / "work"
        work.mkdir(parents=True, exist_ok=True)
        if self.transport == "udp":
            listen = ('module(load="imudp")\n'
                      f'input(type="imudp" address="127.0.0.1" port="{self.port}" '
                      'ruleset="audit")\n')
        else:
            module = _tls_lines(self.cert_dir) if self.transport == "tls" and self.cert_dir \
                else 'module(load="imtcp")\n'
            listen = module + (f'input(type="imtcp" address="127.0.0.1" port="{self.port}" '
                               'ruleset="audit")\n')
        config = self.root / "rsyslog.conf"
        config.write_text(
            f'global(workDirectory="{work}" maxMessageSize="64k")\n' + listen
            + 'template(name="raw" type="string" string="%rawmsg%\\n")\n'
            'ruleset(name="audit") {\n'
            f'  action(type="omfile" file="{self.received}" template="raw" '
            'asyncWriting="off" flushOnTXEnd="on")\n'
            '}\n', encoding="utf-8")
        return config

    def start(self) -> Rsyslog:
        config = self._config()
        check = subprocess.run([find_rsyslogd(), "-N1", "-f", str(config)],
                               capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"rsyslog refused its configuration: {check.stderr}")
        with (self.root / "rsyslog.err").open("ab") as errors:
            self.process = subprocess.Popen(
                [find_rsyslogd(), "-n", "-f", str(config), "-i",
                 str(self.root / "rsyslog.pid")], stdout=subprocess.DEVNULL, stderr=errors)
        if self.transport != "udp":
            self._wait_listening()
        else:
            time.sleep(0.5)  # nothing to poll on UDP: give it the time to bind
        return self

    def _wait_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError("rsyslogd exited: "
                                   + (self.root / "rsyslog.err").read_text(errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"rsyslogd did not listen on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def messages(self, count: int, timeout: float = 15.0) -> list[bytes]:
        """The raw messages received, once at least ``count`` are in the file."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.received.read_bytes().splitlines() if self.received.exists() else []
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)


def make_certificates(folder: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1 (openssl), for the TLS transport."""
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=test collector CA", "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n", encoding="ascii")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem")
    return folder
