"""Layer-wise task arithmetic: theta = theta_pre + sum_i alpha[i, l] * tau_i[l].

:class:`MergedScorer` keeps the base scorer frozen and runs it through
``torch.func.functional_call`` with merged weights, so gradients reach only the coefficients.
:meth:`MergedScorer.bake` returns an ordinary :class:`Scorer` for fast inference.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

from aesthetic_curator.engine.base_model import create_base_scorer
from aesthetic_curator.engine.bundle import Bundle
from aesthetic_curator.engine.scorer import Scorer
from aesthetic_curator.errors import BundleError

#: Parameter names of the scoring head (``Scorer.head``) start with this; the rest is the ViT (``visual.``).
HEAD_PREFIX = "head."


class MergedScorer(nn.Module):
    """A base scorer plus a bank of task vectors, merged with a (tasks x layers) coefficient matrix."""

    def __init__(
        self,
        base: Scorer,
        task_vectors: Sequence[Mapping[str, torch.Tensor]],
        task_names: Sequence[str] | None = None,
        alpha: torch.Tensor | None = None,
        tau_dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if not task_vectors:
            raise BundleError("at least one task vector is needed")
        self.base = base.eval()
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.layer_names = base.float_parameter_names()
        self.task_names = list(task_names) if task_names else [f"task{i}" for i in range(len(task_vectors))]
        device = next(base.parameters()).device
        params = dict(base.named_parameters())
        # One stacked [n_tasks, *shape] tensor per layer: a single tensordot merges a layer.
        self._taus: list[torch.Tensor] = []
        for name in self.layer_names:
            stacked = torch.stack([tv[name].to(device=device, dtype=tau_dtype) for tv in task_vectors])
            if stacked.shape[1:] != params[name].shape:
                raise BundleError(f"task vector layer {name} has shape {tuple(stacked.shape[1:])}")
            self._taus.append(stacked)
        shape = (len(task_vectors), len(self.layer_names))
        init = torch.full(shape, 1.0 / shape[0]) if alpha is None else alpha.detach().clone().float()
        if tuple(init.shape) != shape:
            raise BundleError(f"coefficients have shape {tuple(init.shape)}, expected {shape}")
        self.alpha = nn.Parameter(init.to(device))

    @classmethod
    def from_bundle(
        cls, bundle: Bundle, device: torch.device | str = "cpu", tau_dtype: torch.dtype = torch.float32
    ) -> MergedScorer:
        base = create_base_scorer(bundle, device)
        taus = [bundle.load_task_vector(i, dtype=tau_dtype, device=device) for i in range(len(bundle.tasks))]
        return cls(base, taus, bundle.task_names, tau_dtype=tau_dtype)

    @property
    def n_tasks(self) -> int:
        return self.alpha.shape[0]

    @property
    def n_layers(self) -> int:
        return self.alpha.shape[1]

    @property
    def merged_numel(self) -> int:
        """Numbers in one copy of the merged layers (what one photo's weight gradient holds)."""
        return sum(tau[0].numel() for tau in self._taus)

    @property
    def device(self) -> torch.device:
        return self.alpha.device

    def merged_parameters(self, alpha: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The merged weights for ``alpha`` (default: the module's own coefficients)."""
        alpha = self.alpha if alpha is None else alpha
        base_params = dict(self.base.named_parameters())
        only = self._only_task(alpha)
        merged = {}
        # The merge stays in the task vectors' precision even inside a caller's autocast region:
        # a bf16 tensordot would round every merged weight, only the forward should run in half.
        with torch.autocast(self.device.type, enabled=False):
            for index, name in enumerate(self.layer_names):
                tau = self._taus[index]
                if only is None:
                    delta = torch.tensordot(alpha[:, index].to(tau.dtype), tau, dims=1)
                else:  # the same sum without its zero terms: reads one task's vector, not all of them
                    delta = tau[only] * alpha[only, index].to(tau.dtype)
                merged[name] = base_params[name] + delta.to(base_params[name].dtype)
        return merged

    @staticmethod
    def _only_task(alpha: torch.Tensor) -> int | None:
        """The one task with non-zero coefficients in ``alpha`` (a task model alone, as :meth:`one_hot`), when
        it is a constant on the CPU; None otherwise, or where the check would wait for a GPU.

        Scoring photos with each task alone (the adaptive init, the compare chooser, scoring ahead) merged all
        tasks' vectors, most times zero, once per batch: the compare view's first 16 photos are scored 1.2x
        faster on the built-in model without it (docs/benchmarks.md).
        """
        if alpha.device.type != "cpu" or (alpha.requires_grad and torch.is_grad_enabled()):
            return None
        used = torch.nonzero(alpha.detach().ne(0).any(dim=1)).flatten()
        return int(used[0]) if used.numel() == 1 else None

    def coefficient_gradients(self, weight_grads: Sequence[torch.Tensor]) -> torch.Tensor:
        """d score / d alpha of n photos from their merged-weight gradients: [n, *shape] per layer in, [n, T, L] out.

        The merge is linear in the coefficients, so this is its transpose: each layer's gradient dotted
        with each task's vector for that layer (``weight_grads`` in ``layer_names`` order). One matrix
        product per layer reads each task vector once for all n photos; photo by photo it was read n
        times, and that memory traffic was a third of a CPU Jacobian.
        """
        columns = [self.layer_coefficient_gradients(index, g) for index, g in enumerate(weight_grads)]
        return torch.stack(columns, dim=2)

    def layer_coefficient_gradients(self, layer: int, weight_grads: torch.Tensor) -> torch.Tensor:
        """[n, tasks]: merged layer ``layer``'s gradients [n, *shape] for n photos, dotted with each task's vector."""
        tau = self._taus[layer]
        return weight_grads.reshape(weight_grads.shape[0], -1).to(tau.dtype) @ tau.reshape(tau.shape[0], -1).T

    def forward(self, images: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
        return functional_call(self.base, self.merged_parameters(alpha), (images,))

    def embed_and_score(
        self, merged: Mapping[str, torch.Tensor], images: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(backbone embeddings, scores) of ``images`` under ``merged`` weights: the forward in its two halves.

        Same arithmetic as :meth:`forward`; the embeddings let a solver refit the head's coefficients
        afterwards (:mod:`head_refit`) without another pass through the ViT.
        """
        visual, head = {}, {}
        for name, tensor in merged.items():
            if name.startswith(HEAD_PREFIX):
                head[name.removeprefix(HEAD_PREFIX)] = tensor
            else:
                visual[name.removeprefix("visual.")] = tensor
        embeddings = functional_call(self.base.visual, visual, (images,))
        return embeddings, functional_call(self.base.head, head, (embeddings,))

    def head_layers(self) -> list[int]:
        """Indices (in ``layer_names``) of the scoring head's layers, the ones after the ViT."""
        return [index for index, name in enumerate(self.layer_names) if name.startswith(HEAD_PREFIX)]

    def head_scores(self, embeddings: torch.Tensor, head_alpha: torch.Tensor) -> torch.Tensor:
        """Scores of backbone ``embeddings`` with the head merged by ``head_alpha`` [tasks, head layers].

        Differentiable in ``head_alpha``; costs no pass through the ViT.
        """
        base_params = dict(self.base.named_parameters())
        params = {}
        for column, index in enumerate(self.head_layers()):
            name, tau = self.layer_names[index], self._taus[index]
            delta = torch.tensordot(head_alpha[:, column].to(tau.dtype), tau, dims=1)
            params[name.removeprefix(HEAD_PREFIX)] = base_params[name] + delta.to(base_params[name].dtype)
        return functional_call(self.base.head, params, (embeddings,))

    def one_hot(self, task: int) -> torch.Tensor:
        """Coefficients that select task ``task`` alone (its fine-tuned model)."""
        alpha = torch.zeros(self.n_tasks, self.n_layers, device=self.device)
        alpha[task] = 1.0
        return alpha

    @torch.no_grad()
    def bake(self, alpha: torch.Tensor | None = None) -> Scorer:
        """A standalone scorer with merged weights: one ordinary forward pass per photo."""
        merged = self.merged_parameters(alpha)
        baked = copy.deepcopy(self.base)
        for name, param in baked.named_parameters():
            if name in merged:
                param.copy_(merged[name])
            param.requires_grad_(False)
        return baked.eval()

    @staticmethod
    @torch.no_grad()
    def bake_from_bundle(
        bundle: Bundle, alpha: torch.Tensor, device: torch.device | str = "cpu", base: Scorer | None = None
    ) -> Scorer:
        """Bake without holding every task vector at once: memory is the base plus one task vector.

        This is the ranking path when the task vectors are not loaded (for ViT-L-14 about 2.5 GB instead
        of 8.5 GB). ``base``, when given, is copied instead of built again.
        """
        scorer = copy.deepcopy(base) if base is not None else create_base_scorer(bundle, device)
        layer_names = scorer.float_parameter_names()
        if tuple(alpha.shape) != (len(bundle.tasks), len(layer_names)):
            raise BundleError(
                f"coefficients have shape {tuple(alpha.shape)}, the bundle needs "
                f"{(len(bundle.tasks), len(layer_names))}"
            )
        alpha = alpha.detach().float().cpu()
        for task in range(len(bundle.tasks)):
            bundle.load_task_vector(task).apply_to(scorer, dict(zip(layer_names, alpha[task].tolist())))
        for param in scorer.parameters():
            param.requires_grad_(False)
        return scorer.to(device).eval()

    def _apply(self, fn, recurse: bool = True):  # keep the task-vector stacks on the module's device
        super()._apply(fn, recurse)
        self._taus = [fn(t) for t in self._taus]
        return self
