"""bnopt: the computations behind the book *Why does BatchNorm help optimisation?*."""

__version__ = "0.1.0"
