"""What the user looks at besides the OpenSim files: plots and the overlay video."""
