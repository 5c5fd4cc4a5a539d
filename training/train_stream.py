"""Training on on-the-fly data (configs with a ``stream`` recipe, e.g. ``gpu``): see :mod:`training.data.stream`.

Same network, loss and two stages as :func:`training.train.train`; differences: data come from
worker processes through a device ring buffer, the image encoder may run in bf16 (``amp``), TF32
matrix products are allowed on CUDA, and the run can be bounded by wall time
(``stream.time_budget_s``): the learning rate and the stage switch follow
``progress = max(step / total_steps, elapsed / time_budget_s)``. Evaluation uses a fixed set of
``test_sequences`` built from the motion library's *test* split with the test seed, beside the
constant mean-pose floor (mean of the training buffer).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from model_store.biomech import load_fullbody_model
from model_store.network import KinematicsNet, get_config, save_checkpoint
from training.configs import TrainConfig
from training.data.sequences import SequenceArrays
from training.data.stream import DeviceBuffer, SequenceStream, make_set
from training.eval.network import evaluate_constant, evaluate_network, mean_pose_of
from training.losses import kinematics_loss
from training.manifest import brief_metrics, checkpoint_manifest, cosine_decay, library_record, lineage, mixture_text


def _progress(cfg: TrainConfig, step: int, elapsed: float) -> float:
    p = step / max(cfg.total_steps, 1)
    budget = cfg.stream.time_budget_s if cfg.stream else None
    return max(p, elapsed / budget) if budget else p


def _lr(cfg: TrainConfig, progress: float) -> float:
    split = cfg.stream.stage1_fraction if cfg.stream else 0.75
    if progress < split:
        base, frac = cfg.lr, progress / split
    else:
        base, frac = cfg.lr_stage2, (progress - split) / max(1.0 - split, 1e-9)
    warm = min(1.0, progress / 0.02) if progress < split else 1.0  # short warm-up at the start
    return warm * cosine_decay(base, min(frac, 1.0))


def _save_partial(net: torch.nn.Module, path: Path, step: int) -> None:
    """The current weights (float32, no manifest) at ``path``, replaced atomically; ``step`` in its metadata."""
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp),
              metadata={"step": str(step)})
    os.replace(tmp, path)


def _result(net: KinematicsNet, ema: AveragedModel | None) -> KinematicsNet:
    """The network a run hands on: the weight average when one is kept, else the trained network."""
    if ema is None:
        return net
    avg = ema.module
    assert isinstance(avg, KinematicsNet)
    return avg


def _hardware(dev: torch.device, workers: int) -> str:
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda}), {workers} data workers"
    return f"CPU, {os.cpu_count()} cores, {workers} data workers"


def test_set(cfg: TrainConfig, cache: Path, workers: int) -> SequenceArrays:
    """The fixed evaluation set from the library's test split (made by ``workers`` processes)."""
    s = cfg.stream
    assert s is not None
    return make_set(s.test_sequences, workers=max(1, min(workers, s.test_sequences)), seed=s.test_seed,
                    frames=s.frames, mask_size=s.mask_size, cache=cache, split="test")


