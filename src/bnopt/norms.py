"""Normalisation layers as one family: BatchNorm, [S]'s "noisy" BatchNorm, and l_p normalisation.

Every layer here normalises each *unit* over the batch: dimension 1 is the unit (feature of a
fully connected layer, channel of a convolution) and every other dimension (batch, height, width)
is part of the sample, the usual convention for BatchNorm on convolutions ([S] App. A.2.1).

All layers always use the statistics of the batch they are given, in training and in evaluation
mode alike, and keep no running statistics by default. This keeps them pure functions of
(parameters, input), so `torch.func.functional_call` + `torch.func.vmap` over stacked parameters
works, and it is all the [S]/[C] experiments need. Test accuracy of a BN net is therefore measured
with the statistics of the evaluation batch (`train.evaluate` uses large batches, 1,000 images).
`BatchNorm(track_running_stats=True)` restores PyTorch's running averages for whoever wants them
(they are updated in place, so do not use that flag inside vmap).

Used by `models.build` (the `norm` argument) and by the landscape/ICS sections through the models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

BN_EPS_DEFAULT = 1e-5  # PyTorch's default; [C] uses 1e-3; the exact scaling-law check uses 0


def unit_dims(x: Tensor) -> tuple[int, ...]:
    """Dimensions of `x` that form the sample of one unit: all but dimension 1."""
    if x.dim() < 2:
        raise ValueError(f"normalisation needs input of shape (batch, units, ...); got shape {tuple(x.shape)}")
    return (0,) + tuple(range(2, x.dim()))


def per_unit(v: Tensor, x: Tensor) -> Tensor:
    """Reshape a per-unit vector `v` (units,) to broadcast against `x` (batch, units, ...)."""
    return v.reshape((1, -1) + (1,) * (x.dim() - 2))


class NormLayer(nn.Module):
    """Base of the family: per-unit affine γ (init 1), β (init 0) after a normalisation.

    γ and β are the "BN parameters" that [C] trains with its own learning rate `lr_a`;
    `models.norm_parameters` finds them through this class.
    """

    def __init__(self, num_features: int, eps: float) -> None:
        super().__init__()
        if eps < 0:
            raise ValueError(f"eps={eps} is negative; use eps >= 0 (0 for the exact scaling check)")
        self.num_features = num_features
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(num_features))  # γ
        self.bias = nn.Parameter(torch.zeros(num_features))  # β

    def normalise(self, x: Tensor) -> Tensor:
        """The parameter-free normalisation (subclasses)."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """γ · normalise(x) + β, per unit."""
        return per_unit(self.weight, x) * self.normalise(x) + per_unit(self.bias, x)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps:g}"


class BatchNorm(NormLayer):
    """BatchNorm: (x − μ_B) / √(σ_B² + eps), σ_B² the biased batch variance, then γ, β.

    `eps` is the denominator constant: 1e-5 by default, 1e-3 for [C], 0 for the exact
    scaling-law check ([C] Lemma A.9). Gradients equal [S] Fact C.1 (tested).
    """

    def __init__(self, num_features: int, eps: float = BN_EPS_DEFAULT, *,
                 track_running_stats: bool = False, momentum: float = 0.1) -> None:
        super().__init__(num_features, eps)
        self.track_running_stats = track_running_stats
        self.momentum = momentum
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))

    def normalise(self, x: Tensor) -> Tensor:
        """(x − μ_B) / √(σ_B² + eps) per unit: the written-out formula (tests, reference)."""
        dims = unit_dims(x)
        mean = x.mean(dims)
        var = (x - per_unit(mean, x)).square().mean(dims)
        return (x - per_unit(mean, x)) / torch.sqrt(per_unit(var, x) + self.eps)

    def forward(self, x: Tensor) -> Tensor:
        """γ · normalise(x) + β with PyTorch's fused kernel (the same maths, half the ops).

        Calls the ATen op directly: `F.batch_norm` refuses eps = 0, which the exact scaling check needs.
        """
        unit_dims(x)
        use_batch = self.training or not self.track_running_stats
        running = (self.running_mean, self.running_var) if self.track_running_stats else (None, None)
        return torch.batch_norm(x, self.weight, self.bias, *running, use_batch, self.momentum, self.eps,
                                torch.backends.cudnn.enabled)


class LpNorm(NormLayer):
    """l_p normalisation of [S] §3.3: subtract the batch mean, divide by the average l_p norm.

    The text says the activations are normalised "by the average of their l_p-norm (before
    shifting the mean)". We read "before shifting" literally: the divisor is computed from the
    *raw* activations y of unit j, d_j = (mean_i |y_ij|^p)^(1/p) (p = ∞: max_i |y_ij|), and the
    output is γ (y − μ_j) / (d_j + eps) + β. So y / d_j has average l_p norm exactly 1 (tested).
    (The other reading, the norm of y − μ, makes p = 2 identical to BN.)
    """

    def __init__(self, num_features: int, p: float, eps: float = BN_EPS_DEFAULT) -> None:
        super().__init__(num_features, eps)
        if not (p >= 1):
            raise ValueError(f"p={p} is not a norm order; use p = 1, 2 or math.inf")
        self.p = float(p)

    def normalise(self, x: Tensor) -> Tensor:
        """(x − μ_B) / (average l_p norm of x over the batch + eps), per unit."""
        dims = unit_dims(x)
        mean = x.mean(dims)
        return (x - per_unit(mean, x)) / (per_unit(lp_average_norm(x, self.p), x) + self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, p={self.p:g}, eps={self.eps:g}"


def match_output_scale(model: nn.Module, x: Tensor) -> None:
    """Set γ of every l_p layer so that its output has std 1 per unit on batch `x`, as BN's has at γ = 1.

    One forward pass in training mode, layer by layer from the input (each layer sees the matched
    layers before it); β and every other parameter are left as they are.
    """
    def match(module: LpNorm, inputs: tuple[Tensor, ...]) -> None:
        z = module.normalise(inputs[0])
        module.weight.copy_(1.0 / z.std(dim=unit_dims(z), unbiased=False).clamp_min(torch.finfo(z.dtype).tiny))

    layers = [m for m in model.modules() if isinstance(m, LpNorm)]
    if not layers:
        raise ValueError("match_output_scale: the model has no l_p normalisation layer (norm 'l1', 'l2' or 'linf')")
    handles = [m.register_forward_pre_hook(match) for m in layers]
    was_training = model.training
    try:
        with torch.no_grad():
            model.train()(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


def lp_average_norm(x: Tensor, p: float) -> Tensor:
    """Per-unit average l_p norm over the batch: (mean |x|^p)^(1/p); p = ∞ gives max |x|."""
    dims = unit_dims(x)
    if math.isinf(p):
        return x.abs().amax(dims)
    if p == 1:
        return x.abs().mean(dims)
    if p == 2:
        return x.square().mean(dims).sqrt()
    return x.abs().pow(p).mean(dims).pow(1.0 / p)


@dataclass(frozen=True)
class NoiseSpec:
    """Constants of [S] Algorithm 1 (App. A.2.1): the paper's values are the defaults."""

    n_mu: float = 0.5  # μ_j^t ~ U(−n_μ, n_μ): per unit and step
    n_sigma: float = 1.25  # σ_j^t ~ U(1, n_σ): per unit and step
    r_mu: float = 0.1  # m_ij ~ U(μ − r_μ, μ + r_μ): per sample
    r_sigma: float = 0.1  # s_ij ~ N(σ, r_σ) (r_σ the standard deviation): per sample
    scaled: bool = False  # the book's variant: the additive part m in units of each unit's batch std


