"""The JSON text of an out-of-scope row is what the generic encoder would write: it is
built by hand (with a cache per unit) because a province writes ~90,000 of them."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from connector.core.actions import OutOfScope, Unchecked

cell = st.text(max_size=12)


@given(employee_id=cell, line=st.integers(min_value=1, max_value=10**6), unit_type=cell,
       unit_code=cell, role=st.one_of(st.none(), cell))
def test_an_out_of_scope_row_is_written_as_the_generic_encoder_writes_it(
        employee_id, line, unit_type, unit_code, role):
    for row in (OutOfScope(employee_id, line, unit_type, unit_code, role),
                Unchecked(employee_id, line, unit_type, unit_code, role, [])):
        assert json.loads(row.to_json()) == row.to_dict()
        assert row.to_json() == json.dumps(row.to_dict(), ensure_ascii=False)
