"""The BVH parser's forward kinematics against hand-computed joint positions."""

import numpy as np
import pytest

from training.motion_library.bvh import BVHError, bvh_to_opensim, parse_bvh

TINY = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Knee
  {
    OFFSET 0 -2 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 -3 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0083333
1 10 2 0 0 0 0 0 0
0 10 0 90 0 0 0 0 0
0 10 0 0 0 0 0 0 90
"""


def test_parse_hierarchy_and_channels():
    bvh = parse_bvh(TINY)
    assert bvh.names == ["Hips", "Knee", "Knee_End"]
    assert bvh.n_frames == 3
    assert bvh.fps == pytest.approx(120.0, rel=1e-3)
    assert bvh.joints[1].channel_start == 6
    assert bvh.joints[2].is_end and bvh.joints[2].parent == 1


def test_forward_kinematics_matches_hand_computation():
    pos = parse_bvh(TINY).positions()
    # frame 0: translation only
    np.testing.assert_allclose(pos[0], [[1, 10, 2], [1, 8, 2], [1, 5, 2]], atol=1e-9)
    # frame 1: root rotated 90 deg about Z: the -Y bone points to +X
    np.testing.assert_allclose(pos[1], [[0, 10, 0], [2, 10, 0], [5, 10, 0]], atol=1e-9)
    # frame 2: knee rotated 90 deg about X: the shank (-Y) turns to -Z, the thigh stays
    np.testing.assert_allclose(pos[2], [[0, 10, 0], [0, 8, 0], [0, 8, -3]], atol=1e-9)


def test_y_rotation_is_right_handed():
    text = TINY.replace("0 10 0 0 0 0 0 0 90", "0 10 0 0 90 0 0 0 90")
    pos = parse_bvh(text).positions()
    # root yaw +90 deg about Y maps the knee's -Z shank direction to -X
    np.testing.assert_allclose(pos[2], [[0, 10, 0], [0, 8, 0], [-3, 8, 0]], atol=1e-9)


def test_rest_pose_and_opensim_mapping():
    bvh = parse_bvh(TINY)
    rest = bvh.positions(rest=True)[0]
    np.testing.assert_allclose(rest, [[0, 0, 0], [0, -2, 0], [0, -5, 0]], atol=1e-12)
    # BVH (x left, y up, z forward) -> OpenSim (x forward, y up, z right), in metres
    np.testing.assert_allclose(bvh_to_opensim(np.array([1.0, 2.0, 3.0]), 0.5), [1.5, 1.0, -0.5])


def test_truncated_motion_keeps_complete_frames_and_rejects_garbage():
    bvh = parse_bvh(TINY.rsplit("\n", 2)[0] + "\n0 10 0")
    assert bvh.n_frames == 2
    with pytest.raises(BVHError):
        parse_bvh("NOT A BVH")