class NoiseInjection(nn.Module):
    """[S] Algorithm 1: a_ij ← s_ij · a_ij + m_ij with a fresh noise distribution each step.

    At every call in training mode, for each unit j: μ ~ U(−n_μ, n_μ), σ ~ U(1, n_σ); for each
    sample i (batch × height × width for convolutions): m_ij ~ U(μ − r_μ, μ + r_μ),
    s_ij ~ N(σ, r_σ). In evaluation mode it is the identity. Randomness comes from the layer's own
    `torch.Generator`, seeded from the model seed, so runs are reproducible and
    `train.preserved_state` can rewind it. (Random ops inside `torch.func.vmap` need the vmap's
    `randomness` argument; nothing here vmaps a noisy net: `landscape.is_pure` excludes them.)
    """

    def __init__(self, num_features: int, seed: int, spec: NoiseSpec = NoiseSpec()) -> None:
        super().__init__()
        self.num_features = num_features
        self.spec = spec
        self.seed = int(seed)
        self._generators: dict[torch.device, torch.Generator] = {}
        self.last_noise: tuple[Tensor, Tensor] | None = None  # (s, m) of the latest call, for tests

    def generator(self, device: torch.device) -> torch.Generator:
        """The layer's generator on `device` (created from the seed on first use)."""
        device = torch.device(device)
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    def get_rng_state(self) -> dict[torch.device, Tensor]:
        """States of the layer's generators (see `train.preserved_state`)."""
        return {d: g.get_state() for d, g in self._generators.items()}

    def set_rng_state(self, state: dict[torch.device, Tensor]) -> None:
        """Restore states saved by `get_rng_state`; generators created since are dropped."""
        self._generators = {d: g for d, g in self._generators.items() if d in state}
        for d, s in state.items():
            self.generator(d).set_state(s)

    def draw(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Multiplicative noise s and additive noise m, both shaped like `x`."""
        sp, g, shape = self.spec, self.generator(x.device), x.shape
        opts = dict(generator=g, device=x.device, dtype=x.dtype)
        units = (1, shape[1]) + (1,) * (x.dim() - 2)
        mu = (torch.rand(units, **opts) * 2 - 1) * sp.n_mu
        sigma = 1 + torch.rand(units, **opts) * (sp.n_sigma - 1)
        m = mu + (torch.rand(shape, **opts) * 2 - 1) * sp.r_mu
        s = sigma + torch.randn(shape, **opts) * sp.r_sigma
        return s, m

    def forward(self, x: Tensor) -> Tensor:
        """Apply fresh noise in training mode; identity in evaluation mode."""
        if not self.training:
            return x
        s, m = self.draw(x)
        if self.spec.scaled:  # Algorithm 1's additive part measured in each unit's spread, not absolute
            m = m * per_unit(x.detach().std(dim=unit_dims(x), unbiased=False), x)
        self.last_noise = (s, m)
        return s * x + m

    def extra_repr(self) -> str:
        return f"{self.num_features}, {self.spec}"


class NoisyBatchNorm(BatchNorm):
    """[S]'s "noisy" BatchNorm: BatchNorm (with γ, β) followed by Algorithm 1's noise."""

    def __init__(self, num_features: int, eps: float = BN_EPS_DEFAULT, *, seed: int,
                 spec: NoiseSpec = NoiseSpec()) -> None:
        super().__init__(num_features, eps)
        self.noise = NoiseInjection(num_features, seed, spec)

    def forward(self, x: Tensor) -> Tensor:
        """BatchNorm, then the injected noise (training mode only)."""
        return self.noise(super().forward(x))


NORMS: tuple[str, ...] = ("none", "bn", "noisy_bn", "l1", "l2", "linf")


def check_norm(norm: str) -> str:
    """Return `norm` if known, else raise an error listing the valid ones."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(map(repr, NORMS))}")
    return norm


