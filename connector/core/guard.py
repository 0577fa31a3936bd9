"""The safety brake (octoDNS's TooMuchChange, for accounts): typed errors that only
``--allow-mass-lock`` overrides, raised before anything is written."""

from __future__ import annotations

from connector.core.actions import Plan
from connector.errors import EmptyRoster, TooManyLocks, UnitVanished

#: Below this many managed accounts the ratio limit does not apply (one lock in a
#: unit of five is 20 %, and that is ordinary).
RATIO_MIN_ACCOUNTS = 20


def check_guard(
    plan: Plan,
    *,
    roster_rows: int,
    max_lock_count: int,
    max_lock_ratio: float,
    allow_mass_lock: bool,
    min_unit_size: int = 5,
) -> None:
    """Refuse a plan that locks too much (octoDNS's TooMuchChange, for accounts).

    Raises EmptyRoster (no flag overrides it), UnitVanished or TooManyLocks.
    """
    if roster_rows == 0:
        raise EmptyRoster()
    if allow_mass_lock:
        return
    for unit in plan.units:
        if unit.vanished and unit.accounts >= min_unit_size:
            raise UnitVanished(unit.unit, unit.accounts, min_unit_size)
    locks = plan.lock_count
    if locks > max_lock_count:
        raise TooManyLocks("max_lock_count", locks, max_lock_count, plan.managed)
    if plan.managed >= RATIO_MIN_ACCOUNTS and locks / plan.managed > max_lock_ratio:
        raise TooManyLocks("max_lock_ratio", locks, max_lock_ratio, plan.managed)
