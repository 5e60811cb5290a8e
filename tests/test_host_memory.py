"""glibc keeps freed tensor memory once tuned, gives it back on request, and the command line tunes it first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from aesthetic_curator.host_memory import OPT_OUT, _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="glibc's malloc only")

#: In a fresh process: a 256 MB block is allocated, touched and freed; how much of it stays resident?
PROBE = """
import ctypes, json, sys
from aesthetic_curator import host_memory
tuned = host_memory.keep_freed_memory() if sys.argv[1] == "tune" else False
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
page = 4096
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * page
size = 256 * 2**20
block = libc.malloc(size)
ctypes.memset(block, 1, size)
before = resident()
libc.free(block)
freed = resident()
host_memory.release_freed_memory()
print(json.dumps({"tuned": tuned, "kept": before - freed < size // 2,
                  "released": before - resident() > size // 2}))
"""


def probe(mode: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_tuned_malloc_keeps_freed_blocks_until_released():
    assert probe("tune") == {"tuned": True, "kept": True, "released": True}


def test_default_malloc_returns_big_blocks_at_once_and_the_opt_out_keeps_it():
    assert probe("plain") == {"tuned": False, "kept": False, "released": True}
    assert probe("tune", **{OPT_OUT: "1"}) == {"tuned": False, "kept": False, "released": True}


def test_the_command_line_tunes_malloc_before_anything_else():
    code = (
        "from aesthetic_curator import host_memory\n"
        "from aesthetic_curator.cli import main\n"
        "assert not host_memory.is_tuned()\n"
        "try:\n    main(['bundle', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(host_memory.is_tuned())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "True"
