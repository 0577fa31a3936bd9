"""config/connector.example.toml lists every setting (issue 25 #7: it claimed to and
lacked four tables), because it is written from the settings model."""

from __future__ import annotations

import re
import tomllib

from connector.resources import config_dir
from connector.settings import Settings
from connector.settings.example import example, groups, key_of

SHIPPED = config_dir() / "connector.example.toml"


def test_the_shipped_example_is_the_one_the_model_writes():
    assert SHIPPED.read_text(encoding="utf-8") == example(), (
        "regenerate it: python -m connector.settings.example config/connector.example.toml")


def _tables(text: str) -> dict[str, str]:
    parts = re.split(r"^\[(\w+)\]$", text, flags=re.MULTILINE)
    return {"": parts[0], **dict(zip(parts[1::2], parts[2::2], strict=True))}


def test_every_field_of_every_table_is_listed_in_its_table():
    tables = _tables(example())
    for table, group in [("", Settings), *groups(Settings)]:
        for name, info in group.model_fields.items():
            if table == "" and name in dict(groups(Settings)):
                continue
            key = key_of(name, info)
            assert re.search(rf"^(# )?{re.escape(key)} = ", tables[table], re.MULTILINE), \
                f"[{table}] {key} is missing from the example"


def test_the_example_is_valid_toml_with_its_examples_uncommented_too():
    text = example()
    tomllib.loads(text)
    uncommented = re.sub(r"^# (\w+ = )", r"\1", text, flags=re.MULTILINE)
    data = tomllib.loads(uncommented)
    assert {"units", "credentials", "report", "plan", "notify"} <= set(data)
    assert data["notify"]["from"] == "connector@vss.gov.vn"
