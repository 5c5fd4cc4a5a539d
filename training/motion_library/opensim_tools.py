"""OpenSim's own tools on virtual markers: the generic model with the marker set, ScaleTool, then
InverseKinematicsTool, and the stretches of a trial whose IK fits well enough to keep.
Used by :mod:`training.motion_library.cmu_retarget`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from model_store.biomech.motion_files import read_sto_columns, storage_header_end
from training.motion_library.bvh import BVH, bvh_to_opensim
from training.motion_library.virtual_markers import (
    CC_PELVIS,
    MARKERS,
    MAX_RATE_HZ,
    MEASUREMENTS,
    MarkerDef,
    Reference,
    RetargetError,
    naming_scheme,
    reference_pose,
    reference_unit_m,
    scheme_markers,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


DEFAULT_MODEL = REPO_ROOT / "data" / "opensim" / "Rajagopal2016.osim"


#: IK frames with a marker RMS above this are dropped: the longest run under it is the trial's .mot,
#: every other run of at least MIN_KEPT_S a further segment (``<id>.s<k>.mot``, listed in the index) ...
IK_FRAME_RMS_MAX_M = 0.06


#: ... and a trial keeps at least this much in one run, or fails.
MIN_KEPT_S = 2.0


STATIC_FRAMES = 3  # frames (at the output rate) averaged by ScaleTool for the static pose


SUBJECT_MASS_KG = 70.0  # unknown for CMU subjects; irrelevant to kinematics


class _quiet_stdout:
    """Silence C++ writes to stdout (OpenSim prints model summaries with printf)."""

    def __enter__(self):
        sys.stdout.flush()
        self._saved = os.dup(1)
        self._null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self._null, 1)

    def __exit__(self, *exc):
        os.dup2(self._saved, 1)
        os.close(self._saved)
        os.close(self._null)


def _xml_tasks(weights: dict[str, float]) -> str:
    """IK marker tasks; a marker of weight 0 is left out of the solve."""
    return "".join(f'<IKMarkerTask name="{n}"><apply>{str(w > 0).lower()}</apply><weight>{w}</weight></IKMarkerTask>'
                   for n, w in weights.items())


def rest_pose_overrides(bvh: BVH, model_path: Path = DEFAULT_MODEL, reference: Reference | None = None,
                        unit_m: float | None = None) -> dict[str, np.ndarray]:
    """Fixed locations (unscaled model body frames, m) of the non-joint-centre markers, from the BVH.

    Each such marker is taken from the upright reference pose (the BVH rest pose unless ``reference``
    is given, in file units of ``unit_m`` metres; facing +X after :func:`bvh_to_opensim`) as an offset
    from a reference that the model also has, divided by that segment's size ratio (BVH / model) so
    that ScaleTool's scaling brings it back:

    * PELV (BVH root): from the hip-centre midpoint, ratio of hip widths (pins the pelvis tilt);
    * CHEST, NECK, HEAD, HTOP: from the shoulder-centre midpoint on the torso, ratio of shoulder widths;
    * toe tips: from the MTP centre on the toes body, ratio of ankle-MTP lengths;
    * hand ends: along the hand's -Y axis, wrist-to-end length over the forearm ratio.
    """
    import opensim as osim

    scheme = naming_scheme(bvh)
    by = {m.name: m.bvh[scheme] for m in scheme_markers(scheme)}
    if reference is None:
        reference = reference_pose(bvh)
        if reference is None:
            raise RetargetError("this BVH has no upright reference pose: give one from a trial of the same avatar")
    unit = reference_unit_m(reference) if unit_m is None else unit_m

    def p(name: str) -> np.ndarray:
        return bvh_to_opensim(reference[by[name]], unit)

    model = osim.Model(str(model_path))
    model.initSystem()
    joints = model.getJointSet()

    def parent_loc(joint: str) -> np.ndarray:
        return joints.get(joint).getParentFrame().findTransformInBaseFrame().p().to_numpy()

    out: dict[str, np.ndarray] = {}
    mr, ml = parent_loc("hip_r"), parent_loc("hip_l")
    s = np.linalg.norm(p("RHJC") - p("LHJC")) / np.linalg.norm(mr - ml)
    out["PELV"] = 0.5 * (mr + ml) + (p("PELV") - 0.5 * (p("RHJC") + p("LHJC"))) / s
    sr, sl = parent_loc("acromial_r"), parent_loc("acromial_l")
    state = model.initSystem()
    bodies = model.getBodySet()

    def ground(body: str) -> np.ndarray:
        return bodies.get(body).getPositionInGround(state).to_numpy()

    model_trunk = np.linalg.norm(0.5 * (ground("humerus_r") + ground("humerus_l"))
                                 - 0.5 * (ground("femur_r") + ground("femur_l")))
    s = np.linalg.norm(0.5 * (p("RSJC") + p("LSJC")) - 0.5 * (p("RHJC") + p("LHJC"))) / model_trunk
    for n in ("CHEST", "NECK", "HEAD", "HTOP"):
        out[n] = 0.5 * (sr + sl) + (p(n) - 0.5 * (p("RSJC") + p("LSJC"))) / s
    for side in ("R", "L"):
        sd = side.lower()
        # ankle -> mtp length of the model: talus origin to toes origin in ground, default pose
        state = model.initSystem()
        talus = model.getBodySet().get(f"talus_{sd}").getPositionInGround(state).to_numpy()
        toes = model.getBodySet().get(f"toes_{sd}").getPositionInGround(state).to_numpy()
        if f"{side}TOE" in by:
            s = np.linalg.norm(p(f"{side}MTP") - p(f"{side}AJC")) / np.linalg.norm(toes - talus)
            toe = (p(f"{side}TOE") - p(f"{side}MTP")) / s
            toe[1] = 0.0  # toe tip level with the MTP centre in the toes frame
            out[f"{side}TOE"] = toe
        ulna = model.getBodySet().get(f"ulna_{sd}").getPositionInGround(state).to_numpy()
        hand = model.getBodySet().get(f"hand_{sd}").getPositionInGround(state).to_numpy()
        s = np.linalg.norm(p(f"{side}WJC") - p(f"{side}EJC")) / np.linalg.norm(hand - ulna)
        out[f"{side}HND"] = np.array([0.0, -np.linalg.norm(p(f"{side}HND") - p(f"{side}WJC")) / s, 0.0])
    return out


def build_generic_model(model_path: Path, out_path: Path,
                        overrides: dict[str, np.ndarray] | None = None, markers: list[MarkerDef] | None = None) -> None:
    """Copy the Rajagopal model with its marker set replaced by ``markers`` (default :data:`MARKERS`;
    unscaled bodies).

    ``overrides`` maps marker names to fixed locations (m, unscaled body frame).
    """
    import opensim as osim

    overrides = overrides or {}
    model = osim.Model(str(model_path))
    model.initSystem()
    for name in ("pelvis_tilt", "pelvis_list", "pelvis_rotation"):
        # free-floating root: its +-90 deg clamps would trap IK when the subject turns or bends far
        model.updCoordinateSet().get(name).set_clamped(False)
    ms = model.updMarkerSet()
    ms.clearAndDestroy()
    for m in markers or MARKERS:
        body = model.getBodySet().get(m.body)
        if m.name in overrides:
            loc = np.asarray(overrides[m.name], dtype=float)
        elif m.location is None:
            joint = model.getJointSet().get(m.joint)
            loc = joint.getChildFrame().findTransformInBaseFrame().p().to_numpy()
        else:
            loc = np.array(m.location)
        marker = osim.Marker(m.name, body, osim.Vec3(*[float(x) for x in loc]))
        marker.set_fixed(m.fixed or m.name in overrides)
        model.addMarker(marker)
    model.finalizeConnections()
    model.printToXML(str(out_path))


def _scale_setup(generic: Path, static_trc: Path, t0: float, t1: float, work: Path,
                 cc_rig: bool = False, markers: list[MarkerDef] | None = None) -> Path:
    table = {n: (pairs, bodies, "X Y Z") for n, (pairs, bodies) in MEASUREMENTS.items()}
    if cc_rig:
        del table["pelvis"]
        table.update(CC_PELVIS)
    meas = []
    for name, (pairs, bodies, axes) in table.items():
        mp = "".join(f"<MarkerPair><markers> {a} {b}</markers></MarkerPair>" for a, b in pairs)
        bs = "".join(f'<BodyScale name="{b}"><axes> {axes}</axes></BodyScale>' for b in bodies)
        meas.append(f'<Measurement name="{name}"><apply>true</apply><MarkerPairSet><objects>{mp}</objects>'
                    f"</MarkerPairSet><BodyScaleSet><objects>{bs}</objects></BodyScaleSet></Measurement>")
    # on the CC path the free markers start far from their data (their default spots are the
    # cgspeed skeleton's), so the static pose is solved on the joint centres alone before they are placed
    tasks = _xml_tasks({m.name: (m.weight if m.fixed or not cc_rig else 0.0) for m in markers or MARKERS})
    xml = f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
<ScaleTool name="cmu_subject">
  <mass>{SUBJECT_MASS_KG}</mass><height>-1</height><age>-1</age>
  <GenericModelMaker><model_file>{generic.name}</model_file><marker_set_file>Unassigned</marker_set_file></GenericModelMaker>
  <ModelScaler>
    <apply>true</apply>
    <scaling_order> measurements</scaling_order>
    <MeasurementSet><objects>{''.join(meas)}</objects></MeasurementSet>
    <ScaleSet><objects /></ScaleSet>
    <marker_file>{static_trc.name}</marker_file>
    <time_range> {t0:.6f} {t1:.6f}</time_range>
    <preserve_mass_distribution>true</preserve_mass_distribution>
    <output_model_file>Unassigned</output_model_file>
    <output_scale_file>scale_factors.xml</output_scale_file>
  </ModelScaler>
  <MarkerPlacer>
    <apply>true</apply>
    <IKTaskSet><objects>{tasks}</objects></IKTaskSet>
    <marker_file>{static_trc.name}</marker_file>
    <coordinate_file>Unassigned</coordinate_file>
    <time_range> {t0:.6f} {t1:.6f}</time_range>
    <output_motion_file>static_pose.mot</output_motion_file>
    <output_model_file>scaled.osim</output_model_file>
    <output_marker_file>Unassigned</output_marker_file>
    <max_marker_movement>-1</max_marker_movement>
  </MarkerPlacer>
</ScaleTool>
</OpenSimDocument>
"""
    path = work / "scale_setup.xml"
    path.write_text(xml)
    return path


