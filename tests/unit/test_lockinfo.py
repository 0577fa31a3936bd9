"""The lock record round-trips through its description value."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.core import lockinfo
from connector.core.lockinfo import LockRecord


def test_format_is_readable_and_starts_with_the_acl_prefix():
    record = LockRecord("violation", "6.2.3", "20261125T134301Z",
                        "cn=connector-bte,ou=system,dc=bhxh,dc=gov,dc=vn", "ghi chú")
    assert record.format() == ("bhxh-lock:6.2.3:violation at=20261125T134301Z "
                               "by=cn=connector-bte,ou=system,dc=bhxh,dc=gov,dc=vn note=ghi chú")


@given(reason=st.sampled_from(["violation", "misuse", "not_on_roster", "terminated"]),
       clause=st.sampled_from(["6.2.1", "6.2.3", "6.3", "9.2", None]),
       by=st.sampled_from([None, "cn=a b,ou=system,dc=x", "cn=x"]),
       note=st.one_of(st.none(), st.text(min_size=1).filter(lambda t: t.split())))
def test_record_round_trips(reason, clause, by, note):
    record = LockRecord(reason, clause, "20261125T134301Z", by, note)
    parsed = lockinfo.parse(record.format())
    assert parsed is not None
    assert (parsed.reason, parsed.clause, parsed.at, parsed.by) == (reason, clause,
                                                                    "20261125T134301Z", by)
    assert parsed.note == (" ".join(note.split()) if note else None)


def test_other_descriptions_are_not_locks():
    record, raw = lockinfo.find(["Phòng Thu", "bhxh-lock:6.2.1:sick_leave", "x"])
    assert record == LockRecord("sick_leave", "6.2.1")
    assert raw == ("bhxh-lock:6.2.1:sick_leave",)
    assert lockinfo.find(["just text"]) == (None, ())
