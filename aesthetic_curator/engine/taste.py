"""A profile's taste, shown honestly: each task's weight over groups of layers, and a plain summary line.

A profile is a [tasks, layers] matrix of coefficients; the merged network is theta_pre + sum_i alpha[i, l] tau_i[l].
What can be shown without inventing anything is how strongly each task's change is applied, layer by
layer. Layers are grouped by where they sit in the network, from its parameter names:

- **stem**: the tower's layers before its first numbered block;
- **early / middle / late**: the numbered blocks (``blocks.N`` in timm networks, ``resblocks.N`` in a
  ViT) split into thirds by block number; tower layers after the last block count as late;
- **head**: the scoring head.

A task's weight in a group is the mean of its coefficients over the group's layers, each layer counted by
its number of parameters (so a 3x3 depthwise bias does not count like a 1x1 projection); its overall
weight is the same mean over every layer. The summary line is made from those overall weights only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod

import numpy as np
import torch

from aesthetic_curator.engine.merge import HEAD_PREFIX

#: ``blocks.3`` / ``resblocks.11``: the block number of a tower layer.
BLOCK_NUMBER = re.compile(r"(?:^|\.)(?:res)?blocks\.(\d+)\.")
GROUPS = ("stem", "early", "middle", "late", "head")
#: Tasks named in "mostly ...": the fewest whose weights add up to this share of the positive weight (at most 3).
MOSTLY_SHARE = 0.5


@dataclass(frozen=True)
class TasteSummary:
    """Per-task weights by layer group (what the taste panel draws) and the one-line summary."""

    tasks: list[str]
    groups: list[str]  # the groups this network has, in order
    weights: np.ndarray  # [tasks, groups]
    overall: np.ndarray  # [tasks]
    line: str

    def weight(self, task: str, group: str) -> float:
        return float(self.weights[self.tasks.index(task), self.groups.index(group)])

    def scaled(self, scales: dict[str, float]) -> TasteSummary:
        """The summary of the profile with each named task's coefficients multiplied by its scale (what the
        taste panel previews while a slider moves: every weight is linear in its task's coefficients)."""
        factors = np.array([float(scales.get(task, 1.0)) for task in self.tasks])
        overall = self.overall * factors
        line = summary_line(self.tasks, overall)
        return TasteSummary(self.tasks, self.groups, self.weights * factors[:, None], overall, line)


def layer_groups(layers: dict[str, list[int]]) -> dict[str, list[int]]:
    """Group name -> layer indices (in ``layers`` order); groups the network lacks are left out."""
    names = list(layers)
    blocks = {i: int(m.group(1)) for i, name in enumerate(names) if (m := BLOCK_NUMBER.search(name))}
    numbers = sorted(set(blocks.values()))
    first_block = min(blocks) if blocks else len(names)
    grouped: dict[str, list[int]] = {group: [] for group in GROUPS}
    for index, name in enumerate(names):
        if name.startswith(HEAD_PREFIX):
            grouped["head"].append(index)
        elif index in blocks:
            third = min(2, 3 * numbers.index(blocks[index]) // max(1, len(numbers)))
            grouped[("early", "middle", "late")[third]].append(index)
        elif index < first_block:
            grouped["stem"].append(index)
        else:
            grouped["late"].append(index)
    return {group: indices for group, indices in grouped.items() if indices}


def summarize_taste(alpha: torch.Tensor, task_names: list[str], layers: dict[str, list[int]]) -> TasteSummary:
    """The taste panel's numbers for coefficients ``alpha`` [tasks, layers] over a bundle's ``layers``."""
    coefficients = alpha.detach().cpu().double().numpy()
    if coefficients.shape != (len(task_names), len(layers)):
        raise ValueError(f"coefficients of shape {coefficients.shape} do not fit {len(task_names)} x {len(layers)}")
    sizes = np.array([prod(shape) or 1 for shape in layers.values()], dtype=np.float64)
    groups = layer_groups(layers)
    weights = np.stack(
        [(coefficients[:, idx] * sizes[idx]).sum(1) / sizes[idx].sum() for idx in groups.values()], axis=1
    )
    overall = (coefficients * sizes).sum(1) / sizes.sum()
    return TasteSummary(list(task_names), list(groups), weights, overall, summary_line(list(task_names), overall))


def summary_line(tasks: list[str], overall: np.ndarray) -> str:
    """ "mostly sharpness and exposure; least food; against people" from the overall weights."""
    order = [int(i) for i in np.argsort(-overall, kind="stable")]  # ties keep the bundle's task order
    positive = [i for i in order if overall[i] > 0]
    total = float(sum(overall[i] for i in positive))
    mostly: list[int] = []
    for i in positive:
        mostly.append(i)
        if sum(overall[j] for j in mostly) >= MOSTLY_SHARE * total or len(mostly) == 3:
            break
    parts = [f"mostly {_and([tasks[i] for i in mostly])}"] if mostly else ["no task counts positively"]
    least = [i for i in reversed(order) if i not in mostly and overall[i] >= 0][:1]
    if least and len(tasks) > len(mostly) + 1:
        parts.append(f"least {tasks[least[0]]}")
    against = [tasks[i] for i in reversed(order) if overall[i] < 0][:2]
    if against:
        parts.append(f"against {_and(against)}")
    return "; ".join(parts)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
