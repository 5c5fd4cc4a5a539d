"""Person detectors (MediaPipe, the optional YOLO) and how the detect stage drives them."""
