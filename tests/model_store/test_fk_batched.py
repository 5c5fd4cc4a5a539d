"""FK evaluates all joints' axis functions at once, with its constants cached per dtype and device:
results must not depend on the dtype asked for before, nor on the other poses in the batch."""

from __future__ import annotations

import torch

from model_store.biomech import load_fullbody_model


def _poses(fk, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lo, hi = fk.coordinate_ranges.unbind(1)
    q = lo + (hi - lo) * torch.rand(n, lo.numel(), generator=g, dtype=torch.float64)
    s = 0.8 + 0.4 * torch.rand(n, len(fk.body_names), 3, generator=g, dtype=torch.float64)
    return q, s


def test_dtypes_and_batches_agree():
    fk = load_fullbody_model()
    q, s = _poses(fk, 16, 7)
    first = fk(q, s)
    single = fk(q.float(), s.float())  # float32 tables made after the float64 ones
    again = fk(q, s)
    assert torch.equal(first.body_origins, again.body_origins)
    assert torch.equal(first.body_rotations, again.body_rotations)
    assert single.body_origins.dtype == torch.float32
    assert (single.body_origins.double() - first.body_origins).abs().max() < 2e-5  # m
    assert (single.body_rotations.double() - first.body_rotations).abs().max() < 2e-5
    eye = torch.eye(3, dtype=torch.float64)
    assert (first.body_rotations.transpose(-1, -2) @ first.body_rotations - eye).abs().max() < 1e-12
    for i in (0, 5, 15):  # one pose alone gives what it gave inside the batch
        alone = fk(q[i:i + 1], s[i:i + 1], with_frames=True)
        assert (alone.body_origins[0] - first.body_origins[i]).abs().max() < 1e-12
        assert (alone.joint_centers[0] - first.joint_centers[i]).abs().max() < 1e-12


def test_frames_match_plain_forward():
    fk = load_fullbody_model()
    q, s = _poses(fk, 8, 11)
    plain, framed = fk(q, s), fk(q, s, with_frames=True)
    assert framed.frames is not None and len(framed.frames) == len(fk.body_names)
    assert torch.equal(plain.body_origins, framed.body_origins)
    for fr in framed.frames:  # each rotation axis in ground is a unit vector; o_gm is the child's joint centre
        for _, axis, _ in fr.rotations:
            assert (axis.norm(dim=-1) - 1).abs().max() < 1e-12
        assert torch.equal(fr.o_gm, framed.joint_centers[:, fr.child])
