"""CMU retargeting: the Character Creator (iClone) and Daz rigs through OpenSim Scale + IK, the IK quality gate,
the trial table's pinned splits and the mirror's file naming."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model_store.biomech import load_definition, read_mot
from model_store.conventions import MODEL_RATE_HZ
from training.motion_library import cmu_retarget as cr
from training.motion_library import mirror as mi
from training.motion_library import opensim_tools as ot
from training.motion_library import virtual_markers as vm
from training.motion_library.bvh import parse_bvh
from training.motion_library.catalogue import cmu_trials

from .git_mirror import bare_mirror

FPS = MODEL_RATE_HZ

# Character Creator-style skeleton (cm, BVH world: Y up, Z forward, X left); all rotations zero is a
# T-pose. Rows: name, parent, offset.
_LEFT = [
    ("L_Thigh", "Pelvis", (9.0, -2.0, 0.0)), ("L_Calf", "L_Thigh", (0.0, -44.0, 0.0)),
    ("L_Foot", "L_Calf", (0.0, -42.0, 0.0)), ("L_ToeBase", "L_Foot", (0.0, -6.0, 13.0)),
    ("L_MidToe1", "L_ToeBase", (0.0, 0.0, 3.0)),
    ("L_Clavicle", "Spine02", (3.0, 20.0, 0.0)), ("L_Upperarm", "L_Clavicle", (15.0, 0.0, 0.0)),
    ("L_Forearm", "L_Upperarm", (28.0, 0.0, 0.0)), ("L_Hand", "L_Forearm", (25.0, 0.0, 0.0)),
    ("L_Mid1", "L_Hand", (9.0, 0.0, 0.0)),
]
SKELETON = [("Hip", None, (0.0, 100.0, 0.0)), ("Pelvis", "Hip", (0.0, 0.0, 0.0)),
            ("Waist", "Hip", (0.0, 10.0, 0.0)), ("Spine01", "Waist", (0.0, 5.0, 0.0)),
            ("Spine02", "Spine01", (0.0, 14.0, 0.0)), ("NeckTwist01", "Spine02", (0.0, 24.0, 0.0)),
            ("Head", "NeckTwist01", (0.0, 8.0, 0.0)), ("R_Eye", "Head", (-3.0, 8.0, 8.0))]
SKELETON += _LEFT + [(n.replace("L_", "R_"), p.replace("L_", "R_"), (-o[0], o[1], o[2])) for n, p, o in _LEFT]


# Daz/Poser-style skeleton (B. Hahne's Daz-friendly release) as a repository rescaled it: metres, a
# figure 1.19 m tall, no toe joint; all rotations zero is a T-pose.
_DAZ_LEFT = [
    ("lButtock", "hip", (0.069, 0.034, 0.01)), ("lThigh", "lButtock", (0.0, -0.013, -0.017)),
    ("lShin", "lThigh", (0.0, -0.288, 0.006)), ("lFoot", "lShin", (0.006, -0.352, -0.04)),
    ("lCollar", "chest", (0.021, 0.15, -0.038)), ("lShldr", "lCollar", (0.069, -0.015, 0.011)),
    ("lForeArm", "lShldr", (0.22, -0.013, 0.004)), ("lHand", "lForeArm", (0.176, 0.006, 0.055)),
    ("lMid1", "lHand", (0.064, 0.009, 0.027)),
]
DAZ_SKELETON = [("hip", None, (0.0, 0.0, 0.0)), ("abdomen", "hip", (0.0, 0.162, -0.006)),
                ("chest", "abdomen", (0.0, 0.091, -0.004)), ("neck", "chest", (0.0, 0.173, -0.017)),
                ("head", "neck", (-0.002, 0.055, 0.01)), ("rightEye", "head", (-0.029, 0.063, 0.063))]
DAZ_SKELETON += _DAZ_LEFT + [("r" + n[1:], "r" + p[1:] if p.startswith("l") else p, (-o[0], o[1], o[2]))
                             for n, p, o in _DAZ_LEFT]
#: End sites: the Daz foot's sits ~10 cm ahead of the ankle (no toe joint).
DAZ_ENDS = {"lFoot": (-0.009, -0.029, 0.095), "rFoot": (0.009, -0.029, 0.095)}


def rig_bvh(knee_deg: np.ndarray, t_pose_first: bool = True, daz: bool = False) -> str:
    """A BVH of the CC rig (cm) or, with ``daz``, of the Daz rig (m): frame 0 a T-pose (or already the
    motion), then both knees flexed by ``knee_deg`` (one value per frame) with the hips flexed by half
    as much and the arms lowered."""
    skeleton, prefix = (DAZ_SKELETON, "") if daz else (SKELETON, "CC_Base_")
    root, root_pos = skeleton[0][0], ([0.0, 0.68, 0.0] if daz else [0.0, 100.0, 0.0])
    children: dict[str | None, list[tuple[str, tuple[float, float, float]]]] = {}
    for name, parent, off in skeleton:
        children.setdefault(parent, []).append((name, off))
    order: list[str] = []
    lines = ["HIERARCHY"]

    def emit(name: str, off: tuple[float, float, float], depth: int, is_root: bool) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if is_root else 'JOINT'} {prefix}{name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {off[0]} {off[1]} {off[2]}")
        lines.append(f"{pad}  CHANNELS {6 if is_root else 3} " + ("Xposition Yposition Zposition " if is_root else "")
                     + "Zrotation Yrotation Xrotation")
        order.append(name)
        kids = children.get(name, [])
        for kid, koff in kids:
            emit(kid, koff, depth + 1, False)
        if not kids:
            end = DAZ_ENDS.get(name, (0, 0, 0)) if daz else (0, 0, 0)
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end[0]} {end[1]} {end[2]}",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit(root, skeleton[0][2], 0, True)
    frames = []
    knees = np.concatenate([[0.0], knee_deg]) if t_pose_first else np.asarray(knee_deg)
    for k, knee in enumerate(knees):
        values = []
        for name in order:
            rot = [0.0, 0.0, 0.0]  # Z, Y, X
            left = name.startswith(("L_", "l"))
            if name.endswith(("_Calf", "Shin")):
                rot[2] = knee  # +X: the shank swings back
            if name.endswith(("_Thigh", "Thigh")):
                rot[2] = -0.5 * knee  # -X: the thigh swings forward
            if name.endswith(("_Upperarm", "Shldr")) and (k > 0 or not t_pose_first):
                rot[0] = -75.0 if left else 75.0  # arms down by the sides
            values += (root_pos if name == root else []) + rot
        frames.append(" ".join(f"{v:.4f}" for v in values))
    lines += ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {1.0 / FPS:.6f}", *frames]
    return "\n".join(lines) + "\n"


def cc_bvh(knee_deg: np.ndarray, t_pose_first: bool = True) -> str:
    """:func:`rig_bvh` of the Character Creator rig."""
    return rig_bvh(knee_deg, t_pose_first)


def _knee_wave(n: int = 150) -> np.ndarray:
    return 30.0 + 25.0 * np.sin(np.linspace(0.0, 2.0 * np.pi, n))


def test_cc_rig_is_recognised_and_its_t_pose_is_the_reference():
    bvh = parse_bvh(cc_bvh(_knee_wave(20)))
    assert vm.naming_scheme(bvh) == "cc"
    ref = vm.reference_pose(bvh)
    assert ref is not None
    assert vm.reference_unit_m(ref) == pytest.approx(0.01)  # centimetres
    assert vm.same_skeleton(bvh, ref)
    # a file that starts in motion has no reference of its own, but the same skeleton
    moving = parse_bvh(cc_bvh(_knee_wave(20), t_pose_first=False))
    assert vm.reference_pose(moving) is None
    assert vm.same_skeleton(moving, ref)
    # another avatar (longer shanks) is told apart
    other = parse_bvh(cc_bvh(_knee_wave(20)).replace("OFFSET 0.0 -42.0 0.0", "OFFSET 0.0 -47.0 0.0"))
    assert not vm.same_skeleton(other, ref)
    with pytest.raises(vm.RetargetError, match="reference pose"):
        ot.rest_pose_overrides(moving)


def test_longest_good_run_keeps_the_longest_stretch():
    rms = np.array([0.01, 0.09, 0.01, 0.02, 0.03, 0.2, 0.01])
    assert ot.longest_good_run(rms, 0.05) == (2, 5)
    assert ot.longest_good_run(np.full(4, 0.01), 0.05) == (0, 4)
    assert ot.longest_good_run(np.full(4, 0.5), 0.05) == (0, 0)


def _numbered_mot(path: Path, n: int) -> Path:
    """A .mot of ``n`` rows at :data:`FPS` whose every coordinate in row ``i`` is ``i`` (degrees)."""
    names = load_definition().coordinate_names
    header = ["numbered", "version=1", f"nRows={n}", f"nColumns={len(names) + 1}", "inDegrees=yes",
              "endheader", "\t".join(["time", *names])]
    rows = ["\t".join([f"{i / FPS:.5f}", *(f"{float(i)}" for _ in names)]) for i in range(n)]
    path.write_text("\n".join(header + rows) + "\n")
    return path


def test_write_mot_rows_keeps_a_readable_slice(tmp_path: Path):
    src = _numbered_mot(tmp_path / "all.mot", 10)
    ot.write_mot_rows(src, tmp_path / "part.mot", 3, 7)
    motion = read_mot(tmp_path / "part.mot")
    assert len(motion.times_s) == 4
    assert motion.times_s[0] == pytest.approx(3 / FPS, abs=1e-5)
    assert "nRows=4" in (tmp_path / "part.mot").read_text()


def test_good_runs_lists_every_long_enough_stretch_in_time_order():
    rms = np.array([0.01, 0.01, 0.09, 0.01, 0.2, 0.01, 0.02, 0.03, 0.01, 0.5])
    assert ot.good_runs(rms, 0.05, 2) == [(0, 2), (5, 9)]
    assert ot.good_runs(rms, 0.05, 1) == [(0, 2), (3, 4), (5, 9)]
    assert ot.good_runs(rms, 0.05, 5) == []


def test_write_segments_keeps_the_other_good_stretches(tmp_path: Path):
    """A take whose IK lost the subject twice: the longest stretch is the trial's file, the other long
    enough stretch its own file with its rows and error, the too-short one nothing."""
    n = 20
    src = _numbered_mot(tmp_path / "ik.mot", n)
    rms = np.full(n, 0.02)
    rms[[2, 7]] = 0.08  # stretches: 0-1 (2 frames), 3-6 (4), 8-19 (12, the longest)
    rms[3] = 0.04
    mx = rms * 2
    out = tmp_path / "cmu_60_01.mot"
    main = ot.longest_good_run(rms, ot.IK_FRAME_RMS_MAX_M)
    assert main == (8, 20)
    segs = ot.write_segments(src, out, rms, mx, main, min_frames=3)
    assert [s["file"] for s in segs] == ["cmu_60_01.s1.mot"] and segs[0]["frames"] == 4  # 1st long-enough run
    assert segs[0]["ik_max_m"] == pytest.approx(0.08) and 0.02 < segs[0]["ik_rms_m"] < 0.04
    motion = read_mot(tmp_path / "cmu_60_01.s1.mot")
    assert motion.times_s[0] == pytest.approx(3 / FPS, abs=1e-5) and len(motion.times_s) == 4
    assert not (tmp_path / "cmu_60_01.s2.mot").exists()  # the longest stretch is the trial's own file


def test_pinned_split_overrides_the_rule(tmp_path: Path):
    entries = [{"id": f"cmu_{i:02d}", "kind": "walk", "source": {}} for i in range(1, 7)]
    entries[0]["split"] = "test"  # was held out before the others came
    (tmp_path / "index.json").write_text(json.dumps(entries))
    split = {t.id: t.split for t in cmu_trials(tmp_path / "index.json")}
    assert sorted(k for k, v in split.items() if v == "test") == ["cmu_01", "cmu_05"]


def test_trial_table_keeps_earlier_splits_and_names_a_repo_per_trial():
    """The bundled network was trained with 131_03 and never saw 131_02: adding trials of their kinds
    must not move either across (the split rule alone would)."""
    table = cr.load_trial_table()
    by = {t["trial"]: t for t in table}
    assert by["131_02"].get("split") == "test" and by["131_03"].get("split") == "train"
    assert len(by) == len(table), "a trial is listed twice"
    assert all(t.get("repo") for t in table)


@pytest.mark.slow
def test_cc_trial_through_opensim_scale_and_ik(tmp_path: Path):
    """A CC-rig file without a T-pose of its own borrows the mirror's reference T-pose (another file of
    the same avatar), goes through OpenSim ScaleTool + InverseKinematicsTool, and the knee flexion it
    was given comes back with the trunk upright."""
    knee = _knee_wave()
    mirrors = bare_mirror(tmp_path, {"All_BVH/subjects/007/007_03.bvh": cc_bvh(knee[:30]),
                                     "All_BVH/subjects/007/007_04.bvh": cc_bvh(knee, t_pose_first=False)},
                          "acme+cc-mocap")
    bare = mirrors / "acme+cc-mocap" / "repo"
    mirror = mi.Mirror(bare)
    assert mirror.repo == "acme/cc-mocap"
    assert sorted(mirror.by_trial) == ["07_03", "07_04"]  # 007_04.bvh -> 07_04
    out = tmp_path / "out"
    out.mkdir()
    entry = cr.convert_trial({"trial": "07_04", "kind": "squat", "description": "knee bends", "split": "test"},
                             mirror, out)
    assert entry["split"] == "test"
    assert "Character Creator" in entry["licence"]
    assert entry["ik_rms_m"] < 0.03, entry
    motion = read_mot(out / "cmu_07_04.mot")
    names = load_definition().coordinate_names
    got = np.degrees(motion.coords[:, names.index("knee_angle_r")])
    want = knee[1:][: len(got)]  # the first motion frame is dropped with the reference slot
    assert len(got) >= 2 * FPS - 1
    assert np.abs(got - want[: len(got)]).mean() < 6.0, (got[:10], want[:10])
    trunk = np.degrees(motion.coords[:, names.index("pelvis_tilt")] + motion.coords[:, names.index("lumbar_extension")])
    assert np.abs(trunk).max() < 12.0


def test_daz_rig_is_recognised_and_has_no_toe_tip():
    bvh = parse_bvh(rig_bvh(_knee_wave(20), daz=True))
    assert vm.naming_scheme(bvh) == "daz"
    names = [m.name for m in vm.scheme_markers("daz")]
    assert "RTOE" not in names and "LTOE" not in names and len(names) == len(vm.MARKERS) - 2
    times, pts, unit = vm.marker_trajectories(bvh, unit_m=1.45)
    assert pts.shape == (len(times), len(names), 3) and unit == 1.45
    def rest_knee_deg(b) -> float:
        p = b.positions(rest=True)[0]
        thigh = p[b.index("rShin")] - p[b.index("rThigh")]
        shank = p[b.index("rFoot")] - p[b.index("rShin")]
        return float(np.degrees(np.arccos(thigh @ shank / np.linalg.norm(thigh) / np.linalg.norm(shank))))

    length = np.linalg.norm(bvh.joints[bvh.index("lFoot")].offset)
    assert rest_knee_deg(bvh) > 5.0  # the figure's zero pose bends the knee
    vm.straighten_daz_limbs(bvh)
    assert rest_knee_deg(bvh) < 1e-6 and np.linalg.norm(bvh.joints[bvh.index("lFoot")].offset) == pytest.approx(length)
    hands = bvh.positions(rest=True)[0][[bvh.index("lHand"), bvh.index("rHand")]]
    assert hands[0, 0] > 0.45 and hands[1, 0] < -0.45 and np.abs(hands[:, 2]).max() < 0.05  # straight out sideways
    # the rescaled figure (1.19 m) is below the height the unit guess accepts: the table names the unit
    with pytest.raises(ValueError, match="cannot determine the BVH unit"):
        vm.reference_unit_m(vm.reference_pose(bvh))


def test_120_fps_files_are_decimated_to_60_hz():
    """BVH files write 1/120 s as "0.008333" (120.005 fps): every second frame is kept, not every third."""
    text = rig_bvh(_knee_wave(40), daz=True).replace(f"Frame Time: {1.0 / FPS:.6f}", "Frame Time: 0.008333")
    times, pts, _ = vm.marker_trajectories(parse_bvh(text), unit_m=1.45)
    assert len(times) == len(pts) == 20 and np.diff(times) == pytest.approx(2 * 0.008333)


@pytest.mark.slow
def test_daz_trial_through_opensim_scale_and_ik(tmp_path: Path):
    """A Daz-rig file named like the rescaled copies (``60_01_scaled.bvh``) goes through OpenSim Scale +
    IK with the table's unit; the knee flexion comes back with the trunk upright."""
    knee = _knee_wave()
    mirrors = bare_mirror(tmp_path, {"public/bvh/60/60_01_scaled.bvh": rig_bvh(knee, daz=True)}, "acme+daz")
    mirror = mi.Mirror(mirrors / "acme+daz" / "repo")
    assert mirror.by_trial == {"60_01": "public/bvh/60/60_01_scaled.bvh"}
    out = tmp_path / "out"
    out.mkdir()
    entry = cr.convert_trial({"trial": "60_01", "kind": "dance", "description": "knee bends", "unit_m": 1.45},
                             mirror, out)
    assert entry["unit_m"] == 1.45 and "Daz" in entry["licence"]
    assert entry["ik_rms_m"] < 0.03, entry
    motion = read_mot(out / "cmu_60_01.mot")
    names = load_definition().coordinate_names
    got = np.degrees(motion.coords[:, names.index("knee_angle_r")])
    want = knee[: len(got)]  # frame 0 (the T-pose) is skipped
    assert len(got) >= 2 * FPS - 1
    assert np.abs(got - want).mean() < 6.0, (got[:10], want[:10])
    trunk = np.degrees(motion.coords[:, names.index("pelvis_tilt")] + motion.coords[:, names.index("lumbar_extension")])
    assert np.abs(trunk).max() < 12.0


