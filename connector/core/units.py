"""The units file: provinces (with their Vietnamese names), central departments
and vendors. It drives ``bootstrap`` and the generated ACLs.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.core.model import is_safe_code
from connector.errors import UnitsError


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    #: codes this unit absorbed or was renamed from (SPEC §10)
    formerly: tuple[str, ...] = ()


@dataclass(frozen=True)
class Units:
    provinces: tuple[Unit, ...]
    central: tuple[Unit, ...] = ()
    vendors: tuple[Unit, ...] = ()

    @property
    def province_codes(self) -> tuple[str, ...]:
        return tuple(unit.code for unit in self.provinces)

    @property
    def renames(self) -> dict[str, str]:
        """Every former code (case-folded) → the code of the unit that absorbed it."""
        return {old.casefold(): unit.code for unit in (*self.provinces, *self.central,
                                                       *self.vendors)
                for old in unit.formerly}

    @property
    def merged_provinces(self) -> dict[str, tuple[str, ...]]:
        """New province code → the province codes it absorbed."""
        return {unit.code: unit.formerly for unit in self.provinces if unit.formerly}


def parse_units(data: dict[str, object], source: str = "units") -> Units:
    sections: dict[str, tuple[Unit, ...]] = {}
    seen: dict[str, str] = {}
    for section in ("province", "central", "vendor"):
        raw = data.get(section, [])
        if not isinstance(raw, list):
            raise UnitsError(f"{source}: [[{section}]] must be an array of tables")
        units: list[Unit] = []
        for index, item in enumerate(raw, start=1):
            where = f"{source}: [[{section}]] #{index}"
            if not isinstance(item, dict):
                raise UnitsError(f"{where} must be a table with code and name")
            code = str(item.get("code", "")).strip()
            name = str(item.get("name", "")).strip()
            if not is_safe_code(code):
                raise UnitsError(
                    f"{where}: code {code!r} is not a safe RDN value (ASCII letters, digits, "
                    "'_' and '-', 32 at most)"
                )
            if not name:
                raise UnitsError(f"{where}: code {code} has no name")
            formerly = item.get("formerly", [])
            if not isinstance(formerly, list) or not all(
                    isinstance(old, str) and is_safe_code(old.strip()) for old in formerly):
                raise UnitsError(f"{where}: formerly must be a list of unit codes")
            former = tuple(old.strip().upper() if section == "province" else old.strip()
                           for old in formerly)
            folded = f"{section}:{code.casefold()}"
            if folded in seen:
                raise UnitsError(f"{where}: duplicate code {code} (also {seen[folded]})")
            seen[folded] = where
            units.append(Unit(code.upper() if section == "province" else code, name, former))
        sections[section] = tuple(units)
    unknown = sorted(set(data) - {"province", "central", "vendor"})
    if unknown:
        raise UnitsError(f"{source}: unknown section(s): {', '.join(unknown)}")
    current = {u.code.casefold() for listed in sections.values() for u in listed}
    for listed in sections.values():
        for unit in listed:
            clash = [old for old in unit.formerly if old.casefold() in current]
            if clash:
                raise UnitsError(f"{source}: {unit.code} lists {', '.join(clash)} as a former "
                                 "code, but that unit is still listed")
    if not sections["province"]:
        raise UnitsError(f"{source}: no [[province]] listed")
    return Units(sections["province"], sections["central"], sections["vendor"])
