"""Counts fixed by the kinematic model and the landmark set, named once.

The model definition (``model_store/data/rajagopal2016.json``) and the landmark set
(``model_store/data/landmarks.json``) are the truth; these constants restate their sizes so that
light modules (detections, the detection subprocesses) need not load them, and
``tests/model_store/test_definition.py`` checks that they agree. Use them instead of typing 39, 36,
22 or 33.
"""

from __future__ import annotations

#: Coordinates of the Rajagopal 2016 model (pelvis 6, legs, lumbar, arms), model order.
N_COORDINATES = 39
#: Coordinates the network predicts: all but the three pelvis translations (rad).
N_ROTATIONAL = 36
#: Bodies of the model; each has a 3-axis scale factor.
N_BODIES = 22
#: Keypoints per person and frame (MediaPipe BlazePose order; the landmark set's size).
N_LANDMARKS = 33
