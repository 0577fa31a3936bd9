"""Reports (SPEC §9) opened as reviewers open them: the HTML in a real headless browser
(Debian's chromium, network disabled), the CSV as Excel reads it, the XLSX by openpyxl."""

from __future__ import annotations

import csv
import io
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from openpyxl import load_workbook

from connector.outputs.report import COLUMNS, write_report
from connector.service.reconcile import Request, reconcile
from tests.helpers import row
from tests.unit.test_service import make_settings, memory, write

pytestmark = pytest.mark.integration

HOSTILE = "<script>alert(1)</script> & \"Bình\""
PEOPLE = [row("TW1", HOSTILE), row("TW2", "Trần Thị Bích Ngọc"),
          row("V1", "Đặng Quốc Bảo", unit_type="vendor", unit_code="VNPT"),
          row("BA1", "Nguyễn Thị Như", unit_type="province", unit_code="BTE", role="admin"),
          row("BAD", "Lỗi Dòng", status="holiday")]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Debian's chromium package is missing (.ci/run installs it)")
    return found


def browse(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Open a file in headless chromium with every network route closed."""
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--disable-background-networking", *args, path.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def result(tmp_path):
    directory = memory()
    roster = write(tmp_path, PEOPLE)
    run = reconcile(make_settings(tmp_path), lambda: directory, Request(roster_path=roster))
    assert run.plan is not None and len(run.plan.actions) == 5  # 4 creates, 1 group_add
    return run


def png_colours(path: Path) -> int:
    """How many distinct byte values the decoded image holds (1-2: a blank page)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = [], 8
    while i < len(data):
        (size,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        if kind == b"IDAT":
            chunks.append(data[i + 8:i + 8 + size])
        i += 12 + size
    return len(set(zlib.decompress(b"".join(chunks))))


def test_the_html_report_is_self_contained_escaped_and_shows_every_row(result, tmp_path):
    path = write_report(result, tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in html and 'lang="vi"' in html
    assert not re.search(r'(src|href)\s*=|@import|url\(', html), "nothing may be fetched"
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<svg" in html and "Báo cáo" in html

    dom = browse(path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-1500:]
    body = dom.stdout
    table = body.split('id="actions"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 1 + 5  # the header and one row per action
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"Bình\"" in table
    assert "<script>alert" not in body  # shown as text, never run
    rejected = body.split('id="rejected"', 1)[1].split("</table>", 1)[0]
    assert rejected.count("<tr>") == 2 and "BAD" in rejected
    counts = body.split('id="counts"', 1)[1].split("</table>", 1)[0]
    assert re.search(r"tạo tài khoản</td><td[^>]*>4<", counts)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    for code in ("create", "group_add", "new_on_roster", "admin_active", "planned", "ok",
                 "central", "vendor"):  # issue 25 #13: no SPEC code left for the reader
        assert code not in cells, code
    assert "thành công" in cells and "nhà cung cấp VNPT" in cells
    assert "trạng thái 'holiday' không hợp lệ" in rejected
    held = body.split('id="held"', 1)[1].split("</table>", 1)[0]
    assert "Không có" in held  # an empty table says so instead of showing a bare header
    assert result.roster_sha256 and result.roster_sha256 in body

    shot = tmp_path / "report.png"
    taken = browse(path, f"--screenshot={shot}", "--window-size=1200,1400")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-1500:]
    assert shot.stat().st_size > 20_000 and png_colours(shot) > 50  # not a blank page


def test_the_csv_report_opens_in_excel_with_its_vietnamese_and_spec_columns(result, tmp_path):
    path = write_report(result, tmp_path / "report.csv")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(table[0]) == COLUMNS and len(table) == 5
    tw1 = next(r for r in table if r["employee_id"] == "TW1")
    assert tw1["full_name"] == HOSTILE and tw1["action"] == "create"
    assert tw1["unit_type"] == "central" and tw1["outcome"] == "ok"


def test_the_xlsx_report_has_actions_and_rejected_sheets_and_english_labels_work(result,
                                                                                tmp_path):
    book = load_workbook(write_report(result, tmp_path / "report.xlsx"), read_only=True)
    assert book.sheetnames == ["actions", "rejected"]
    actions = list(book["actions"].iter_rows(values_only=True))
    assert actions[0] == COLUMNS and len(actions) == 6
    rejected = list(book["rejected"].iter_rows(values_only=True))
    assert rejected[1][1] == "BAD"
    english = write_report(result, tmp_path / "en.html", "en").read_text(encoding="utf-8")
    assert "Account reconcile report" in english and 'lang="en"' in english
