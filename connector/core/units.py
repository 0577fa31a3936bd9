"""The units file: provinces (with their Vietnamese names), central departments
and vendors. It drives ``bootstrap`` and the generated ACLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connector.core.model import KnownUnits, is_safe_code
from connector.errors import UnitsError


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    #: codes this unit absorbed or was renamed from (SPEC §10)
    formerly: tuple[str, ...] = ()
    #: the age X25519 public key of the unit's responsible officer (SPEC §11): its
    #: initial credentials are sealed for that key only; None: none are issued
    recipient: str | None = None
    #: the e-mail address told of the unit's new accounts (SPEC §14), beside recipient
    contact: str | None = None


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

    def recipient_for(self, unit_type: str, code: str) -> str | None:
        """The age recipient of the unit an account belongs to (None if it names none)."""
        listed = {"province": self.provinces, "central": self.central,
                  "vendor": self.vendors}.get(unit_type, ())
        folded = code.casefold()
        return next((u.recipient for u in listed if u.code.casefold() == folded), None)

    def contact_for(self, unit_type: str, code: str) -> str | None:
        """The e-mail address of the unit an account belongs to (None if it names none)."""
        listed = {"province": self.provinces, "central": self.central,
                  "vendor": self.vendors}.get(unit_type, ())
        folded = code.casefold()
        return next((u.contact for u in listed if u.code.casefold() == folded), None)

    @property
    def known(self) -> KnownUnits:
        """Every code this file names, current or former, by kind (SPEC §16)."""
        def codes(units: tuple[Unit, ...]) -> frozenset[str]:
            return frozenset(c.casefold() for u in units for c in (u.code, *u.formerly))
        return KnownUnits(codes(self.provinces), codes(self.central), codes(self.vendors))

    @property
    def merged_provinces(self) -> dict[str, tuple[str, ...]]:
        """New province code → the province codes it absorbed."""
        return {unit.code: unit.formerly for unit in self.provinces if unit.formerly}


#: an e-mail address as a unit's contact may give it: one address, no spaces, no
#: line breaks (it becomes a To: header)
CONTACT = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
#: an age X25519 recipient: "age1" + 58 characters of the bech32 alphabet
AGE_RECIPIENT = re.compile(r"^age1[02-9ac-hj-np-z]{58}$")


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
            recipient = item.get("recipient")
            if recipient is not None and not (isinstance(recipient, str)
                                              and AGE_RECIPIENT.match(recipient.strip())):
                raise UnitsError(f"{where}: recipient must be an age X25519 public key "
                                 "(age1 followed by 58 bech32 characters, as `age-keygen` "
                                 "prints it)")
            contact = item.get("contact")
            if contact is not None and not (isinstance(contact, str)
                                            and CONTACT.match(contact.strip())):
                raise UnitsError(f"{where}: contact must be one e-mail address "
                                 "(name@example.vn)")
            folded = f"{section}:{code.casefold()}"
            if folded in seen:
                raise UnitsError(f"{where}: duplicate code {code} (also {seen[folded]})")
            seen[folded] = where
            units.append(Unit(code.upper() if section == "province" else code, name, former,
                              recipient.strip() if isinstance(recipient, str) else None,
                              contact.strip() if isinstance(contact, str) else None))
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
