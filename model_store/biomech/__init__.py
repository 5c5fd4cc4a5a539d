"""The OpenSim full-body model core: definition, differentiable FK, and OpenSim file I/O.

``load_fullbody_model()`` returns the Rajagopal 2016 model as a torch module (see
:class:`~model_store.biomech.fk.ForwardKinematics` for units and frames). File writers:
``write_mot`` (degrees by default), ``write_trc`` (millimetres), ``write_scaled_osim`` (needs
the ``opensim`` package, imported lazily).
"""

from __future__ import annotations

from model_store.biomech.definition import ModelDefinition, load_definition
from model_store.biomech.fk import FKOutput, ForwardKinematics
from model_store.biomech.motion_files import Motion, MotionFileError, read_mot, resample_motion, write_mot, write_trc
from model_store.biomech.osim_writer import build_scaled_model, write_scaled_osim


def load_fullbody_model(name: str = "rajagopal2016") -> ForwardKinematics:
    """The bundled full-body model (22 bodies, 39 coordinates) as a batched FK module."""
    return ForwardKinematics(load_definition(name))


__all__ = [
    "FKOutput",
    "ForwardKinematics",
    "ModelDefinition",
    "Motion",
    "MotionFileError",
    "build_scaled_model",
    "load_definition",
    "load_fullbody_model",
    "read_mot",
    "resample_motion",
    "write_mot",
    "write_scaled_osim",
    "write_trc",
]
