"""What a trained checkpoint's manifest records (shared by cached-data and streamed training), and
the learning-rate decay both loops use."""

from __future__ import annotations

import math
import os
import platform
import time
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
