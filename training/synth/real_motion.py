"""Real human motion: OpenSim Scale + Inverse Kinematics on the shared walking trial.

Inputs are read from the repository's ``data/`` (see ``data/README.md`` for their origin and licence):
the Rajagopal model, the walking trial's static and motion marker files, its Scale and IK setups and
marker set. ScaleTool places the
marker set on the generic model from the static trial (subject mass 72.6 kg), then
InverseKinematicsTool solves the 100 Hz walking trial. The result (a .mot, degrees) is cached
under ``CACHE/real_motion/`` and reused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from model_store.biomech import Motion, read_mot

SUBJECT_MASS_KG = 72.6
REPO_ROOT = Path(__file__).resolve().parents[2]
#: The repository's third-party data (model, walking trial, demo recording; ``data/README.md``).
DEFAULT_SHARED = REPO_ROOT / "data"


class RealMotionError(RuntimeError):
    pass


def opensim_model_file(shared: Path = DEFAULT_SHARED) -> Path:
    """The generic Rajagopal 2016 model (.osim) that OpenSim's Scale and IK tools start from."""
    return shared / "opensim" / "Rajagopal2016.osim"


def walk_trial_ik(cache: Path, shared: Path = DEFAULT_SHARED, force: bool = False) -> Path:
    """Run (or reuse) Scale + IK on the walking trial; returns the path of the IK .mot."""
    out_dir = Path(cache).resolve() / "real_motion"
    result = out_dir / "walk_ik.mot"
    if result.is_file() and not force:
        return result
    walk = shared / "mocap" / "walk"
    model_path = opensim_model_file(shared)
    needed = [walk / n for n in ("scale_setup_walk.xml", "ik_setup_walk.xml", "markerset_walk_preScale.xml",
                                 "static_walk_1.trc", "motion_capture_walk.trc")] + [model_path]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise RealMotionError(f"walking-trial inputs not found: {', '.join(missing)}")
    import opensim as osim

    osim.Logger.setLevelString("error")
    work = out_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    scaled_model = work / "subject_walk.osim"

    scale = osim.ScaleTool(str(walk / "scale_setup_walk.xml"))
    scale.setSubjectMass(SUBJECT_MASS_KG)
    scale.getGenericModelMaker().setModelFileName(str(model_path))
    scale.getGenericModelMaker().setMarkerSetFileName(str(walk / "markerset_walk_preScale.xml"))
    scale.getModelScaler().setApply(False)
    placer = scale.getMarkerPlacer()
    placer.setApply(True)
    placer.setMarkerFileName(str(walk / "static_walk_1.trc"))
    placer.setOutputModelFileName(str(scaled_model))
    placer.setOutputMotionFileName(str(work / "static_pose.mot"))
    placer.setOutputMarkerFileName("")
    scale.setPathToSubject("")
    if not scale.run() or not scaled_model.is_file():
        raise RealMotionError("OpenSim ScaleTool failed on the static walking trial")

    ik = osim.InverseKinematicsTool(str(walk / "ik_setup_walk.xml"))
    ik.set_model_file(str(scaled_model))
    ik.setMarkerDataFileName(str(walk / "motion_capture_walk.trc"))
    ik.setResultsDir(str(work))
    ik.setOutputMotionFileName(str(work / "walk_ik.mot"))
    ik.set_report_errors(False)
    if not ik.run():
        raise RealMotionError("OpenSim InverseKinematicsTool failed on the walking trial")
    shutil.copyfile(work / "walk_ik.mot", result)
    return result


def load_walk_motion(cache: Path, shared: Path = DEFAULT_SHARED) -> Motion:
    """The walking trial as model coordinates (rad / m, model order, 100 Hz)."""
    return read_mot(walk_trial_ik(cache, shared))
