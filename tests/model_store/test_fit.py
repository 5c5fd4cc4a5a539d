"""The per-clip fit: projection and Jacobians against references, recovery of known motions, failures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from model_store.biomech import Motion, load_fullbody_model
from model_store.biomech.jacobian import point_jacobians
from model_store.biomech.posture import default_posture
from model_store.demo import sample_motion
from model_store.fit import (
    CameraRig,
    ClipEvidence,
    ClipObjective,
    FitError,
    FitSettings,
    NetworkPrior,
    fit_clip,
    measure_reprojection,
)
from model_store.fit import solver as fit_solver
from model_store.fit.anatomical_prior import load_anatomical_prior
from model_store.fit.gauss_newton import linearize
from model_store.geometry.cameras import Camera
from model_store.keypoints.landmarks import load_landmarks
from model_store.network.outputs import rotational_indices
from training.eval.metrics import LOWER_LIMB_SAGITTAL, angle_errors_deg
from training.synth.clip import render_clip
from training.synth.motions import rotate_heading

ROT = rotational_indices()


def _random_pose(rng: np.random.Generator, b: int) -> torch.Tensor:
    fk = load_fullbody_model()
    q = fk.default_coordinates[None].repeat(b, 1).clone()
    for i, c in enumerate(fk.definition.coordinates):
        if c.motion_type != "coupled":
            lo, hi = max(c.range[0], -1.5), min(c.range[1], 1.5)
            q[:, i] = torch.as_tensor(rng.uniform(lo, hi, b))
    return q


@pytest.mark.parametrize("dist", [[-0.25, 0.08, 0.001, -0.002, 0.02],
                                  [0.1, -0.05, 0.002, 0.001, 0.01, 0.05, 0.02, 0.01]])
def test_projection_matches_opencv(dist):
    rng = np.random.default_rng(1)
    cam = Camera("c", np.array([[1400.0, 0.5, 960.0], [0.0, 1390.0, 540.0], [0.0, 0.0, 1.0]]), np.array(dist),
                 cv2.Rodrigues(np.array([0.1, -0.4, 0.05]))[0], np.array([0.2, -0.1, 4.0]), (1920, 1080))
    pts_osim = rng.uniform(-1.0, 1.0, (50, 3))
    expected = cam.project_opensim(pts_osim)
    px, depth = CameraRig.from_cameras([cam]).project(torch.as_tensor(pts_osim))
    np.testing.assert_allclose(px[0].numpy(), expected, atol=1e-6)
    assert torch.all(depth > 0)


def test_point_jacobians_match_finite_differences():
    fk, lm = load_fullbody_model(), load_landmarks()
    rng = np.random.default_rng(0)
    q = _random_pose(rng, 3)
    s = torch.as_tensor(rng.uniform(0.8, 1.2, (3, 22, 3)))
    pos, jq, js = point_jacobians(fk, fk(q, s, with_frames=True), lm.body_index, lm.local_points, s)

    def f(qq, ss):
        return lm.positions(fk(qq, ss), ss)

    torch.testing.assert_close(pos, f(q, s))
    h = 1e-6
    for c, coord in enumerate(fk.definition.coordinates):
        if coord.motion_type == "coupled":
            assert torch.all(jq[..., c] == 0)  # the driver carries it
            continue
        dq = torch.zeros_like(q)
        dq[:, c] = h
        torch.testing.assert_close(jq[..., c], (f(q + dq, s) - f(q - dq, s)) / (2 * h), atol=1e-7, rtol=1e-6)
    for b in range(22):
        for e in range(3):
            ds = torch.zeros_like(s)
            ds[:, b, e] = h
            torch.testing.assert_close(js[..., 3 * b + e], (f(q, s + ds) - f(q, s - ds)) / (2 * h), atol=1e-7,
                                       rtol=1e-6)
    cols = torch.tensor([4, 40, 65])  # a subset of columns: the same numbers
    _, _, some = point_jacobians(fk, fk(q, s, with_frames=True), lm.body_index, lm.local_points, s, cols)
    torch.testing.assert_close(some, js[..., cols])


@pytest.fixture(scope="module")
def clip():
    t, q = sample_motion(1.0)
    return render_clip(Motion(t, q, load_fullbody_model().coordinate_names), seed=3, max_side=640)


def _evidence(clip) -> ClipEvidence:
    f, s = clip.detections
    return ClipEvidence(np.stack([f.keypoints[..., :2], s.keypoints[..., :2]]),
                        np.stack([f.keypoints[..., 2], s.keypoints[..., 2]]), clip.cameras, 60.0)


#: Coordinates two views of the 33 keypoints pin down (the rest is the prior's job: pelvis tilt,
#: axial rotations, and the coordinates OpenSim locks in this model).
DETERMINED = (*LOWER_LIMB_SAGITTAL, "knee_angle_r", "elbow_flex_r", "elbow_flex_l", "hip_adduction_r",
              "hip_adduction_l", "arm_flex_r", "arm_flex_l", "arm_add_r", "arm_add_l", "lumbar_bending")


@pytest.mark.slow
def test_fit_recovers_a_known_motion_from_exact_keypoints(clip):
    """Start 12° off on every coordinate the keypoints determine and 5 % off in every scale; the
    ambiguous coordinates' prior is right (what a good network gives). The fit lands within 1°."""
    fk = load_fullbody_model()
    names = fk.coordinate_names
    truth = clip.sequence.coords
    rng = np.random.default_rng(5)
    start = truth.copy()
    det = [names.index(n) for n in DETERMINED]
    start[:, det] += np.radians(12.0) * rng.choice([-1, 1], len(det))
    start[:, 3:6] += [0.05, -0.03, 0.04]
    scales = clip.subject.scales * rng.choice([0.95, 1.05], (22, 3))
    prior = NetworkPrior(angles=start[:, ROT], scales=scales)
    result = fit_clip(_evidence(clip), prior, start)
    err = angle_errors_deg(result.coords[:, det], truth[:, det]).mean(0)
    ll = angle_errors_deg(result.coords[:, [names.index(n) for n in LOWER_LIMB_SAGITTAL]],
                          truth[:, [names.index(n) for n in LOWER_LIMB_SAGITTAL]]).mean()
    assert ll <= 1.0, ll
    assert err.max() <= 1.5, dict(zip(DETERMINED, err.round(2), strict=True))
    assert np.nanmedian(result.residual_px) < 1.0
    start_err = angle_errors_deg(start[:, det], truth[:, det]).mean()
    assert start_err > 10 * err.mean()
    assert np.all(np.isfinite(result.sigma[:, det])) and np.all(result.sigma[:, det] > 0)


