"""Continue a checkpoint on a CPU with GPU-sized batches by training only what follows the image encoder.

The image encoder is what a CPU cannot run fast, so the streamed CPU legs had to use tiny batches
(and made the network worse). Here the encoder is frozen: ``--sequences`` new sequences from a
streamed recipe's motion mixture (``--config``, default ``gpu-widen``; library *training* split,
stream ``--seed``) are encoded once into per-frame latents (:meth:`KinematicsNet.encode_frames`,
the consecutive ``window``-frame windows of each sequence), and then only the heads
(``--part heads``) or the temporal stage and the heads (``--part temporal``) are trained on them.
``--part frame`` cuts earlier: the cache holds what the hourglass and the geometry make of each
frame (:meth:`KinematicsNet.frame_features`: sampled hull points with their image features,
triangulated keypoints; float16, about 1 MB per 32-frame window of ``medium``), and the point and
frame MLPs are trained as well — everything but the convolutional encoder. Every part is trained
with the training loss (:func:`training.losses.kinematics_loss`), Adam, ``--epochs`` passes,
keeping the epoch with the lowest loss on a tenth of the sequences held out (validation by
sequence, never by frame). Two guards against the scale head fitting the few training subjects:
``--anchor-scales W`` adds ``W`` x the mean absolute difference between the per-frame scales and
the starting network's (training only, not in the validation loss), and ``--blend A`` keeps
``A`` x the selected weights + ``(1 - A)`` x the starting ones (WiSE-FT).

The run directory gets ``model.safetensors`` + ``model.json`` whose manifest is a real training
record: recipe, stream seed, motion sources with licences and splits, optimiser steps, wall time,
hardware, the metrics of the result *and of the starting network* on the recipe's fixed test set
(library test split), the mean-pose floor on it, and the starting checkpoint's lineage::

    .venv/bin/python -m training.latent_refit --sequences 3000 --part temporal --epochs 16 \\
        --lr 1e-4 --batch 48 --anchor-scales 2.0 --latents runs/latents.pt --run-dir runs/latent-refit
    .venv/bin/python -m training.eval.pipeline --network-only --clips 3 \\
        --checkpoint runs/latent-refit/model.json --json out/eval/candidate.json

Measured runs and why none was bundled so far: CHANGELOG.md ("A frozen-encoder CPU leg").
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model_store.biomech import load_fullbody_model
from model_store.network import CheckpointError, KinematicsNet, load_network, save_checkpoint
from model_store.network.model import prepare_masks
from training.configs import TrainConfig, get_train_config
from training.data.sequences import SequenceArrays, make_batch
from training.data.stream import make_set
from training.eval.network import evaluate_constant, evaluate_network, mean_pose_of
from training.losses import kinematics_loss
from training.manifest import brief_metrics, host_hardware, library_record, lineage, mixture_text

PARTS = ("heads", "temporal", "frame")
#: What the cache holds for each part: per-frame latents, or the frame features before the MLPs.
LEVEL = {"heads": "latent", "temporal": "latent", "frame": "features"}


@dataclass(frozen=True)
class RefitSettings:
    """What a latent refit does (``lr`` per Adam step; ``batch`` in windows; ``anchor_scales`` the
    weight of the L1 scale anchor, 0 for none; ``blend`` in [0, 1], 1 keeps the trained weights)."""

    part: str = "temporal"
    epochs: int = 8
    lr: float = 1e-4
    batch: int = 48
    anchor_scales: float = 0.0
    blend: float = 1.0

    def check(self) -> None:
        """Raise ``ValueError`` naming the first setting out of range."""
        if self.part not in PARTS:
            raise ValueError(f"part must be one of {', '.join(PARTS)}, got {self.part!r}")
        if self.epochs < 1 or self.batch < 1:
            raise ValueError(f"epochs and batch must be >= 1, got {self.epochs} and {self.batch}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.anchor_scales < 0:
            raise ValueError(f"anchor_scales must be >= 0, got {self.anchor_scales}")
        if not 0.0 <= self.blend <= 1.0:
            raise ValueError(f"blend must be in [0, 1], got {self.blend}")


@dataclass
class Latents:
    """Encoded windows at one ``level``: ``"latent"``, ``inputs`` = (z [N, W, latent],), or
    ``"features"``, ``inputs`` = (points [N, W, P, F] float16, extras [N, W, E]) of
    :meth:`KinematicsNet.frame_features`; truth ``coords`` [N, W, 39] (rad / m), ``scales``
    [N, 22, 3], ``valid`` [N, W]; window ``i`` belongs to sequence ``i % sequences``."""

    inputs: tuple[torch.Tensor, ...]
    coords: torch.Tensor
    scales: torch.Tensor
    valid: torch.Tensor
    sequences: int
    level: str = "latent"

    @property
    def windows(self) -> int:
        return self.coords.shape[0]

    def latents(self, net: KinematicsNet, idx: torch.Tensor) -> torch.Tensor:
        """Per-frame latents [n, W, latent] of windows ``idx`` (through ``net``'s frame MLPs at level features)."""
        if self.level == "latent":
            return self.inputs[0][idx]
        return net.frame_latents(self.inputs[0][idx].float(), self.inputs[1][idx])

    def check(self, net: KinematicsNet, part: str) -> None:
        """Raise ``ValueError`` unless this cache suits ``part`` of ``net``."""
        if self.level != LEVEL[part]:
            raise ValueError(f"this cache is at the {self.level} level; --part {part} needs the {LEVEL[part]} level "
                             "(another --latents file)")
        cfg = net.config
        width = cfg.latent if self.level == "latent" else net.point_width
        if self.inputs[0].shape[-1] != width:
            raise ValueError(f"the cached {self.level}s have {self.inputs[0].shape[-1]} channels; "
                             f"{cfg.name} expects {width}")

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"inputs": self.inputs, "coords": self.coords, "scales": self.scales, "valid": self.valid,
                    "sequences": self.sequences, "level": self.level}, path)

    @classmethod
    def load(cls, path: Path) -> Latents:
        d = torch.load(path)
        if isinstance(d, dict) and "z" in d:  # written before levels existed
            d = {**{k: v for k, v in d.items() if k != "z"}, "inputs": (d["z"],), "level": "latent"}
        if not isinstance(d, dict) or set(d) != {"inputs", "coords", "scales", "valid", "sequences", "level"}:
            raise ValueError(f"{path} is not a latent cache written by training.latent_refit")
        return cls(**{**d, "inputs": tuple(d["inputs"])})


