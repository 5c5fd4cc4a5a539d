"""Calibration TOML parsing/writing and projection conventions."""

from __future__ import annotations

import numpy as np
import pytest

from model_store.geometry.calibration_file import (
    CalibrationError,
    CameraNotFound,
    choose_cameras,
    read_calibration_toml,
)
from model_store.geometry.cameras import OPENSIM_FROM_WORLD, load_calibration_toml, save_calibration_toml


@pytest.fixture()
def demo_calibration(shared_data):
    return shared_data / "video" / "pose2sim-demo-single" / "calibration.toml"


def test_demo_calibration_loads_with_z_up_world(demo_calibration):
    cams = load_calibration_toml(demo_calibration)
    assert sorted(cams) == ["cam01", "cam02", "cam03", "cam04"]
    for cam in cams.values():
        assert cam.image_size == (1088, 1920)
        assert 1.5 < cam.center[2] < 2.3  # cameras on tripods, world Z up
    # the opensim view of a camera sees the same pixels for converted points
    cam = cams["cam01"]
    x_world = np.array([[0.2, 0.1, 1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(cam.project_opensim(x_world @ OPENSIM_FROM_WORLD.T), cam.project(x_world), atol=1e-9)


def test_the_light_reader_gives_the_cameras_values(demo_calibration):
    """``read_calibration_toml`` (no numpy: the API's check) holds exactly what the cameras are built from."""
    cams, read = load_calibration_toml(demo_calibration), read_calibration_toml(demo_calibration)
    assert list(read) == list(cams)
    for name, cam in cams.items():
        c = read[name]
        assert c.image_size == cam.image_size and all(type(v) is int for v in c.image_size)
        np.testing.assert_array_equal(np.array(c.matrix), cam.K)
        np.testing.assert_array_equal(np.array(c.distortions), cam.dist)
        np.testing.assert_array_equal(np.array(c.translation), cam.t)
        np.testing.assert_allclose(np.array(c.rotation), cam.rodrigues, atol=1e-12)


def test_round_trip_and_undistortion(demo_calibration, tmp_path):
    cams = load_calibration_toml(demo_calibration)
    again = load_calibration_toml(save_calibration_toml(cams.values(), tmp_path / "c.toml"))
    for name, cam in cams.items():
        np.testing.assert_allclose(again[name].K, cam.K)
        np.testing.assert_allclose(again[name].R, cam.R, atol=1e-12)
        np.testing.assert_allclose(again[name].t, cam.t)
    cam = cams["cam04"]
    pts = np.array([[0.1, 0.3, 1.2], [-0.4, 0.2, 0.1]])
    ideal = cam.to_camera(pts)
    ideal = (ideal / ideal[:, 2:]) @ cam.K.T
    np.testing.assert_allclose(cam.undistort_points(cam.project(pts)), ideal[:, :2], atol=1e-3)


_CAM = ("[a]\nsize = {size}\nmatrix = [[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]\n"
        "distortions = {dist}\nrotation = [0.0, 0.0, 0.0]\ntranslation = [0.0, 0.0, 3.0]\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cam01\nname=", "not valid TOML"),
        ("[metadata]\nadjusted = false\n", "defines no cameras"),
        ('[a]\nname="a"\nsize=[10.0,10.0]\nrotation=[0.0,0.0,0.0]\ntranslation=[0.0,0.0,1.0]\n', "missing field"),
        ('[a]\nsize=[10.0,10.0]\nmatrix=[[1.0,0.0],[0.0,1.0]]\nrotation=[0.0,0.0,0.0]\ntranslation=[0.0,0.0,1.0]\n',
         "shape"),
        (_CAM.format(size="[640.0, 480.0]", dist='"abc"'), "distortions"),
        (_CAM.format(size="[0, 0]", dist="[0.0, 0.0, 0.0, 0.0]"), "size"),
        (_CAM.format(size="[640.0, 1e9]", dist="[0.0, 0.0, 0.0, 0.0]"), "size"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply|not valid TOML"),
        (_CAM.format(size="[640.0, 480.0]", dist="[0.0, 0.0, 0.0, 1" + "0" * 400 + "]"), "distortions"),
        (_CAM.format(size="[640, 1" + "0" * 400 + "]", dist="[0.0, 0.0, 0.0, 0.0]"), "size: a number out of"),
        (_CAM.format(size="[640.0, [480.0]]", dist="[0.0, 0.0, 0.0, 0.0]"), "size: lists of different shapes"),
        (_CAM.format(size="[640.0, 480.0]", dist="[0.0, 0.0, 0.0, nan]"), "distortions"),
    ],
)
def test_malformed_calibrations_are_clear_errors(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(CalibrationError, match=message):
        load_calibration_toml(p)


@pytest.mark.parametrize(
    ("front", "side", "message"),
    [
        (None, None, "has 3 cameras"),
        ("a", None, "side_camera is required"),
        ("a", "z", "side_camera 'z' is not in the calibration \\(available: a, b, c\\)"),
        ("b", "b", "must be different"),
    ],
)
def test_camera_names_one_rule(tmp_path, front, side, message):
    """The API's upload check and the pipeline both apply :func:`choose_cameras`."""
    from app.core.errors import ApiError
    from app.uploads import check_calibration
    from worker.pipeline.contract import PipelineError
    from worker.pipeline.geometry.rig import select_cameras

    base = _CAM.format(size="[640.0, 480.0]", dist="[0.0, 0.0, 0.0, 0.0]")
    path = tmp_path / "c.toml"
    path.write_text("".join(base.replace("[a]", f"[{n}]") for n in "abc"))
    cams = load_calibration_toml(path)
    with pytest.raises(CameraNotFound, match=message):
        choose_cameras(cams, front, side)
    with pytest.raises(ApiError, match=message) as api:
        check_calibration(path, front, side)
    assert api.value.code == "camera_not_found"
    with pytest.raises(PipelineError, match=message) as pipe:
        select_cameras(path, front, side, (640, 480), (640, 480))
    assert pipe.value.code == "camera_not_found"
    assert [c.name for c in choose_cameras(cams, "c", "a")] == ["c", "a"]


def _cam(**fields: str) -> str:
    values = {"size": "[640.0, 480.0]", "matrix": "[[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]",
              "distortions": "[0.0, 0.0, 0.0, 0.0]", "rotation": "[0.0, 0.0, 0.0]", "translation": "[0.0, 0.0, 3.0]",
              **fields}
    return "[a]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_cam(matrix="[[5" + "0" * 400 + ", 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]"),
         r"\[a\] matrix: a number out of the floating-point range"),
        (_cam() + "[metadata]\nbig = 1" + "0" * 4400 + "\n", "not usable TOML.*4300"),
        (_cam(rotation="[1e200, 1e200, 1e200]"), r"\[a\] rotation: .*norm"),
        (_cam(rotation="[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]"), r"\[a\] rotation: .*determinant"),
        (_cam(rotation="[[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]"), r"\[a\] rotation: .*orthonormal"),
        (_cam(matrix="[[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 0.0]]"), r"\[a\] matrix: expected \[\[fx"),
        (_cam(matrix="[[-500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]"), r"\[a\] matrix: focal length fx"),
        (_cam(matrix="[[500.0, 0.0, 320.0], [0.0, 1e9, 240.0], [0.0, 0.0, 1.0]]"), r"\[a\] matrix: focal length fy"),
        (_cam(matrix="[[500.0, 0.0, 3200.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]"), r"\[a\] matrix: principal point"),
        (_cam(matrix="[[500.0, true, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]"), "got a boolean"),
        (_cam(matrix='[["500", 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]'), "got a string"),
        (_cam(distortions="[1e300, 0.0, 0.0, 0.0]"), r"\[a\] distortions: each coefficient"),
        (_cam(distortions="[0.0, 0.0, 0.0]"), r"\[a\] distortions: expected 4, 5 or 8 numbers, got 3"),
        (_cam(translation="[0.0, 0.0, 1e6]"), r"\[a\] translation: .*1000 m"),
        (_cam(fisheye='"false"'), r"\[a\] fisheye: expected true or false, got a string"),
        (_cam(fisheye="true"), "fisheye cameras are not supported"),
        (_cam(name="5"), r"\[a\] name: expected a non-empty string"),
        (_cam() + _cam().replace("[a]", "[b]") + 'name = "a"\n', "used twice"),
    ],
)
def test_geometry_checks_name_the_camera_and_the_field(text, message):
    from model_store.geometry.calibration_file import parse_calibration

    with pytest.raises(CalibrationError, match=message):
        parse_calibration(text, "c.toml")


def test_a_rotation_matrix_is_read_as_its_rodrigues_vector():
    import cv2

    from model_store.geometry.calibration_file import parse_calibration

    rng = np.random.default_rng(3)
    for r in [*rng.normal(size=(20, 3)), np.array([np.pi, 0, 0]), np.array([0, np.pi - 1e-9, 0]), np.zeros(3)]:
        m = cv2.Rodrigues(r)[0]
        text = _cam(rotation="[" + ", ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in m) + "]")
        got = np.array(parse_calibration(text)["a"].rotation)
        np.testing.assert_allclose(cv2.Rodrigues(got)[0], m, atol=1e-9)
