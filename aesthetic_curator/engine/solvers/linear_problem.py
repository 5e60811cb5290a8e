"""The fast solver's inner problem: the rank loss of linearised scores, with a ridge prior and damping.

On ``s + J d`` the Bradley–Terry loss is convex and costs no pass through the network, so the
prior's strength is chosen here by cross-validation over the rated photos, and every damped step
is solved here exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aesthetic_curator.engine.judgements import Judgements
from aesthetic_curator.engine.rank_loss import cross_validated_choice, held_out_pair_splits

#: Candidate ridge strengths (per unit of squared coefficient change) tried by cross-validation.
RIDGE_GRID = tuple(10.0**e for e in (-6, -5, -4, -3.5, -3, -2.5, -2, -1.5, -1, 0))
#: Above this many ordered pairs a seeded random subset is used for the linear fit (memory bound).
MAX_PAIRS = 20_000
#: Newton iterations per fit at most; the rank loss is smooth and convex, and 10-20 reach machine precision.
NEWTON_ITERATIONS = 50


class LinearProblem:
    """The rank loss of the linearised scores ``s + J d`` over ordered pairs, plus ridge and damping.

    Works in photo space (``J d`` is [K]) and only then forms pair margins, so a step costs
    K x P operations rather than pairs x P.
    """

    def __init__(self, scores: torch.Tensor, jacobian: torch.Tensor, hi: torch.Tensor, lo: torch.Tensor) -> None:
        self.jacobian = jacobian.reshape(jacobian.shape[0], -1).double()
        self.hi, self.lo = hi, lo
        self.margin0 = (scores[hi] - scores[lo]).double()
        self._gram: torch.Tensor | None = None

    def margins(self, d: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        moved = self.jacobian @ d
        if rows is None:
            return self.margin0 + moved[self.hi] - moved[self.lo]
        return self.margin0[rows] + moved[self.hi[rows]] - moved[self.lo[rows]]

    def curvature_scale(self) -> float:
        """Mean diagonal of the loss's Hessian at d = 0: the natural unit of the damping."""
        p = torch.sigmoid(-self.margin0)
        diff = self.jacobian[self.hi] - self.jacobian[self.lo]
        return float((p * (1 - p))[:, None].mul(diff.square()).mean()) or 1.0

    def loss(self, d: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        return F.softplus(-self.margins(d, rows)).mean()

    def fit(
        self,
        offset: torch.Tensor,
        ridge: float,
        damping: float,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """argmin_d loss(d) + ridge * |offset + d|^2 + damping * |d|^2 (strictly convex), solved by Newton's method.

        ``offset`` is the current coefficients minus the prior (the adaptive init). Setting the gradient
        to zero shows the minimiser is ``d0 + J^T c`` with ``d0 = -ridge / (ridge + damping) * offset``:
        the loss sees ``d`` only through the K photo scores ``J d``. So Newton runs on the K unknowns ``c``
        with the K x K Gram matrix ``J J^T``, not on the tasks x layers coefficients: a few K x K solves
        reach the exact minimiser, where L-BFGS on the coefficients took about ten times as long and
        stopped at its tolerance (docs/evaluation.md).
        """
        hi, lo = (self.hi, self.lo) if rows is None else (self.hi[rows], self.lo[rows])
        shrink = ridge + damping
        if shrink <= 0:
            raise ValueError("the linear fit needs a positive ridge or damping")
        d0 = -(ridge / shrink) * offset.double()
        if hi.numel() == 0:
            return d0
        k = self.jacobian.shape[0]
        gram = self.gram()
        base = self.margins(d0, rows)
        mu, n = 2 * shrink, hi.numel()

        def objective(c: torch.Tensor, u: torch.Tensor) -> float:
            return float(F.softplus(-(base + u[hi] - u[lo])).mean() + shrink * (c @ u))

        c = torch.zeros(k, dtype=torch.float64)
        u = torch.zeros(k, dtype=torch.float64)  # gram @ c
        value = objective(c, u)
        for _ in range(NEWTON_ITERATIONS):
            margins = base + u[hi] - u[lo]
            p = torch.sigmoid(-margins)
            q, w = -p / n, p * (1 - p) / n
            gradient = torch.bincount(hi, q, k) - torch.bincount(lo, q, k) + mu * c  # the gradient is gram @ this
            curvature = torch.bincount(
                torch.cat([hi * k + hi, lo * k + lo, hi * k + lo, lo * k + hi]),
                torch.cat([w, w, -w, -w]),
                k * k,
            ).reshape(k, k)
            step = -torch.linalg.solve(curvature @ gram + mu * torch.eye(k, dtype=torch.float64), gradient)
            slope = float((gram @ gradient) @ step)
            if slope > -1e-15 * max(1.0, abs(value)):
                break
            size, step_u = 1.0, gram @ step
            while size > 1e-8:
                candidate = objective(c + size * step, u + size * step_u)
                if candidate <= value + 1e-4 * size * slope:
                    break
                size /= 2
            else:
                break
            c, u, value = c + size * step, u + size * step_u, candidate
        return d0 + self.jacobian.T @ c

    def gram(self) -> torch.Tensor:
        """J J^T [K, K], computed once per problem."""
        if self._gram is None:
            self._gram = self.jacobian @ self.jacobian.T
        return self._gram


def ordered_pairs(judgements: Judgements, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(better, worse) photo indices of every ordered pair (stars and choices), a seeded sample above MAX_PAIRS."""
    hi, lo = judgements.pairs()
    if hi.numel() > MAX_PAIRS:
        keep = torch.randperm(hi.numel(), generator=torch.Generator().manual_seed(seed))[:MAX_PAIRS]
        hi, lo = hi[keep], lo[keep]
    return hi, lo


def choose_ridge(problem: LinearProblem, k: int, folds: int, seed: int) -> float:
    """The ridge strength whose linear fit generalises best to pairs involving held-out photos."""
    splits = held_out_pair_splits(problem.hi, problem.lo, k, folds, seed)
    zero = torch.zeros(problem.jacobian.shape[1], dtype=torch.float64)

    def held_out_loss(ridge: float, train: torch.Tensor, valid: torch.Tensor) -> float:
        d = problem.fit(zero, ridge, 0.0, rows=train)
        with torch.no_grad():
            return float(problem.loss(d, valid))

    # Strongest first: ties go to the safer, smoother fit.
    return cross_validated_choice(list(reversed(RIDGE_GRID)), splits, held_out_loss)
