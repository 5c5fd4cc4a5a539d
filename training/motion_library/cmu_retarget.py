"""CMU motion capture (BVH) -> Rajagopal 2016 coordinates with OpenSim's own Scale and IK tools.

For each trial:

1. the BVH is parsed (:mod:`training.motion_library.bvh`), its joint centres and a few end sites are
   computed per frame, converted to metres and to OpenSim's ground frame (Y up) and written as virtual
   markers to a ``.trc`` (resampled to at most 60 Hz, at most :data:`MAX_DURATION_S` long);
2. a marker set with the same names is put on the generic Rajagopal model: joint-centre markers sit at
   the model's joint centres (a joint's child-frame origin in the child body) and are *fixed*; the
   markers that fix axial rotations and the trunk (toe tips, hand ends, pelvis root, chest, neck, head)
   are given rough positions and left free for OpenSim's MarkerPlacer to move onto the subject;
3. ``ScaleTool`` scales the segments from marker-pair distances (hip-knee -> femur, knee-ankle -> tibia,
   ...) measured on the first frames of the trial, then places the free markers;
4. ``InverseKinematicsTool`` solves the whole trial (joint centres weighted high, the rest lower); its
   ``.mot`` (degrees, Rajagopal coordinate names) and the marker-error summary are kept.

CLI::

    python -m training.motion_library.cmu_retarget --mirror /work/.mirror/una-dinosauria+cmu-mocap/repo \
        --out data_cache/motion_library/cmu [--trials 02_01 09_01 ...] [--jobs N]

``--mirror`` may be a bare git directory (as the ``fetch`` tool leaves it; files are read with
``git show``) or a plain folder; trials are found by file name (``<trial>.bvh``, else a suffixed
``<trial>_scaled.bvh`` and the like) anywhere in it. Several ``--mirror`` may be given. The trial table
(kind, description, optional ``split`` and ``unit_m``: metres per file unit where the height-based guess
would mislead) is ``cmu_trials.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from model_store.biomech.motion_files import write_trc
from training.motion_library.bvh import bvh_to_opensim, parse_bvh
from training.motion_library.mirror import Mirror
from training.motion_library.opensim_tools import DEFAULT_MODEL, rest_pose_overrides, scale_and_ik
from training.motion_library.virtual_markers import (
    MAX_RATE_HZ,
    RetargetError,
    marker_trajectories,
    naming_scheme,
    normalise_heading,
    reference_pose,
    reference_unit_m,
    same_skeleton,
    scheme_markers,
    straighten_daz_limbs,
)

TRIALS_JSON = Path(__file__).with_name("cmu_trials.json")


LICENCE = "CMU Graphics Lab Motion Capture Database: free for all uses (see mocap.cs.cmu.edu)"




#: An upright reference pose: BVH joint name -> position (BVH world frame, file unit). The cgspeed
#: conversions' rest pose is one; a Character Creator rig's rest pose is not (its bone frames carry
#: the bind rotations), so for those a T-pose frame is used.


def _rate(times: np.ndarray) -> float:
    """The rate (Hz) of marker samples at ``times`` (s): one over the median step."""
    return 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else MAX_RATE_HZ


def _trial_id(trial: str) -> str:
    subj, num = trial.split("_")
    return f"cmu_{int(subj):02d}_{num}"


#: What the licence text adds for conversions made by others than the cgspeed release.
SCHEME_LICENCE_NOTES = {
    "cc": "; retargeted onto iClone's Character Creator avatar in the source repository, which carries no "
          "licence file of its own",
    "daz": "; B. Hahne's Daz-friendly BVH release (outworldz.com), rescaled to metres in the source "
           "repository, which carries no licence file of its own and quotes CMU's terms in its READMEs",
}


def load_trial_table() -> list[dict]:
    return json.loads(TRIALS_JSON.read_text())["trials"]


def convert_trial(trial: dict, mirror: Mirror, out_dir: Path, model_path: Path = DEFAULT_MODEL,
                  keep_work: bool = False) -> dict:
    rel = mirror.by_trial[trial["trial"]]
    bvh = parse_bvh(mirror.read(rel))
    scheme = naming_scheme(bvh)
    if scheme == "daz":
        straighten_daz_limbs(bvh)
    reference = reference_pose(bvh)
    if reference is None:
        reference = mirror.shared_reference()
        if not same_skeleton(bvh, reference):
            raise RetargetError(f"{rel} has no T-pose and another skeleton than the mirror's reference T-pose")
    # a table entry's unit_m: files rescaled by hand, whose height would otherwise mislead the unit guess
    unit = float(trial["unit_m"]) if "unit_m" in trial else reference_unit_m(reference)
    times, pts, unit = marker_trajectories(bvh, unit_m=unit)
    tid = _trial_id(trial["trial"])
    markers = scheme_markers(scheme)
    names = [m.name for m in markers]
    work = Path(tempfile.mkdtemp(prefix=f"{tid}_", dir=out_dir))
    try:
        trc = work / f"{tid}.trc"
        if scheme == "cc":
            # the avatar's rest pose is not upright: its T-pose goes first as the static trial, and
            # MarkerPlacer puts the non-joint-centre markers on the model there (measured on this
            # avatar, not fixed from a rest pose); the pelvis scaling is what keeps the spine straight
            tpose = np.array([[reference[m.bvh[scheme]] for m in markers]])
            static = normalise_heading(bvh_to_opensim(tpose, unit), names)
            dt = float(times[1] - times[0]) if len(times) > 1 else 1.0 / MAX_RATE_HZ
            all_times = np.concatenate([[0.0, dt], times - times[0] + 2 * dt])  # ScaleTool averages >= 2 frames
            write_trc(trc, all_times, np.concatenate([static, static, pts]), names, _rate(all_times), units="m")
            summary = scale_and_ik(trc, all_times, work, out_dir / f"{tid}.mot", model_path, None,
                                   static_frames=2, ik_from=2, cc_rig=True, markers=markers)
        else:
            write_trc(trc, times, pts, names, _rate(times), units="m")
            overrides = rest_pose_overrides(bvh, model_path, reference, unit)
            summary = scale_and_ik(trc, times, work, out_dir / f"{tid}.mot", model_path, overrides,
                                   markers=markers)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    rate = 1.0 / float(np.median(np.diff(times)))
    kept = int(len(times) - summary["ik_frames_dropped"])
    return {
        "id": tid, "kind": trial["kind"], "description": trial["description"],
        "source": {"repo": mirror.repo, "commit": mirror.commit, "path": rel},
        "licence": LICENCE + SCHEME_LICENCE_NOTES.get(scheme, ""),
        "subject": f"cmu_{int(trial['trial'].split('_')[0]):02d}",
        "fps": round(rate, 3), "frames": kept, "duration_s": round((kept - 1) / rate, 3),
        "source_fps": round(bvh.fps, 3), "unit_m": unit,
        **({"split": trial["split"]} if "split" in trial else {}),
        **{k: round(v, 5) for k, v in summary.items() if k != "segments"},
        # further good stretches (own .mot files beside the trial's): seconds, IK error
        "segments": [{**seg, "duration_s": round((seg["frames"] - 1) / rate, 3)} for seg in summary["segments"]],
    }


def _convert_logged(trial: dict, mirror: Mirror, out: Path, model: Path, keep_work: bool) -> dict | None:
    """:func:`convert_trial`, its failure printed instead of raised (one bad trial must not stop a batch)."""
    try:
        return convert_trial(trial, mirror, out, model, keep_work)
    except Exception as exc:
        print(f"{trial['trial']}: failed: {exc}", file=sys.stderr, flush=True)
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirror", type=Path, action="append", required=True,
                    help="bare git dir or folder holding CMU BVH files (repeatable)")
    ap.add_argument("--out", type=Path, default=Path("data_cache/motion_library/cmu"))
    ap.add_argument("--trials", nargs="*", help="trial numbers like 02_01 (default: the whole table)")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--keep-work", action="store_true", help="keep the work folder (trc, setups, scaled model)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="trials converted at once, one process each (default: one per core)")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    mirrors = [Mirror(p) for p in args.mirror]
    table = load_trial_table()
    if args.trials:
        table = [t for t in table if t["trial"] in set(args.trials)]
    index_path = out / "index.json"
    index = {e["id"]: e for e in json.loads(index_path.read_text())} if index_path.is_file() else {}
    work: list[tuple[dict, Mirror]] = []
    for trial in table:
        # the table names the repository a trial comes from; a plain folder (not a git snapshot) serves
        # any trial it holds
        mirror = next((m for m in mirrors if m.repo == trial["repo"] and trial["trial"] in m.by_trial),
                      next((m for m in mirrors if not m.is_git and trial["trial"] in m.by_trial), None))
        if mirror is None:
            print(f"{trial['trial']}: not in any mirror, skipped", file=sys.stderr)
            continue
        work.append((trial, mirror))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:  # OpenSim's IK is single-threaded
        futures = [pool.submit(_convert_logged, trial, mirror, out, args.model, args.keep_work)
                   for trial, mirror in work]
        for future in as_completed(futures):
            entry = future.result()
            if entry is None:
                continue
            index[entry["id"]] = entry  # the index is written here only, by this process
            print(f"{entry['id']}: {entry['kind']} {entry['duration_s']:.1f} s, IK RMS "
                  f"{entry['ik_rms_m'] * 100:.2f} cm, max {entry['ik_max_m'] * 100:.2f} cm", flush=True)
            index_path.write_text(json.dumps(sorted(index.values(), key=lambda e: e["id"]), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
