"""The personalization engine: scorer, task-vector bundles, merging, personalization, ranking.

No Qt here: long work reports through callbacks and stops through a cancel token. The names below
load on first use, so importing a light submodule (the solver registry) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Bundle": "aesthetic_curator.engine.bundle",
    "TaskInfo": "aesthetic_curator.engine.manifest",
    "TaskVector": "aesthetic_curator.engine.task_vector",
    "write_bundle": "aesthetic_curator.engine.bundle_writer",
    "resolve_device": "aesthetic_curator.engine.devices",
    "PersonalizationResult": "aesthetic_curator.engine.personalize",
    "PersonalizeConfig": "aesthetic_curator.engine.solvers.base",
    "Profile": "aesthetic_curator.engine.profile",
    "RankingResult": "aesthetic_curator.engine.ranking",
    "ScoredImage": "aesthetic_curator.engine.ranking",
    "ModelSession": "aesthetic_curator.engine.session",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
