"""A throwaway real OpenLDAP server, on the pattern of python-ldap's ``slapdtest``.

Free loopback port, temporary directory, ``slapadd -n0`` of a generated
cn=config (back-mdb, ppolicy with a ``pwdLockout: TRUE`` default policy, only
the stock schema: core, cosine, inetorgperson), ``slapd -Ttest``, start on
loopback and ldapi, poll until it answers, SIGTERM and delete on stop.
Durable (no ``dbnosync``): the same configuration serves tests and the benchmark.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from connector.core.model import Layout
from connector.core.tree import Entry, base_entries, entries_ldif, tree_entries
from connector.core.units import Units
from connector.sources.units import load_units

# Kept under its old name for the tests and helpers that build LDIF.
ldif = entries_ldif

SLAPD_PATHS = ("/usr/sbin/slapd", "/usr/local/libexec/slapd", "/usr/libexec/slapd")
MODULE_PATHS = ("/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap")
SCHEMA_DIR = Path("/etc/ldap/schema")


class SlapdMissing(RuntimeError):
    """slapd or its tools are not installed (Debian: apt-get install slapd ldap-utils)."""


def find_slapd() -> str:
    for path in SLAPD_PATHS:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("slapd")
    if found:
        return found
    raise SlapdMissing("slapd not found: install Debian's 'slapd' and 'ldap-utils' packages")


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK)
                                  else None)
    if path is None:
        raise SlapdMissing(f"{name} not found: install Debian's 'slapd' and 'ldap-utils' packages")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


#: cn=config change that loads syncprov on the main database, as a replicated
#: production server has it: slapd then maintains the suffix's contextCSN (and an
#: entryCSN index, which OpenLDAP's admin guide asks of a provider, serves the
#: daemon's "changed since" reads)
SYNCPROV_LDIF = """dn: cn=module{0},cn=config
changetype: modify
add: olcModuleLoad
olcModuleLoad: syncprov

dn: olcDatabase={1}mdb,cn=config
changetype: modify
add: olcDbIndex
olcDbIndex: entryCSN eq

dn: olcOverlay=syncprov,olcDatabase={1}mdb,cn=config
changetype: add
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: syncprov
"""


class SlapdServer:
    """One throwaway server. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(
        self,
        layout: Layout | None = None,
        units: Units | None = None,
        *,
        root_password: str | None = None,
        extra_schema: Sequence[Path] = (),
        workdir: Path | None = None,
        log_level: str = "0",
        port: int | None = None,
        listen: Sequence[str] = (),
        tls: bool = False,
    ) -> None:
        self.layout = layout or Layout()
        self.units = units
        self.root_dn = f"cn=admin,{self.layout.base_dn}"
        self.root_password = root_password or secrets.token_urlsafe(18)
        self.extra_schema = tuple(extra_schema)
        self._own_dir = workdir is None
        self.dir = workdir or Path(tempfile.mkdtemp(prefix="slapd-"))
        self.port = port or free_port()
        self.listen = tuple(listen)
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.ldaps_url = f"ldaps://127.0.0.1:{self.tls_port}" if tls else None
        self.ca_file = self.dir / "tls" / "ca.pem"
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.socket_path = self.dir / "ldapi"
        self.ldapi_url = "ldapi://" + quote(str(self.socket_path), safe="")
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.slapd = find_slapd()
        uid, gid = os.getuid(), os.getgid()
        self.external_dn = f"gidNumber={gid}+uidNumber={uid},cn=peercred,cn=external,cn=auth"

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> SlapdServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _config_ldif(self) -> str:
        base = self.layout.base_dn
        modules = next((p for p in MODULE_PATHS if Path(p, "back_mdb.la").exists()
                        or Path(p, "back_mdb.so").exists()), MODULE_PATHS[0])
        schemas = [SCHEMA_DIR / "core.ldif", SCHEMA_DIR / "cosine.ldif",
                   SCHEMA_DIR / "inetorgperson.ldif", *self.extra_schema]
        includes = "\n".join(f"include: file://{path}" for path in schemas)
        return f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {self.dir}/slapd.pid
