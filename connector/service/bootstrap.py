"""``connector bootstrap``: create the SPEC §2 tree from the units file, idempotently."""

from __future__ import annotations

from connector.core.model import Layout
from connector.core.results import BootstrapResult
from connector.core.tree import Entry, tree_entries
from connector.core.units import Units
from connector.directory.base import Directory
from connector.errors import DirectoryError, DirectoryUnavailable


def bootstrap(directory: Directory, layout: Layout, units: Units, *,
              dry_run: bool = False) -> BootstrapResult:
    """Add each missing entry, parents first; never modify or delete what exists."""
    result = BootstrapResult()
    missing_parents: set[str] = set()
    entries: list[Entry] = tree_entries(layout, units)
    for dn, attributes in entries:
        if directory.exists(dn):
            result.existing.append(dn)
            continue
        if dry_run:
            result.planned.append(dn)
            continue
        parent = dn.split(",", 1)[1].lower()
        if parent in missing_parents:
            missing_parents.add(dn.lower())
            result.failed.append((dn, "parent was not created"))
            continue
        try:
            directory.add_entry(dn, attributes)
        except DirectoryUnavailable:
            raise
        except DirectoryError as exc:  # reported per entry; the rest still gets created
            missing_parents.add(dn.lower())
            result.failed.append((dn, str(exc)))
            continue
        result.created.append(dn)
    return result
