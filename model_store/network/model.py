"""The two-view spatio-temporal kinematics network (Lin et al. 2024, with mask+keypoint inputs).

Per view, a stacked hourglass encodes the person's silhouette mask plus 33 keypoint heatmaps
(optionally RGB). Query points on a candidate grid around the subject are kept where they project
inside both masks (the visual hull), the ``n_points`` most interior ones are taken, centred, and
given the features sampled at their projections in both views. A per-point MLP and a set pooling
give one latent per frame, optionally joined by the two views' triangulated keypoints. A residual
transformer over the window refines the latents (its output projection starts at zero, so stage 2
starts where the spatial stage ended). Heads give sin/cos of the 36 rotational coordinates per frame
and 22×3 scales, pooled over the window into one set.

Inputs: one :class:`~model_store.network.inputs.NetworkInputs` (shapes and units there).
Outputs: ``sincos`` [B, T, 36, 2] (sin, cos) in model coordinate order (pelvis translations
excluded), ``scales`` [B, 22, 3], ``frame_scales`` [B, T, 22, 3].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from model_store.network.config import NetworkConfig
from model_store.network.geometry import crop_to_full, crop_to_grid, full_to_crop, project_full, triangulate
from model_store.network.hourglass import StackedHourglass
from model_store.network.inputs import NetworkInputs
from model_store.network.temporal import TemporalStack
from model_store.sizes import N_BODIES, N_ROTATIONAL

SCALE_SPAN = 0.35  # predicted scales lie in 1 ± SCALE_SPAN


@dataclass
class NetworkOutputs:
    sincos: torch.Tensor  # [B, T, 36, 2]
    scales: torch.Tensor  # [B, 22, 3]
    frame_scales: torch.Tensor  # [B, T, 22, 3]

    @property
    def angles(self) -> torch.Tensor:
        """Rotational coordinates in radians [B, T, 36], the pelvis triple in canonical form
        (see :func:`canonical_pelvis`)."""
        return canonical_pelvis(torch.atan2(self.sincos[..., 0], self.sincos[..., 1]))


def _wrap(x: torch.Tensor) -> torch.Tensor:
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def canonical_pelvis(angles: torch.Tensor) -> torch.Tensor:
    """Angles [..., 36] (rad, first three = pelvis tilt, list, rotation: OpenSim's Z-X-Y body-fixed
    sequence) with the pelvis triple chosen so that |list| ≤ π/2.

    (tilt, list, rotation) and (tilt + π, π − list, rotation + π) are the same pelvis orientation
    (Rz(π) Rx(π − b) Ry(π) = Rx(b)); a network can land on either, but only the first is a posture
    OpenSim users read naturally (tilt ±180° is a flipped pelvis). FK is unchanged by the choice."""
    tilt, lst, rot = angles[..., 0], angles[..., 1], angles[..., 2]
    flip = lst.abs() > math.pi / 2
    pelvis = torch.stack([torch.where(flip, _wrap(tilt + math.pi), tilt),
                          torch.where(flip, _wrap(math.pi - lst), lst),
                          torch.where(flip, _wrap(rot + math.pi), rot)], -1)
    return torch.cat([pelvis, angles[..., 3:]], -1)


#: Heatmap values below this are set to exactly zero. A Gaussian's far tail underflows into float32
#: subnormals (below 1.2e-38), and x86 arithmetic on subnormals is many times slower: with them the
#: first convolution took 6× longer (bench/bench_network.py). Values this small change no output.
HEATMAP_FLOOR = 1e-12


def render_heatmaps(keypoints: torch.Tensor, size: int, crop_size: int, sigma: float) -> torch.Tensor:
    """Gaussian heatmaps [N, 33, S, S] from keypoints [N, 33, 3] given in crop px (× visibility).

    Values under :data:`HEATMAP_FLOOR` are exactly 0 (no subnormal floats reach the encoder)."""
    xy = (keypoints[..., :2] + 0.5) * (size / crop_size) - 0.5
    grid = torch.arange(size, dtype=keypoints.dtype, device=keypoints.device)
    gx = torch.exp(-((grid[None, None, :] - xy[..., 0:1]) ** 2) / (2 * sigma**2))  # [N, 33, S]
    gy = torch.exp(-((grid[None, None, :] - xy[..., 1:2]) ** 2) / (2 * sigma**2))
    heat = gy[..., :, None] * gx[..., None, :] * keypoints[..., 2, None, None]
    return heat * (heat > HEATMAP_FLOOR).to(heat.dtype)


class KinematicsNet(nn.Module):
    hull_grid: torch.Tensor  # [M, 3] buffer: candidate hull points around the centre (m)
    tie_break: torch.Tensor  # [M] buffer: fixed jitter that makes top-k selection deterministic

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        c = config.hourglass_channels
        self.encoder = StackedHourglass(config.in_channels, c, config.hourglass_stacks, config.hourglass_depth)
        gx, gy, gz = config.hull_grid
        axes = [torch.linspace(-0.5, 0.5, n) * s for n, s in zip((gx, gy, gz), config.hull_box_m, strict=True)]
        grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("hull_grid", grid)
        self.register_buffer("tie_break", torch.rand(grid.shape[0], generator=gen) * 1e-3)
        layers: list[nn.Module] = []
        #: channels of each sampled hull point (:meth:`frame_features`): offset (3), both views' features, masks (2)
        self.point_width = 3 + 2 * c + 2
        width = self.point_width
        for h in config.point_mlp:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.point_mlp = nn.Sequential(*layers)
        frame_in = 2 * width + (config.n_landmarks * 4 if config.use_triangulated_keypoints else 0)
        d = config.latent
        self.frame_mlp = nn.Sequential(nn.Linear(frame_in, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        self.pos = nn.Parameter(torch.zeros(1, config.window, d))
        self.temporal = TemporalStack(d, config.temporal_heads, config.temporal_layers)
        self.temporal_out = nn.Linear(d, d)
        nn.init.zeros_(self.temporal_out.weight)
        nn.init.zeros_(self.temporal_out.bias)
        self.angle_head = nn.Linear(d, N_ROTATIONAL * 2)
        self.scale_head = nn.Linear(d, N_BODIES * 3)
        nn.init.zeros_(self.scale_head.weight)
        nn.init.zeros_(self.scale_head.bias)
        self.use_temporal = True
        #: bf16 mixed precision for the image encoder only (training on a GPU); the geometry
        #: (triangulation, projection, hull sampling) and the heads always run in float32.
        self.encoder_autocast = False

    def encode_frames(self, inputs: NetworkInputs) -> torch.Tensor:
        """Per-frame latents [B, T, latent] (the spatial model)."""
        return self.frame_latents(*self.frame_features(inputs))

    def frame_features(self, inputs: NetworkInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """What the image encoder and the geometry make of each frame, before anything learned per frame
        but the encoder: the sampled hull points ``[B, T, P, 3 + 2C + 2]`` (position relative to the
        centre in m, the two views' encoder features, the two views' mask values) and the pooled extras
        ``[B, T, E]`` (triangulated keypoints relative to the centre, m, times their confidence, and the
        confidences; E = 0 without ``use_triangulated_keypoints``)."""
        masks, keypoints, crops, k, r, t, rgb = (inputs.masks, inputs.keypoints, inputs.crops, inputs.k,
                                                 inputs.r, inputs.t, inputs.rgb)
        cfg = self.config
        b, tt, v, s, _ = masks.shape
        n = b * tt
        kp = keypoints.reshape(n * v, cfg.n_landmarks, 3)
        heat = render_heatmaps(kp, s, cfg.crop_size, cfg.heatmap_sigma_px)
        img = [masks.reshape(n * v, 1, s, s), heat]
        if cfg.use_rgb:
            if rgb is None:
                raise ValueError("this network was configured with RGB inputs; pass rgb")
            img.append(rgb.reshape(n * v, 3, s, s))
        with torch.autocast(masks.device.type, dtype=torch.bfloat16, enabled=self.encoder_autocast):
            feats = self.encoder(torch.cat(img, 1))[-1]  # [N*V, C, S/2, S/2]
        feats = feats.float()
        # cameras per frame
        kf = k[:, None].expand(b, tt, v, 3, 3).reshape(n, v, 3, 3)
        rf = r[:, None].expand(b, tt, v, 3, 3).reshape(n, v, 3, 3)
        tf = t[:, None].expand(b, tt, v, 3).reshape(n, v, 3)
        cr = crops.reshape(n, v, 3)
        kpn = keypoints.reshape(n, v, cfg.n_landmarks, 3)
        full = crop_to_full(kpn[..., :2], cr)
        vis = kpn[..., 2]
        tri = triangulate(full, vis, kf, rf, tf)  # [N, 33, 3]
        conf = vis.min(1).values  # seen in both views
        centre = (tri * conf[..., None]).sum(1) / (conf.sum(1, keepdim=True) + 1e-6)
        cand = centre[:, None, :] + self.hull_grid[None]  # [N, M, 3]
        proj = full_to_crop(project_full(cand[:, None], kf, rf, tf), cr)  # [N, V, M, 2]
        grid = crop_to_grid(proj, cfg.crop_size)
        mask_vals = F.grid_sample(masks.reshape(n * v, 1, s, s), grid.reshape(n * v, 1, -1, 2), align_corners=False)
        inside = mask_vals.reshape(n, v, -1).prod(1)  # [N, M]
        idx = torch.topk(inside + self.tie_break, cfg.n_points, dim=1).indices  # [N, P]
        pts = torch.gather(cand, 1, idx[..., None].expand(-1, -1, 3))
        sel_grid = torch.gather(grid, 2, idx[:, None, :, None].expand(-1, v, -1, 2))  # [N, V, P, 2]
        sampled = F.grid_sample(feats, sel_grid.reshape(n * v, 1, -1, 2), align_corners=False)
        sampled = sampled.reshape(n, v, -1, cfg.n_points).permute(0, 3, 1, 2).reshape(n, cfg.n_points, -1)
        sel_mask = torch.gather(mask_vals.reshape(n, v, -1), 2, idx[:, None, :].expand(-1, v, -1)).transpose(1, 2)
        point_in = torch.cat([pts - centre[:, None], sampled, sel_mask], -1)
        extras = [point_in.new_zeros(n, 0)]
        if cfg.use_triangulated_keypoints:
            rel = (tri - centre[:, None]) * conf[..., None]
            extras += [rel.reshape(n, -1), conf]
        return point_in.reshape(b, tt, cfg.n_points, -1), torch.cat(extras, -1).reshape(b, tt, -1)

    def frame_latents(self, points: torch.Tensor, extras: torch.Tensor) -> torch.Tensor:
        """Per-frame latents [B, T, latent] from :meth:`frame_features` (the point and frame MLPs)."""
        b, tt = points.shape[:2]
        h = self.point_mlp(points.reshape(b * tt, *points.shape[2:]))
        z = self.frame_mlp(torch.cat([h.max(1).values, h.mean(1), extras.reshape(b * tt, -1)], -1))
        return z.reshape(b, tt, -1)

    def heads(self, z: torch.Tensor) -> NetworkOutputs:
        b, tt, _ = z.shape
        sc = self.angle_head(z).reshape(b, tt, N_ROTATIONAL, 2)
        sc = sc / (sc.norm(dim=-1, keepdim=True) + 1e-6)
        frame_scales = 1.0 + SCALE_SPAN * torch.tanh(self.scale_head(z)).reshape(b, tt, N_BODIES, 3)
        return NetworkOutputs(sincos=sc, scales=frame_scales.mean(1), frame_scales=frame_scales)

    def refine(self, z: torch.Tensor) -> torch.Tensor:
        """Temporal refinement of per-frame latents [B, T, d] (T ≤ window)."""
        tt = z.shape[1]
        return z + self.temporal_out(self.temporal(z + self.pos[:, :tt]))

    def forward(self, inputs: NetworkInputs) -> NetworkOutputs:
        z = self.encode_frames(inputs)
        if self.use_temporal:
            z = self.refine(z)
        return self.heads(z)


def prepare_masks(masks: torch.Tensor, input_size: int) -> torch.Tensor:
    """Resize crop masks [..., H, W] (uint8 0–255 or float 0–1) to [..., S, S] float in [0, 1]."""
    m = masks.float()
    if masks.dtype == torch.uint8:
        m = m / 255.0
    lead = m.shape[:-2]
    m = m.reshape(-1, 1, *m.shape[-2:])
    if m.shape[-1] != input_size:
        m = F.interpolate(m, size=(input_size, input_size), mode="area")
    return m.reshape(*lead, input_size, input_size)
