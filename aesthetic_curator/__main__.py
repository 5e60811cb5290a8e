"""Allows ``python -m aesthetic_curator``."""

from aesthetic_curator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
