"""Sharded synthetic training data (.npz shards + manifest.json).

Layout of ``DIR``::

    manifest.json            format version, recipe (seed, frames, fps, mask size), shard list
    shard_00000.npz ...      up to ``shard_size`` sequences each

Arrays in a shard (N sequences, F frames, V = 2 views: 0 front, 1 side; OpenSim ground frame):
``masks`` uint8 [N, F, V, S, S] (person crop mask, S = mask size), ``keypoints`` float32
[N, F, V, 33, 3] (x, y in px of the 256² crop; visibility: 1 seen, 0.5 hidden behind the body, 0
outside the image, then corrupted — ×0.6–1, dropouts 0–0.3, 0 on missed frames), ``crops`` float32 [N, F, V, 3]
(x0, y0, scale), ``person_found`` bool [N, F, V], ``k`` ``r`` float32 [N, V, 3, 3], ``t`` float32
[N, V, 3] (ground → camera, m), ``image_size`` int32 [N, V, 2] (w, h), ``coords`` float32 [N, F, 39]
(rad / m), ``scales`` float32 [N, 22, 3], ``joint_centers`` / ``body_origins`` float32
[N, F, 22, 3] (m), ``height_m`` float32 [N], ``source`` (str) [N].

Size (measured, 64 frames, real walk on, corruption on): ~290 MB per 1k sequences at mask size
128 (masks are most of it), ~680 MB at 256; generation ~4 sequences/s on one core at 128.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model_store.conventions import MODEL_RATE_HZ
from model_store.keypoints.crops import CROP_SIZE
from training.synth.motion_mix import MotionMix
from training.synth.sequence import build_sequence, render_views

FORMAT_VERSION = 1


def _sequence_arrays(
    rng: np.random.Generator, frames: int, walk: np.ndarray | None, mask_size: int, walk_mirror: bool,
    mix: MotionMix | None = None,
) -> dict:
    seq = build_sequence(rng, frames, walk, walk_mirror=walk_mirror, mix=mix)
    views = render_views(seq, rng, mask_size)
    return {
        **views,
        "k": np.stack([c.K for c in seq.cameras]).astype(np.float32),
        "r": np.stack([c.R for c in seq.cameras]).astype(np.float32),
        "t": np.stack([c.t for c in seq.cameras]).astype(np.float32),
        "image_size": np.array([c.image_size for c in seq.cameras], np.int32),
        "coords": seq.coords.astype(np.float32),
        "scales": seq.scales.astype(np.float32),
        "joint_centers": seq.joint_centers.astype(np.float32),
        "body_origins": seq.body_origins.astype(np.float32),
        "height_m": np.float32(seq.subject.height_m),
        "source": seq.source,
    }


def write_dataset(
    out: Path, sequences: int, frames: int = 64, seed: int = 0, mask_size: int = 128,
    walk: np.ndarray | None = None, walk_mirror: bool = False, shard_size: int = 64, progress: bool = True,
) -> Path:
    """Generate ``sequences`` sequences into ``out``; returns the manifest path.

    ``walk`` (real motion at 100 Hz) is used for 40 % of sequences, always mirrored left/right when
    ``walk_mirror`` (the test split) and never otherwise (the training split).

    Sequence ``i`` uses the RNG ``default_rng([seed, i])``, so any shard can be regenerated alone.
    """
    out.mkdir(parents=True, exist_ok=True)
    shards = []
    bar = tqdm(total=sequences, desc=f"synth {out.name}", unit="seq", disable=not progress)
    for first in range(0, sequences, shard_size):
        items = []
        for i in range(first, min(first + shard_size, sequences)):
            items.append(_sequence_arrays(np.random.default_rng([seed, i]), frames, walk, mask_size, walk_mirror))
            bar.update(1)
        name = f"shard_{first // shard_size:05d}.npz"
        np.savez_compressed(out / name, **{k: np.stack([it[k] for it in items]) for k in items[0]})
        shards.append({"file": name, "sequences": len(items)})
    bar.close()
    manifest = {
        "format_version": FORMAT_VERSION, "sequences": sequences, "frames": frames, "fps": MODEL_RATE_HZ, "seed": seed,
        "mask_size": mask_size, "crop_size": CROP_SIZE, "views": ["front", "side"], "real_walk": walk is not None,
        "walk_mirrored": walk_mirror,
        "shards": shards,
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no synthetic dataset at {directory} (manifest.json missing)")
    manifest = json.loads(path.read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format version {manifest.get('format_version')}")
    return manifest


def iter_shards(directory: Path):
    """Yield each shard as a dict of arrays."""
    manifest = read_manifest(directory)
    for shard in manifest["shards"]:
        with np.load(Path(directory) / shard["file"], allow_pickle=False) as z:
            yield {k: z[k] for k in z.files}