def encode(net: KinematicsNet, data: SequenceArrays, chunk: int = 16, level: str = "latent") -> Latents:
    """The frozen encoder's latents (``level`` "latent") or frame features ("features") of every whole
    ``window``-frame window of each sequence."""
    w = net.config.window
    if data.n_frames < w:
        raise ValueError(f"sequences of {data.n_frames} frames are shorter than the network's {w}-frame window")
    chunks: list[tuple[torch.Tensor, ...]] = []
    seqs = np.arange(data.n_sequences)
    net.eval()
    with torch.no_grad():
        for start in range(0, data.n_frames - w + 1, w):
            for i in range(0, data.n_sequences, chunk):
                s = seqs[i:i + chunk]
                wb = make_batch(data, s, np.full(len(s), start), w)
                inp = wb.inputs()
                inp = inp.with_masks(prepare_masks(inp.masks, net.config.input_size))
                if level == "latent":
                    feats: tuple[torch.Tensor, ...] = (net.encode_frames(inp),)
                else:
                    points, extras = net.frame_features(inp)
                    feats = (points.half(), extras)
                chunks.append((*feats, wb.coords, wb.scales, wb.valid))
    *inputs, coords, scales, valid = (torch.cat(column) for column in zip(*chunks, strict=True))
    return Latents(tuple(inputs), coords, scales, valid, data.n_sequences, level)


def trainable(net: KinematicsNet, part: str) -> list[torch.nn.Parameter]:
    """The parameters ``part`` trains (heads; or the temporal stage, its output and position codes too;
    or, for ``frame``, the point and frame MLPs as well)."""
    params = [*net.angle_head.parameters(), *net.scale_head.parameters()]
    if part in ("temporal", "frame"):
        params += [*net.temporal.parameters(), *net.temporal_out.parameters(), net.pos]
    if part == "frame":
        params += [*net.point_mlp.parameters(), *net.frame_mlp.parameters()]
    return params


