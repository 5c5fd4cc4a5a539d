"""The OpenSim full-body model core: definition, differentiable FK, and OpenSim file I/O.

``load_fullbody_model()`` returns the Rajagopal 2016 model as a torch module (see
:class:`~model_store.biomech.fk.ForwardKinematics` for units and frames). File writers:
``write_mot`` (degrees by default), ``write_trc`` (millimetres), ``write_scaled_osim`` (needs
the ``opensim`` package, imported lazily).

The names below are loaded on first use (PEP 562), so importing :mod:`model_store.biomech.definition`
(plain JSON and dataclasses: the API's ``GET /model``) does not load torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_store.biomech.definition import ModelDefinition, load_definition
    from model_store.biomech.fk import FKOutput, ForwardKinematics
    from model_store.biomech.motion_files import (
        Motion,
        MotionFileError,
        read_mot,
        resample_motion,
        write_mot,
        write_trc,
    )
    from model_store.biomech.osim_writer import build_scaled_model, write_scaled_osim

#: Each public name → the submodule that defines it.
_HOMES = {
    "ModelDefinition": "definition", "load_definition": "definition",
    "FKOutput": "fk", "ForwardKinematics": "fk",
    "Motion": "motion_files", "MotionFileError": "motion_files", "read_mot": "motion_files",
    "resample_motion": "motion_files", "write_mot": "motion_files", "write_trc": "motion_files",
    "build_scaled_model": "osim_writer", "write_scaled_osim": "osim_writer",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'model_store.biomech' has no attribute {name!r}")
    value = getattr(import_module(f"model_store.biomech.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def load_fullbody_model(name: str = "rajagopal2016") -> ForwardKinematics:
    """The bundled full-body model (22 bodies, 39 coordinates) as a batched FK module."""
    from model_store.biomech.definition import load_definition
    from model_store.biomech.fk import ForwardKinematics

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
