"""What a trained checkpoint's manifest records (shared by cached-data and streamed training), and
the learning-rate decay both loops use."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.configs import TrainConfig


def cosine_decay(base: float, frac: float) -> float:
    """``base`` decayed along a half cosine to 5 % of itself as ``frac`` goes 0 → 1."""
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def host_hardware() -> str:
    """The device training ran on, in words."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return f"CPU {cpu_model()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def brief_metrics(m: dict[str, Any]) -> dict[str, Any]:
    """Metrics without the per-coordinate breakdown (for manifests and console lines)."""
    return {k: v for k, v in m.items() if k != "mae_deg_by_coordinate"}


def library_record(cache: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The motion library's trials (id, kind, split, source, licence, seconds) and its minutes per split
    and kind, from ``CACHE/motion_library/manifest.json`` (both empty when no library is built)."""
    library = Path(cache) / "motion_library" / "manifest.json"
    if not library.is_file():
        return [], {}
    lib = json.loads(library.read_text())
    return ([{"id": t["id"], "kind": t["kind"], "split": t["split"], "source": t["source"], "licence": t["licence"],
              "seconds": t["seconds"]} for t in lib["trials"]], lib["minutes"])


def mixture_text(mix: Sequence[float]) -> str:
    """A streamed recipe's motion mixture weights, in words."""
    return "real library trials (train split) / procedural kinds / random = " + " / ".join(f"{w:g}" for w in mix)


def lineage(init_from: Path | str | None, manifest: dict[str, Any], sha256: str) -> dict[str, Any]:
    """What a run started from: the starting checkpoint's manifest path, hash, steps, hardware, wall time,
    recipe name and its own lineage (so the whole chain of runs stays in the newest manifest)."""
    return {"manifest": str(init_from) if init_from is not None else "bundled", "sha256": sha256,
            "steps": manifest.get("steps"), "hardware": manifest.get("hardware"),
            "wall_time_s": manifest.get("wall_time_s"), "training": manifest.get("training", {}).get("name"),
            "initialised_from": manifest.get("initialised_from")}


def checkpoint_manifest(cfg: TrainConfig, summary: dict[str, Any], mean_a: np.ndarray,
                        mean_s: np.ndarray) -> dict[str, Any]:
    """The manifest of a cached-data run: recipe, seed, steps, wall time, hardware, held-out metrics
    and the mean-pose baseline (angles [36] rad, scales [22, 3]) the checkpoint is compared with."""
    return {
        "training": cfg.to_dict(),
        "data_recipe": cfg.data.__dict__,
        "seed": cfg.seed,
        "steps": summary["steps"],
        "wall_time_s": summary["wall_time_s"],
        "hardware": host_hardware(),
        "torch": torch.__version__,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "metrics": brief_metrics(summary["metrics"]),
        "baseline_mean_pose": {"metrics": brief_metrics(summary["baseline_mean_pose"]),
                               "angles_rad": mean_a.round(6).tolist(), "scales": mean_s.round(6).tolist()},
    }
