"""Afterdark: a self-hostable platform for AI-companion roleplay."""

__version__ = "0.1.0"
