"""The real Pose2Sim demo recording: the product's two-view answer (cam01 + cam04) against a 4-camera reference.

    python -m training.eval.real [--cache data_cache] [--json report.json] [--views cam02 cam03] [--keep-sides]

The two-view answer runs the product's own stages after detection
(:func:`worker.pipeline.run.estimate_from_detections`: sync estimated, network, fit) on MediaPipe
detections of cam01 and cam04 (our detector, cached). The reference uses all four cameras
(:mod:`training.eval.recording.reference`): keypoints triangulated by DLT, and the model fitted to all four
views, after making the views' left/right labels agree frame by frame. Printed figures, for
``refine=none`` (network) and ``refine=fit``, beside the constant
mean-pose floor: knee and elbow flexion MAE against the 4-view fit (model coordinates, degrees; with
the bias — the mean signed error — and the MAE once it is removed),
three-point knee/elbow angles against the triangulated keypoints, and thigh (hip–knee) and shank
(knee–ankle) keypoint distances against the triangulated ones (percent, with a 95 % interval over
frames). Two more rows bound what the model-free figures can show: the DLT triangulation of the same
two views' keypoints (what the product's evidence says on its own) and the 4-view fit itself (how far
the model's landmarks sit from the detector's keypoints even with every camera).

``--views`` picks another pair of the four cameras as front and side. The detector swaps the person's
left and right in cam02 for a stretch of frames, so a pair with cam02 measures the product's correction
of swapped sides (:mod:`worker.pipeline.geometry.sides`) on a real swap: ``sides_vs_reference`` counts, per view,
the frames both the product and the 4-camera reference exchanged, those only the product exchanged and
those only the reference did (``truth_only``); ``--keep-sides`` turns the correction off for comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from model_store.biomech import load_definition, load_fullbody_model
from model_store.keypoints.landmarks import load_landmarks
from model_store.network.outputs import rotational_indices
from training.eval.metrics import clip_error_profile
from training.eval.pipeline import (
    add_fit_setting_argument,
    fit_settings_from,
    mean_pose_floor,
    open_predictor,
    sides_agreement,
)
from training.eval.recording.pose2sim_demo import CAMERAS, aligned, demo_dir
from training.eval.recording.reference import (
    consistent_laterality,
    four_camera_reference,
    segment_length_errors,
    segment_lengths,
    three_point_angles,
    triangulated,
    with_frames,
)

FLEXION = ("knee_angle_r", "knee_angle_l", "elbow_flex_r", "elbow_flex_l")


def landmark_positions(coords: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Model landmarks [T, 33, 3] (OpenSim ground, m) of a motion [T, 39] with scales [22, 3]."""
    fk, lm = load_fullbody_model(), load_landmarks()
    s = torch.as_tensor(scales, dtype=torch.float64)[None].expand(len(coords), -1, -1)
    with torch.no_grad():
        return lm.positions(fk(torch.as_tensor(coords, dtype=torch.float64), s), s).numpy()


def _bias(signed: np.ndarray) -> dict[str, float]:
    """MAE, bias (mean signed error) and offset-removed MAE (degrees) of signed errors over frames."""
    bias = float(np.nanmean(signed))
    return {"mae": round(float(np.nanmean(np.abs(signed))), 2), "bias": round(bias, 2),
            "offset_removed": round(float(np.nanmean(np.abs(signed - bias))), 2)}


def model_free(points: np.ndarray, ref_points: np.ndarray) -> dict:
    """Three-point angle MAE (deg; with bias and offset-removed MAE apart) and segment length errors (%,
    with 95 % intervals) of landmark or keypoint positions [T, 33, 3] against the triangulated keypoints
    (same frames, OpenSim ground, m)."""
    three, three_ref = three_point_angles(points), three_point_angles(ref_points)
    seg = segment_length_errors(points, ref_points)
    return {
        "three_point_mae_deg_vs_triangulated": {k: round(float(np.nanmean(np.abs(three[k] - three_ref[k]))), 2)
                                                for k in three},
        "three_point_profile_deg_vs_triangulated": {k: _bias(three[k] - three_ref[k]) for k in three},
        "segment_length_error_pct": {k: v.pct for k, v in seg.items()},
        "segment_length_error_ci95": {k: [v.lo, v.hi] for k, v in seg.items()},
    }


def compare(coords: np.ndarray, scales: np.ndarray, ref_coords: np.ndarray, ref_points: np.ndarray) -> dict:
    """Figures of one answer against the references (frames already aligned)."""
    names = load_definition().coordinate_names
    signed = {c: np.degrees(coords[:, names.index(c)] - ref_coords[:, names.index(c)]) for c in FLEXION}
    return {
        "flexion_mae_deg_vs_4view_fit": {c: round(float(np.abs(d).mean()), 2) for c, d in signed.items()},
        "flexion_profile_deg_vs_4view_fit": {c: _bias(d) for c, d in signed.items()},
        "coordinates_vs_4view_fit": clip_error_profile(coords[:, rotational_indices()],
                                                       ref_coords[:, rotational_indices()])["by_coordinate"],
        **model_free(landmark_positions(coords, scales), ref_points),
    }


