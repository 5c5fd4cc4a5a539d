"""Checkpoint records: safetensors weights + a JSON manifest, sha256-checked on load.

A checkpoint named ``NAME`` is two files side by side: ``NAME.safetensors`` (tensors only — no
pickled objects) and ``NAME.json`` (the manifest: network config, data recipe and seeds, training
steps, wall time, hardware, sha256 of the weights file, evaluation metrics). The bundled checkpoint
lives in ``model_store/checkpoints/``; callers pass another path to use another one (the service
reads it from ``KINEMATICS_CHECKPOINT`` through ``worker.settings.Settings``; nothing here reads the
environment).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from model_store.conventions import MODEL_RATE_HZ
from model_store.network.config import NetworkConfig
from model_store.network.model import KinematicsNet

DEFAULT_CHECKPOINT = "default"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt or does not match its manifest."""


class CheckpointNotFound(CheckpointError):
    pass


@dataclass
class CheckpointRecord:
    """What a manifest says about a weights file."""

    weights: Path
    config: NetworkConfig
    sha256: str
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.manifest.get("metrics", {})


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def bundled_dir() -> Path:
    return Path(str(resources.files("model_store") / "checkpoints"))


def save_checkpoint(net: KinematicsNet, path: str | Path, manifest: dict[str, Any]) -> CheckpointRecord:
    """Write ``path`` (.safetensors) and its manifest (.json). Returns the record."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path), metadata={"config": net.config.name})
    digest = sha256_file(path)
    full = {**manifest, "config": net.config.to_dict(), "weights": path.name, "sha256": digest}
    path.with_suffix(".json").write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return CheckpointRecord(path, net.config, digest, full)


def read_record(path: str | Path) -> CheckpointRecord:
    """Read a manifest (``.json``, or the ``.safetensors`` beside it) without loading weights."""
    path = Path(path)
    manifest_path = path.with_suffix(".json")
    if not manifest_path.is_file():
        raise CheckpointNotFound(f"checkpoint manifest not found: {manifest_path}")
    try:
        manifest = json.loads(manifest_path.read_text())
        config = NetworkConfig.from_dict(manifest["config"])
        weights = manifest_path.parent / manifest["weights"]
        digest = manifest["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"malformed checkpoint manifest {manifest_path}: {exc}") from exc
    return CheckpointRecord(weights, config, digest, manifest)


def find_checkpoint(path: str | Path | None = None) -> CheckpointRecord:
    """Locate a checkpoint: ``path`` (a manifest or the weights beside it), else the bundled one."""
    candidate = path or bundled_dir() / f"{DEFAULT_CHECKPOINT}.json"
    try:
        return read_record(candidate)
    except CheckpointNotFound:
        raise CheckpointNotFound(
            f"no trained network checkpoint at {candidate}. Train one with "
            "`python -m training.train --config small` (see docs/training.md), or point "
            "KINEMATICS_CHECKPOINT (the service and CLI) at a checkpoint manifest."
        ) from None


def load_network(
    path: str | Path | None = None,
    device: str | torch.device = "cpu",
    expected_config: str | None = None,
) -> tuple[KinematicsNet, CheckpointRecord]:
    """Build the network from a checkpoint, verifying the weights' sha256 first.

    ``expected_config`` (a config name) is refused if it contradicts the manifest, and so is a network
    trained at another frame rate than the pipeline feeds (:data:`~model_store.conventions.MODEL_RATE_HZ`).
    """
    record = find_checkpoint(path)
    if expected_config is not None and expected_config != record.config.name:
        raise CheckpointError(
            f"checkpoint {record.weights.name} was trained with config {record.config.name!r}, "
            f"not {expected_config!r}"
        )
    if record.config.rate_hz != MODEL_RATE_HZ:
        raise CheckpointError(f"checkpoint {record.weights.name} was trained at {record.config.rate_hz:g} Hz; the "
                              f"pipeline feeds networks {MODEL_RATE_HZ:g} Hz")
    if not record.weights.is_file():
        raise CheckpointNotFound(f"checkpoint weights missing: {record.weights}")
    actual = sha256_file(record.weights)
    if actual != record.sha256:
        raise CheckpointError(
            f"checkpoint {record.weights} is corrupt: sha256 {actual[:12]}… does not match the manifest's "
            f"{record.sha256[:12]}…"
        )
    net = KinematicsNet(record.config)
    net.load_state_dict(load_file(str(record.weights)), strict=True)
    net.eval()
    return net.to(device), record
