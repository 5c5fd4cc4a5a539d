"""Real recordings for evaluation: detections of the Pose2Sim demo's four cameras, a 4-camera
reference (triangulation and a 4-view fit), and landmark calibration against it."""
