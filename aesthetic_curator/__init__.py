"""Aesthetic Curator: learn one person's photographic taste and rank their album by it."""

__version__ = "0.1.0"
