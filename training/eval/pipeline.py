"""Evaluate the whole pipeline after detection — sync, network, fit — on held-out clips.

    python -m training.eval.pipeline [--kinds walk,run,squat,...] [--clips 3] [--seconds 4]
        [--split eval|calibration] [--exact] [--run-trial data_cache/eval/subject01_run_IK.mot]
        [--fit-setting NAME=VALUE ...] [--json report.json]

Clips come from :mod:`training.eval.clips` (subjects, rigs and motion trials never used in
training; detections perturbed like a real detector's unless ``--exact``). Each clip runs through
the product's own code (:func:`worker.pipeline.run.estimate_from_detections`: sync estimated from
the calibrated geometry, network inference, then the fit), and both answers are scored against the
truth on the frames the pipeline kept: ``refine=none`` (the network, gaps filled) and
``refine=fit``. Figures per motion kind: ``ll_mae_deg`` (sagittal hip, knee, ankle, both sides),
``mae_deg`` (all 36 rotational coordinates), ``scale_err_pct``, ``mpjpe_mm`` (pelvis-aligned joint
centres), the knee-angle amplitude ratio, and the constant mean-pose floor beside them. Bias is shown
apart from scatter: each clip's per-coordinate MAE, bias (mean signed error) and offset-removed MAE
(:func:`training.eval.metrics.clip_error_profile`), the headline MAEs with the offsets removed, and a table of
the weakly seen coordinates (pelvis tilt, lumbar extension, hip flexion) per kind. The fit's uncertainty
is checked against the truth: the share of errors within one and two of its standard deviations.

The ``calibration`` split is for choosing fit settings (``--fit-setting`` changes one, e.g.
``symmetry_sigma=0.005``; two reports then compare clip by clip with :mod:`training.eval.compare`
``--mode fit``), the ``eval`` split for reporting them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model_store.biomech import load_fullbody_model
from model_store.conventions import VIEW_NAMES
from model_store.fit import FitSettings
from model_store.network import CheckpointError
from model_store.network.outputs import ROTATIONAL_COORDINATES, rotational_indices
from model_store.network.predictor import Predictor
from model_store.sizes import N_BODIES, N_ROTATIONAL
from training.eval.clips import KINDS, RESERVED_RUN, HeldOutClip, library_kinds, make_clip
from training.eval.metrics import WEAKLY_SEEN, angle_errors_deg, clip_error_profile, summarize

HEADLINE = ("ll_mae_deg", "mae_deg", "scale_err_pct", "mpjpe_mm")
#: Reported beside the headline: the same MAEs with each coordinate's clip bias removed (the scatter).
OFFSET_REMOVED = ("ll_offset_removed_deg", "mae_offset_removed_deg")


def open_predictor(checkpoint: Path | None, mirror_average: bool = False) -> Predictor | None:
    """The network of ``checkpoint`` (a manifest; None: the bundled one; ``mirror_average``: each
    window averaged with its mirror image), or None after printing why it cannot be used (for the
    evaluation commands, which then exit with status 2)."""
    try:
        return Predictor(checkpoint, mirror_average=mirror_average)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def mean_pose_floor(predictor: Predictor) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint's constant mean pose, the floor beside every figure: rotational angles [36]
    (rad) and body scales [22, 3] from its manifest (zeros and ones when it records none)."""
    base = predictor.checkpoint.manifest.get("baseline_mean_pose") or {}
    return (np.array(base.get("angles_rad", np.zeros(N_ROTATIONAL))),
            np.array(base.get("scales", np.ones((N_BODIES, 3)))))


def _score(coords: np.ndarray, scales: np.ndarray, truth: np.ndarray, true_scales: np.ndarray) -> dict:
    rot = rotational_indices()
    n = len(coords)
    m = summarize(coords[:, rot], truth[:, rot], np.broadcast_to(scales, (n, N_BODIES, 3)),
                  np.broadcast_to(true_scales, (n, N_BODIES, 3)), load_fullbody_model())
    profile = clip_error_profile(coords[:, rot], truth[:, rot])
    out: dict[str, Any] = {k: round(float(m[k]), 2) for k in (*HEADLINE, "mpjpe_heading_mm")}
    out.update({k: round(profile[k], 2) for k in OFFSET_REMOVED})
    out["coordinates"] = {c: {k: round(v, 2) for k, v in p.items()} for c, p in profile["by_coordinate"].items()}
    names = load_fullbody_model().coordinate_names
    knees = [names.index("knee_angle_r"), names.index("knee_angle_l")]
    out["knee_amplitude_ratio"] = round(float(np.mean([np.ptp(coords[:, k]) / max(np.ptp(truth[:, k]), 1e-6)
                                                       for k in knees])), 3)
    return out