@pytest.mark.slow
def test_fit_is_deterministic(clip):
    truth = clip.sequence.coords
    prior = NetworkPrior(angles=truth[:, ROT] + 0.1, scales=clip.subject.scales * 1.03)
    a = fit_clip(_evidence(clip), prior, truth + 0.05)
    b = fit_clip(_evidence(clip), prior, truth + 0.05)
    np.testing.assert_array_equal(a.coords, b.coords)
    np.testing.assert_array_equal(a.scales, b.scales)


def test_reprojection_of_the_truth_is_exact(clip):
    res, height = measure_reprojection(_evidence(clip), clip.sequence.coords, clip.subject.scales)
    assert np.nanmax(res) < 1e-3  # keypoints are stored as float32
    assert np.all(height > 100)  # the person spans hundreds of px in a 640-px frame


def test_a_view_without_keypoints_is_refused(clip):
    ev = _evidence(clip)
    ev.confidence[1] = 0.0
    prior = NetworkPrior(angles=clip.sequence.coords[:, ROT], scales=clip.subject.scales)
    with pytest.raises(FitError) as info:
        fit_clip(ev, prior, clip.sequence.coords)
    assert info.value.code == "fit_no_keypoints" and "side" in info.value.message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1.0, 0.0])
def test_non_finite_or_non_positive_scales_are_refused(clip, bad):
    scales = clip.subject.scales.copy()
    scales[3, 1] = bad
    prior = NetworkPrior(angles=clip.sequence.coords[:, ROT], scales=scales)
    with pytest.raises(FitError) as info:
        fit_clip(_evidence(clip), prior, clip.sequence.coords)
    assert info.value.code == "fit_invalid_input"


