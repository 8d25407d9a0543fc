"""mimflow: a faithful, fast re-implementation of the MIM paper's experiments (Livne et al., 2019)."""

__version__ = "0.1.0"
