"""The personalization engine: scorer, task-vector bundles, merging, personalization, ranking.

No Qt here: long work reports through callbacks and stops through a cancel token.
"""

from aesthetic_curator.engine.bundle import Bundle, TaskInfo, write_bundle
from aesthetic_curator.engine.devices import resolve_device
from aesthetic_curator.engine.personalize import SOLVERS, PersonalizationResult, PersonalizeConfig
from aesthetic_curator.engine.profile import Profile
from aesthetic_curator.engine.ranking import RankingResult, ScoredImage
from aesthetic_curator.engine.workflows import PersonalizeOutcome, personalize_files, rank_files

__all__ = [
    "SOLVERS",
    "Bundle",
    "PersonalizationResult",
    "PersonalizeConfig",
    "PersonalizeOutcome",
    "Profile",
    "RankingResult",
    "ScoredImage",
    "TaskInfo",
    "personalize_files",
    "rank_files",
    "resolve_device",
    "write_bundle",
]
