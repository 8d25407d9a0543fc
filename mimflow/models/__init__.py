"""Models: the low-dimensional MLP encoder/decoder (lowdim)."""
