"""The personalization solvers, registered in this one place (the CLI, the GUI and the harness read it).

Each solver is one object (:class:`~aesthetic_curator.engine.solvers.base.Solver`) with its own options
dataclass, ``solve`` and ``planned_passes``. This module imports no torch, so ``--help`` and the
settings dialog can list the solvers cheaply; a solver's module loads on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aesthetic_curator.errors import RatingsError

if TYPE_CHECKING:
    from aesthetic_curator.engine.solvers.base import Solver

#: The solver used when none is named: 1/30 or less of the paper recipe's passes, close to its accuracy.
DEFAULT_SOLVER = "fast"


@dataclass(frozen=True)
class SolverEntry:
    name: str  # what --solver and the preferences store
    label: str  # what the settings dialog shows
    module: str  # defines SOLVER, the solver object

    def load(self) -> Solver:
        return importlib.import_module(self.module).SOLVER


_ENTRIES = (
    SolverEntry(
        "fast", "Fast (damped Gauss–Newton, seconds to minutes)", "aesthetic_curator.engine.solvers.gauss_newton"
    ),
    SolverEntry(
        "paper",
        "Paper recipe (500 AdamW steps, the reference; slow on a CPU)",
        "aesthetic_curator.engine.solvers.paper",
    ),
)
REGISTRY: dict[str, SolverEntry] = {entry.name: entry for entry in _ENTRIES}


def solver_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def solver_labels() -> dict[str, str]:
    """Name -> label, in the order a menu shows them."""
    return {entry.name: entry.label for entry in _ENTRIES}


def get_solver(name: str) -> Solver:
    entry = REGISTRY.get(name)
    if entry is None:
        raise RatingsError(f"unknown solver '{name}' (available: {', '.join(REGISTRY)})")
    return entry.load()


def split_variant(spec: str) -> tuple[str, dict[str, object]]:
    """``"fast:evaluations=2,jacobians=3"`` -> ``("fast", {"evaluations": 2, "jacobians": 3})``.

    A solver with some options changed, as ``eval --solver`` takes it, so that settings are compared on
    the same draws in one table. Values are read as int, float, true/false or none, else kept as text;
    whether the names exist is checked by the solver's options dataclass when the variant is used.
    """
    name, _, rest = spec.partition(":")
    overrides: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, equals, text = item.partition("=")
        if not equals or not key.strip():
            raise RatingsError(f"solver setting '{item}' in '{spec}' is not NAME=VALUE")
        overrides[key.strip()] = _setting_value(text.strip())
    return name, overrides


def _setting_value(text: str) -> object:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
