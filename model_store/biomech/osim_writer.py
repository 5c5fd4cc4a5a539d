"""Build an OpenSim model (.osim) from our definition with the OpenSim API, scaled to a subject.

The generic model is rebuilt body by body from :class:`ModelDefinition` (bodies with inertial
properties, joints with their frames and spatial transforms, coordinates with ranges, coupler
constraints, markers, and simple analytic geometry so the OpenSim viewer shows a figure), then
scaled by OpenSim's own ``Model.scale`` so every scaling rule is OpenSim's.

Masses: with ``mass_kg`` the mass distribution is preserved and the total set to ``mass_kg``;
without it each body's mass scales with the product of its three scale factors (volume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_store.biomech.definition import FunctionDef, JointDef, ModelDefinition, load_definition

GEOMETRY_MIN_RADIUS_M = 0.03


def _opensim() -> Any:
    import opensim

    opensim.Logger.setLevelString("error")
    return opensim


def _function(osim: Any, f: FunctionDef) -> Any:
    if f.type == "Constant":
        return osim.Constant(f.value)
    if f.type == "LinearFunction":
        return osim.LinearFunction(f.slope, f.intercept)
    if f.type == "SimmSpline":
        sp = osim.SimmSpline()
        for x, y in zip(f.x, f.y, strict=True):
            sp.addPoint(x, y)
        return sp
    if f.type == "MultiplierFunction" and f.inner is not None:
        return osim.MultiplierFunction(_function(osim, f.inner), f.scale)
    raise ValueError(f"unsupported function type {f.type}")


def _joint(osim: Any, j: JointDef, frames: dict[str, Any]) -> Any:
    pf, cf = j.parent_frame, j.child_frame
    args = (
        j.name,
        frames[pf.body], osim.Vec3(*pf.translation), osim.Vec3(*pf.orientation),
        frames[cf.body], osim.Vec3(*cf.translation), osim.Vec3(*cf.orientation),
    )
    if j.type == "CustomJoint":
        st = osim.SpatialTransform()
        for i, ax in enumerate(j.spatial_transform):
            ta = st.updTransformAxis(i)
            names = osim.ArrayStr()
            for n in ax.coordinates:
                names.append(n)
            ta.setCoordinateNames(names)
            ta.setAxis(osim.Vec3(*ax.axis))
            if ax.function is not None:
                ta.set_function(_function(osim, ax.function))
        joint = osim.CustomJoint(*args, st)
    elif j.type == "PinJoint":
        joint = osim.PinJoint(*args)
    elif j.type == "UniversalJoint":
        joint = osim.UniversalJoint(*args)
    elif j.type == "WeldJoint":
        joint = osim.WeldJoint(*args)
    else:
        raise ValueError(f"unsupported joint type {j.type}")
    joint.upd_frames(0).setName(pf.name)
    joint.upd_frames(1).setName(cf.name)
    return joint


def _segment_ellipsoid(md: ModelDefinition, body: str) -> tuple[np.ndarray, np.ndarray]:
    """Centre and radii (m, body frame) of an axis-aligned ellipsoid spanning the segment."""
    pts = [np.zeros(3)] + [np.array(j.parent_frame.translation) for j in md.joints if j.parent == body]
    if len(pts) == 1:  # terminal segment: span origin → twice the mass centre
        com = np.array(next(b.mass_center for b in md.bodies if b.name == body))
        pts.append(2.0 * com)
    pts_a = np.stack(pts)
    lo, hi = pts_a.min(0), pts_a.max(0)
    radii = np.maximum((hi - lo) / 2.0, GEOMETRY_MIN_RADIUS_M)
    return (lo + hi) / 2.0, radii


def build_generic_model(definition: ModelDefinition | None = None, model_name: str | None = None) -> Any:
    """An ``opensim.Model`` of the (unscaled) definition; call ``initSystem()`` before use."""
    osim = _opensim()
    md = definition or load_definition()
    model = osim.Model()
    model.setName(model_name or md.name)
    model.setGravity(osim.Vec3(*md.gravity))
    frames: dict[str, Any] = {"ground": model.getGround()}
    for b in md.bodies:
        body = osim.Body(b.name, b.mass, osim.Vec3(*b.mass_center), osim.Inertia(*b.inertia))
        centre, radii = _segment_ellipsoid(md, b.name)
        geom_frame = osim.PhysicalOffsetFrame(f"{b.name}_geometry", body, osim.Transform(osim.Vec3(*centre)))
        body.addComponent(geom_frame)
        shape = osim.Ellipsoid(*radii)
        shape.setColor(osim.Vec3(0.8, 0.7, 0.6))
        geom_frame.attachGeometry(shape)
        model.addBody(body)
        frames[b.name] = body
    for j in md.joints:
        joint = _joint(osim, j, frames)
        if j.type != "CustomJoint":  # CustomJoint names its coordinates from the spatial transform
            for i, name in enumerate(j.coordinates):
                joint.upd_coordinates(i).setName(name)
        model.addJoint(joint)
    model.finalizeFromProperties()
    coordinate_set = model.updCoordinateSet()
    for cd in md.coordinates:
        coord = coordinate_set.get(cd.name)
        coord.setRangeMin(cd.range[0])
        coord.setRangeMax(cd.range[1])
        coord.setDefaultValue(cd.default)
        coord.setDefaultLocked(cd.locked)
        coord.setDefaultClamped(cd.clamped)
    for c in md.couplers:
        con = osim.CoordinateCouplerConstraint()
        con.setName(c.name)
        names = osim.ArrayStr()
        for n in c.independent:
            names.append(n)
        con.setIndependentCoordinateNames(names)
        con.setDependentCoordinateName(c.dependent)
        con.setFunction(_function(osim, c.function))
        model.addConstraint(con)
    for m in md.markers:
        model.addMarker(osim.Marker(m.name, frames[m.body], osim.Vec3(*m.location)))
    model.finalizeConnections()
    return model


def build_scaled_model(
    scales: np.ndarray,
    mass_kg: float | None = None,
    model_name: str = "subject_scaled",
    definition: ModelDefinition | None = None,
) -> Any:
    """Generic model scaled by ``scales`` [N_bodies, 3] with OpenSim's ``Model.scale``."""
    osim = _opensim()
    md = definition or load_definition()
    scales = np.asarray(scales, dtype=np.float64)
    if scales.shape != (len(md.bodies), 3):
        raise ValueError(f"scales must be [{len(md.bodies)}, 3], got {scales.shape}")
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError("scale factors must be finite and positive")
    if mass_kg is not None and not (mass_kg > 0):
        raise ValueError(f"mass_kg must be positive, got {mass_kg}")
    model = build_generic_model(md, model_name)
    state = model.initSystem()
    scale_set = osim.ScaleSet()
    for name, s in zip(md.body_names, scales, strict=True):
        sc = osim.Scale()
        sc.setSegmentName(name)
        sc.setScaleFactors(osim.Vec3(*map(float, s)))
        sc.setApply(True)
        scale_set.cloneAndAppend(sc)
    preserve = mass_kg is not None
    if not model.scale(state, scale_set, preserve, float(mass_kg) if mass_kg is not None else -1.0):
        raise RuntimeError("OpenSim failed to scale the model")
    return model


def write_scaled_osim(
    path: str | Path,
    scales: np.ndarray,
    mass_kg: float | None = None,
    model_name: str = "subject_scaled",
    definition: ModelDefinition | None = None,
) -> Path:
    """Write the subject-scaled model to ``path`` (.osim); see module docstring for masses."""
    model = build_scaled_model(scales, mass_kg, model_name, definition)
    path = Path(path)
    model.printToXML(str(path))
    return path
