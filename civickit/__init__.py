"""civickit: the plumbing between UK open data and something residents use."""

__version__ = "0.1.0"
