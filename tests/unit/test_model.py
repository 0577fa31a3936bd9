"""The value types' hand-written constructors (Person, Account) set every field they are
given, in the dataclass's own field order, and stay frozen."""

import dataclasses

import pytest

from connector.core.model import Account, Person, Role, Status, UnitType


@pytest.mark.parametrize("cls", [Person, Account])
def test_every_field_given_by_name_is_the_field_read_back(cls):
    values = {f.name: object() for f in dataclasses.fields(cls)}
    built = cls(**values)
    assert {name: getattr(built, name) for name in values} == values


@pytest.mark.parametrize("cls", [Person, Account])
def test_every_field_given_in_order_is_the_field_read_back(cls):
    names = [f.name for f in dataclasses.fields(cls)]
    values = [object() for _ in names]
    built = cls(*values)
    assert [getattr(built, name) for name in names] == values


def test_defaults_are_the_declared_ones():
    person = Person("NV1", "Lê An", "Lê", "An", UnitType.PROVINCE, "BTE", Status.ACTIVE, 2)
    assert (person.email, person.role, person.field, person.start_date, person.end_date) \
        == (None, None, None, None, None)
    account = Account("uid=NV1,ou=people", "NV1", "ou=people")
    assert (account.values, account.locked, account.lock_reason, account.lock_clause,
            account.lock_lost, account.lock_values) == ({}, False, None, None, False, ())
    assert Account("uid=a,ou=p", "a", "ou=p").values is not account.values  # not shared


def test_they_stay_frozen_and_replace_still_works():
    person = Person("NV1", "Lê An", "Lê", "An", UnitType.PROVINCE, "BTE", Status.ACTIVE, 2,
                    role=Role.USER)
    with pytest.raises(dataclasses.FrozenInstanceError):
        person.status = Status.TERMINATED  # type: ignore[misc]
    assert dataclasses.replace(person, status=Status.TERMINATED).status is Status.TERMINATED
    assert dataclasses.replace(person, status=Status.TERMINATED).role is Role.USER
    account = Account("uid=NV1,ou=people", "NV1", "ou=people", locked=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        account.locked = False  # type: ignore[misc]
