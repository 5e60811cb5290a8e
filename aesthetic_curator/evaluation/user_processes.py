"""Evaluating users in parallel CPU processes: one task per user, results as each user finishes.

Spawned rather than forked: a fork of a process that runs threads (Qt, thread pools) can deadlock,
and spawning works the same on every OS. Tensors reach the workers through shared memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol

import torch

from aesthetic_curator.progress import CancelToken, check


class UserEvaluation(Protocol):
    """What every user is put through (picklable, so each worker gets the same settings)."""

    shots: list[int]
    trials: int

    def evaluate_user(
        self, model: Any, user_index: int, user: Any, cancel: CancelToken | None, on_trials: Callable[[int], None]
    ) -> Any: ...


_worker: dict = {}  # a worker process's model, users and protocol, set once by _start_worker


def _start_worker(model: Any, users: Sequence[Any], protocol: UserEvaluation, threads: int) -> None:
    torch.set_num_threads(threads)
    _worker.update(model=model, users=users, protocol=protocol)


def _evaluate_user_in_worker(user_index: int) -> tuple[int, Any]:
    model, users, protocol = _worker["model"], _worker["users"], _worker["protocol"]
    return user_index, protocol.evaluate_user(model, user_index, users[user_index], None, lambda count: None)


def evaluate_in_processes(
    model: Any,
    users: Sequence[Any],
    pending: Sequence[int],
    protocol: UserEvaluation,
    jobs: int,
    cancel: CancelToken | None,
    on_trials: Callable[[int], None],
    user_done: Callable[[int, Any], None],
) -> None:
    """One task per pending user (an index into ``users``) over ``jobs`` spawned processes sharing the
    torch threads of this one; ``user_done`` gets each user's result as it finishes, in any order."""
    jobs = min(jobs, len(pending))
    threads = max(1, torch.get_num_threads() // jobs)
    context = torch.multiprocessing.get_context("spawn")
    per_user = len(protocol.shots) * protocol.trials
    finished = False
    pool = ProcessPoolExecutor(jobs, context, _start_worker, (model, users, protocol, threads))
    try:
        futures = [pool.submit(_evaluate_user_in_worker, index) for index in pending]
        for future in as_completed(futures):
            check(cancel)
            user_index, run = future.result()
            on_trials(per_user)
            user_done(user_index, run)
        finished = True
    finally:
        # On cancel or error, queued users are dropped and the call returns without waiting for running ones.
        pool.shutdown(wait=finished, cancel_futures=True)
