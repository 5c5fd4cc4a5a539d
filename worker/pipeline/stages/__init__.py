"""The pipeline's stages, in order: decode, detect, synchronise, infer, fit, assemble."""
