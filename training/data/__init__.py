"""Training data: fixed sequences in memory, cached splits, and sequences streamed from workers."""
