"""Curvature of the training loss: Hessian-vector products and the top Hessian eigenvalue.

The landscape section ([S] §3 and the book's "true sharpness" extra) uses these to put the
paper's *effective* β-smoothness (a finite difference of gradients along the gradient) beside the
largest eigenvalue λ_max of the Hessian of the training loss, the curvature that decides whether
gradient descent at step size lr is stable (λ_max < 2/lr for a quadratic).

    lam = hessian.top_hessian_eigenvalue(model, x, y, loss_fn, iters=20)

Everything is measured **with BN in training mode** (batch statistics), i.e. on the loss that
training actually descends. PyHessian, a common tool for this, puts the model in eval mode, so
for BN nets it measures a different function (BN with running statistics); see the landscape page.
The model is left exactly as it was (weights, gradients, buffers, mode, random generators).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from bnopt import train

MatVec = Callable[[Tensor], Tensor]


def flatten(tensors: Sequence[Tensor]) -> Tensor:
    """Concatenate tensors into one flat vector."""
    return torch.cat([t.reshape(-1) for t in tensors])


def unflatten(vec: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    """Split a flat vector into tensors shaped like `like`."""
    out, start = [], 0
    for t in like:
        out.append(vec[start:start + t.numel()].view_as(t))
        start += t.numel()
    if start != vec.numel():
        raise ValueError(f"vector of length {vec.numel()} does not match tensors of total size {start}")
    return out


def loss_hvp(loss: Tensor, params: Sequence[Tensor]) -> MatVec:
    """The Hessian-vector product v ↦ ∇²loss · v over `params` (flat vectors), by double backward.

    The gradient graph is built once; each product costs one more backward pass. `v` may have
    any floating dtype (it is cast to the parameters'); the product comes back in that dtype.
    """
    params = list(params)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    flat_grad = flatten(grads)

    def matvec(v: Tensor) -> Tensor:
        """∇²loss · v."""
        hv = torch.autograd.grad(flat_grad, params, grad_outputs=v.to(flat_grad.dtype), retain_graph=True)
        return flatten(hv).detach()

    return matvec


def lanczos(matvec: MatVec, dim: int, iters: int, *, seed: int = 0, dtype: torch.dtype = torch.float64,
            device: torch.device | str = "cpu") -> np.ndarray:
    """Ritz values (ascending) of a symmetric operator after `iters` Lanczos steps.

    Full reorthogonalisation (fine for the few dozen steps used here). The largest Ritz value
    converges to λ_max from below, fast when the top of the spectrum is separated. The start
    vector comes from a private generator, so torch's global random state is untouched.
    """
    if iters < 1:
        raise ValueError(f"iters={iters} must be >= 1")
    iters = min(iters, dim)
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(dim, generator=gen, dtype=dtype).to(device)
    q /= q.norm()
    basis = [q]
    alphas, betas = [], []
    for k in range(iters):
        w = matvec(basis[-1]).to(dtype)
        alpha = torch.dot(w, basis[-1])
        alphas.append(float(alpha))
        Q = torch.stack(basis)
        w = w - Q.T @ (Q @ w)  # full reorthogonalisation (twice is enough)
        w = w - Q.T @ (Q @ w)
        beta = float(w.norm())
        if k == iters - 1 or beta < 1e-10 * max(1.0, abs(alphas[-1])):
            break
        betas.append(beta)
        basis.append(w / beta)
    t = np.diag(alphas) + np.diag(betas[:len(alphas) - 1], 1) + np.diag(betas[:len(alphas) - 1], -1)
    return np.linalg.eigvalsh(t)


def power_iteration(matvec: MatVec, dim: int, iters: int, *, seed: int = 0, tol: float = 1e-6,
                    device: torch.device | str = "cpu") -> float:
    """The eigenvalue of largest magnitude of a symmetric operator by power iteration.

    Stops when the Rayleigh quotient changes by less than `tol` (relative). Slower than Lanczos
    when the top eigenvalues are close; kept as a cross-check.
    """
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(dim, generator=gen, dtype=torch.float64).to(device)
    v /= v.norm()
    value = 0.0
    for _ in range(iters):
        w = matvec(v).to(torch.float64)
        new = float(torch.dot(w, v))
        norm = w.norm()
        if norm == 0:
            return 0.0
        v = w / norm
        if abs(new - value) <= tol * max(abs(new), 1e-30):
            return new
        value = new
    return value


def top_hessian_eigenvalue(model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor],
                           iters: int = 20, *, seed: int = 0, method: str = "lanczos") -> float:
    """λ_max of the Hessian of loss_fn(model(x), y) over all parameters, BN in training mode.

    method: "lanczos" (largest Ritz value after `iters` steps) or "power" (power iteration,
    at most `iters` steps; returns the eigenvalue of largest magnitude). The model is restored
    exactly afterwards (`train.preserved_state`).
    """
    if method not in ("lanczos", "power"):
        raise ValueError(f"unknown method {method!r}; choose 'lanczos' or 'power'")
    with train.preserved_state(model):
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        loss = loss_fn(model(x), y)
        if not torch.isfinite(loss):
            return float("nan")
        matvec = loss_hvp(loss, params)
        dim = sum(p.numel() for p in params)
        device = params[0].device
        if method == "power":
            return power_iteration(matvec, dim, iters, seed=seed, device=device)
        return float(lanczos(matvec, dim, iters, seed=seed, device=device)[-1])