def add_fit_setting_argument(ap: argparse.ArgumentParser, note: str = "") -> None:
    """``--fit-setting NAME=VALUE`` (repeatable): one of :class:`~model_store.fit.FitSettings`' scalars."""
    ap.add_argument("--fit-setting", action="append", default=[], metavar="NAME=VALUE",
                    help=f"change one of the fit's settings (model_store.fit.FitSettings, e.g. symmetry_sigma=0.005; "
                         f"repeatable{note})")


def fit_settings_from(assignments: list[str]) -> FitSettings | None:
    """The fit's defaults with ``--fit-setting`` assignments applied, or None after printing why not."""
    try:
        return FitSettings().with_overrides(assignments)
    except ValueError as e:
        print(f"error: --fit-setting: {e}", file=sys.stderr)
        return None


def sides_agreement(product: np.ndarray, truth: Sequence[int] | np.ndarray, shift: int) -> dict[str, int]:
    """How the frames whose sides the product exchanged (bool [n] over its synchronised frames) match the
    frames that were truly swapped (indices into the view as delivered, or as the reference sees it), the
    product's frame i being that view's frame i + ``shift``. Counts, over the product's n frames: ``both``,
    ``product_only`` (exchanged though not swapped) and ``truth_only`` (swapped, missed)."""
    window = range(shift, shift + len(product))
    mine = {int(i) + shift for i in np.flatnonzero(product)}
    true = {int(i) for i in truth if int(i) in window}
    return {"both": len(mine & true), "product_only": len(mine - true), "truth_only": len(true - mine)}


def sides_found(exchanged: tuple[np.ndarray, np.ndarray], perturbation: dict, front_start: int,
                offset: int) -> dict[str, dict[str, int]]:
    """:func:`sides_agreement` of the frames the product exchanged in its synchronised (front, side) tracks
    (bool [n] each) with the frames a clip's perturbation swapped, per view: the product's front frame i is
    the clip's front frame ``front_start`` + i, its side frame i the side's ``front_start`` + ``offset`` + i."""
    return {v: sides_agreement(mask, perturbation[v]["swapped_frames"] if v in perturbation else [],
                               front_start + (offset if v == "side" else 0))
            for v, mask in zip(VIEW_NAMES, exchanged, strict=True)}


def evaluate_clip(clip: HeldOutClip, predictor: Predictor, floor: tuple[np.ndarray, np.ndarray],
                  refine: str = "fit", fit_settings: FitSettings | None = None, agree: bool = True,
                  calibrated: bool = True, self_calibrate: bool = True, give_height: bool = False) -> dict:
    """Run the pipeline core on one clip; scores for the network, the fit (unless ``refine`` is
    ``none``: network only; ``fit_settings`` replaces the fit's defaults) and the mean-pose floor;
    ``agree`` false skips putting back swapped left/right labels (:mod:`worker.pipeline.geometry.sides`);
    ``calibrated`` false gives the pipeline no calibration, as a user without one (it then assumes its
    cameras estimated from the person, :mod:`worker.pipeline.geometry.rig_estimate`, or with ``self_calibrate``
    false its default rig, :func:`worker.pipeline.geometry.rig.default_rig`); ``give_height`` passes the subject's
    stature as a user may (``height_m``)."""
    from worker.pipeline.contract import PipelineRequest
    from worker.pipeline.geometry.rig import default_rig
    from worker.pipeline.run import estimate_from_detections

    request = PipelineRequest(front_video=Path("-"), side_video=Path("-"), out_dir=Path("-"), refine=refine,
                              height_m=clip.height_m if give_height else None)
    t0 = time.perf_counter()
    cams = clip.cameras
    if not calibrated:
        rig = default_rig(cams[0].image_size, cams[1].image_size)
        cams = (rig.front, rig.side)
    core = estimate_from_detections(*clip.detections, cams, calibrated, predictor, request,
                                    fit_settings=fit_settings, agree=agree, self_calibrate=self_calibrate)
    seconds = time.perf_counter() - t0
    n = len(core.refined.coords)
    truth = clip.coords[core.front_start:core.front_start + n]
    rot = rotational_indices()
    const = np.tile(truth[:1], (n, 1))
    const[:, rot] = floor[0]
    res = {
        "kind": clip.kind, "seed": clip.seed, "frames": n, "seconds": round(seconds, 2),
        "sync_error_frames": int(core.sync.offset_frames - clip.perturbation["sync_shift_frames"]),
        "warnings": core.warnings,
        "swapped_frames": {v: len(clip.perturbation[v]["swapped_frames"]) for v in VIEW_NAMES
                           if v in clip.perturbation},
        "sides_found": None if core.sides is None else sides_found(
            (core.sides.front, core.sides.side), clip.perturbation, core.front_start, core.sync.offset_frames),
        "none": _score(core.initial.coords, core.initial.scales, truth, clip.scales),
        "floor": _score(const, floor[1], truth, clip.scales),
        "residual_pct_of_height": {v: st["median_pct_of_height"] for v, st in core.refined.report["residuals"].items()},
    }
    if refine == "none":
        return {**res, "fit_seconds": 0.0, "within_2sd": None, "within_1sd": None}
    res["fit"] = _score(core.refined.coords, core.refined.scales, truth, clip.scales)
    res["fit_seconds"] = core.refined.report["solver"]["seconds"]
    assert core.refined.sigma is not None  # the fit always reports its uncertainty
    res.update(coverage(core.refined.coords[:, rot], core.refined.sigma[:, rot], truth[:, rot]))
    return res


