"""The PySide6 desktop app. Everything here talks to the core through `curation`, the library and
the engine's public entry points; long work runs on worker threads (see `tasks`)."""