def refit(net: KinematicsNet, lat: Latents, settings: RefitSettings, log: Any = print) -> dict[str, Any]:
    """Train ``settings.part`` of ``net`` on ``lat`` in place; ``net`` ends with the best epoch's
    weights (blended with the start when ``blend`` < 1). Returns the record: steps, best epoch
    (-1: the start was best), validation loss at the start and at the end, its terms, windows."""
    settings.check()
    lat.check(net, settings.part)
    n, n_seq = lat.windows, lat.sequences
    if n_seq < 2:
        raise ValueError("a refit needs at least 2 sequences (a tenth of them, at least one, is held out)")
    held = torch.zeros(n_seq, dtype=torch.bool)
    held[torch.randperm(n_seq, generator=torch.Generator().manual_seed(0))[: max(1, n_seq // 10)]] = True
    is_val = held[torch.arange(n) % n_seq]
    val, train = torch.nonzero(is_val).flatten(), torch.nonzero(~is_val).flatten()
    params = trainable(net, settings.part)
    for p in net.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    net.eval()  # no dropout: the latents were made that way, and validation must be deterministic
    fk = load_fullbody_model()
    teacher = None
    if settings.anchor_scales > 0:
        with torch.no_grad():
            teacher = torch.cat([net.heads(net.refine(lat.latents(net, c))).frame_scales
                                 for c in torch.arange(n).split(64)])

    def loss_on(idx: torch.Tensor, anchor: bool = True) -> tuple[torch.Tensor, dict[str, Any]]:
        out = net.heads(net.refine(lat.latents(net, idx)))
        loss, terms = kinematics_loss(out, lat.coords[idx], lat.scales[idx], fk, lat.valid[idx])
        if anchor and teacher is not None:
            loss = loss + settings.anchor_scales * (out.frame_scales - teacher[idx]).abs().mean()
        return loss, terms

    def validation() -> tuple[float, dict[str, float]]:
        total, terms = 0.0, {"angle": 0.0, "scale": 0.0, "fk": 0.0}
        with torch.no_grad():
            for c in val.split(64):
                loss, parts = loss_on(c, anchor=False)
                total += float(loss) * len(c)
                for k in terms:
                    terms[k] += float(parts[k]) * len(c)
        return total / len(val), {k: round(v / len(val), 5) for k, v in terms.items()}

    start_loss, start_terms = validation()
    start_state = copy.deepcopy(net.state_dict())
    best = (start_loss, start_state, -1, start_terms)
    log(f"start: validation loss {start_loss:.5f} {start_terms}")
    opt = torch.optim.Adam(params, lr=settings.lr)
    gen = torch.Generator().manual_seed(1)
    steps = 0
    for epoch in range(settings.epochs):
        order = train[torch.randperm(len(train), generator=gen)]
        for i in range(0, len(order), settings.batch):
            loss, _ = loss_on(order[i:i + settings.batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        v, terms = validation()
        log(f"epoch {epoch}: validation loss {v:.5f} {terms}")
        if v < best[0]:
            best = (v, copy.deepcopy(net.state_dict()), epoch, terms)
    val_loss, state, best_epoch, terms = best
    net.load_state_dict(state)
    if settings.blend != 1.0:
        a = settings.blend
        net.load_state_dict({k: a * v + (1 - a) * start_state[k] if v.is_floating_point() else v
                             for k, v in state.items()})
        val_loss, terms = validation()
        log(f"blended with the start at {settings.blend}: validation loss {val_loss:.5f}")
    for p in net.parameters():
        p.requires_grad_(True)
    return {"steps": steps, "best_epoch": best_epoch, "windows": {"train": len(train), "validation": len(val)},
            "validation_loss": {"start": round(start_loss, 5), "result": round(val_loss, 5)},
            "validation_terms": {"start": start_terms, "result": terms}}


def run(cfg: TrainConfig, init: Path | None, run_dir: Path, settings: RefitSettings, *, sequences: int, seed: int,
        workers: int, cache: Path, latents: Path | None = None, test_data: SequenceArrays | None = None,
        log: Any = print) -> dict[str, Any]:
    """A whole refit: latents (read from ``latents`` when that file exists, else made and, with a path,
    written), :func:`refit`, the test-set figures of the start and the result, and the checkpoint with its
    manifest in ``run_dir``. Returns the manifest."""
    recipe = cfg.stream
    if recipe is None:
        raise ValueError(f"config {cfg.name} has no stream recipe (the sequences' length, masks and mixture)")
    settings.check()
    net, record = load_network(init, expected_config=cfg.network)
    t0 = time.perf_counter()
    if latents is not None and latents.is_file():
        lat = Latents.load(latents)
        log(f"latents: {lat.windows} windows of {lat.sequences} sequences ({lat.level} level) read from {latents}")
        made_s = 0.0
    else:
        data = make_set(sequences, workers=workers, seed=seed, frames=recipe.frames, mask_size=recipe.mask_size,
                        cache=cache, mix_weights=recipe.mix)
        lat = encode(net, data, level=LEVEL[settings.part])
        made_s = time.perf_counter() - t0
        log(f"latents: {lat.windows} windows of {lat.sequences} sequences made and encoded ({lat.level} level) "
            f"in {made_s:.0f} s")
        if latents is not None:
            lat.save(latents)
    lat.check(net, settings.part)
    if test_data is None:
        from training.train_stream import test_set

        test_data = test_set(cfg, cache, workers)
    metrics_start = brief_metrics(evaluate_network(net, test_data))
    t1 = time.perf_counter()
    summary = refit(net, lat, settings, log=log)
    train_s = time.perf_counter() - t1
    metrics = brief_metrics(evaluate_network(net, test_data))
    mean_a, mean_s = mean_pose_of(lat.coords.numpy(), lat.scales.numpy())
    floor = brief_metrics(evaluate_constant(mean_a, mean_s, test_data))
    sources, minutes = library_record(cache)
    manifest: dict[str, Any] = {
        "training": {"name": "latent-refit", "recipe": cfg.name, "network": cfg.network, **settings.__dict__,
                     "sequences": lat.sequences, "windows": summary["windows"], "best_epoch": summary["best_epoch"],
                     "frozen": ("image encoder (per-frame latents encoded once)" if lat.level == "latent" else
                                "convolutional encoder (frame features encoded once)")},
        "data_recipe": {"stream": recipe.__dict__, "stream_seed": seed,
                        "mixture": mixture_text(recipe.mix),
                        "library_minutes": minutes},
        "motion_sources": sources,
        "seed": seed,
        "steps": summary["steps"],
        "wall_time_s": round(made_s + train_s, 1),
        "wall_time_detail_s": {"latents": round(made_s, 1), "training": round(train_s, 1)},
        "hardware": host_hardware(),
        "torch": torch.__version__,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "metrics": metrics,
        "metrics_start": metrics_start,
        "validation_loss": summary["validation_loss"],
        "validation_terms": summary["validation_terms"],
        "baseline_mean_pose": {"metrics": floor, "angles_rad": mean_a.round(6).tolist(),
                               "scales": mean_s.round(6).tolist()},
        "sequences_generated": lat.sequences,
        "initialised_from": lineage(init, record.manifest, record.sha256),
    }
    save_checkpoint(net, run_dir / "model.safetensors", manifest)
    log(f"best epoch {summary['best_epoch']}, validation loss {summary['validation_loss']}; test LL-MAE "
        f"{metrics_start['ll_mae_deg']:.2f} -> {metrics['ll_mae_deg']:.2f} deg (floor {floor['ll_mae_deg']:.2f}); "
        f"wrote {run_dir / 'model.json'}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="gpu-widen", help="streamed recipe of the sequences encoded")
    ap.add_argument("--init", type=Path, help="checkpoint manifest to start from (default: the bundled one)")
    ap.add_argument("--sequences", type=int, default=1500, help="new sequences to encode")
    ap.add_argument("--seed", type=int, default=31, help="stream seed (no other training leg used 31)")
    ap.add_argument("--workers", type=int, default=2, help="sequence-making processes")
    ap.add_argument("--cache", type=Path, default=Path("data_cache"), help="holds motion_library/")
    ap.add_argument("--latents", type=Path, help="latent cache file: read when it exists, else written")
    ap.add_argument("--part", choices=PARTS, default="temporal")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=48, help="windows per step")
    ap.add_argument("--anchor-scales", type=float, default=0.0, metavar="W",
                    help="weight of an L1 pull of the per-frame scales towards the starting network's")
    ap.add_argument("--blend", type=float, default=1.0, metavar="A",
                    help="keep A x the selected weights + (1 - A) x the starting weights (1: no blend)")
    ap.add_argument("--run-dir", type=Path, default=Path("runs/latent-refit"),
                    help="gets model.safetensors + model.json")
    args = ap.parse_args(argv)
    settings = RefitSettings(args.part, args.epochs, args.lr, args.batch, args.anchor_scales, args.blend)
    try:  # run() refuses bad settings and a config without a stream recipe before any work
        if args.sequences < 2:
            raise ValueError(f"--sequences must be >= 2, got {args.sequences}")
        if args.init is not None and not args.init.is_file():
            raise ValueError(f"no checkpoint manifest at {args.init}")
        cfg = get_train_config(args.config)
    except (ValueError, KeyError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    try:
        run(cfg, args.init, args.run_dir, settings, sequences=args.sequences, seed=args.seed, workers=args.workers,
            cache=args.cache, latents=args.latents, log=lambda s: print(s, flush=True))
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