def coverage(coords: np.ndarray, sigma: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """How often the fit's per-frame standard deviations (``kinematics_sd.sto``) cover the true error:
    angles, sds and truth [N, 36] rad. ``within_1sd`` / ``within_2sd``: the share of (frame, coordinate)
    errors within one / two sds over the coordinates the fit estimates (ideal for a normal error: 68 % /
    95 %); ``within_1sd_by_coordinate``: the share within one sd per coordinate (None where not fitted)."""
    err = np.radians(angle_errors_deg(coords, truth))
    ok = np.isfinite(sigma) & (sigma > 0)
    within = err <= sigma

    def share(k: float) -> float | None:
        return round(float((err[ok] <= k * sigma[ok]).mean()), 3) if ok.any() else None

    per = {n: (round(float(within[ok[:, i], i].mean()), 3) if ok[:, i].any() else None)
           for i, n in enumerate(ROTATIONAL_COORDINATES)}
    return {"within_2sd": share(2), "within_1sd": share(1), "within_1sd_by_coordinate": per}


#: Kinds whose knee-angle amplitude ratio means something (cyclic gait, large knee swings); the "all"
#: row averages it over these only (a knee that barely moves, as in arm raises, gives ratios like 5).
GAIT_KINDS = frozenset({"walk", "run", "run_real", "real_walk", "real_run", "real_sprint"})


def _aggregate(rows: list[dict]) -> dict:
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    by_kind["all"] = rows
    out: dict[str, dict[str, Any]] = {}
    modes = ("none", "fit", "floor") if rows and "fit" in rows[0] else ("none", "floor")
    for kind, rs in by_kind.items():
        out[kind] = {"clips": len(rs)}
        gait = [r for r in rs if r["kind"] in GAIT_KINDS] if kind == "all" else rs
        for mode in modes:
            out[kind][mode] = {k: round(float(np.mean([r[mode][k] for r in rs])), 2)  # (reports before 2026-12-07
                               for k in (*HEADLINE, "mpjpe_heading_mm", *OFFSET_REMOVED)  # lack some)
                               if all(k in r[mode] for r in rs)}
            out[kind][mode]["knee_amplitude_ratio"] = (
                round(float(np.mean([r[mode]["knee_amplitude_ratio"] for r in gait])), 2) if gait else None)
            if all("coordinates" in r[mode] for r in rs):
                out[kind][mode]["weakly_seen"] = {
                    c: {k: round(float(np.mean([r[mode]["coordinates"][c][k] for r in rs])), 2)
                        for k in ("mae", "bias", "offset_removed")} for c in WEAKLY_SEEN}
        out[kind]["fit_seconds_mean"] = round(float(np.mean([r["fit_seconds"] for r in rs])), 2)
        out[kind]["abs_sync_error_frames_mean"] = round(float(np.mean([abs(r["sync_error_frames"]) for r in rs])), 2)
        cal = [r["within_2sd"] for r in rs if r["within_2sd"] is not None]
        out[kind]["fit_within_2sd"] = round(float(np.mean(cal)), 3) if cal else None
        cal = [r["within_1sd"] for r in rs if r.get("within_1sd") is not None]
        out[kind]["fit_within_1sd"] = round(float(np.mean(cal)), 3) if cal else None
        per = [r["within_1sd_by_coordinate"] for r in rs if r.get("within_1sd_by_coordinate")]
        out[kind]["fit_within_1sd_weakly_seen"] = {
            c: round(float(np.mean([p[c] for p in per])), 3) for c in WEAKLY_SEEN if all(p[c] is not None for p in per)
        } if per else None
        found = [r["sides_found"][v] for r in rs if r.get("sides_found") for v in VIEW_NAMES]
        out[kind]["sides_found"] = {k: sum(f[k] for f in found) for k in ("both", "product_only", "truth_only")
                                    } if found else None
    return out


def _cell(a: dict, mode: str, k: str) -> str:
    v = a[mode][k]
    return "—" if v is None else str(v)


def markdown_table(agg: dict) -> str:
    """One row per motion kind: none / fit / floor (or none / floor) for each headline figure."""
    fit = all("fit" in a for a in agg.values())
    label = "none / fit / floor" if fit else "network / floor"
    head = "| kind | clips | " + " | ".join(f"{k} {label}" for k in (*HEADLINE, "knee_amplitude_ratio"))
    lines = [head + " |", "|" + "---|" * (len(HEADLINE) + 3)]
    for kind, a in agg.items():
        cells = [(f"{_cell(a, 'none', k)} / **{_cell(a, 'fit', k)}** / {_cell(a, 'floor', k)}" if fit else
                  f"**{_cell(a, 'none', k)}** / {_cell(a, 'floor', k)}") for k in (*HEADLINE, "knee_amplitude_ratio")]
        lines.append(f"| {kind} | {a['clips']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def weakly_seen_table(agg: dict) -> str:
    """One row per motion kind: MAE / bias / offset-removed MAE (degrees) of each weakly seen coordinate
    (:data:`training.eval.metrics.WEAKLY_SEEN`), network then fit; bias is the mean signed error (answer − truth)."""
    modes = [m for m in ("none", "fit") if all(m in a and "weakly_seen" in a[m] for a in agg.values())]
    if not modes:
        return ""
    head = "| kind | " + " | ".join(f"{c} {m} MAE / bias / offset-removed" for c in WEAKLY_SEEN for m in modes)
    lines = [head + " |", "|" + "---|" * (1 + len(WEAKLY_SEEN) * len(modes))]
    for kind, a in agg.items():
        cells = [" / ".join(f"{a[m]['weakly_seen'][c][k]:+.1f}" if k == "bias" else f"{a[m]['weakly_seen'][c][k]:.1f}"
                            for k in ("mae", "bias", "offset_removed")) for c in WEAKLY_SEEN for m in modes]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", help=f"comma-separated, of {', '.join(KINDS)}, run_real, real_<kind> (held-out "
                    "library trials); default: the procedural kinds and every real_<kind> the library holds")
    ap.add_argument("--clips", type=int, default=3, help="clips per kind")
    ap.add_argument("--seconds", type=float, default=4.0, help="clip length (the walk trial is 2.4 s)")
    ap.add_argument("--split", choices=("eval", "calibration"), default="eval")
    ap.add_argument("--exact", action="store_true", help="exact detections (no detector-like perturbation)")
    ap.add_argument("--swap-sides", type=float, default=0.0, metavar="SHARE",
                    help="also swap the person's left and right in this share of each view's frames, in runs of "
                    "~0.5 s, as a detector does at times (0–0.9; default 0: the standard perturbation)")
    ap.add_argument("--checkpoint", type=Path, help="network checkpoint manifest (default: the bundled one)")
    ap.add_argument("--run-trial", type=Path, default=RESERVED_RUN, help="the reserved running trial (run_real)")
    ap.add_argument("--cache", type=Path, default=Path("data_cache"))
    ap.add_argument("--json", type=Path, help="write the per-clip results and the aggregate here")
    ap.add_argument("--network-only", action="store_true", help="skip the fit (refine=none): network vs floor")
    ap.add_argument("--mirror-average", action="store_true",
                    help="average each window's answer with its mirror image's (KINEMATICS_MIRROR_AVERAGE)")
    ap.add_argument("--keep-sides", action="store_true",
                    help="do not put back left/right labels a view's detector swapped (KINEMATICS_AGREE_SIDES=0)")
    ap.add_argument("--uncalibrated", action="store_true",
                    help="give the pipeline no calibration, as a user without one (it estimates the cameras from "
                    "the person)")
    ap.add_argument("--give-height", action="store_true", help="pass the subject's stature (height_m), as a user may")
    ap.add_argument("--default-rig", action="store_true",
                    help="with --uncalibrated: assume the default rig instead (KINEMATICS_SELF_CALIBRATE=false)")
    add_fit_setting_argument(ap, "; choose them on --split calibration")
    args = ap.parse_args(argv)
    settings = fit_settings_from(args.fit_setting)
    if settings is None:
        return 2
    if not 0.0 <= args.swap_sides <= 0.9 or (args.swap_sides and args.exact):
        print("error: --swap-sides takes a share of frames from 0 to 0.9, and not with --exact", file=sys.stderr)
        return 2
    kinds = ([k for k in args.kinds.split(",") if k] if args.kinds
             else [*library_kinds(args.cache), *(k for k in KINDS if k != "walk")])
    predictor = open_predictor(args.checkpoint, mirror_average=args.mirror_average)
    if predictor is None:
        return 2
    floor = mean_pose_floor(predictor)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    rows = []
    for kind in kinds:
        for i in range(args.clips):
            try:
                clip = make_clip(kind, args.split, i, args.seconds, args.cache, args.run_trial, perturb=not args.exact,
                                 p_swap=args.swap_sides)
            except (FileNotFoundError, ValueError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            r = evaluate_clip(clip, predictor, floor, "none" if args.network_only else "fit", settings,
                              agree=not args.keep_sides, calibrated=not args.uncalibrated,
                              self_calibrate=not args.default_rig, give_height=args.give_height)
            rows.append(r)
            fit = f" fit {r['fit']['ll_mae_deg']}" if "fit" in r else ""
            print(f"{kind} #{i} seed {r['seed']}: {r['frames']} frames, sync error {r['sync_error_frames']}, "
                  f"LL-MAE none {r['none']['ll_mae_deg']}{fit} "
                  f"floor {r['floor']['ll_mae_deg']} deg, fit {r['fit_seconds']} s", flush=True)
    agg = _aggregate(rows)
    print(markdown_table(agg))
    print(weakly_seen_table(agg))
    scatter = " / ".join(str(agg["all"][m]["ll_offset_removed_deg"]) for m in ("none", "fit", "floor")
                         if m in agg["all"])
    print(f"hip/knee/ankle MAE with each clip's bias removed (network / fit / floor): {scatter} deg")
    if agg["all"].get("fit_within_1sd") is not None:
        print(f"fit uncertainty: {agg['all']['fit_within_1sd']:.0%} of errors within 1 sd, "
              f"{agg['all']['fit_within_2sd']:.0%} within 2 sd; within 1 sd by coordinate "
              f"{agg['all']['fit_within_1sd_weakly_seen']}")
    heading = " / ".join(str(agg["all"][m].get("mpjpe_heading_mm")) for m in ("none", "fit", "floor")
                         if m in agg["all"])
    print(f"MPJPE with the heading aligned (a constant turn about the vertical; network / fit / floor): {heading} mm")
    if (found := agg["all"]["sides_found"]) is not None and args.swap_sides > 0:
        print(f"swapped sides put back: {found['both']} frames rightly, {found['product_only']} wrongly, "
              f"{found['truth_only']} missed")
    report = {"split": args.split, "exact": args.exact, "swap_sides": args.swap_sides, "keep_sides": args.keep_sides,
              "uncalibrated": args.uncalibrated, "default_rig": args.default_rig,
              "give_height": args.give_height,
              "checkpoint": str(predictor.checkpoint.weights),
              "mirror_average": predictor.mirror_average, "fit_settings": args.fit_setting,
              "aggregate": agg, "clips": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]}
    for r in report["clips"]:
        for m in ("none", "fit", "floor"):
            if m in r:
                r[m] = {k: v for k, v in r[m].items() if not k.startswith("_")}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
