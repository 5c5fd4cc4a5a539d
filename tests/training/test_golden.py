"""The bundled checkpoint does not get worse on the fixed held-out set (see training/eval/golden.py)."""

from __future__ import annotations

import json

import pytest

from training.eval.golden import golden_path, measure, worse


@pytest.mark.slow
def test_bundled_checkpoint_matches_its_golden_figures():
    doc = json.loads(golden_path().read_text())
    manifest = json.loads((golden_path().parent / "default.json").read_text())
    assert doc["checkpoint_sha256"] == manifest["sha256"], "golden figures belong to another checkpoint"
    measured = measure()
    assert not worse(measured, doc["figures"]), worse(measured, doc["figures"])


def test_worse_names_the_figure():
    stored = {"ll_mae_deg": 10.0, "mae_deg": 8.0, "scale_err_pct": 5.0, "mpjpe_mm": 60.0}
    assert worse(dict(stored), stored) == []
    bad = worse({**stored, "mpjpe_mm": 70.0}, stored)
    assert len(bad) == 1 and bad[0].startswith("mpjpe_mm")


def test_every_bundled_checkpoint_loads_with_its_recorded_hash():
    """Every bundled checkpoint (the default and any kept beside it) loads, its weights match the
    manifest's sha256, and it is the same network as the default (so KINEMATICS_CHECKPOINT can
    select one without other changes)."""
    from model_store.network import load_network
    from model_store.network.checkpoint import find_checkpoint

    manifests = [p for p in golden_path().parent.glob("*.json") if not p.name.endswith(".golden.json")]
    assert any(p.name == "default.json" for p in manifests)
    default_config = find_checkpoint().config
    for path in manifests:
        _, record = load_network(path)
        assert record.config == default_config, path.name
        assert record.manifest["steps"] > 0 and record.manifest["metrics"]["ll_mae_deg"] > 0, path.name
