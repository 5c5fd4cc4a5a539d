"""Keypoints: the detector's keypoint set, where it sits on the model, detections and crops."""