def train_streaming(cfg: TrainConfig, run_dir: Path, cache: Path, device: str | None = None,
                    progress: bool = True, test_data: SequenceArrays | None = None,
                    init_from: Path | None = None) -> dict[str, Any]:
    """Train ``cfg`` (which needs a ``stream`` recipe); writes ``RUN_DIR/model.safetensors`` + manifest.

    ``init_from`` (a checkpoint manifest of the same network config) starts from its weights; its
    manifest is kept in the new one as ``initialised_from``."""
    s = cfg.stream
    if s is None:
        raise ValueError(f"config {cfg.name} has no stream recipe")
    if cfg.ema_decay is not None and not 0.0 <= cfg.ema_decay <= 1.0:
        raise ValueError(f"ema_decay must be in [0, 1], got {cfg.ema_decay}")
    workers = s.workers or max(1, (os.cpu_count() or 2) - 1)
    run_dir.mkdir(parents=True, exist_ok=True)
    if test_data is None:
        t_test = time.perf_counter()
        test_data = test_set(cfg, cache, workers)
        print(f"test set: {test_data.n_sequences} sequences in {time.perf_counter() - t_test:.1f} s", flush=True)
    stream = SequenceStream(workers=workers, seed=s.seed, frames=s.frames, mask_size=s.mask_size, cache=cache,
                            mix_weights=s.mix)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(cfg.seed)
    net = KinematicsNet(get_config(cfg.network)).to(dev)
    parent: dict[str, Any] | None = None
    if init_from is not None:
        from model_store.network import load_network

        start, record = load_network(init_from, expected_config=cfg.network)
        net.load_state_dict(start.state_dict())
        parent = lineage(init_from, record.manifest, record.sha256)
    net.encoder_autocast = cfg.amp and dev.type == "cuda"
    fk = load_fullbody_model().to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ema = (AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
           if cfg.ema_decay is not None else None)
    buf = DeviceBuffer(s.buffer_sequences, s.frames, s.mask_size, dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(cfg.seed)
    log = (run_dir / "metrics.jsonl").open("w")
    step, drawn, losses, skipped = 0, 0, [], 0
    try:
        t_warm = time.perf_counter()
        buf.add([stream.get(timeout=600) for _ in range(s.warmup_sequences)])
        print(f"warm-up: {buf.size} sequences in {time.perf_counter() - t_warm:.1f} s", flush=True)
        t0 = time.perf_counter()
        last_log = t0
        while True:
            elapsed = time.perf_counter() - t0
            prog = _progress(cfg, step, elapsed)
            if prog >= 1.0:
                break
            buf.add(stream.drain(s.max_new_per_step))
            split = s.stage1_fraction
            stage = 1 if prog < split else 2
            net.use_temporal = stage == 2
            net.train()
            batch_n, frames = (cfg.stage1_batch, cfg.stage1_frames) if stage == 1 else (cfg.stage2_batch,
                                                                                        cfg.stage2_frames)
            wb = buf.sample(gen, batch_n, frames)
            drawn += batch_n
            lr = _lr(cfg, prog)
            for group in opt.param_groups:
                group["lr"] = lr
            out = net(wb.inputs())
            loss, terms = kinematics_loss(out, wb.coords, wb.scales, fk, wb.valid)
            opt.zero_grad(set_to_none=True)
            ok = bool(torch.isfinite(loss))
            if ok:
                loss.backward()
                ok = bool(torch.isfinite(torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)))
            step += 1
            if not ok:  # one bad batch must not poison the weights
                skipped += 1
                continue
            opt.step()
            if ema is not None:
                ema.update_parameters(net)
            if step % cfg.checkpoint_every == 0:  # weights only: what a killed run leaves behind
                _save_partial(_result(net, ema), run_dir / "partial.safetensors", step)
            if step % cfg.log_every == 0:
                lv = float(loss.detach())
                losses.append(lv)
                now = time.perf_counter()
                rec = {"step": step, "stage": stage, "progress": round(prog, 4), "loss": lv, "lr": lr,
                       **{k: float(v) for k, v in terms.items()}, "elapsed_s": round(now - t0, 1),
                       "sequences_received": stream.received, "buffer": buf.size, "skipped_steps": skipped,
                       "steps_per_s": round(cfg.log_every / (now - last_log), 2)}
                last_log = now
                log.write(json.dumps(rec) + "\n")
                log.flush()
                if progress:
                    print(json.dumps(rec), flush=True)
    finally:
        stream.close()
        log.close()
    wall = time.perf_counter() - t0
    summary: dict[str, Any] = {"steps": step, "wall_time_s": round(wall, 1), "losses": losses,
                               "sequences_generated": stream.received, "windows_drawn": drawn,
                               "skipped_steps": skipped, "initialised_from": parent}
    if ema is not None:  # the last weights' figures beside the average's, for the record
        net.use_temporal, net.encoder_autocast = True, False
        summary["metrics_last_weights"] = brief_metrics(evaluate_network(net, test_data))
    net = _result(net, ema)
    net.use_temporal = True
    net.encoder_autocast = False
    summary["metrics"] = evaluate_network(net, test_data)
    mean_a, mean_s = mean_pose_of(*buf.coords_and_scales())
    summary["baseline_mean_pose"] = evaluate_constant(mean_a, mean_s, test_data)
    manifest = _manifest(cfg, summary, mean_a, mean_s, _hardware(dev, workers), cache)
    record = save_checkpoint(net.cpu(), run_dir / "model.safetensors", manifest)
    summary["checkpoint"] = str(record.weights)
    return summary


def _manifest(cfg: TrainConfig, summary: dict[str, Any], mean_a: np.ndarray, mean_s: np.ndarray, hardware: str,
              cache: Path) -> dict[str, Any]:
    """The cached-data manifest (:func:`training.manifest.checkpoint_manifest`) with the streamed recipe, the motion
    sources (with licences and splits), the data made, the hardware and the run it started from."""
    motion_sources, minutes = library_record(cache)
    return {
        **checkpoint_manifest(cfg, summary, mean_a, mean_s),
        "data_recipe": {"stream": cfg.stream.__dict__ if cfg.stream else None,
                        "mixture": mixture_text(cfg.stream.mix if cfg.stream else ()),
                        "library_minutes": minutes},
        "motion_sources": motion_sources,
        "sequences_generated": summary["sequences_generated"],
        "skipped_steps": summary["skipped_steps"],
        "metrics_last_weights": summary.get("metrics_last_weights"),
        "initialised_from": summary["initialised_from"],
        "hardware": hardware,
    }


__all__ = ["test_set", "train_streaming"]
