"""What every benchmark prints: a stamped Markdown section with the machine, appended to docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

#: Where sections are appended; ``$BENCHMARK_DOCS`` redirects them (a GPU host hands its file back instead).
DOCS = Path(os.environ.get("BENCHMARK_DOCS") or Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md")


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine_description(device: torch.device | None = None) -> str:
    """CPU model and cores (and the GPU when one is used), torch version and OS."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [
        f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
        f"torch {torch.__version__}",
        platform.platform(),
    ]
    if device is not None and device.type == "cuda":
        parts.insert(0, torch.cuda.get_device_name(device))
    return "; ".join(parts)


def publish(title: str, body: list[str], append: bool, device: torch.device | None = None) -> None:
    """Print the section and, unless ``append`` is false, add it to docs/benchmarks.md."""
    text = "\n".join([f"### {title} ({stamp()})", "", f"Machine: {machine_description(device)}", "", *body, ""])
    sys.stdout.write(text + "\n")
    if append:
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        if not DOCS.exists():
            DOCS.write_text("# Benchmarks\n\nAppended by the scripts in `benchmarks/`; newest last.\n\n")
        separator = "" if DOCS.read_text().endswith("\n\n") else "\n"  # a heading needs a blank line above
        with DOCS.open("a") as fh:
            fh.write(separator + text + "\n")
