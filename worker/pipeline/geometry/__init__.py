"""The clip's cameras: calibration or default rig, cameras estimated from the person, swapped sides."""
