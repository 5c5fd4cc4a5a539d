"""Experiment (not part of the product; its result was not bundled): continue a checkpoint on this CPU
with big batches by training only what sits after the image encoder, on cached latents.

The CPU legs of the README (``cpu-polish``, ``cpu-widen``, ``cpu-ema``) made the network worse; the
suspected cause is their tiny batches (the image encoder is what a CPU cannot run fast). Here the
encoder is frozen: ``--sequences`` new sequences (the ``gpu-widen`` mixture, library training split)
are encoded once into per-frame latents (``KinematicsNet.encode_frames``, two 32-frame windows per
sequence), and then only the heads (``--part heads``) or the temporal stage and the heads
(``--part temporal``) are trained on them with the training loss, for ``--epochs`` passes, keeping
the epoch with the lowest loss on a tenth of the sequences held out (validation by sequence).

    .venv/bin/python scripts/latent_refit.py --sequences 1500 --part temporal --epochs 8 --lr 1e-4 \\
        --batch 48 --latents /tmp/latents.pt --out /tmp/refit/model.safetensors
    .venv/bin/python -m training.evaluate_pipeline --network-only --clips 2 --checkpoint /tmp/refit/model.json

Measured once (2026-12-05, 2-core Xeon; 1,500 sequences made in 65 s, encoded in 14 minutes): see
the README ("A frozen-encoder CPU leg"). Neither variant beat the bundled network on the held-out
clips overall, so nothing was bundled. Measured again (2026-12-06, 2-core AMD EPYC) with 3,000
sequences, ``--epochs 16 --anchor-scales 2.0``: better network-only on 45 held-out clips by
``training.compare_reports`` (joint centres beyond the scatter, scales unchanged), but over the real
recording's 5 % segment-length guard after the fit, so not bundled either.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch

from model_store.biomech import load_fullbody_model
from model_store.network import load_network, save_checkpoint
from model_store.network.model import prepare_masks
from training.configs import get_train_config
from training.data import make_batch
from training.losses import kinematics_loss
from training.stream import SequenceStream, collect

#: the sequences' recipe (length, mask size, motion mixture): the next GPU leg's
RECIPE = get_train_config("gpu-widen").stream
assert RECIPE is not None


def encode(net, sequences: int, seed: int, workers: int, cache: Path) -> tuple[torch.Tensor, ...]:
    """Latents [N, W, latent] of the consecutive windows of each new sequence, with truth coords
    [N, W, 39] (rad / m), scales [N, 22, 3] and valid flags [N, W]; window i belongs to sequence
    i % sequences."""
    w = net.config.window
    stream = SequenceStream(workers=workers, seed=seed, frames=RECIPE.frames, mask_size=RECIPE.mask_size, cache=cache,
                            mix_weights=RECIPE.mix, limit=sequences)
    try:
        data = collect([stream.get(timeout=600) for _ in range(sequences)])
    finally:
        stream.close()
    out: list[list[torch.Tensor]] = [[], [], [], []]
    seqs = np.arange(sequences)
    with torch.no_grad():
        for start in range(0, RECIPE.frames - w + 1, w):
            for i in range(0, sequences, 16):
                s = seqs[i:i + 16]
                wb = make_batch(data, s, np.full(len(s), start), w)
                inp = wb.inputs()
                z = net.encode_frames(inp.with_masks(prepare_masks(inp.masks, net.config.input_size)))
                for lst, t in zip(out, (z, wb.coords, wb.scales, wb.valid), strict=True):
                    lst.append(t)
    return tuple(torch.cat(lst) for lst in out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", type=Path, help="checkpoint manifest to start from (default: the bundled one)")
    ap.add_argument("--sequences", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=31, help="stream seed (no training leg used 31)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("data_cache"))
    ap.add_argument("--latents", type=Path, help="cache file: read when it exists, else written")
    ap.add_argument("--part", choices=("heads", "temporal"), default="temporal")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=48, help="windows per step")
    ap.add_argument("--anchor-scales", type=float, default=0.0, metavar="W",
                    help="weight of an L1 pull of the per-frame scales towards the starting network's "
                         "(a guard against the scale head fitting the few training subjects)")
    ap.add_argument("--blend", type=float, default=1.0, metavar="A",
                    help="keep A x the selected weights + (1 - A) x the starting weights (1: no blend)")
    ap.add_argument("--out", type=Path, required=True, help="where the result's .safetensors (+ .json) go")
    args = ap.parse_args(argv)
    net, record = load_network(args.init)
    net.eval()  # no dropout: the latents were made the same way
    if args.latents is not None and args.latents.is_file():
        z, coords, scales, valid = torch.load(args.latents)
    else:
        t0 = time.perf_counter()
        z, coords, scales, valid = encode(net, args.sequences, args.seed, args.workers, args.cache)
        print(f"encoded {z.shape[0]} windows in {time.perf_counter() - t0:.0f} s", flush=True)
        if args.latents is not None:
            torch.save((z, coords, scales, valid), args.latents)
    n = z.shape[0]
    n_seq = n // (RECIPE.frames // net.config.window)
    held = torch.zeros(n_seq, dtype=torch.bool)
    held[torch.randperm(n_seq, generator=torch.Generator().manual_seed(0))[: max(1, n_seq // 10)]] = True
    is_val = held[torch.arange(n) % n_seq]
    val, train = torch.nonzero(is_val).flatten(), torch.nonzero(~is_val).flatten()
    params = [*net.angle_head.parameters(), *net.scale_head.parameters()]
    if args.part == "temporal":
        params += [*net.temporal.parameters(), *net.temporal_out.parameters(), net.pos]
    for p in net.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    fk = load_fullbody_model()
    teacher = None
    if args.anchor_scales > 0:
        with torch.no_grad():
            teacher = torch.cat([net.heads(net.refine(c)).frame_scales for c in z.split(256)])

    def loss_on(idx: torch.Tensor, anchor: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
        out = net.heads(net.refine(z[idx]))
        loss, terms = kinematics_loss(out, coords[idx], scales[idx], fk, valid[idx])
        if anchor and teacher is not None:
            loss = loss + args.anchor_scales * (out.frame_scales - teacher[idx]).abs().mean()
        return loss, terms

    def mean_loss(idx: torch.Tensor) -> float:
        """Validation loss (no anchor); prints its angle, scale and FK terms."""
        total, terms = 0.0, {"angle": 0.0, "scale": 0.0, "fk": 0.0}
        with torch.no_grad():
            for c in idx.split(256):
                loss, parts = loss_on(c, anchor=False)
                total += float(loss) * len(c)
                for k in terms:
                    terms[k] += parts[k] * len(c)
        print("  validation terms: " + ", ".join(f"{k} {v / len(idx):.5f}" for k, v in terms.items()), flush=True)
        return total / len(idx)

    best = (mean_loss(val), copy.deepcopy(net.state_dict()), -1)
    start_state = best[1]  # the starting weights, kept for --blend
    print(f"start: validation loss {best[0]:.5f}", flush=True)
    opt = torch.optim.Adam(params, lr=args.lr)
    gen = torch.Generator().manual_seed(1)
    for epoch in range(args.epochs):
        order = train[torch.randperm(len(train), generator=gen)]
        for i in range(0, len(order), args.batch):
            loss, _ = loss_on(order[i:i + args.batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        v = mean_loss(val)
        print(f"epoch {epoch}: validation loss {v:.5f}", flush=True)
        if v < best[0]:
            best = (v, copy.deepcopy(net.state_dict()), epoch)
    val_loss, state, best_epoch = best
    if args.blend != 1.0:
        a = args.blend
        state = {k: a * v + (1 - a) * start_state[k] if v.is_floating_point() else v for k, v in state.items()}
    net.load_state_dict(state)
    if args.blend != 1.0:
        val_loss = mean_loss(val)
        print(f"blended with the start at {args.blend}: validation loss {val_loss:.5f}", flush=True)
    manifest = {k: v for k, v in record.manifest.items() if k not in ("config", "weights", "sha256")}
    manifest["latent_refit"] = {"part": args.part, "sequences": n_seq, "seed": args.seed, "epochs": args.epochs,
                                "best_epoch": best_epoch, "lr": args.lr, "batch": args.batch,
                                "anchor_scales": args.anchor_scales, "blend": args.blend,
                                "validation_loss": round(val_loss, 5), "started_from": record.sha256}
    save_checkpoint(net, args.out, manifest)
    print(f"best epoch {best_epoch}, validation loss {val_loss:.5f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
