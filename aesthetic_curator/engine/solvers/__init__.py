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
