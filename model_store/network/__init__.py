"""The two-view kinematics network: configs, architecture, checkpoints, inference runtimes."""

from model_store.network.checkpoint import (
    CheckpointError,
    CheckpointNotFound,
    CheckpointRecord,
    find_checkpoint,
    load_network,
    save_checkpoint,
)
from model_store.network.config import CONFIGS, NetworkConfig, get_config
from model_store.network.inputs import NetworkInputs
from model_store.network.model import KinematicsNet, NetworkOutputs, prepare_masks
from model_store.network.outputs import ROTATIONAL_COORDINATES, rotational_indices

__all__ = [
    "CONFIGS",
    "ROTATIONAL_COORDINATES",
    "CheckpointError",
    "CheckpointNotFound",
    "CheckpointRecord",
    "KinematicsNet",
    "NetworkConfig",
    "NetworkInputs",
    "NetworkOutputs",
    "find_checkpoint",
    "get_config",
    "load_network",
    "prepare_masks",
    "rotational_indices",
    "save_checkpoint",
]