def test_a_solver_that_returns_nan_ends_with_fit_diverged(clip, monkeypatch):
    def nan_step(lin, damping):
        return np.full_like(lin.g_x, np.nan), np.full_like(lin.g_s, np.nan)

    monkeypatch.setattr(fit_solver, "solve_step", nan_step)
    prior = NetworkPrior(angles=clip.sequence.coords[:, ROT] + 0.2, scales=clip.subject.scales)
    with pytest.raises(FitError) as info:
        fit_clip(_evidence(clip), prior, clip.sequence.coords + 0.1)
    assert info.value.code == "fit_diverged"


@pytest.mark.slow
def test_a_tight_symmetry_setting_ties_left_and_right_scales(clip):
    """``symmetry_sigma`` reaches the solver: with a tight tie (``FitSettings.with_overrides``) the
    fitted femurs and tibias come out equally long although the prior says 14 % apart."""
    fk = load_fullbody_model()
    truth = clip.sequence.coords
    scales = clip.subject.scales.copy()
    pairs = [(fk.body_names.index(f"{b}_r"), fk.body_names.index(f"{b}_l")) for b in ("femur", "tibia")]
    for r, l_ in pairs:
        scales[r] *= 1.07
        scales[l_] /= 1.07
    prior = NetworkPrior(angles=truth[:, ROT], scales=scales)
    loose = fit_clip(_evidence(clip), prior, truth, FitSettings())
    tied = fit_clip(_evidence(clip), prior, truth, FitSettings().with_overrides(["symmetry_sigma=0.0002"]))
    for r, l_ in pairs:  # long axis (y)
        assert abs(np.log(tied.scales[r, 1] / tied.scales[l_, 1])) < 0.002, tied.scales[[r, l_]]
        assert abs(np.log(tied.scales[r, 1] / tied.scales[l_, 1])) < abs(np.log(loose.scales[r, 1]
                                                                                / loose.scales[l_, 1]))


@pytest.mark.parametrize("bad, message", [(["sigma=1"], "NAME=VALUE"), (["scale_bounds=1"], "NAME=VALUE"),
                                          (["symmetry_sigma=x"], "a number"), (["max_iterations=2.5"], "an integer"),
                                          (["height_sigma=0"], "positive"), (["keypoint_sigma=nan"], "positive"),
                                          (["anatomical_prior=maybe"], "true or false")])
def test_bad_fit_setting_overrides_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        FitSettings().with_overrides(bad)
    assert FitSettings().with_overrides(["symmetry_sigma=0.01", "max_iterations=5"]) == FitSettings(
        symmetry_sigma=0.01, max_iterations=5)
    assert FitSettings().with_overrides(["anatomical_prior=False"]) == FitSettings(anatomical_prior=False)


def test_the_linearised_gradient_is_the_objectives(clip):
    """The normal equations' gradient (keypoints, priors — the pelvis's in its own frame and the anatomical
    tilt prior included —, smoothness, ranges, scales) is the gradient of the objective itself."""
    truth = clip.sequence.coords
    rng = np.random.default_rng(7)
    prior = NetworkPrior(angles=truth[:, ROT] + rng.normal(0, 0.1, truth[:, ROT].shape),
                         scales=clip.subject.scales * 1.02, height_m=1.7)
    q0 = torch.as_tensor(truth + rng.normal(0, 0.05, truth.shape))
    obj = ClipObjective(_evidence(clip), prior, q0, FitSettings(anatomical_prior=True))
    assert obj.anatomical is not None
    fk = obj.fk
    free = torch.tensor([c.motion_type != "coupled" and not c.locked for c in fk.definition.coordinates])
    log_s = obj.log_s_net + 0.01
    lin = linearize(obj, q0, log_s, free)
    q = q0.clone().requires_grad_(True)
    ls = log_s.clone().requires_grad_(True)
    total = sum(obj.terms(q, ls).values()) * q.shape[0]
    g_q, g_s = torch.autograd.grad(total, (q, ls))
    np.testing.assert_allclose(lin.g_x, g_q[:, free].numpy(), rtol=1e-6, atol=1e-6 * float(g_q.abs().max()))
    np.testing.assert_allclose(lin.g_s, g_s.flatten()[obj.scale_index].numpy(), rtol=1e-6,
                               atol=1e-6 * float(g_s.abs().max()))


