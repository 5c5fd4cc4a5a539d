"""The team's reserved running trial, as model coordinates: for evaluation only (``run_real`` clips).

    python -m training.eval.recording.reserved_run --mirror MIRRORS/opensim-org+opensim-models/repo [--cache data_cache]

opensim-models' ``Pipelines/Rajagopal`` running trial (one subject, 72.84 kg, markers at 100 Hz) is
reserved for the team's own evaluation: the motion library refuses it
(:func:`training.motion_library.catalogue.is_reserved`), so no network or prior ever trains on it, and
no setting is chosen on it. This module runs the trial's own OpenSim pipeline on it, as its authors
set it up: ScaleTool with ``Scale/scale_setup_run.xml`` on the static trial (the generic model is
Rajagopal 2016, whose marker set is the one the trial's markers are named after), then
InverseKinematicsTool with ``IK/ik_setup_run.xml`` (its marker weights and time range). The files are
read from a local git mirror of opensim-models, never from the network; the result is written to
``CACHE/eval/subject01_run_IK.mot`` (:data:`training.eval.clips.RESERVED_RUN`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from training.synth.real_motion import RealMotionError, opensim_model_file

PIPELINE = "Pipelines/Rajagopal"
FILES = ("Scale/scale_setup_run.xml", "IK/ik_setup_run.xml", "ExpData/static_run.trc",
         "ExpData/motion_capture_run.trc")
SUBJECT_MASS_KG = 72.84
RESULT = Path("eval") / "subject01_run_IK.mot"


def _git_show(mirror: Path, path: str) -> bytes:
    res = subprocess.run(["git", f"--git-dir={mirror}", "show", f"HEAD:{path}"], capture_output=True, check=False)
    if res.returncode != 0:
        raise RealMotionError(f"{path} is not in the mirror {mirror}: {res.stderr.decode(errors='replace').strip()}")
    return res.stdout


def reserved_run_ik(mirror: Path, cache: Path, force: bool = False) -> Path:
    """Scale + IK of the reserved running trial (see the module docstring); returns the .mot's path."""
    result = Path(cache).resolve() / RESULT
    if result.is_file() and not force:
        return result
    import opensim as osim

    osim.Logger.setLevelString("error")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in FILES:
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_bytes(_git_show(Path(mirror), f"{PIPELINE}/{name}"))
        scaled = work / "Scale" / "subject_scaled_run.osim"
        scale = osim.ScaleTool(str(work / "Scale" / "scale_setup_run.xml"))
        scale.setSubjectMass(SUBJECT_MASS_KG)
        scale.getGenericModelMaker().setModelFileName(str(opensim_model_file()))
        scale.getGenericModelMaker().setMarkerSetFileName("Unassigned")
        scale.getModelScaler().setMarkerFileName(str(work / "ExpData" / "static_run.trc"))
        scale.getModelScaler().setOutputModelFileName("")
        scale.getModelScaler().setOutputScaleFileName("")
        placer = scale.getMarkerPlacer()
        placer.setMarkerFileName(str(work / "ExpData" / "static_run.trc"))
        placer.setOutputModelFileName(str(scaled))
        placer.setOutputMotionFileName("")
        placer.setOutputMarkerFileName("")
        scale.setPathToSubject("")
        if not scale.run() or not scaled.is_file():
            raise RealMotionError("OpenSim ScaleTool failed on the reserved trial's static trial")
        ik = osim.InverseKinematicsTool(str(work / "IK" / "ik_setup_run.xml"))
        ik.set_model_file(str(scaled))
        ik.setMarkerDataFileName(str(work / "ExpData" / "motion_capture_run.trc"))
        ik.setResultsDir(str(work))
        ik.setOutputMotionFileName(str(work / "run_ik.mot"))
        ik.set_report_errors(False)
        if not ik.run():
            raise RealMotionError("OpenSim InverseKinematicsTool failed on the reserved running trial")
        result.parent.mkdir(parents=True, exist_ok=True)
        result.write_bytes((work / "run_ik.mot").read_bytes())
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, required=True, help="a git mirror of opensim-org/opensim-models")
    ap.add_argument("--cache", type=Path, default=Path("data_cache"))
    ap.add_argument("--force", action="store_true", help="run again even when the result exists")
    args = ap.parse_args(argv)
    try:
        path = reserved_run_ik(args.mirror, args.cache, args.force)
    except RealMotionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
