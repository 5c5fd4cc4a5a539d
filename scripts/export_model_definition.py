"""Export the Rajagopal 2016 OpenSim model into the project's own kinematic definition (JSON).

Usage::

    python scripts/export_model_definition.py \
        --osim data/opensim/Rajagopal2016.osim \
        --out model_store/data/rajagopal2016.json

Everything is read through the OpenSim 4.6 API (not by parsing XML), so what we store is what
OpenSim itself uses. Units are OpenSim's: metres, kilograms, radians; frame orientations are
body-fixed X-Y-Z Euler angles in radians (OpenSim's ``orientation`` property convention).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import opensim as osim


def _vec3(v: Any) -> list[float]:
    return [float(v.get(i)) for i in range(3)]


def _function(fn: Any) -> dict[str, Any]:
    """Describe an OpenSim Function (Constant, LinearFunction, SimmSpline) as data."""
    kind = fn.getConcreteClassName()
    if kind == "Constant":
        return {"type": "Constant", "value": float(osim.Constant.safeDownCast(fn).getValue())}
    if kind == "LinearFunction":
        lin = osim.LinearFunction.safeDownCast(fn)
        return {"type": "LinearFunction", "slope": lin.getSlope(), "intercept": lin.getIntercept()}
    if kind == "SimmSpline":
        sp = osim.SimmSpline.safeDownCast(fn)
        n = sp.getSize()
        return {
            "type": "SimmSpline",
            "x": [sp.getX(i) for i in range(n)],
            "y": [sp.getY(i) for i in range(n)],
        }
    if kind == "MultiplierFunction":
        mf = osim.MultiplierFunction.safeDownCast(fn)
        return {"type": "MultiplierFunction", "scale": mf.getScale(), "function": _function(mf.getFunction())}
    raise ValueError(f"unsupported OpenSim function type {kind!r}")


def _frame(frame: Any) -> dict[str, Any]:
    off = osim.PhysicalOffsetFrame.safeDownCast(frame)
    base = frame.findBaseFrame().getName()
    if off is None:
        return {"name": frame.getName(), "body": base, "translation": [0.0] * 3, "orientation": [0.0] * 3}
    return {
        "name": frame.getName(),
        "body": base,
        "translation": _vec3(off.get_translation()),
        "orientation": _vec3(off.get_orientation()),
    }


def _joint(joint: Any) -> dict[str, Any]:
    kind = joint.getConcreteClassName()
    coords = [joint.get_coordinates(i).getName() for i in range(joint.numCoordinates())]
    out: dict[str, Any] = {
        "name": joint.getName(),
        "type": kind,
        "parent_frame": _frame(joint.getParentFrame()),
        "child_frame": _frame(joint.getChildFrame()),
        "coordinates": coords,
    }
    if kind == "CustomJoint":
        st = osim.CustomJoint.safeDownCast(joint).getSpatialTransform()
        axes = []
        for i in range(6):
            ta = st.getTransformAxis(i)
            names = [ta.getCoordinateNamesInArray().get(k) for k in range(ta.getCoordinateNamesInArray().getSize())]
            axes.append(
                {
                    "kind": "rotation" if i < 3 else "translation",
                    "axis": _vec3(ta.getAxis()),
                    "coordinates": names,
                    "function": _function(ta.get_function()) if ta.hasFunction() else None,
                }
            )
        out["spatial_transform"] = axes
    elif kind not in ("PinJoint", "UniversalJoint", "WeldJoint"):
        raise ValueError(f"unsupported joint type {kind!r} for joint {joint.getName()}")
    return out


MOTION_TYPES = {1: "rotational", 2: "translational", 3: "coupled"}


def export(osim_path: Path) -> dict[str, Any]:
    osim.Logger.setLevelString("error")
    model = osim.Model(str(osim_path))
    model.initSystem()
    bodies = []
    for b in model.getBodySet():
        inertia = b.get_inertia()
        bodies.append(
            {
                "name": b.getName(),
                "mass": b.getMass(),
                "mass_center": _vec3(b.getMassCenter()),
                # [Ixx, Iyy, Izz, Ixy, Ixz, Iyz] about the mass centre, body frame, kg m^2
                "inertia": [float(inertia.get(i)) for i in range(6)],
            }
        )
    joints = [_joint(j) for j in model.getJointSet()]
    coordinates = []
    for c in model.getCoordinateSet():
        coordinates.append(
            {
                "name": c.getName(),
                "joint": c.getJoint().getName(),
                "motion_type": MOTION_TYPES[int(c.getMotionType())],
                "range": [c.getRangeMin(), c.getRangeMax()],
                "default": c.getDefaultValue(),
                "locked": bool(c.getDefaultLocked()),
                "clamped": bool(c.getDefaultClamped()),
            }
        )
    constraints = []
    for con in model.getConstraintSet():
        cc = osim.CoordinateCouplerConstraint.safeDownCast(con)
        if cc is None:
            raise ValueError(f"unsupported constraint {con.getConcreteClassName()}")
        indep = cc.getIndependentCoordinateNames()
        constraints.append(
            {
                "name": cc.getName(),
                "type": "CoordinateCouplerConstraint",
                "independent": [indep.get(i) for i in range(indep.getSize())],
                "dependent": cc.getDependentCoordinateName(),
                "function": _function(cc.getFunction()),
                "scale_factor": cc.get_scale_factor() if hasattr(cc, "get_scale_factor") else 1.0,
            }
        )
    markers = [
        {"name": m.getName(), "body": m.getParentFrame().findBaseFrame().getName(), "location": _vec3(m.get_location())}
        for m in model.getMarkerSet()
    ]
    return {
        "name": model.getName(),
        "source": f"{osim_path.name} via OpenSim {osim.__version__} API",
        "units": {"length": "m", "angle": "rad", "mass": "kg", "orientation": "body-fixed XYZ Euler, rad"},
        "gravity": _vec3(model.getGravity()),
        "bodies": bodies,
        "joints": joints,
        "coordinates": coordinates,
        "constraints": constraints,
        "markers": markers,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--osim", type=Path,
                    default=Path(__file__).resolve().parents[1] / "data" / "opensim" / "Rajagopal2016.osim")
    ap.add_argument("--out", type=Path, default=Path("model_store/data/rajagopal2016.json"))
    args = ap.parse_args(argv)
    if not args.osim.is_file():
        print(f"error: model file not found: {args.osim}", file=sys.stderr)
        return 2
    definition = export(args.osim)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(definition, indent=1) + "\n")
    print(
        f"wrote {args.out}: {len(definition['bodies'])} bodies, {len(definition['joints'])} joints, "
        f"{len(definition['coordinates'])} coordinates, {len(definition['markers'])} markers"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
