"""Camera geometry: calibrations, triangulation, cameras estimated from the person, left/right labels."""
