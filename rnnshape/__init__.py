"""rnnshape: find, explain, fix and prove shape mistakes in PyTorch recurrent-network code."""
__version__ = "0.1.0"
