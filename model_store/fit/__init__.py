"""Per-clip fit of the biomechanical model to the keypoints of every view, regularised by the network.

``fit_clip(evidence, prior, init_coords)`` → :class:`FitResult`; the objective is documented in
:mod:`model_store.fit.objective`, its weights in :mod:`model_store.fit.settings`.
"""

from model_store.fit.objective import ClipEvidence, ClipObjective, NetworkPrior, measure_reprojection
from model_store.fit.projection import CameraRig
from model_store.fit.settings import FitSettings
from model_store.fit.solver import FitError, FitResult, fit_clip

__all__ = ["CameraRig", "ClipEvidence", "ClipObjective", "FitError", "FitResult", "FitSettings", "NetworkPrior",
           "fit_clip",
           "measure_reprojection"]
