"""Keeping freed tensor memory inside the process (glibc), so each batch does not fault it in again.

glibc's ``malloc`` gives every freed block above its mmap threshold (32 MB at most) straight back to
the kernel, and trims the heaps of each thread's own arena as soon as their top is free. A network's
activations are such blocks: the next batch asks for the same sizes and the kernel hands them over
again page by page, zeroing each page. On the 2-core machine a fresh process personalized the built-in
model 1.44-1.76x faster with the setting below (docs/benchmarks.md, "Built-in model", 2026-12-03).

:func:`keep_freed_memory` asks glibc, once at start-up and before other threads exist, to serve large
blocks from its heap, to keep freed heap memory, and to use one arena for every thread (a worker
thread's arena cannot hold blocks over 64 MB). The price is that memory freed after a long job stays
with the process until :func:`release_freed_memory` hands the idle part back; the window calls it when
each background task ends (a command's memory goes back when it exits). On other C libraries (macOS,
Windows, musl) both do nothing. ``AESTHETIC_CURATOR_SYSTEM_MALLOC=1`` keeps glibc's defaults (the benchmarks' baseline).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

#: mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
#: Freed heap memory kept before glibc trims it: effectively never (trimming is release_freed_memory's job).
KEEP_BYTES = 2**31 - 1
OPT_OUT = "AESTHETIC_CURATOR_SYSTEM_MALLOC"

_lock = threading.Lock()
_state: dict[str, object] = {"tuned": False, "libc": None}


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
    except (OSError, AttributeError):  # not glibc (musl has neither symbol)
        return None
    return libc


def keep_freed_memory() -> bool:
    """Tune glibc's malloc for batched tensor work; True when it was (idempotent, thread-safe)."""
    with _lock:
        if _state["tuned"]:
            return True
        if os.environ.get(OPT_OUT, "").strip() not in ("", "0"):
            log.debug("%s is set: glibc's malloc keeps its defaults", OPT_OUT)
            return False
        libc = _glibc()
        if libc is None:
            return False
        settings = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, KEEP_BYTES))
        applied = all(libc.mallopt(parameter, value) == 1 for parameter, value in settings)
        if not applied:
            log.debug("glibc refused a mallopt setting; its defaults stay in part")
        _state.update(tuned=applied, libc=libc)
        return applied


def is_tuned() -> bool:
    return bool(_state["tuned"])


def release_freed_memory() -> None:
    """Hand the process's idle freed memory back to the system (after a long job); cheap when there is none."""
    libc = _state["libc"]
    if libc is not None and _state["tuned"]:
        libc.malloc_trim(0)
