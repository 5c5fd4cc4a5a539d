"""The streamed (GPU) training recipe, run on the CPU with its tiny twin: workers, buffer, checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model_store.network import load_network
from training.configs import get_train_config
from training.train import main as train_main
from training.train_stream import train_streaming


@pytest.mark.slow
def test_streamed_training_writes_a_loadable_checkpoint(tmp_path: Path):
    cfg = get_train_config("stream-tiny")
    summary = train_streaming(cfg, tmp_path / "run", tmp_path / "cache", device="cpu", progress=False)
    assert summary["steps"] == cfg.total_steps
    assert summary["sequences_generated"] >= cfg.stream.warmup_sequences
    assert np.isfinite(summary["metrics"]["ll_mae_deg"]) and np.isfinite(summary["baseline_mean_pose"]["ll_mae_deg"])
    net, record = load_network(tmp_path / "run" / "model.json")
    assert net.config.name == "tiny"
    m = record.manifest
    assert m["steps"] == cfg.total_steps and "data workers" in m["hardware"]
    assert m["data_recipe"]["stream"]["workers"] == 1
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in lines} == {1, 2}


def test_streamed_configs_refuse_resume(tmp_path: Path, capsys):
    assert train_main(["--config", "stream-tiny", "--resume", "--run-dir", str(tmp_path)]) == 2
    assert "not resumable" in capsys.readouterr().err
