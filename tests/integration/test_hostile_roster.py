"""Hostile rosters against a real slapd (SPEC §3): damaged files never become locks.

Each case hands the connector a broken, odd or malicious version of the day's
roster and runs a real reconcile, bound as the delegated identities (IT Centre
and Bến Tre) under the generated ACLs, with the count and ratio limits of the
safety guard opened wide so that only the reader's own care stands between a
damaged file and wrong locks. The whole tree is dumped before and after: the
only entries that may differ are the ones a case names, and no account is
locked or unlocked by any case. A case's rejected line numbers and exit code
are asserted as SPEC §3-4 give them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connector.testing.delegation import Identity, install_delegation
from connector.testing.slapd import SlapdServer, sample_units
from tests.conftest import connector_env
from tests.helpers import ANCHOR_PREFIX, HEADER, LAYOUT, roster_csv, row, run_cli

pytestmark = pytest.mark.integration

ROWS = (
    [row(f"TW{i:03d}", f"Nguyễn Văn Tâm {i}", unit_code="TTCNTT") for i in range(1, 13)]
    + [row(f"KH{i:03d}", f"Trần Thị Hoa {i}", unit_code="KHTC") for i in range(1, 7)]
    + [row(f"VN{i:03d}", f"Đặng Quốc Bảo {i}", unit_type="vendor", unit_code="VNPT")
       for i in range(1, 6)]
    + [row(f"BA{i:03d}", f"Lê Thị Như {i}", unit_type="province", unit_code="BTE", role="admin")
       for i in range(1, 3)]
    + [row(f"BT{i:03d}", f"Trương Văn Lợi {i}", unit_type="province", unit_code="BTE")
       for i in range(1, 13)]
    + [row(f"HC{i:03d}", f"Ngô Bảo Châu {i}", unit_type="province", unit_code="HCM")
       for i in range(1, 4)]
)
GOOD = roster_csv(ROWS)
LINES = GOOD.splitlines(keepends=True)  # LINES[0] is the header; ROWS[k] is line k + 2
#: the guard opened wide: only the reader protects the directory here
NO_GUARD = {"CONNECTOR_SAFETY__MAX_LOCK_RATIO": "1.0", "CONNECTOR_SAFETY__MAX_LOCK_COUNT": "9999",
            "CONNECTOR_SAFETY__MIN_UNIT_SIZE": "9999"}
DEFAULT_GUARD: dict[str, str] = {}


def line_of(employee_id: str) -> int:
    return next(i for i, r in enumerate(ROWS) if r["employee_id"] == employee_id) + 2


def text(*, replace: dict[str, str] | None = None, tail: str = "", cut: int | None = None,
         body: str | None = None) -> bytes:
    """The good roster with row text replaced (by employee_id), a tail, or cut."""
    lines = list(LINES)
    for employee_id, new in (replace or {}).items():
        lines[line_of(employee_id) - 1] = new
    out = body if body is not None else "".join(lines) + tail
    return (out[:cut] if cut is not None else out).encode("utf-8")


def row_text(of: str, /, **changes: str) -> str:
    base = next(r for r in ROWS if r["employee_id"] == of)
    return roster_csv([dict(base, **changes)]).split("\n", 1)[1]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Path]
    exit_code: int | dict[str, int]  # per scope where the scopes see the row differently
    rejected_lines: tuple[int, ...] | dict[str, tuple[int, ...]] | None = None
    may_change: frozenset[str] = frozenset()  # employee_ids whose entries may be updated
    env: dict[str, str] = field(default_factory=lambda: dict(NO_GUARD))
    message: str | dict[str, str] | None = None
    incomplete: bool = False


def data(content: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / "roster.csv"
        path.write_bytes(content)
        return path
    return make


def as_workbook(header: tuple[str, ...] = HEADER) -> Callable[[Path], Path]:
    """The good roster as an Excel workbook (Vietnamese headers if given)."""
    def make(tmp: Path) -> Path:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(list(header))
        for values in ROWS:
            sheet.append([values[name] or None for name in HEADER])
        path = tmp / "roster.xlsx"
        book.save(path)
        return path
    return make


def csv_named_xlsx(tmp: Path) -> Path:
    path = tmp / "roster.xlsx"
    path.write_text(GOOD, encoding="utf-8")
    return path


def fifo(tmp: Path) -> Path:
    path = tmp / "roster.csv"
    os.mkfifo(path)
    return path


def directory(tmp: Path) -> Path:
    path = tmp / "roster.csv"
    path.mkdir()
    return path


def dev_zero(tmp: Path) -> Path:
    path = tmp / "roster.csv"
    path.symlink_to("/dev/zero")
    return path


def dangling(tmp: Path) -> Path:
    path = tmp / "roster.csv"
    path.symlink_to(tmp / "gone.csv")
    return path


def missing(tmp: Path) -> Path:
    return tmp / "nowhere.csv"


HEADER_LINE = ",".join(HEADER) + "\n"
CUT_QUOTED = "".join(LINES[:20]) + 'KH007,"Đỗ Hữu'
#: a stray quote opens a field on KH002's line; KH005's quoted name closes it three rows on
STRAY = dict(replace={"KH002": row_text("KH002").replace("Trần Thị Hoa 2", '"Trần Thị Hoa 2'),
                      "KH005": row_text("KH005").replace("Trần Thị Hoa 5", '"Trần Thị Hoa 5"')})
SPECIALS = 'Lê, "Văn" + <x>; = # * \\ ( ) \x7f'.replace("\x7f", "")

CASES = [
    # --- encodings
    Case("cp1258 file", data(GOOD.encode("cp1258", "replace")), 2, message="not UTF-8"),
    Case("latin-1 file", data(GOOD.replace("Nguyễn Văn Tâm 1,", "José Müller,")
                              .encode("latin-1", "replace")), 2, message="not UTF-8"),
    Case("UTF-16 with BOM", data(GOOD.encode("utf-16")), 2, message="UTF-16"),
    Case("UTF-16-LE without BOM", data(GOOD.encode("utf-16-le")), 2, message="not UTF-8"),
    Case("one cp1258 name pasted into a UTF-8 file",
         data(text(cut=None)[:-1] + b"\n" + "TW099,Tra\u0300n,,central,TTCNTT,user,active,\n"
              .encode("cp1258")), 2, message=f"line {len(LINES) + 1}"),
    Case("cut in the middle of a UTF-8 character", data(GOOD.encode()[:-1] + "ễ".encode()[:2]),
         2, message="not UTF-8"),
    Case("BOM", data(b"\xef\xbb\xbf" + GOOD.encode()), 0),
    Case("two BOMs", data(b"\xef\xbb\xbf\xef\xbb\xbf" + GOOD.encode()), 0),
    Case("only a BOM", data(b"\xef\xbb\xbf"), 2, message="no header"),
    # --- line endings
    Case("CRLF", data(GOOD.replace("\n", "\r\n").encode()), 0),
    Case("mixed LF and CRLF", data("".join(line.replace("\n", "\r\n") if i % 2 else line
                                           for i, line in enumerate(LINES)).encode()), 0),
    Case("old Mac CR only", data(GOOD.replace("\n", "\r").encode()), 0),
    Case("no final newline", data(GOOD.rstrip("\n").encode()), 0),
    Case("trailing blank lines", data((GOOD + "\n\n,,,,,,,\n\n").encode()), 0),
    # --- headers
    Case("empty file", data(b""), 2, message="no header"),
    Case("whitespace only", data(b"  \n\n"), 2, message="no header"),
    Case("header only", data(HEADER_LINE.encode()), 3, message="no data rows"),
    Case("required column missing", data(GOOD.replace(",status,", ",,", 1).encode()), 2,
         message="status"),
    Case("renamed column", data(GOOD.replace("employee_id", "Employee ID", 1).encode()), 2,
         message="employee_id"),
    Case("duplicated column", data(GOOD.replace(",field", ",status", 1).encode()), 2,
         message="duplicate header"),
    Case("columns in another order",
         data(roster_csv(ROWS, header=tuple(reversed(HEADER))).encode()), 0),
    Case("unknown extra column", data(roster_csv(ROWS, header=(*HEADER, "ghi_chu")).encode()), 0),
    Case("optional columns absent",
         data(roster_csv(ROWS, header=("employee_id", "full_name", "unit_type", "unit_code",
                                       "status")).encode()), 0),
    Case("Excel sep= line", data(("sep=,\n" + GOOD).encode()), 2, message="required column"),
    Case("semicolon separated", data(GOOD.replace(",", ";").encode()), 2,
         message="required column"),
    Case("tab separated", data(GOOD.replace(",", "\t").encode()), 2, message="required column"),
    # --- ids
    Case("duplicate id", data(text(tail=row_text("TW003", full_name="Kẻ Mạo Danh"))), 1,
         rejected_lines=(line_of("TW003"), len(LINES) + 1)),
    Case("duplicate id in another letter case",
         data(text(tail=row_text("TW003").replace("TW003", "tw003", 1))), 1,
         rejected_lines=(line_of("TW003"), len(LINES) + 1)),
    Case("empty id", data(text(replace={"TW004": row_text("TW004", employee_id="")})), 1,
         rejected_lines=(line_of("TW004"),), incomplete=True),
    Case("filter injection in the id",
         data(text(replace={"TW005": row_text("TW005", employee_id="*)(uid=*")})), 1,
         rejected_lines=(line_of("TW005"),), incomplete=True),
    Case("DN specials in the id",
         data(text(replace={"TW005": row_text("TW005", employee_id="TW005,ou=admins")})), 1,
         rejected_lines=(line_of("TW005"),), incomplete=True),
    Case("formula in the id",
         data(text(replace={"TW006": row_text("TW006", employee_id="=HYPERLINK(\"x\")")})), 1,
         rejected_lines=(line_of("TW006"),), incomplete=True),
    Case("NUL in the id", data(text(replace={"TW007": row_text("TW007").replace("TW007",
                                                                                "TW\x00007")})),
         1, rejected_lines=(line_of("TW007"),), incomplete=True),
    Case("a 100,000-character id",
         data(text(replace={"TW008": row_text("TW008", employee_id="X" * 100_000)})), 1,
         rejected_lines=(line_of("TW008"),), incomplete=True),
    # --- damaged rows
    Case("NUL in a name",
         data(text(replace={"BT002": row_text("BT002", full_name="Trương\x00Văn Lợi")})), 1,
         rejected_lines=(line_of("BT002"),)),
    Case("terminal escape in a name",
         data(text(replace={"BT003": row_text("BT003", full_name="Lợi\x1b[2J")})), 1,
         rejected_lines=(line_of("BT003"),)),
    Case("a 1 MB name", data(text(replace={"BT004": row_text("BT004",
                                                              full_name="Ngô " * 262_144)})),
         1, rejected_lines=(line_of("BT004"),)),
    Case("too many fields (unquoted comma)",
         data(text(replace={"KH003": row_text("KH003").replace("Trần Thị Hoa 3",
                                                               "Trần, Thị Hoa 3")})), 1,
         rejected_lines=(line_of("KH003"),)),
    Case("too few fields", data(text(replace={"KH004": "KH004,Trần Thị Hoa 4\n"})), 1,
         rejected_lines=(line_of("KH004"),)),
    Case("text after a closing quote",
         data(text(replace={"VN002": row_text("VN002").replace("Đặng Quốc Bảo 2",
                                                               '"Đặng" Quốc Bảo 2')})), 1,
         rejected_lines=(line_of("VN002"),)),
    Case("a quoted line break in a name",
         data(text(replace={"VN003": row_text("VN003", full_name="Đặng\nQuốc Bảo 3")})), 1,
         rejected_lines=(line_of("VN003"),), incomplete=True),
    Case("a stray quote swallowing rows", data(text(**STRAY)), 1,
         rejected_lines=(line_of("KH002"),), incomplete=True),
    Case("a stray quote never closed (cut inside a quoted field)",
         data(text(body="".join(LINES[:line_of("KH002") - 1]) + 'KH002,"Trần Thị Hoa 2,,'
                   "central,KHTC,user,active,\n" + "".join(LINES[line_of("KH002"):])
                   .replace('"', ""))), 2, message=f"opened on line {line_of('KH002')}"),
    Case("cut inside a quoted field", data(CUT_QUOTED.encode()), 2, message="line 21"),
    Case("cut in the middle of the last row", data(GOOD.encode()[:-20]), 1,
         rejected_lines=(len(LINES),)),
    Case("cut at a line end: half the file gone", data("".join(LINES[:20]).encode()), 3,
         env=DEFAULT_GUARD, message="safety guard"),
    Case("a whole department missing",
         data("".join(line for line in LINES if ",KHTC," not in line).encode()),
         {"it-centre": 3, "province:BTE": 0}, env=DEFAULT_GUARD,
         message={"it-centre": "every account of central unit KHTC (6)"}),
    Case("a whole province's staff missing",
         data("".join(line for line in LINES if not line.startswith("BT")).encode()),
         {"it-centre": 0, "province:BTE": 3}, env=DEFAULT_GUARD,
         message={"province:BTE": "every account of province BTE (12)"}),
    # --- values
    Case("unknown status", data(text(replace={"BT005": row_text("BT005", status="nghỉ")})), 1,
         rejected_lines=(line_of("BT005"),)),
    Case("unknown unit_type",
         data(text(replace={"BT006": row_text("BT006", unit_type="provincia")})), 1,
         rejected_lines=(line_of("BT006"),)),
    Case("a province code that does not exist",
         data(text(replace={"BT007": row_text("BT007", unit_code="BTEE")})),
         1, rejected_lines={"it-centre": (line_of("BT007"),), "province:BTE": None},
         message={"it-centre": "unit_code 'BTEE' is not a known unit"}),
    Case("DN injection in unit_code",
         data(text(replace={"BT008": row_text("BT008", unit_code="BTE,ou=provinces")})), 1,
         rejected_lines=(line_of("BT008"),)),
    Case("admin role for central staff",
         data(text(replace={"TW009": row_text("TW009", role="admin")})), 1,
         rejected_lines=(line_of("TW009"),)),
    # a central row: Bến Tre leaves it unjudged (it is the IT Centre's to report)
    Case("filter specials in the e-mail",
         data(text(replace={"TW010": row_text("TW010", email="a*)(mail=*@x.vn")})),
         {"it-centre": 1, "province:BTE": 0},
         rejected_lines={"it-centre": (line_of("TW010"),), "province:BTE": ()}),
    Case("RFC 4514/4515 specials in a name", data(text(replace={
        "TW011": row_text("TW011", full_name=SPECIALS),
        "BT009": row_text("BT009", full_name=SPECIALS)})), 0,
        may_change=frozenset({"TW011", "BT009"})),
    Case("formula-looking names", data(text(replace={
        "TW012": row_text("TW012", full_name="=1+2 @SUM(A1)"),
        "BT010": row_text("BT010", full_name="+cmd|' /C calc'!A0")})), 0,
        may_change=frozenset({"TW012", "BT010"})),
    Case("id with surrounding spaces and quotes", data(text(replace={
        "TW001": row_text("TW001").replace("TW001", '"  TW001 "', 1)})), 0),
    # --- workbooks
    Case("the same roster as a workbook", as_workbook(), 0),
    Case("the same roster as a workbook with Vietnamese headers", as_workbook((
        "Mã nhân viên", "Họ và tên", "Thư điện tử", "Loại đơn vị", "Mã đơn vị", "Vai trò",
        "Trạng thái", "Lĩnh vực")), 0),
    Case("a CSV named .xlsx", csv_named_xlsx, 2, message="cannot be opened as a workbook"),
    # --- not a regular file
    Case("a directory", directory, 2, message="a directory"),
    Case("a FIFO", fifo, 2, message="FIFO"),
    Case("a .csv symlink to /dev/zero", dev_zero, 2, message="a device"),
    Case("a dangling symlink", dangling, 2, message="not found"),
    Case("a missing file", missing, 2, message="not found"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[SlapdServer, dict[str, Identity], str]]:
    server = SlapdServer(units=sample_units())
    server.start()
    try:
        identities = install_delegation(server, sample_units())
        tmp = tmp_path_factory.mktemp("baseline")
        (tmp / "roster.csv").write_text(GOOD, encoding="utf-8")
        for scope in ("it-centre", "province:BTE"):
            result = run_cli(["reconcile"], env(server, identities[scope], tmp, tmp / "roster.csv"))
            assert result.returncode == 0, result.stdout + result.stderr
        yield server, identities, dump(server)
    finally:
        server.stop()


def env(server: SlapdServer, identity: Identity, tmp: Path, roster: Path,
        extra: dict[str, str] | None = None) -> dict[str, str]:
    return connector_env(server, tmp, CONNECTOR_LDAP__BIND_DN=identity.dn,
                         CONNECTOR_LDAP__BIND_PASSWORD=identity.password,
                         CONNECTOR_SCOPE=identity.scope, CONNECTOR_ROSTER__PATH=str(roster),
                         **(extra or {}))


def dump(server: SlapdServer) -> str:
    """The whole tree as ldapsearch shows it, lock attribute included."""
    return server.search(LAYOUT.base_dn, "(objectClass=*)", ["*", "pwdAccountLockedTime"])


def entries(ldif: str) -> dict[str, str]:
    """Entries by DN, the audit anchor left out: every run that writes a line moves it."""
    out = {}
    for block in ldif.strip().split("\n\n"):
        lines = sorted(line for line in block.splitlines() if not line.startswith(ANCHOR_PREFIX))
        dn = next(line for line in lines if line.startswith("dn: "))
        out[dn[4:]] = "\n".join(lines)
    return out


def locked(ldif: str) -> set[str]:
    return {dn for dn, body in entries(ldif).items() if "pwdAccountLockedTime:" in body}


def test_the_corpus_has_at_least_forty_cases():
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("scope", ["it-centre", "province:BTE"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_hostile_roster_never_locks_or_changes_an_account_it_should_not(world, tmp_path,
                                                                           case, scope):
    server, identities, baseline = world
    roster = case.make(tmp_path)
    started = time.monotonic()
    result = run_cli(["reconcile", "--json"], env(server, identities[scope], tmp_path, roster,
                                                  case.env), timeout=60)
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"{case.name}: took {elapsed:.1f}s"  # a FIFO never blocks the run
    after = dump(server)
    before_entries, after_entries = entries(baseline), entries(after)
    changed = {dn for dn in before_entries.keys() | after_entries.keys()
               if before_entries.get(dn) != after_entries.get(dn)}
    allowed = {dn for dn in before_entries
               if dn.split(",", 1)[0].split("=", 1)[1] in case.may_change}
    try:
        assert locked(after) == locked(baseline), "a lock was made or lost"
        assert changed <= allowed, f"entries changed that no case row allows: {sorted(changed)}"
        expected = case.exit_code if isinstance(case.exit_code, int) else case.exit_code[scope]
        assert result.returncode == expected, result.stdout[-2000:] + result.stderr
        message = case.message if not isinstance(case.message, dict) else \
            case.message.get(scope)
        if message is not None:
            assert message in result.stdout + result.stderr
        if expected in (0, 1):
            report = json.loads(result.stdout)
            lines = case.rejected_lines if not isinstance(case.rejected_lines, dict) else \
                case.rejected_lines[scope]
            if lines is not None:
                assert sorted({r["line"] for r in report["rejected"]}) == sorted(set(lines))
            assert report["orphan_locks_suspended"] is case.incomplete
            assert not [a for a in report["actions"] if a["action"] in ("lock", "unlock",
                                                                        "group_remove")]
    finally:
        if changed:  # put the tree back for the next case
            (tmp_path / "good.csv").write_text(GOOD, encoding="utf-8")
            for name in ("it-centre", "province:BTE"):
                run_cli(["reconcile"], env(server, identities[name], tmp_path,
                                           tmp_path / "good.csv"))
    if changed:
        assert entries(dump(server)) == before_entries
