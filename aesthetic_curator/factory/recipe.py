"""The two-stage fine-tuning recipe that turns one scored dataset into one task vector.

Defaults are the paper's (appendix F): the head is trained with the backbone frozen (AdamW, cosine
1.5e-5 -> 1.5e-6, batch 128, 60,000 steps), then backbone and head together (1.5e-6 -> 1.5e-7,
batch 32, 5,000 steps). Stage 1 runs on cached backbone embeddings, so it costs one forward pass
over the data instead of 60,000 batches through the tower.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TrainingRecipe:
    head_steps: int = 60_000
    head_lr: float = 1.5e-5
    head_batch_size: int = 128
    finetune_steps: int = 5_000
    finetune_lr: float = 1.5e-6
    finetune_batch_size: int = 32
    final_lr_ratio: float = 0.1  # cosine annealing ends at lr * this (the paper: a tenth)
    weight_decay: float = 0.01  # AdamW's default; the paper does not state one
    flip: bool = True  # random horizontal flips in stage 2 (training only, never at test time)
    seed: int = 0
    test_fraction: float = 0.2  # share held out where a dataset publishes no split
    checkpoint_every: int = 250  # stage-2 steps between checkpoints (resume loses at most this many)
    embed_batch_size: int = 64  # images per forward pass when caching embeddings and testing
    workers: int = 4  # image-decoding processes
    mixed_precision: bool = True  # autocast on CUDA (bfloat16 where supported, else float16 + grad scaling)

    def __post_init__(self) -> None:
        for name in ("head_steps", "finetune_steps", "head_batch_size", "finetune_batch_size", "checkpoint_every"):
            if getattr(self, name) < (0 if name.endswith("steps") else 1):
                raise ValueError(f"{name} must be positive")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError("test_fraction must be between 0 and 1")

    def fingerprint(self) -> str:
        """Everything that changes the trained weights (not workers or batch sizes of inference)."""
        relevant = {k: v for k, v in asdict(self).items() if k not in ("workers", "embed_batch_size")}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def summary(self) -> str:
        return (
            f"{self.head_steps} head steps (lr {self.head_lr:g}, batch {self.head_batch_size}) on cached embeddings, "
            f"then {self.finetune_steps} full steps (lr {self.finetune_lr:g}, batch {self.finetune_batch_size}), "
            f"seed {self.seed}"
        )


def cosine_lr(start: float, final_ratio: float, step: int, total: int) -> float:
    """Cosine annealing from ``start`` to ``start * final_ratio`` over ``total`` steps, as a pure function
    of the step, so a resumed run uses exactly the rates an uninterrupted one would have."""
    end = start * final_ratio
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))