def _intervals(figures: dict) -> str:
    return ", ".join(f"{k} {v:+.2f} [{lo:+.2f}, {hi:+.2f}]" for (k, v), (lo, hi)
                     in zip(figures["segment_length_error_pct"].items(), figures["segment_length_error_ci95"].values(),
                            strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("data_cache"), help="where detections are cached")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--checkpoint", type=Path, help="network checkpoint manifest (default: the bundled one)")
    ap.add_argument("--mirror-average", action="store_true",
                    help="average each window's answer with its mirror image's (KINEMATICS_MIRROR_AVERAGE)")
    ap.add_argument("--views", nargs=2, metavar=("FRONT", "SIDE"), default=["cam01", "cam04"], choices=CAMERAS,
                    help="the two cameras the product sees (default: cam01 cam04)")
    ap.add_argument("--keep-sides", action="store_true",
                    help="do not put back left/right labels the detector swapped (KINEMATICS_AGREE_SIDES=false)")
    add_fit_setting_argument(ap, "; the two-view fit only, the 4-camera reference keeps its own")
    args = ap.parse_args(argv)
    if args.views[0] == args.views[1]:
        print("error: --views needs two different cameras", file=sys.stderr)
        return 2
    views: tuple[str, str] = (args.views[0], args.views[1])
    from worker.pipeline.contract import PipelineRequest
    from worker.pipeline.geometry.rig import select_cameras
    from worker.pipeline.run import estimate_from_detections

    settings = fit_settings_from(args.fit_setting)
    if settings is None:
        return 2
    if not (demo_dir() / "calibration.toml").is_file():
        print(f"error: the demo recording is not at {demo_dir()}", file=sys.stderr)
        return 2
    predictor = open_predictor(args.checkpoint, mirror_average=args.mirror_average)
    if predictor is None:
        return 2
    data = aligned(args.cache)
    front, side = data.views[views[0]], data.views[views[1]]
    rig = select_cameras(demo_dir() / "calibration.toml", views[0], views[1], front.image_size, side.image_size)
    request = PipelineRequest(Path("-"), Path("-"), Path("-"), refine="fit")
    core = estimate_from_detections(front, side, (rig.front, rig.side), True, predictor, request,
                                  fit_settings=settings, agree=not args.keep_sides)
    n = len(core.refined.coords)
    sub = with_frames(data, core.front_start, core.front_start + n)
    consistent, swapped = consistent_laterality(sub)
    ref = four_camera_reference(consistent, core.refined.coords, core.inferred.angles, core.initial.scales)
    floor_angles, floor_scales = mean_pose_floor(predictor)
    floor = np.tile(core.initial.coords[:1], (n, 1))
    floor[:, rotational_indices()] = floor_angles
    shifts = (0, core.sync.offset_frames)
    report = {
        "views": list(views), "keep_sides": args.keep_sides,
        "frames": n, "mirror_average": predictor.mirror_average, "fit_settings": args.fit_setting,
        "offsets_4cam": data.offsets, "pipeline_sync_offset": core.sync.offset_frames,
        "triangulation_median_px": round(float(np.nanmedian(ref.reprojection_px)), 2),
        "reference_sides_swapped": {c: round(float(s.mean()), 4) for c, s in swapped.items()},
        "sides_vs_reference": None if core.sides is None else {
            cam: sides_agreement(mask, np.flatnonzero(swapped[cam]), shift)
            for cam, mask, shift in zip(views, (core.sides.front, core.sides.side), shifts, strict=True)},
        "residuals": core.refined.report["residuals"],
        "none": compare(core.initial.coords, core.initial.scales, ref.coords, ref.points),
        "fit": compare(core.refined.coords, core.refined.scales, ref.coords, ref.points),
        "floor": compare(floor, floor_scales, ref.coords, ref.points),
        "two_view_triangulation": model_free(triangulated(sub, views)[0], ref.points),
        "reference_4view_fit": model_free(landmark_positions(ref.coords, ref.scales), ref.points),
        "reference_segment_lengths_m": {k: round(v, 4) for k, v in segment_lengths(ref.points).items()},
        "warnings": core.warnings,
    }
    for mode in ("none", "fit", "floor"):
        r = report[mode]
        print(f"{mode:5s} flexion vs 4-view fit (MAE / bias / offset-removed) " + ", ".join(
            f"{c} {v['mae']} / {v['bias']:+.2f} / {v['offset_removed']}" for c, v in
            r["flexion_profile_deg_vs_4view_fit"].items()))
        print(f"      three-point vs triangulated {r['three_point_mae_deg_vs_triangulated']}")
        print(f"      segment lengths vs triangulated (%, 95 % interval) {_intervals(r)}")
    for key, label in (("two_view_triangulation", f"the two views' keypoints as detected, triangulated, no model "
                                                  f"({' + '.join(views)})"),
                       ("reference_4view_fit", "the 4-view fit (the model's landmarks against the keypoints)")):
        r = report[key]
        print(f"{label}:\n      three-point vs triangulated {r['three_point_mae_deg_vs_triangulated']}")
        print(f"      segment lengths vs triangulated (%, 95 % interval) {_intervals(r)}")
    print(f"4-camera triangulation: median reprojection {report['triangulation_median_px']} px; offsets "
          f"{data.offsets}; sides swapped to agree (share of frames) {report['reference_sides_swapped']}; "
          f"product's exchanges against the reference's {report['sides_vs_reference']}; pipeline sync offset "
          f"{core.sync.offset_frames}; {n} frames")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
