"""Network configurations: sizes are data, looked up by name (``paper``, ``small``, ``tiny``).

``paper`` follows the seed's sizes (stacked hourglass 4 × 256 channels, 256² inputs, 500 hull
points, 64-frame window); it is our speed reference and is not trained here. ``small`` trains on a
2-core CPU; ``medium`` is trained on a GPU (recipe ``gpu``); ``tiny`` exists for tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from model_store.conventions import MODEL_RATE_HZ
from model_store.keypoints.crops import CROP_SIZE
from model_store.sizes import N_LANDMARKS


@dataclass(frozen=True)
class NetworkConfig:
    name: str
    input_size: int = 64  # per-view network input (px); crops are 256² and are resized to this
    crop_size: int = CROP_SIZE  # size of the person crop the keypoints' pixel coordinates refer to
    use_rgb: bool = False  # extra RGB channels (needs real training images; off by default)
    heatmap_sigma_px: float = 2.0  # Gaussian keypoint heatmap width at ``input_size`` resolution
    hourglass_stacks: int = 1
    hourglass_channels: int = 32
    hourglass_depth: int = 3
    n_points: int = 128  # visual-hull query points per frame
    hull_grid: tuple[int, int, int] = (10, 16, 10)  # candidate grid (x, y, z) inside the hull box
    hull_box_m: tuple[float, float, float] = (1.4, 2.3, 1.4)  # candidate box size, OpenSim axes
    point_mlp: tuple[int, ...] = (128, 128)
    latent: int = 256
    use_triangulated_keypoints: bool = True
    temporal_layers: int = 2
    temporal_heads: int = 4
    window: int = 64
    n_landmarks: int = N_LANDMARKS
    rate_hz: float = MODEL_RATE_HZ  # the frame rate the network is trained at and must be fed (Hz)

    @property
    def in_channels(self) -> int:
        return 1 + self.n_landmarks + (3 if self.use_rgb else 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkConfig:
        d = dict(d)
        if d.pop("extra", None):  # an unused field older manifests carry, always empty
            raise ValueError("unknown network options under 'extra'")
        for key in ("hull_grid", "hull_box_m", "point_mlp"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


CONFIGS: dict[str, NetworkConfig] = {
    "paper": NetworkConfig(
        name="paper",
        input_size=256,
        heatmap_sigma_px=4.0,
        hourglass_stacks=4,
        hourglass_channels=256,
        hourglass_depth=4,
        n_points=500,
        hull_grid=(16, 26, 16),
        point_mlp=(512, 256),
        latent=512,
        temporal_layers=4,
        temporal_heads=8,
    ),
    "small": NetworkConfig(name="small", window=32),
    # GPU-trained: ~1.5–2.5× the compute of ``small``, still within 10 ms per frame pair on a CPU.
    "medium": NetworkConfig(name="medium", hourglass_channels=48, n_points=160, point_mlp=(192, 192), latent=320,
                            window=32),
    "tiny": NetworkConfig(
        name="tiny",
        input_size=32,
        heatmap_sigma_px=1.5,
        hourglass_channels=8,
        hourglass_depth=2,
        n_points=32,
        hull_grid=(6, 8, 6),
        point_mlp=(32,),
        latent=32,
        temporal_layers=1,
        temporal_heads=2,
        window=8,
    ),
}


def get_config(name: str, **overrides: Any) -> NetworkConfig:
    """A named configuration, optionally with fields overridden."""
    if name not in CONFIGS:
        raise KeyError(f"unknown network config {name!r}; known: {', '.join(sorted(CONFIGS))}")
    return replace(CONFIGS[name], **overrides) if overrides else CONFIGS[name]
