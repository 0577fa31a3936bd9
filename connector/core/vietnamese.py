"""The Vietnamese column names and values offices export with (SPEC §3), in one table.

Matched ignoring case, surrounding spaces and diacritics (``đ``/``Đ`` count as
``d``/``D``); anything else is rejected as before. ``--json``, the audit and the
directory always carry the canonical English codes.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

#: canonical column → the Vietnamese names also accepted
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "employee_id": ("Mã nhân viên", "Mã NV", "Mã cán bộ"),
    "full_name": ("Họ và tên", "Họ tên"),
    "email": ("Thư điện tử",),
    "unit_type": ("Loại đơn vị",),
    "unit_code": ("Mã đơn vị",),
    "role": ("Vai trò",),
    "status": ("Trạng thái", "Tình trạng"),
    "field": ("Lĩnh vực", "Lĩnh vực công tác"),
    "start_date": ("Ngày bắt đầu",),
    "end_date": ("Ngày kết thúc",),
}

#: column → canonical value → the Vietnamese words also accepted
VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "unit_type": {"central": ("trung ương",), "province": ("tỉnh",),
                  "vendor": ("nhà cung cấp",)},
    "role": {"user": ("người dùng",), "admin": ("quản trị",)},
    "status": {
        "active": ("đang làm việc",),
        "maternity_leave": ("nghỉ thai sản",),
        "sick_leave": ("ốm đau dài ngày", "nghỉ ốm"),
        "unpaid_leave": ("nghỉ không lương",),
        "terminated": ("chấm dứt", "nghỉ việc"),
        "transferred": ("chuyển công tác",),
        "violation": ("vi phạm",),
    },
}


def fold(text: str) -> str:
    """Lower case, no diacritics, ``đ`` as ``d``, single spaces: the matching key."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.lower().split())


_COLUMNS = {fold(name): canonical for canonical, names in COLUMN_NAMES.items()
            for name in (canonical, *names)}
_VALUES = {column: {fold(word): canonical for canonical, words in table.items()
                    for word in (canonical, *words)}
           for column, table in VALUES.items()}


def canonical_column(name: str) -> str:
    """The canonical column a header cell names, or the cell folded (an unknown column)."""
    return _COLUMNS.get(fold(name), " ".join(name.lower().split()))


@lru_cache(maxsize=4096)
def canonical_value(column: str, value: str) -> str:
    """The canonical code a cell of ``unit_type``/``role``/``status`` means, or the cell
    as it is (lower-cased) when it is not a form the table accepts. Cached: these columns
    hold a handful of distinct values, and folding each of 100,000 cells costs seconds."""
    table = _VALUES.get(column)
    if table is None:
        return value
    return table.get(fold(value), value.lower())
