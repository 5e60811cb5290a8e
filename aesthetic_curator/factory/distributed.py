"""Multi-GPU builds through PyTorch's own launcher: ``torchrun --nproc_per_node=N -m aesthetic_curator ...``.

torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; this module only reads them, starts the
process group (NCCL on GPUs, Gloo on CPUs) and says which process is the main one. The training
itself uses ``DistributedDataParallel`` directly.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def device(self, requested: torch.device) -> torch.device:
        """Each process drives its own GPU (``cuda:LOCAL_RANK``); CPU processes share the CPU."""
        if self.enabled and requested.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return requested


def from_environment(device: torch.device) -> Distributed:
    """Join the process group when started by torchrun; a plain process is a world of one."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    context = Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(context.local_rank)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if not context.is_main:  # one process reports; the others only warn about what concerns them alone
        logging.getLogger("aesthetic_curator").setLevel(logging.ERROR)
    log.info("distributed build: %d processes", world_size)
    return context


def shutdown(context: Distributed) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
