"""Train/test splits for the network, generated on first use by the synthetic engine and cached.

Disjointness: the two splits use different seeds for every random draw (motions, subjects,
rigs, corruption); the real walking trial appears only as recorded in ``train`` and only
mirrored left/right in ``test``. Split directories are named by their recipe, so a changed
recipe never reuses stale data.
"""

from __future__ import annotations

from pathlib import Path

import torch

from model_store.network import NetworkConfig, prepare_masks
from training.configs import DataRecipe
from training.data.sequences import SequenceArrays
from training.synth.dataset import iter_shards, write_dataset
from training.synth.real_motion import load_walk_motion


def split_dir(recipe: DataRecipe, split: str, cache: Path) -> Path:
    """The split's cache directory, named by every recipe field that changes its contents."""
    n = recipe.train_sequences if split == "train" else recipe.test_sequences
    seed = recipe.train_seed if split == "train" else recipe.test_seed
    walk = "" if recipe.use_real_walk else "_nowalk"  # the default keeps the names caches already have
    return Path(cache) / "synth" / f"{split}_n{n}_f{recipe.frames}_s{seed}_m{recipe.mask_size}{walk}"


def ensure_split(recipe: DataRecipe, split: str, cache: Path, progress: bool = True) -> Path:
    """Generate the split if it is not cached yet; returns its directory."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}")
    out = split_dir(recipe, split, cache)
    if (out / "manifest.json").is_file():
        return out
    walk = load_walk_motion(Path(cache)).coords if recipe.use_real_walk else None
    n = recipe.train_sequences if split == "train" else recipe.test_sequences
    seed = recipe.train_seed if split == "train" else recipe.test_seed
    tmp = out.with_name(out.name + ".partial")
    write_dataset(tmp, n, recipe.frames, seed, recipe.mask_size, walk, walk_mirror=(split == "test"),
                  progress=progress)
    tmp.rename(out)
    return out


def load_sequences(directory: Path, input_size: int) -> SequenceArrays:
    """Read shards and resize masks to the network input size."""
    parts = []
    for z in iter_shards(directory):
        masks = prepare_masks(torch.from_numpy(z["masks"]), input_size)
        parts.append(SequenceArrays(
            masks=(masks * 255.0).round().to(torch.uint8).numpy(),
            keypoints=z["keypoints"], crops=z["crops"], k=z["k"], r=z["r"], t=z["t"],
            coords=z["coords"], scales=z["scales"], valid=z["person_found"].all(-1),
        ))
    if not parts:
        raise ValueError(f"dataset {directory} holds no sequences")
    return SequenceArrays.concatenate(parts)


def load_split(recipe: DataRecipe, split: str, net_cfg: NetworkConfig, cache: Path) -> SequenceArrays:
    return load_sequences(ensure_split(recipe, split, cache), net_cfg.input_size)


__all__ = ["ensure_split", "load_sequences", "load_split", "split_dir"]
