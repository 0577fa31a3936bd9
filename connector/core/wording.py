"""The words of a Vietnamese report (issue 25 #13): every SPEC code a reviewer reads
(actions, reasons, outcomes, unit types, statuses) and the rejection reasons, in
Vietnamese. Only for what people sign off: CSV, XLSX, ``--json``, the audit and the
directory keep the SPEC's English codes, which scripts match on.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: SPEC codes → Vietnamese, one table for every kind of code (they do not collide)
CODES_VI: dict[str, str] = {
    # actions
    "create": "tạo tài khoản", "lock": "khóa", "unlock": "mở khóa",
    "update": "cập nhật thông tin", "relabel": "đổi lý do khóa",
    "group_add": "thêm vào nhóm quản trị", "group_remove": "rút khỏi nhóm quản trị",
    "move": "chuyển đơn vị",
    # reasons (besides the statuses)
    "new_on_roster": "mới có trong danh sách", "roster_changed": "danh sách thay đổi",
    "returned": "trở lại làm việc", "not_on_roster": "không còn trong danh sách",
    "duplicate_account": "tài khoản trùng lặp", "misuse": "sử dụng sai mục đích",
    "manual": "thao tác thủ công", "admin_active": "quản trị viên đang làm việc",
    "admin_inactive": "quản trị viên không còn làm việc", "reorganized": "sắp xếp lại đơn vị",
    "reverted": "hoàn tác lượt chạy",
    # statuses (reasons of locks too)
    "active": "đang làm việc", "maternity_leave": "nghỉ thai sản",
    "sick_leave": "nghỉ ốm dài ngày", "unpaid_leave": "nghỉ không lương",
    "terminated": "chấm dứt làm việc", "transferred": "chuyển công tác",
    "violation": "vi phạm",
    # outcomes
    "planned": "dự kiến", "ok": "thành công", "failed": "thất bại", "skipped": "bỏ qua",
    "not_applied": "chưa thực hiện",
    # unit types
    "central": "đơn vị trung ương", "province": "BHXH tỉnh", "vendor": "nhà cung cấp",
}


def code_vi(code: str | None) -> str:
    """A code in Vietnamese; one this table does not know is shown as it is."""
    if not code:
        return ""
    return CODES_VI.get(code, code)


def scope_vi(scope: str) -> str:
    """``it-centre`` / ``province:BTE`` as a Vietnamese reader names them, code kept."""
    if scope == "it-centre":
        return "Trung tâm Công nghệ thông tin (it-centre)"
    if scope.startswith("province:"):
        return f"BHXH tỉnh {scope.split(':', 1)[1]} ({scope})"
    return scope


def _q(match: re.Match[str], group: int = 1) -> str:
    return match.group(group)


#: (pattern of an English rejection reason, its Vietnamese) — sources/rowcheck.py,
#: sources/roster.py, sources/duplicates.py and the planner say these
_REJECTIONS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^employee_id is empty$"), lambda m: "thiếu mã nhân viên"),
    (re.compile(r"^employee_id may contain only"),
     lambda m: "mã nhân viên chỉ được gồm chữ cái, chữ số ASCII, '.', '_' và '-' (tối đa 64 "
               "ký tự): ký tự giống hệt (như chữ số toàn chiều rộng) có thể trỏ sang người "
               "khác"),
    (re.compile(r"^full_name is empty$"), lambda m: "thiếu họ và tên"),
    (re.compile(r"^full_name is longer than (\d+) characters$"),
     lambda m: f"họ và tên dài quá {_q(m)} ký tự"),
    (re.compile(r"^full_name contains control characters"),
     lambda m: "họ và tên chứa ký tự điều khiển (hoặc ký tự đảo chiều hiển thị)"),
    (re.compile(r"^email (.+) is not an e-mail address$"),
     lambda m: f"thư điện tử {_q(m)} không phải là địa chỉ thư hợp lệ"),
    (re.compile(r"^field is too long or contains control characters$"),
     lambda m: "lĩnh vực quá dài hoặc chứa ký tự điều khiển"),
    (re.compile(r"^(start_date|end_date) (.+) is not a date"),
     lambda m: f"{'ngày bắt đầu' if m.group(1) == 'start_date' else 'ngày kết thúc'} "
               f"{m.group(2)} không phải là ngày (YYYY-MM-DD hoặc DD/MM/YYYY)"),
    (re.compile(r"^end_date (\S+) is before start_date (\S+)$"),
     lambda m: f"ngày kết thúc {m.group(1)} trước ngày bắt đầu {m.group(2)}"),
    (re.compile(r"^unknown unit_type (.+) \(central, province, vendor\)$"),
     lambda m: f"loại đơn vị {_q(m)} không hợp lệ (trung ương, tỉnh, nhà cung cấp)"),
    (re.compile(r"^unit_code is empty$"), lambda m: "thiếu mã đơn vị"),
    (re.compile(r"^unit_code (.+) may contain only"),
     lambda m: f"mã đơn vị {_q(m)} chỉ được gồm chữ cái, chữ số, '.', '_' và '-'"),
    (re.compile(r"^unit_code (.+) is not a known unit$"),
     lambda m: f"mã đơn vị {_q(m)} không phải là đơn vị đã biết"),
    (re.compile(r"^unit_code (.+) is not a province in the directory$"),
     lambda m: f"mã đơn vị {_q(m)} không phải là tỉnh có trong thư mục"),
    (re.compile(r"^unknown status (.+?) \("),
     lambda m: f"trạng thái {_q(m)} không hợp lệ"),
    (re.compile(r"^unknown role (.+) \(user, admin\)$"),
     lambda m: f"vai trò {_q(m)} không hợp lệ (người dùng, quản trị)"),
    (re.compile(r"^role=admin is only for unit_type=province$"),
     lambda m: "vai trò quản trị chỉ dành cho đơn vị cấp tỉnh"),
    (re.compile(r"^duplicate employee_id \(lines (.+)\)$"),
     lambda m: f"mã nhân viên bị trùng (các dòng {_q(m)})"),
    (re.compile(r"^has (\d+) fields, the header has (\d+)$"),
     lambda m: f"dòng có {m.group(1)} cột, dòng tiêu đề có {m.group(2)}"),
    (re.compile(r"^unreadable row: (.*)$"),
     lambda m: f"dòng không đọc được ({_q(m)})"),
]


def rejection_vi(reason: str) -> str:
    """A rejection reason in Vietnamese; one no pattern knows is kept, marked as such,
    rather than dropped (a reviewer still sees why)."""
    for pattern, words in _REJECTIONS:
        match = pattern.search(reason)
        if match:
            return words(match)
    return f"{reason} (nguyên văn tiếng Anh)"
