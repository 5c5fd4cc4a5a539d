"""Train the two-view network in two stages (spatial, then spatio-temporal); resumable.

Usage::

    python -m training.train --config small [--resume] [--run-dir runs/small] [--export]

Data come from the synthetic engine (generated on first use into ``data_cache/``, see
``training.data.cached``). Every ``checkpoint_every`` steps the full training state (weights,
optimizer, step, elapsed time) is written atomically to ``RUN_DIR/last.pt``; ``--resume``
continues from it bit-for-bit (batches are drawn from an RNG seeded by (seed, step)). Metrics go to
``RUN_DIR/metrics.jsonl``. At the end the network is evaluated on the held-out test split and saved
as ``RUN_DIR/model.safetensors`` + manifest; ``--export`` also installs it as the bundled
checkpoint ``model_store/checkpoints/default``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from model_store.biomech import load_fullbody_model
from model_store.network import KinematicsNet, get_config, save_checkpoint
from model_store.network.checkpoint import bundled_dir
from training.configs import TrainConfig, get_train_config
from training.data.sequences import SequenceArrays, sample_windows
from training.eval.network import evaluate_constant, evaluate_network, mean_pose
from training.losses import kinematics_loss
from training.manifest import brief_metrics, checkpoint_manifest, cosine_decay


def _lr(cfg: TrainConfig, step: int) -> float:
    """Cosine decay within each stage (to 5% of the stage's base rate)."""
    if step < cfg.stage1_steps:
        base, frac = cfg.lr, step / max(cfg.stage1_steps, 1)
    else:
        base, frac = cfg.lr_stage2, (step - cfg.stage1_steps) / max(cfg.stage2_steps, 1)
    return cosine_decay(base, frac)


def _save_state(path: Path, net: KinematicsNet, opt: torch.optim.Optimizer, step: int, elapsed: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed_s": elapsed}, tmp)
    os.replace(tmp, path)


def train(
    cfg: TrainConfig,
    run_dir: Path,
    train_data: SequenceArrays,
    test_data: SequenceArrays | None = None,
    resume: bool = False,
    device: str | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Run (or continue) training; returns a summary with losses and, if ``test_data``, metrics.

    ``stop_after`` ends the run early after that many total steps (used to test resumption).
    """
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    net = KinematicsNet(get_config(cfg.network)).to(dev)
    fk = load_fullbody_model().to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state_path = run_dir / "last.pt"
    step, elapsed = 0, 0.0
    if resume:
        if not state_path.is_file():
            raise FileNotFoundError(f"--resume: no training state at {state_path}")
        state = torch.load(state_path, map_location=dev, weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed = int(state["step"]), float(state["elapsed_s"])
    end = min(cfg.total_steps, stop_after) if stop_after is not None else cfg.total_steps
    log = (run_dir / "metrics.jsonl").open("a")
    losses: list[float] = []
    bar = tqdm(total=cfg.total_steps, initial=step, desc=f"train {cfg.name}", disable=not progress, unit="step")
    t0 = time.perf_counter() - elapsed
    while step < end:
        stage = 1 if step < cfg.stage1_steps else 2
        net.use_temporal = stage == 2
        net.train()
        rng = np.random.default_rng([cfg.seed, step])
        batch_n, frames = (cfg.stage1_batch, cfg.stage1_frames) if stage == 1 else (cfg.stage2_batch, cfg.stage2_frames)
        wb = sample_windows(train_data, rng, batch_n, frames).to(dev)
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        out = net(wb.inputs())
        loss, terms = kinematics_loss(out, wb.coords, wb.scales, fk, wb.valid)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(stage=stage, loss=f"{losses[-1]:.4f}", fk_mm=f"{terms['fk'] * 1000:.1f}")
        if step % cfg.log_every == 0 or step == end:
            rec = {"step": step, "stage": stage, "loss": float(loss), "lr": _lr(cfg, step - 1), **terms,
                   "elapsed_s": round(time.perf_counter() - t0, 2)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if step % cfg.checkpoint_every == 0 or step == end:
            _save_state(state_path, net, opt, step, time.perf_counter() - t0)
    bar.close()
    log.close()
    summary: dict[str, Any] = {"steps": step, "wall_time_s": round(time.perf_counter() - t0, 1), "losses": losses}
    if step >= cfg.total_steps and test_data is not None:
        net.use_temporal = cfg.stage2_steps > 0
        summary["metrics"] = evaluate_network(net, test_data)
        mean_a, mean_s = mean_pose(train_data)
        summary["baseline_mean_pose"] = evaluate_constant(mean_a, mean_s, test_data)
        manifest = checkpoint_manifest(cfg, summary, mean_a, mean_s)
        record = save_checkpoint(net.cpu(), run_dir / "model.safetensors", manifest)
        summary["checkpoint"] = str(record.weights)
    return summary


def export_to_bundle(run_dir: Path) -> Path:
    """Copy the run's checkpoint into ``model_store/checkpoints/default.*``."""
    dest = bundled_dir()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "model.safetensors", dest / "default.safetensors")
    manifest = json.loads((run_dir / "model.json").read_text())
    manifest["weights"] = "default.safetensors"
    (dest / "default.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return dest / "default.json"


def main(argv: list[str] | None = None) -> int:
    from training.data.cached import load_split

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="small", help="training recipe name (gpu, small, stream-tiny, tiny)")
    ap.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    ap.add_argument("--run-dir", type=Path, help="default: runs/<config>")
    ap.add_argument("--cache", type=Path, default=Path("data_cache"), help="synthetic data cache directory")
    ap.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--export", action="store_true", help="install the result as the bundled checkpoint")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--init", type=Path, help="streamed configs: start from this checkpoint's weights (same network)")
    ap.add_argument("--stage1-steps", type=int, help="override the recipe's spatial-stage steps (recorded)")
    ap.add_argument("--stage2-steps", type=int, help="override the recipe's spatio-temporal steps (recorded)")
    args = ap.parse_args(argv)
    overrides = {k: v for k, v in (("stage1_steps", args.stage1_steps), ("stage2_steps", args.stage2_steps))
                 if v is not None}
    try:
        cfg = get_train_config(args.config, **overrides)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir = args.run_dir or Path("runs") / cfg.name
    if cfg.stream is not None:
        from training.train_stream import train_streaming

        if args.resume:
            print("error: streamed configs are not resumable (they are bounded by wall time)", file=sys.stderr)
            return 2
        summary = train_streaming(cfg, run_dir, args.cache, device=args.device, init_from=args.init)
        print(json.dumps({k: (brief_metrics(v) if isinstance(v, dict) else v) for k, v in summary.items()
                          if k not in ("losses",)}))
        if args.export:
            print(f"installed {export_to_bundle(run_dir)}")
        return 0
    net_cfg = get_config(cfg.network)
    train_data = load_split(cfg.data, "train", net_cfg, args.cache)
    test_data = load_split(cfg.data, "test", net_cfg, args.cache)
    try:
        summary = train(cfg, run_dir, train_data, test_data, resume=args.resume, device=args.device)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = {k: v for k, v in summary.items() if k != "losses"}
    print(json.dumps({k: (brief_metrics(v) if isinstance(v, dict) else v) for k, v in out.items()}))
    if args.export and "checkpoint" in summary:
        print(f"installed {export_to_bundle(run_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