def test_the_pelvis_prior_means_the_same_whatever_way_the_person_faces(clip):
    """The same pelvis error relative to the network (10° of anatomical tilt) costs the same at any heading;
    on the coordinates it would read as a tilt facing +X and mostly a list facing +Z."""
    truth = clip.sequence.coords
    off = truth.copy()
    off[:, 0] += np.radians(10.0)
    costs = []
    for heading in (0.0, np.pi / 2, 2.0):
        q, net = (torch.as_tensor(rotate_heading(x, heading)) for x in (off, truth))
        obj = ClipObjective(_evidence(clip), NetworkPrior(net[:, ROT].numpy(), clip.subject.scales), q,
                            FitSettings(anatomical_prior=False))
        costs.append(obj.posture_residuals(q).numpy())
    for c in costs[1:]:
        np.testing.assert_allclose(c, costs[0], atol=1e-9)
    assert np.allclose(np.abs(costs[0][:, 2]), 10.0 / np.degrees(FitSettings().prior_sigma("pelvis_tilt")))


@pytest.mark.slow
def test_the_anatomical_prior_moves_a_known_lean_split_the_right_way(clip):
    """A network that puts 10° too much of the trunk's lean into the pelvis (and 10° too little into the
    lumbar spine) on a motion whose split is the one marker-based capture gives for its lean. Keypoints
    with a detector's noise (8 px) say little about the split: without the anatomical prior the network's
    split mostly stands; with it the fitted pelvis tilt, lumbar extension and hip flexion come out closer
    to the truth. With exact keypoints, which show the split a little, it still helps."""
    posture, prior_model = default_posture(), load_anatomical_prior()
    names = load_fullbody_model().coordinate_names
    truth = clip.sequence.coords.copy()
    lean = posture.trunk_lean(torch.as_tensor(truth)).numpy()
    q = torch.as_tensor(truth)
    # set the truth's pelvis tilt to the prior's for its lean (list and rotation kept), the trunk unchanged
    for _ in range(5):
        delta = prior_model.intercept_rad + prior_model.trunk_lean_slope * lean - posture.pelvis_tilt(q).numpy()
        truth[:, 0] += delta
        truth[:, names.index("lumbar_extension")] -= delta
        for side in "rl":
            truth[:, names.index(f"hip_flexion_{side}")] -= delta
        q = torch.as_tensor(truth)
    shifted = render_clip(Motion(sample_motion(1.0)[0], truth, names), seed=3, max_side=640)
    net = truth.copy()
    net[:, 0] += np.radians(10.0)
    net[:, names.index("lumbar_extension")] -= np.radians(10.0)
    prior = NetworkPrior(angles=net[:, ROT], scales=shifted.subject.scales)
    watched = [names.index(n) for n in ("pelvis_tilt", "lumbar_extension", "hip_flexion_r", "hip_flexion_l")]
    exact = _evidence(shifted)
    noisy = ClipEvidence(exact.keypoints + np.random.default_rng(0).normal(0.0, 8.0, exact.keypoints.shape),
                         exact.confidence, exact.cameras, exact.fps)
    for evidence, factor in ((noisy, 0.75), (exact, 1.0)):
        errors = {on: angle_errors_deg(fit_clip(evidence, prior, net, FitSettings(anatomical_prior=on)).coords[
            :, watched], truth[:, watched]).mean(0) for on in (False, True)}
        assert np.all(errors[True] < factor * errors[False]), errors
    assert errors[False][0] > 0.5  # even exact keypoints leave some of the network's split standing