olcArgsFile: {self.dir}/slapd.args
olcLogLevel: none
{self._tls_config()}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {modules}
olcModuleLoad: {{0}}back_mdb
olcModuleLoad: {{1}}ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{includes}

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 500

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by dn.exact={self.external_dn} manage by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {self.dir}/data
olcSuffix: {base}
olcRootDN: {self.root_dn}
olcRootPW: {ssha(self.root_password)}
olcDbMaxSize: 4294967296
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: ou eq
olcDbIndex: cn eq
olcDbIndex: member eq
olcDbIndex: entryUUID eq
olcAddContentAcl: TRUE
olcAccess: {{0}}to * by dn.exact={self.external_dn} manage by * break
olcAccess: {{1}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{2}}to * by users read by * none

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: {self.layout.default_policy_dn}
olcPPolicyUseLockout: FALSE
"""

    def _tls_config(self) -> str:
        if not self.tls:
            return ""
        tls = self.dir / "tls"
        return (f"olcTLSCACertificateFile: {tls}/ca.pem\n"
                f"olcTLSCertificateFile: {tls}/server.pem\n"
                f"olcTLSCertificateKeyFile: {tls}/server.key\n")

    def _make_certificates(self) -> None:
        """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""
        tls = self.dir / "tls"
        tls.mkdir(parents=True, exist_ok=True)
        openssl = shutil.which("openssl")
        if openssl is None:
            raise SlapdMissing("openssl not found: install Debian's 'openssl' package")
        (tls / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        for argv in (
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=connector test CA", "-keyout", "ca.key", "-out", "ca.pem"],
            [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", "server.key", "-out", "server.csr"],
            [openssl, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.pem"],
        ):
            result = subprocess.run(argv, cwd=tls, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"openssl failed: {result.stderr[-500:]}")

    @property
    def initialised(self) -> bool:
        config = self.dir / "slapd.d"
        return config.is_dir() and any(config.iterdir())

    def start(self) -> None:
        fresh = not self.initialised
        (self.dir / "slapd.d").mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        if fresh:
            if self.tls:
                self._make_certificates()
            (self.dir / "config.ldif").write_text(self._config_ldif(), encoding="utf-8")
            self._run([_tool("slapadd"), "-n0", "-F", str(self.dir / "slapd.d"),
                       "-l", str(self.dir / "config.ldif")])
            entries = base_entries(self.layout)
            if self.units is not None:
                entries += tree_entries(self.layout, self.units)
            (self.dir / "base.ldif").write_text(ldif(entries), encoding="utf-8")
            self._run([_tool("slapadd"), "-q", "-n1", "-F", str(self.dir / "slapd.d"),
                       "-l", str(self.dir / "base.ldif")])
            self._run([self.slapd, "-Ttest", "-F", str(self.dir / "slapd.d"), "-u"], check=False)
        self._launch()

    def _launch(self) -> None:
        with open(self.dir / "slapd.log", "ab") as log:
            self.process = subprocess.Popen(
                [self.slapd, "-F", str(self.dir / "slapd.d"), "-h",
                 " ".join([*(self.listen or [f"{self.url}/"]),
                           *([f"{self.ldaps_url}/"] if self.ldaps_url else []),
                           self.ldapi_url]), "-d",
                 self.log_level],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.dir / "slapd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"slapd exited with {self.process.returncode}: {tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                result = subprocess.run(
                    [_tool("ldapwhoami"), "-x", "-H", self.url, "-D", self.root_dn, "-w",
                     self.root_password], capture_output=True, timeout=5, check=False)
                if result.returncode == 0:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not answer within 15 s")

    def pause(self) -> None:
        """Stop the process but keep the data, to simulate an outage."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def resume(self) -> None:
        self._launch()

    def stop(self) -> None:
        self.pause()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------------

    def _run(self, argv: list[str], check: bool = True, stdin: str | None = None) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, input=stdin, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed ({result.returncode}): "
                               f"{result.stderr.strip()[-2000:]}")
        return result.stdout

    def ldapadd(self, entries: Iterable[Entry]) -> None:
        self._run([_tool("ldapadd"), "-x", "-H", self.url, "-D", self.root_dn, "-w",
                   self.root_password], stdin=ldif(entries))

    def modify_as_root(self, text: str) -> str:
        """Apply an LDIF change record as the root DN."""
        return self._run([_tool("ldapmodify"), "-x", "-H", self.url, "-D", self.root_dn, "-w",
                          self.root_password], stdin=text)

    def ldapmodify_config(self, text: str) -> str:
        """Change cn=config over ldapi with SASL EXTERNAL, as an operator would."""
        return self._run([_tool("ldapmodify"), "-Q", "-Y", "EXTERNAL", "-H", self.ldapi_url],
                         stdin=text)

    def set_password(self, dn: str, password: str) -> None:
        self._run([_tool("ldappasswd"), "-x", "-H", self.url, "-D", self.root_dn, "-w",
                   self.root_password, "-s", password, dn])

    def can_bind(self, dn: str, password: str) -> bool:
        result = subprocess.run([_tool("ldapwhoami"), "-x", "-H", self.url, "-D", dn, "-w",
                                 password], capture_output=True, check=False)
        return result.returncode == 0

    def search(self, base: str, search_filter: str = "(objectClass=*)",
               attributes: Sequence[str] = ("*", "+")) -> str:
        """Raw LDIF from ``ldapsearch`` as the root DN (what an administrator would see)."""
        return self._run([_tool("ldapsearch"), "-LLL", "-o", "ldif-wrap=no", "-x", "-H",
                          self.url, "-D", self.root_dn, "-w", self.root_password, "-b", base,
                          search_filter, *attributes], check=False)


def sample_units() -> Units:
    from connector.resources import default_units

    return load_units(default_units())
