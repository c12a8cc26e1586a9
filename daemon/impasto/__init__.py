"""Impasto: neural style transfer for image editors (engine, daemon and command line)."""

__version__ = "0.1.0"
