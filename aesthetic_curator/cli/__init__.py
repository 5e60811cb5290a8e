"""The ``aesthetic-curator`` command line: bundles, personalization and ranking from a terminal.

Every expected failure is a :class:`CuratorError` and ends as one ``error:`` line with exit code 2;
progress bars go to stderr and appear only for work that takes longer than a second. The parser is
in :mod:`.parser`, the commands in :mod:`.bundle_commands`, :mod:`.album_commands` and
:mod:`.profile_commands`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from aesthetic_curator.cli.parser import SOLVER_CHOICES, build_parser
from aesthetic_curator.errors import Cancelled, CuratorError
from aesthetic_curator.host_memory import keep_freed_memory

__all__ = ["COMMANDS", "SOLVER_CHOICES", "build_parser", "main"]

#: The sub-commands; anything else as the only argument is an album folder to open in the window.
COMMANDS = frozenset({"bundle", "personalize", "gui", "eval", "rank", "explain", "profiles", "scan", "export"})

log = logging.getLogger("aesthetic_curator.cli")


def configure_logging(quiet: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.getLogger("aesthetic_curator").setLevel(level)


def _wants_gui(argv: Sequence[str], commands: set[str]) -> bool:
    """No arguments, or a single folder that is not a command name: open the window."""
    return not argv or (len(argv) == 1 and argv[0] not in commands and not argv[0].startswith("-"))


def main(argv: Sequence[str] | None = None) -> int:
    keep_freed_memory()  # before any thread starts: batched tensor work stops re-faulting its memory
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wants_gui(argv, COMMANDS):
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    _tolerate_unencodable_output()
    configure_logging(args.quiet, args.verbose)
    for name in ("steps", "batch_size", "workers"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    try:
        return args.func(args)
    except CuratorError as exc:
        print(f"aesthetic-curator: error: {exc}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("aesthetic-curator: cancelled", file=sys.stderr)
        return 130
    except OSError as exc:  # the file system said no (full disk, permissions, vanished files): not a bug of ours
        log.debug("operating-system error", exc_info=True)
        print(f"aesthetic-curator: error: {exc}", file=sys.stderr)
        return 1


def _tolerate_unencodable_output() -> None:
    """File names that are not valid UTF-8 (kept as surrogate escapes) print as escapes, never crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
