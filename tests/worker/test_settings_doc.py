"""The settings' one home: every setting is described on its field, and docs/configuration.md is the
table generated from those fields."""

from __future__ import annotations

from worker.settings import DOC, END, START, Settings, markdown_table


def test_every_setting_is_described():
    missing = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert not missing, missing


def test_the_configuration_page_is_the_generated_table():
    text = DOC.read_text()
    assert START in text and END in text
    shown = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert shown == markdown_table(), "regenerate it: python -m worker.settings --write"
    assert all(f"`{name.upper()}`" in shown for name in Settings.model_fields)