def _ik_setup(model: Path, trc: Path, t0: float, t1: float, work: Path, mot: Path,
              markers: list[MarkerDef] | None = None) -> Path:
    tasks = _xml_tasks({m.name: m.weight for m in markers or MARKERS})
    xml = f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
<InverseKinematicsTool name="cmu_ik">
  <results_directory>.</results_directory>
  <model_file>{model.name}</model_file>
  <constraint_weight>Inf</constraint_weight>
  <accuracy>1e-05</accuracy>
  <IKTaskSet><objects>{tasks}</objects></IKTaskSet>
  <marker_file>{trc.name}</marker_file>
  <coordinate_file>Unassigned</coordinate_file>
  <time_range> {t0:.6f} {t1:.6f}</time_range>
  <report_errors>true</report_errors>
  <output_motion_file>{mot.name}</output_motion_file>
  <report_marker_locations>false</report_marker_locations>
</InverseKinematicsTool>
</OpenSimDocument>
"""
    path = work / "ik_setup.xml"
    path.write_text(xml)
    return path


def scale_and_ik(trc: Path, times: np.ndarray, work: Path, mot_out: Path,
                 model_path: Path = DEFAULT_MODEL, overrides: dict[str, np.ndarray] | None = None,
                 static_frames: int = STATIC_FRAMES, ik_from: int = 0, cc_rig: bool = False,
                 markers: list[MarkerDef] | None = None) -> dict:
    """Run ScaleTool on the first ``static_frames`` frames of ``trc``, then InverseKinematicsTool from
    frame ``ik_from`` to the end; returns IK error summary (m). ``cc_rig``: the Character Creator
    avatar's settings (:data:`CC_PELVIS` scaling; the static pose solved on the joint centres alone).
    ``markers``: those in ``trc`` (default :data:`MARKERS`)."""
    import opensim as osim

    osim.Logger.setLevelString("error")
    work.mkdir(parents=True, exist_ok=True)
    generic = work / "generic_markers.osim"
    build_generic_model(model_path, generic, overrides, markers)
    t0 = float(times[0])
    t1 = float(times[min(static_frames, len(times)) - 1])
    setup = _scale_setup(generic, trc, t0, t1, work, cc_rig, markers)
    cwd = os.getcwd()
    try:
        os.chdir(work)
        with _quiet_stdout():
            scaled_ok = osim.ScaleTool(str(setup)).run()
        if not scaled_ok or not (work / "scaled.osim").is_file():
            raise RetargetError("OpenSim ScaleTool failed")
        mot = work / "ik.mot"
        ik = osim.InverseKinematicsTool(str(_ik_setup(work / "scaled.osim", trc, float(times[ik_from]),
                                                      float(times[-1]), work, mot, markers)))
        with _quiet_stdout():
            ik_ok = ik.run()
        if not ik_ok or not mot.is_file():
            raise RetargetError("OpenSim InverseKinematicsTool failed")
    finally:
        os.chdir(cwd)
    err_file = next(work.glob("*_ik_marker_errors.sto"))
    err = read_sto_columns(err_file)
    rms = err["marker_error_RMS"]
    mx = err["marker_error_max"]
    start, stop = longest_good_run(rms, IK_FRAME_RMS_MAX_M)
    rate = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else MAX_RATE_HZ
    if (stop - start) < MIN_KEPT_S * rate:
        raise RetargetError(f"IK fits no {MIN_KEPT_S:.0f} s stretch with a marker RMS under "
                            f"{IK_FRAME_RMS_MAX_M * 100:.0f} cm (median {np.median(rms) * 100:.1f} cm)")
    write_mot_rows(mot, mot_out, start, stop)
    segments = write_segments(mot, mot_out, rms, mx, (start, stop), int(np.ceil(MIN_KEPT_S * rate)))
    rms, mx = rms[start:stop], mx[start:stop]
    return {"ik_rms_m": float(np.sqrt(np.mean(rms ** 2))), "ik_max_m": float(mx.max()),
            "ik_rms_p95_m": float(np.percentile(rms, 95)), "ik_frames_dropped": int(len(err["time"]) - (stop - start)),
            "segments": segments}


def longest_good_run(frame_rms: np.ndarray, limit: float) -> tuple[int, int]:
    """``(start, stop)`` of the longest run of frames whose marker RMS is under ``limit`` (``stop``
    exclusive; ``(0, 0)`` when no frame is). IK that loses the subject (a flipped pelvis, the spine at
    its limit) does so for a stretch of frames; the run around it is kept, not the trial thrown away."""
    runs = good_runs(frame_rms, limit, 1)
    return max(runs, key=lambda r: r[1] - r[0]) if runs else (0, 0)  # the first of equally long runs


def good_runs(frame_rms: np.ndarray, limit: float, min_frames: int) -> list[tuple[int, int]]:
    """Every ``(start, stop)`` run of at least ``min_frames`` frames whose marker RMS is under ``limit``,
    in time order (``stop`` exclusive)."""
    good = np.concatenate([[False], np.asarray(frame_rms) < limit, [False]])
    edges = np.flatnonzero(np.diff(good.astype(int)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= min_frames]


def write_segments(mot: Path, mot_out: Path, frame_rms: np.ndarray, frame_max: np.ndarray, main: tuple[int, int],
                   min_frames: int) -> list[dict]:
    """Write the IK result ``mot``'s good stretches other than ``main`` (runs of at least ``min_frames``
    frames with a marker RMS under :data:`IK_FRAME_RMS_MAX_M`) beside ``mot_out`` as ``<stem>.s<k>.mot``
    (``k``: its place in time among the long-enough runs, from 1); returns per file its name, frames and IK error (m). A
    glitch of a few frames in the middle of a take no longer throws away the rest of it."""
    segments = []
    for k, (a, b) in enumerate(good_runs(frame_rms, IK_FRAME_RMS_MAX_M, min_frames), 1):
        if (a, b) == tuple(main):
            continue
        seg = mot_out.with_name(f"{mot_out.stem}.s{k}.mot")
        write_mot_rows(mot, seg, a, b)
        segments.append({"file": seg.name, "frames": b - a,
                         "ik_rms_m": round(float(np.sqrt(np.mean(frame_rms[a:b] ** 2))), 5),
                         "ik_max_m": round(float(frame_max[a:b].max()), 5)})
    return segments


def write_mot_rows(src: Path, dst: Path, start: int, stop: int) -> None:
    """Copy the .mot ``src`` to ``dst`` keeping data rows ``start:stop`` (and the header's nRows right)."""
    lines = src.read_text().splitlines()
    end = storage_header_end(lines)
    rows = [ln for ln in lines[end + 2:] if ln.strip()][start:stop]
    head = [f"nRows={len(rows)}" if ln.replace(" ", "").lower().startswith("nrows=") else ln for ln in lines[:end + 2]]
    dst.write_text("\n".join(head + rows) + "\n")
