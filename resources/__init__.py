"""Styles and icons of the desktop app (installed as ``aesthetic_curator.resources``)."""
