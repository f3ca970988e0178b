"""Slipway: one request becomes a forge repository plus Flux GitOps objects per environment."""

__version__ = "0.1.0"
__all__ = ["__version__"]
