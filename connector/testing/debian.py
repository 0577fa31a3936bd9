"""A slapd as Debian's own postinst leaves it (``dpkg-reconfigure slapd``): its template
``/usr/share/slapd/slapd.init.ldif`` (core, cosine, nis and inetorgperson schemas,
back_mdb as ``{1}mdb``, root over ldapi with ``manage``, Debian's ACLs) and the suffix
entry, nothing of the connector's. The deployment recipe's test starts from it, so the
README's commands meet the server an administrator has."""

from __future__ import annotations

from pathlib import Path

from connector.core.tree import base_entries, entries_ldif
from connector.testing.slapd import SlapdServer, _tool, ssha

TEMPLATE = Path("/usr/share/slapd/slapd.init.ldif")


class DebianSlapd(SlapdServer):
    """Debian's configuration, with paths moved into the throwaway directory."""

    def _config_ldif(self) -> str:
        if not TEMPLATE.is_file():
            raise RuntimeError(f"{TEMPLATE} is missing: Debian's slapd package ships it")
        text = TEMPLATE.read_text(encoding="utf-8")
        text = text.replace("@SUFFIX@", self.layout.base_dn)
        text = text.replace("@PASSWORD@", ssha(self.root_password))
        for debian, here in (("/var/run/slapd/slapd.pid", self.dir / "slapd.pid"),
                             ("/var/run/slapd/slapd.args", self.dir / "slapd.args"),
                             ("/var/lib/ldap", self.dir / "data")):
            text = text.replace(debian, str(here))
        return text

    def start(self) -> None:
        (self.dir / "slapd.d").mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        (self.dir / "config.ldif").write_text(self._config_ldif(), encoding="utf-8")
        self._run([_tool("slapadd"), "-n0", "-F", str(self.dir / "slapd.d"),
                   "-l", str(self.dir / "config.ldif")])
        suffix = base_entries(self.layout)[:1]  # the postinst adds the suffix entry only
        (self.dir / "base.ldif").write_text(entries_ldif(suffix), encoding="utf-8")
        self._run([_tool("slapadd"), "-q", "-n1", "-F", str(self.dir / "slapd.d"),
                   "-l", str(self.dir / "base.ldif")])
        self._launch()
