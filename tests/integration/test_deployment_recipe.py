"""The README's "Deploying on your OpenLDAP" recipe, run as written (issue 25 #6): the
bash block between its markers, on a fresh slapd configured by Debian's own template,
then the connectors it set up reconcile, bound as the identities it made, under the
ACLs it installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connector.testing.debian import DebianSlapd
from tests.helpers import roster_csv, row

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def recipe() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- recipe:begin -->\n```bash\n(.*?)```\n<!-- recipe:end -->", text,
                      re.DOTALL)
    assert found, "the README has lost its deployment recipe"
    return found.group(1)


@pytest.fixture
def debian():
    server = DebianSlapd()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def shell(script: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL, check=False)


def test_the_readme_recipe_turns_debians_slapd_into_a_delegated_directory(debian, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([row("TW1"), row("BTE1", unit_type="province",
                                                  unit_code="BTE"),
                                  row("TW9", status="terminated")]), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", LDAPI=debian.ldapi_url,
               LDAP_URL=debian.url, ROSTER=str(roster), ETC=str(tmp_path / "etc"),
               STATE=str(tmp_path / "state"), LOGS=str(tmp_path / "logs"),
               PROVINCES="BTE HCM")
    assert shutil.which("connector", path=env["PATH"]), "the connector command is installed"
    done = shell(recipe(), env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("check passed") == 3, done.stdout[-3000:]  # it-centre, BTE, HCM
    assert "28 created, 0 to create" in done.stdout and "DRY RUN" in done.stdout
    etc = tmp_path / "etc"
    assert oct(etc.stat().st_mode & 0o777) == "0o700"
    assert {p.name for p in etc.iterdir()} >= {
        "connector-it-centre.toml", "connector-it-centre.secret", "connector-bte.toml",
        "connector-hcm.toml"}
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in etc.iterdir())

    # the connectors it set up, as their identities, for real
    centre = shell(f"connector --config {etc}/connector-it-centre.toml reconcile", env)
    assert centre.returncode == 0, centre.stdout[-2000:] + centre.stderr[-2000:]
    province = shell(f"connector --config {etc}/connector-bte.toml reconcile", env)
    assert province.returncode == 0, province.stdout[-2000:] + province.stderr[-2000:]
    people = debian.search(debian.layout.base_dn, "(uid=*)", ["uid"])
    assert "uid=TW1,ou=people,ou=central," in people
    assert "uid=BTE1,ou=people,ou=BTE,ou=provinces," in people
    assert "TW9" not in people  # terminated, no account: nothing to issue

    # the overlay and its default policy are in force: a lock refuses the bind
    lock = shell(f"connector --config {etc}/connector-it-centre.toml lock TW1 --reason "
                 "misuse --note 'kiểm tra'", env)
    assert lock.returncode == 0, lock.stdout + lock.stderr
    assert "pwdAccountLockedTime: 000001010000Z" in debian.search(
        f"uid=TW1,{debian.layout.central_dn}", "(objectClass=*)", ["pwdAccountLockedTime"])

    # the ACLs are Debian's no more: Bến Tre's identity cannot write the central OU
    secret = (etc / "connector-bte.secret").read_text()
    denied = subprocess.run(
        ["ldapmodify", "-x", "-H", debian.url, "-D",
         f"cn=connector-bte,{debian.layout.system_dn}", "-y", str(etc / "connector-bte.secret")],
        input=f"dn: uid=TW1,{debian.layout.central_dn}\nchangetype: modify\nreplace: cn\n"
              "cn: X\n", capture_output=True, text=True, check=False)
    assert denied.returncode == 50, denied.stderr  # insufficientAccessRights
    assert secret not in done.stdout + done.stderr + centre.stderr + province.stderr
