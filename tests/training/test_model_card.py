"""The model card is generated from the bundled checkpoint's manifest, and docs/model-card.md is it."""

from __future__ import annotations

import json

from model_store.network.checkpoint import find_checkpoint
from training.model_card import DOC, END, START, model_card


def test_the_card_says_what_the_manifest_records():
    record = find_checkpoint(None)
    card = model_card()
    assert record.sha256[:16] in card and f"`{record.config.name}`" in card
    manifest = json.loads(record.weights.with_suffix(".json").read_text())
    assert f"| {manifest['steps']} |" in card  # the last leg's steps
    assert f"{manifest['metrics']['ll_mae_deg']:.2f}" in card
    assert f"{manifest['baseline_mean_pose']['metrics']['ll_mae_deg']:.2f}" in card  # the floor beside it


def test_the_model_card_page_is_the_generated_card():
    text = DOC.read_text()
    assert START in text and END in text
    assert text.split(START, 1)[1].split(END, 1)[0].strip() == model_card(), \
        "regenerate it: python -m training.model_card --write"