def make_norm(norm: str, num_features: int, *, eps: float | None = None, seed: int = 0,
              noise: bool | str = False) -> nn.Module | None:
    """The normalisation layer named `norm` for `num_features` units (None for "none").

    `noise=True` adds [S] Algorithm 1's noise after the layer (with norm="none": noise alone,
    the "same noise without BN" control of [S] §2.1); "noisy_bn" is "bn" with noise.
    `noise="scaled"` adds it with its additive part scaled to each unit's spread (`NoiseSpec.scaled`).
    """
    if noise not in (False, True, "scaled"):
        raise ValueError(f"noise={noise!r}: use False, True ([S] Algorithm 1) or 'scaled'")
    check_norm(norm)
    eps = BN_EPS_DEFAULT if eps is None else eps
    if norm == "noisy_bn" or (norm == "bn" and noise):
        return NoisyBatchNorm(num_features, eps, seed=seed)
    layer: nn.Module | None = {
        "none": lambda: None,
        "bn": lambda: BatchNorm(num_features, eps),
        "l1": lambda: LpNorm(num_features, 1, eps),
        "l2": lambda: LpNorm(num_features, 2, eps),
        "linf": lambda: LpNorm(num_features, math.inf, eps),
    }[norm]()
    if not noise:
        return layer
    injected = NoiseInjection(num_features, seed, NoiseSpec(scaled=noise == "scaled"))
    return injected if layer is None else nn.Sequential(layer, injected)


def noise_layers(model: nn.Module) -> list[NoiseInjection]:
    """All noise-injection layers of `model` (their generators are part of its state)."""
    return [m for m in model.modules() if isinstance(m, NoiseInjection)]


def bn_input_gradient(dz: Tensor, b: Tensor, gamma: Tensor, sigma: Tensor) -> Tensor:
    """[S] Fact C.1 for one unit: ∂f/∂A = γ/(mσ) (m ∂f/∂C − Σ ∂f/∂C − B Σ (∂f/∂C) B).

    `dz` = ∂f/∂C and `b` = B = (A − μ)/σ are vectors over the batch of size m.
    """
    m = dz.shape[0]
    return gamma / (m * sigma) * (m * dz - dz.sum() - b * (dz * b).sum())
