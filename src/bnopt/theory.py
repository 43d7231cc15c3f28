"""[S] §4 on live networks: both sides of Theorem 4.1 and of Theorem 4.2 for one BatchNorm layer.

Notation of [S] §4 for unit j of a BN layer, over a batch of m samples (for a convolution the
sample is batch × height × width, as BN itself does): y_j the pre-BN activations, μ_j, σ_j their
batch mean and standard deviation, ŷ_j = (y_j − μ_j)/σ_j, z_j = γ_j ŷ_j + β_j; L̂ the loss of the
BN net, and ĝ_j = ∂L̂/∂z_j, which equals the gradient ∂L/∂y_j of the "identical" net without this
BN layer ([S]'s setup). Then

- Thm 4.1:  ‖∇_{y_j} L̂‖² ≤ γ²/σ_j² (‖ĝ_j‖² − ⟨1, ĝ_j⟩²/m − ⟨ĝ_j, ŷ_j⟩²/m),
- Thm 4.2:  (∇_{y_j} L̂)ᵀ ∂²L̂/∂y_j∂y_j (∇_{y_j} L̂)
              ≤ γ²/σ_j² (∇_{y_j} L̂)ᵀ H_jj (∇_{y_j} L̂) − γ/(mσ_j²) ⟨ĝ_j, ŷ_j⟩ ‖∇_{y_j} L̂‖²,
  with H_jj = ∂²L̂/∂z_j∂z_j (Hessian-vector products on both sides).

[S] App. C derives both with *equality* for BN without the ε in its denominator (it uses
‖ŷ_j‖² = m, which holds only for ε = 0). We therefore evaluate both sides twice at the live
weights: "exact BN" (a float64 copy of the net with this layer's ε set to 0: the gap must be at
float64 precision) and "as trained" (the net itself, float32, its own ε: the gap is then of order
ε/σ_j², the price of the ε the theorem leaves out). Neither changes the live model. The checked
layer is evaluated with the written-out formula `norms.NormLayer.forward` (PyTorch's fused kernel
refuses ε = 0 in training mode); the rest of the net runs as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from bnopt import models, norms, train

LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class TheoremSides:
    """Both sides of Thm 4.1 (every unit) and Thm 4.2 (the units in `units_42`) at one step."""

    lhs_41: np.ndarray  # ‖∇_{y_j} L̂‖², per unit
    rhs_41: np.ndarray  # γ²/σ² (‖ĝ‖² − ⟨1,ĝ⟩²/m − ⟨ĝ,ŷ⟩²/m), per unit
    units_42: np.ndarray  # unit indices checked for Thm 4.2
    lhs_42: np.ndarray  # (∇_y L̂)ᵀ ∂²L̂/∂y∂y (∇_y L̂)
    rhs_42: np.ndarray  # γ²/σ² (∇_y L̂)ᵀ H (∇_y L̂) − γ/(mσ²) ⟨ĝ,ŷ⟩ ‖∇_y L̂‖²
    # What carries content beyond the identity (per unit of Thm 4.1; per checked unit of 4.2):
    ghat_sq_41: np.ndarray = field(default_factory=lambda: np.zeros(0))  # ‖ĝ‖², the net without this BN
    removed_41: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (⟨1,ĝ⟩² + ⟨ĝ,ŷ⟩²)/(m‖ĝ‖²)
    gain_41: np.ndarray = field(default_factory=lambda: np.zeros(0))  # γ/σ
    ghat_yhat_42: np.ndarray = field(default_factory=lambda: np.zeros(0))  # ⟨ĝ, ŷ⟩


def relative_gap(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """|lhs − rhs| / max(|lhs|, |rhs|) elementwise (0 where both are 0)."""
    scale = np.maximum(np.abs(lhs), np.abs(rhs))
    return np.divide(np.abs(lhs - rhs), scale, out=np.zeros_like(scale, dtype=float), where=scale > 0)


def _split(model: nn.Sequential, layer: int) -> tuple[nn.Sequential, models.Block, nn.Sequential]:
    """(modules before, the Block holding weight layer #`layer`, modules after) of a Sequential net."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"theorem checks need an nn.Sequential of Blocks (models.build), not {type(model).__name__}")
    block = models.blocks(model)[layer - 1]
    children = list(model)
    idx = next((i for i, m in enumerate(children) if m is block), None)
    if idx is None:
        raise ValueError(f"layer #{layer} is nested below the top level; the checks need top-level Blocks")
    if not isinstance(block.norm, norms.BatchNorm):
        raise ValueError(f"layer #{layer} is followed by {type(block.norm).__name__}, not BatchNorm; "
                         "choose a layer with BN after it (the theorems are about BN)")
    return nn.Sequential(*children[:idx]), block, nn.Sequential(*children[idx + 1:])


def _after_norm(block: models.Block, rest: nn.Sequential) -> Callable[[Tensor], Tensor]:
    """z ↦ the net's output from the BN output z of `block` (activation, pooling, later layers)."""
    def forward(z: Tensor) -> Tensor:
        if block.act is not None:
            z = block.act(z)
        if block.pool is not None:
            z = block.pool(z)
        return rest(z)
    return forward


def _unit_rows(t: Tensor) -> Tensor:
    """(batch, units, ...) → (units, m): each unit's sample as one row."""
    return t.transpose(0, 1).reshape(t.shape[1], -1)


def theorem_sides(model: nn.Sequential, layer: int, x: Tensor, y: Tensor, loss_fn: LossFn,
                  units_42: int | None = 4, *, exact: bool = True) -> TheoremSides:
    """Both sides of Thm 4.1 (all units) and Thm 4.2 (the first `units_42` units) at the BN after layer #`layer`.

    exact=True: on a float64 copy with this BN's ε = 0 (the theorems' BN; equality expected).
    exact=False: on the net as it is (its dtype, its ε). The live model is never changed.
    """
    if exact:
        net = copy.deepcopy(model).double()
        x = x.double() if x.is_floating_point() else x
        y = y.double() if y.is_floating_point() else y
    else:
        net = model
    with train.preserved_state(model):
        net.train()
        before, block, rest = _split(net, layer)
        if exact:
            block.norm.eps = 0.0
        head = _after_norm(block, rest)
        with torch.no_grad():
            a = before(x)
        pre = block.layer(a).detach().requires_grad_(True)  # y: pre-BN activations
        bn = block.norm
        z = norms.NormLayer.forward(bn, pre)  # the written-out BN formula (allows ε = 0)
        loss = loss_fn(head(z), y)
        g_y, g_z = torch.autograd.grad(loss, (pre, z), create_graph=True)
        rows_y, gy, gz = _unit_rows(pre.detach()), _unit_rows(g_y.detach()), _unit_rows(g_z.detach())
        m = rows_y.shape[1]
        mu = rows_y.mean(1, keepdim=True)
        sigma2 = (rows_y - mu).square().mean(1) + bn.eps
        y_hat = (rows_y - mu) / sigma2.sqrt()[:, None]
        gamma = bn.weight.detach()
        lhs_41 = gy.square().sum(1)
        rhs_41 = gamma**2 / sigma2 * (gz.square().sum(1) - gz.sum(1)**2 / m - (gz * y_hat).sum(1)**2 / m)
        n42 = rows_y.shape[0] if units_42 is None else min(units_42, rows_y.shape[0])
        ghat_sq = gz.square().sum(1)
        removed = (gz.sum(1)**2 + (gz * y_hat).sum(1)**2) / m / ghat_sq.clamp_min(torch.finfo(ghat_sq.dtype).tiny)
        lhs_42, rhs_42, gy42 = [], [], []
        z_leaf = z.detach().requires_grad_(True)
        g_zleaf = torch.autograd.grad(loss_fn(head(z_leaf), y), z_leaf, create_graph=True)[0]
        for j in range(n42):
            v = torch.zeros_like(pre)
            v[:, j] = g_y.detach()[:, j]  # direction ∇_{y_j} L̂, zero on the other units
            hv = torch.autograd.grad((g_y * v).sum(), pre, retain_graph=True)[0]
            hu = torch.autograd.grad((g_zleaf * v).sum(), z_leaf, retain_graph=True)[0]
            vj = v[:, j].reshape(-1)
            lhs_42.append(float((hv * v).sum()))
            quad_h = float((hu * v).sum())  # (∇_y L̂)ᵀ H_jj (∇_y L̂)
            ghat_yhat = float((gz[j] * y_hat[j]).sum())
            gy42.append(ghat_yhat)
            rhs_42.append(float(gamma[j]**2 / sigma2[j] * quad_h
                                - gamma[j] / (m * sigma2[j]) * ghat_yhat * vj.square().sum()))
    def arr(t: Tensor) -> np.ndarray:
        return t.detach().double().cpu().numpy()

    return TheoremSides(arr(lhs_41), arr(rhs_41), np.arange(n42), np.asarray(lhs_42), np.asarray(rhs_42),
                        arr(ghat_sq), arr(removed), arr(gamma.abs() / sigma2.sqrt()), np.asarray(gy42))
