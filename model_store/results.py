"""The result files of a run, by name: one registry for the writers (pipeline, demo), the API's
download list and content types, and the web page's angle panels.

Names are paths relative to a run's output folder; plots live in ``plots/``.
"""

from __future__ import annotations

#: Joint angles over time (OpenSim Storage, degrees, one column per coordinate).
KINEMATICS = "kinematics.mot"
#: The full-body model scaled to the subject.
SCALED_MODEL = "model_scaled.osim"
#: Joint-centre trajectories (TRC, mm).
JOINT_CENTERS = "joint_centers.trc"
#: Per-stage timings, frame count, fps, detection quality, warnings.
SUMMARY = "summary.json"
#: Per frame and view: the fit's median / p95 reprojection residual (px) and the flagged frames.
FIT_RESIDUALS = "fit_residuals.csv"
#: Per-frame standard deviations of the coordinates (after a fit only).
KINEMATICS_SD = "kinematics_sd.sto"
#: Both views side by side with keypoints and the final model, and a contact sheet of it.
OVERLAY_VIDEO = "overlay.mp4"
OVERLAY_SHEET = "overlay.png"
#: Without a calibration: the two cameras estimated from the person (Pose2Sim calibration TOML), to
#: inspect or to pass back as ``calibration`` with the camera names ``front`` and ``side``.
ESTIMATED_CALIBRATION = "estimated_calibration.toml"
#: Folder of the joint-angle plots.
PLOTS_DIR = "plots"
#: The plot of all panels at once (``plots/overview.png``).
OVERVIEW_PLOT = "overview"

#: Joint-angle plot panels: panel name → the coordinates drawn in it (one PNG each in ``plots/``).
PLOT_PANELS: dict[str, tuple[str, ...]] = {
    "hip_flexion": ("hip_flexion_r", "hip_flexion_l"),
    "knee_angle": ("knee_angle_r", "knee_angle_l"),
    "ankle_angle": ("ankle_angle_r", "ankle_angle_l"),
    "pelvis": ("pelvis_tilt", "pelvis_list", "pelvis_rotation"),
    "lumbar": ("lumbar_extension", "lumbar_bending", "lumbar_rotation"),
    "shoulders": ("arm_flex_r", "arm_flex_l"),
}

#: Files every successful run writes.
RESULT_FILES: tuple[str, ...] = (KINEMATICS, SCALED_MODEL, JOINT_CENTERS, SUMMARY, FIT_RESIDUALS)
#: Written too unless the request turns them off: visual checks of the result.
OVERLAY_FILES: tuple[str, ...] = (OVERLAY_VIDEO, OVERLAY_SHEET)


def plot_file(panel: str) -> str:
    """``plots/<panel>.png``, relative to the output folder."""
    return f"{PLOTS_DIR}/{panel}.png"


#: Every downloadable result → its content type (a fixed set: a download never names another path).
CONTENT_TYPES: dict[str, str] = {
    KINEMATICS: "text/plain; charset=utf-8",
    SCALED_MODEL: "application/xml",
    JOINT_CENTERS: "text/plain; charset=utf-8",
    SUMMARY: "application/json",
    FIT_RESIDUALS: "text/csv; charset=utf-8",
    KINEMATICS_SD: "text/plain; charset=utf-8",
    OVERLAY_VIDEO: "video/mp4",
    OVERLAY_SHEET: "image/png",
    ESTIMATED_CALIBRATION: "text/plain; charset=utf-8",
    **{plot_file(p): "image/png" for p in (OVERVIEW_PLOT, *PLOT_PANELS)},
}
