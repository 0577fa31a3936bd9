"""Workbook rosters against CSV: the same 100,000 rows read and validated both ways.

    python3 benchmarks/bench_workbook.py [--people 100000] [--repeat 3]

Prints the best of ``--repeat`` runs for each, the ratio (goal: ≤ 1.5×) and rows/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook

from connector.sources.roster import read_roster
from tests.helpers import HEADER, roster_csv, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [row(f"TW{i:06d}", f"Nguyễn Văn Tâm {i}", email=f"u{i}@vss.gov.vn", field="Thu")
            for i in range(args.people)]
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "roster.csv"
        csv_path.write_text(roster_csv(rows), encoding="utf-8")
        xlsx_path = Path(folder) / "roster.xlsx"
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Danh sách")
        sheet.append(list(HEADER))
        for values in rows:
            sheet.append([values[name] or None for name in HEADER])
        book.save(xlsx_path)
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, path in (("csv", csv_path), ("xlsx", xlsx_path)):
                started = time.perf_counter()
                result = read_roster(path)
                elapsed = time.perf_counter() - started
                assert len(result.people) == args.people, (name, result.rejected[:3])
                best[name] = min(best.get(name, elapsed), elapsed)
    for name, seconds in best.items():
        print(f"{name:5} {seconds:6.2f} s  {args.people / seconds:9,.0f} rows/s")
    print(f"xlsx / csv = {best['xlsx'] / best['csv']:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
