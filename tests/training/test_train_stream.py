"""The streamed (GPU) training recipe, run on the CPU with its tiny twin: workers, buffer, checkpoint."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from model_store.network import load_network
from training.configs import get_train_config
from training.data import stream as stream_module
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
    assert m["data_recipe"]["mixture"].endswith("= 0.5 / 0.3 / 0.2")
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {r["stage"] for r in lines} == {1, 2}
    # the partial weights a killed run leaves: the last multiple of checkpoint_every, same tensors
    with safe_open(str(tmp_path / "run" / "partial.safetensors"), "pt") as f:
        assert f.metadata()["step"] == str(cfg.total_steps // cfg.checkpoint_every * cfg.checkpoint_every)
        assert set(f.keys()) == set(net.state_dict())


@pytest.mark.slow
def test_weight_average_is_what_a_run_saves(tmp_path: Path):
    """With ``ema_decay`` the run saves the weight average: at decay 1 the average never moves, so the
    result is the starting checkpoint bit for bit, while the last weights (trained) score differently."""
    base = get_train_config("stream-tiny")
    train_streaming(base, tmp_path / "a", tmp_path / "cache", device="cpu", progress=False)
    frozen = replace(base, ema_decay=1.0)
    summary = train_streaming(frozen, tmp_path / "b", tmp_path / "cache", device="cpu", progress=False,
                              init_from=tmp_path / "a" / "model.json")
    start, _ = load_network(tmp_path / "a" / "model.json")
    result, record = load_network(tmp_path / "b" / "model.json")
    for k, v in start.state_dict().items():
        assert torch.equal(v, result.state_dict()[k]), k
    assert record.manifest["training"]["ema_decay"] == 1.0
    assert record.manifest["metrics_last_weights"]["ll_mae_deg"] != record.manifest["metrics"]["ll_mae_deg"]
    assert summary["steps"] == base.total_steps
    with pytest.raises(ValueError, match="ema_decay"):
        train_streaming(replace(base, ema_decay=1.5), tmp_path / "c", tmp_path / "cache", device="cpu")


@pytest.mark.slow
def test_sequence_workers_start_single_threaded_and_stop(tmp_path: Path, monkeypatch):
    """Workers see one BLAS/OpenMP thread each (the parent's environment is left as it was), and
    ``close`` leaves none running even when they were blocked on a full queue."""
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with stream_module._single_threaded_children():
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        p = ctx.Process(target=_report_threads, args=(q,))
        p.start()
    assert q.get(timeout=60) == ("1", "1")
    p.join(timeout=30)
    assert os.environ["OMP_NUM_THREADS"] == "7" and "OPENBLAS_NUM_THREADS" not in os.environ
    s = stream_module.SequenceStream(workers=2, seed=3, frames=8, mask_size=16, cache=tmp_path, queue_size=1)
    s.get(timeout=120)
    s.close()
    assert not any(proc.is_alive() for proc in s._procs)


def _report_threads(q) -> None:
    q.put((os.environ.get("OMP_NUM_THREADS"), os.environ.get("OPENBLAS_NUM_THREADS")))


def test_streamed_configs_refuse_resume(tmp_path: Path, capsys):
    assert train_main(["--config", "stream-tiny", "--resume", "--run-dir", str(tmp_path)]) == 2
    assert "not resumable" in capsys.readouterr().err


def test_a_recipe_mixture_reaches_the_workers_mix(tmp_path: Path):
    """The recipe's (real, procedural, random) weights are the workers' mixture; without a library the
    real share falls to the others, and no recipe weight means the default 0.5 / 0.3 / 0.2."""
    assert np.allclose(stream_module._mix_for(str(tmp_path), "train", (0.0, 0.0, 1.0)).p, [0, 0, 1])
    assert np.allclose(stream_module._mix_for(str(tmp_path), "train", (0.6, 0.3, 0.1)).p, [0, 0.75, 0.25])
    assert np.allclose(stream_module._mix_for(str(tmp_path), "train").p, [0, 0.6, 0.4])
    assert get_train_config("gpu-widen").stream.mix == (0.6, 0.3, 0.1)
    with pytest.raises(ValueError, match="zero weight"):
        stream_module._mix_for(str(tmp_path), "train", (1.0, 0.0, 0.0))
