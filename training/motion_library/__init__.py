"""Real human motion for training and evaluation, converted to Rajagopal 2016 coordinates (see catalogue)."""