def test_main_refuses_zero_jobs(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        cr.main(["--mirror", str(tmp_path), "--out", str(tmp_path / "out"), "--jobs", "0"])
    assert exc.value.code == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


@pytest.mark.slow
def test_main_converts_in_parallel_and_reports_a_failed_trial(tmp_path: Path, capfd):
    """Two processes: the T-pose-only file is too short for the IK gate and is reported, the other
    (borrowing that T-pose) lands in the index with the kind the trial table gives it."""
    folder = tmp_path / "bvh"
    folder.mkdir()
    (folder / "007_03.bvh").write_text(cc_bvh(_knee_wave(30)))
    (folder / "007_04.bvh").write_text(cc_bvh(_knee_wave(), t_pose_first=False))
    out = tmp_path / "out"
    assert cr.main(["--mirror", str(folder), "--out", str(out), "--trials", "07_03", "07_04", "--jobs", "2"]) == 0
    index = json.loads((out / "index.json").read_text())
    assert [e["id"] for e in index] == ["cmu_07_04"]
    assert index[0]["kind"] == {t["trial"]: t for t in cr.load_trial_table()}["07_04"]["kind"]
    assert (out / "cmu_07_04.mot").is_file()
    assert "07_03: failed: IK fits no 2 s stretch" in capfd.readouterr().err  # from the worker process
