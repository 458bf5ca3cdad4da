"""pulltheplug: pull the plug on a cluster node and measure what its users feel."""

__version__ = "0.1.0"
