"""Typed, read-only view of the project's kinematic model definition (JSON, OpenSim units).

The JSON is produced by ``scripts/export_model_definition.py`` from the Rajagopal 2016 .osim with
the OpenSim API. Units: metres, kilograms, radians; frame ``orientation`` is OpenSim's body-fixed
X-Y-Z Euler angles (radians).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

DEFAULT_MODEL = "rajagopal2016"


@dataclass(frozen=True)
class FunctionDef:
    """An OpenSim function of one coordinate: Constant, LinearFunction or SimmSpline."""

    type: Literal["Constant", "LinearFunction", "SimmSpline", "MultiplierFunction"]
    value: float = 0.0
    slope: float = 1.0
    intercept: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    scale: float = 1.0
    inner: FunctionDef | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FunctionDef:
        inner = cls.from_json(d["function"]) if d["type"] == "MultiplierFunction" else None
        return cls(
            type=d["type"],
            value=d.get("value", 0.0),
            slope=d.get("slope", 1.0),
            intercept=d.get("intercept", 0.0),
            x=tuple(d.get("x", ())),
            y=tuple(d.get("y", ())),
            scale=d.get("scale", 1.0),
            inner=inner,
        )


@dataclass(frozen=True)
class FrameDef:
    """A joint frame fixed on ``body``: ``translation`` (m) and body-fixed XYZ ``orientation`` (rad)."""

    name: str
    body: str
    translation: tuple[float, float, float]
    orientation: tuple[float, float, float]


@dataclass(frozen=True)
class TransformAxisDef:
    kind: Literal["rotation", "translation"]
    axis: tuple[float, float, float]
    coordinates: tuple[str, ...]
    function: FunctionDef | None


@dataclass(frozen=True)
class JointDef:
    name: str
    type: Literal["CustomJoint", "PinJoint", "UniversalJoint", "WeldJoint"]
    parent_frame: FrameDef
    child_frame: FrameDef
    coordinates: tuple[str, ...]
    spatial_transform: tuple[TransformAxisDef, ...] = ()

    @property
    def parent(self) -> str:
        return self.parent_frame.body

    @property
    def child(self) -> str:
        return self.child_frame.body


@dataclass(frozen=True)
class BodyDef:
    name: str
    mass: float  # kg
    mass_center: tuple[float, float, float]  # m, body frame
    inertia: tuple[float, ...]  # [Ixx, Iyy, Izz, Ixy, Ixz, Iyz] kg m², about the mass centre


@dataclass(frozen=True)
class CoordinateDef:
    name: str
    joint: str
    motion_type: Literal["rotational", "translational", "coupled"]
    range: tuple[float, float]  # rad or m
    default: float
    locked: bool
    clamped: bool


@dataclass(frozen=True)
class CouplerDef:
    """``dependent = function(independent[0])``, as OpenSim's CoordinateCouplerConstraint."""

    name: str
    independent: tuple[str, ...]
    dependent: str
    function: FunctionDef


@dataclass(frozen=True)
class MarkerDef:
    name: str
    body: str
    location: tuple[float, float, float]  # m, unscaled body frame


@dataclass(frozen=True)
class ModelDefinition:
    name: str
    gravity: tuple[float, float, float]
    bodies: tuple[BodyDef, ...]
    joints: tuple[JointDef, ...]
    coordinates: tuple[CoordinateDef, ...]
    couplers: tuple[CouplerDef, ...]
    markers: tuple[MarkerDef, ...]

    @property
    def body_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bodies)

    @property
    def coordinate_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.coordinates)

    def body_index(self, name: str) -> int:
        return self.body_names.index(name)


def _frame(d: dict[str, Any]) -> FrameDef:
    return FrameDef(d["name"], d["body"], tuple(d["translation"]), tuple(d["orientation"]))  # type: ignore[arg-type]


def _joint(d: dict[str, Any]) -> JointDef:
    axes = tuple(
        TransformAxisDef(
            a["kind"],
            tuple(a["axis"]),  # type: ignore[arg-type]
            tuple(a["coordinates"]),
            FunctionDef.from_json(a["function"]) if a["function"] else None,
        )
        for a in d.get("spatial_transform", ())
    )
    return JointDef(
        d["name"], d["type"], _frame(d["parent_frame"]), _frame(d["child_frame"]),
        tuple(d["coordinates"]), axes,
    )


def parse_definition(data: dict[str, Any]) -> ModelDefinition:
    """Build a :class:`ModelDefinition` from the JSON document; validates the tree ordering."""
    md = ModelDefinition(
        name=data["name"],
        gravity=tuple(data["gravity"]),  # type: ignore[arg-type]
        bodies=tuple(
            BodyDef(b["name"], b["mass"], tuple(b["mass_center"]), tuple(b["inertia"]))  # type: ignore[arg-type]
            for b in data["bodies"]
        ),
        joints=tuple(_joint(j) for j in data["joints"]),
        coordinates=tuple(
            CoordinateDef(
                c["name"], c["joint"], c["motion_type"], tuple(c["range"]),  # type: ignore[arg-type]
                c["default"], c["locked"], c["clamped"],
            )
            for c in data["coordinates"]
        ),
        couplers=tuple(
            CouplerDef(c["name"], tuple(c["independent"]), c["dependent"], FunctionDef.from_json(c["function"]))
            for c in data["constraints"]
        ),
        markers=tuple(MarkerDef(m["name"], m["body"], tuple(m["location"])) for m in data["markers"]),  # type: ignore[arg-type]
    )
    seen = {"ground"}
    for j in md.joints:
        if j.parent not in seen:
            raise ValueError(f"joint {j.name}: parent {j.parent} appears after its child in the definition")
        seen.add(j.child)
    if sorted(j.child for j in md.joints) != sorted(md.body_names):
        raise ValueError("every body must be the child of exactly one joint")
    return md


def definition_path(name: str = DEFAULT_MODEL) -> Path:
    return Path(str(resources.files("model_store") / "data" / f"{name}.json"))


@cache
def load_definition(name: str = DEFAULT_MODEL) -> ModelDefinition:
    """Load a bundled model definition by name (``model_store/data/<name>.json``)."""
    path = definition_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no model definition named {name!r} (looked for {path})")
    return parse_definition(json.loads(path.read_text()))
