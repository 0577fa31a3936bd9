"""Initial credentials: the password, its container that never prints it, the sealed file."""

from __future__ import annotations

import stat

import pyrage
import pytest
from pyrage import x25519

from connector.core.units import parse_units
from connector.errors import UnitsError
from connector.outputs.sealed import ALPHABET, Credential, new_password, seal, write_sealed


def test_passwords_are_long_random_and_free_of_look_alikes():
    made = {new_password() for _ in range(200)}
    assert len(made) == 200
    assert all(len(p) == 20 and set(p) <= set(ALPHABET) for p in made)
    assert not set(ALPHABET) & set("0O1lIio")
    with pytest.raises(ValueError):
        new_password(12)


def test_a_credential_never_shows_its_password():
    item = Credential("TW1", "Nguyễn Văn An", "uid=TW1,ou=people", "S3cret-pw-xyzxyzxy")
    assert "S3cret" not in repr(item) and "S3cret" not in str(item)
    assert "S3cret" not in f"{item} {[item]} {item!r}"


def test_sealed_file_opens_only_with_the_officer_s_key(tmp_path):
    officer, stranger = x25519.Identity.generate(), x25519.Identity.generate()
    rows = [Credential("B1", 'Trương "Văn", Lợi', "uid=B1,ou=people,ou=BTE", "pw-one-1234567890")]
    path = write_sealed(tmp_path / "sealed", "RUN1", "BTE", rows, str(officer.to_public()))
    assert path.name == "RUN1-BTE.csv.age"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    assert b"pw-one" not in path.read_bytes()
    text = pyrage.decrypt(path.read_bytes(), [officer]).decode()
    assert text.splitlines()[0] == "employee_id,full_name,dn,initial_password"
    assert 'B1,"Trương ""Văn"", Lợi",' in text and text.rstrip().endswith("pw-one-1234567890")
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(path.read_bytes(), [stranger])
    assert seal(rows, str(officer.to_public())) != seal(rows, str(officer.to_public()))


def test_units_name_an_age_recipient_or_none_and_a_bad_one_is_refused():
    key = str(x25519.Identity.generate().to_public())
    units = parse_units({"province": [{"code": "BTE", "name": "Bến Tre", "recipient": key}],
                         "central": [{"code": "TTCNTT", "name": "TT"}]})
    assert units.recipient_for("province", "bte") == key
    assert units.recipient_for("central", "TTCNTT") is None
    assert units.recipient_for("vendor", "BTE") is None
    for bad in ("age1short", "AGE-SECRET-KEY-1" + "Q" * 58, 42):
        with pytest.raises(UnitsError, match="recipient must be an age"):
            parse_units({"province": [{"code": "BTE", "name": "x", "recipient": bad}]})
