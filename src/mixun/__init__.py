"""Mixun (密讯): intranet instant messaging for banks."""

__version__ = "0.1.0"
