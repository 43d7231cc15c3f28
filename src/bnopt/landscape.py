"""Landscape probes of [S] §3 (Fig. 4, 9–14), as training hooks, with experiments and verdicts S5–S9.

At a training step with weights x, batch B and gradient g = ∇L(x) on B, a *probe* evaluates the
loss and its gradient at x − η d for step sizes η across a range (VGG: [1/2, 4] × lr; DLN:
[1/100, 30] × lr, [S] App. A.2.2), d = g (or a random direction of the same norm, [S] §3.2's extra):

- loss landscape: the band min_η..max_η of L(x − η d) ([S] Fig. 4a, 9a);
- gradient predictiveness: ‖∇L(x) − ∇L(x − η d)‖ over η ([S] Fig. 4b, 9b, 10);
- "effective" β-smoothness: max_η ‖∇L(x) − ∇L(x − η d)‖ / ‖η d‖ ([S] Fig. 4c, 9c).

BN stays in training mode (batch statistics of B) throughout, and a probe leaves the weights,
gradients, buffers (BN running statistics, when a net keeps them) and every random generator
exactly as it found them (`train.preserved_state`; tested). A probe at n step sizes costs n + 1
forward-backward passes (the first gives g), or one plain pass plus one pass vectorised over the
n points with `torch.func.vmap` for pure nets without convolutions (the DLN), where that is
faster: see `vmap_pays` and `benchmarks/bench_landscape.py`.

Hooks (all run in `before_step`, on W^t and the step's batch, so they see what the update sees):
`LandscapeProbe`, `SharpnessProbe` (top Hessian eigenvalue, `hessian`), `TheoremProbe`
(both sides of [S] Thm 4.1/4.2, `theory`), and `recording.ActivationRecorder` for Fig. 14.
`run_experiment(spec)` trains one net with them; `run_all(profile)` runs/loads every run of the
page through `results.load_or_run`; `CLAIMS` maps S5–S10 to their verdict functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap

from bnopt import claims, data, hessian, models, norms, profiles, recording, results, runtime, theory, train
from bnopt.claims import Verdict

LossFn = Callable[[Tensor, Tensor], Tensor]
DIRECTIONS = ("gradient", "random")
NORM_ORDER = ("none", "bn", "l1", "l2", "linf")  # runs of the page; "none" is [S]'s "standard"
MATCHED = "dln-linf_matched"  # the DLN's l∞ net with γ at init matched to BN's output scale (S8's reading)


def method_name(norm: str) -> str:
    """The plots' method name of a norm ("none" is [S]'s "standard" net)."""
    return "standard" if norm == "none" else norm


# --- one probe ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """Loss and gradient along x − η d at one training step."""

    eta: np.ndarray  # step sizes η
    loss0: float  # L(x)
    direction_norm: float  # ‖d‖ (= ‖g‖ along the gradient)
    loss: np.ndarray  # L(x − η d), per η
    grad_change: np.ndarray  # ‖∇L(x) − ∇L(x − η d)‖, per η ("gradient predictiveness")

    @property
    def beta(self) -> float:
        """Effective β-smoothness: max over η of ‖∇L(x) − ∇L(x − η d)‖ / ‖η d‖."""
        return float(np.max(self.grad_change / (self.eta * self.direction_norm)))


def is_pure(model: nn.Module) -> bool:
    """Whether `model` is a function of its parameters only (no buffers, no noise): vmap-able."""
    return not list(model.buffers()) and not norms.noise_layers(model)


def vmap_pays(model: nn.Module) -> bool:
    """Whether the vectorised probe is the faster one: pure nets without convolutions.

    Measured (`benchmarks/bench_landscape.py`, 2 CPU cores, 6 step sizes): the DLN probe is ~1.7x
    faster with vmap than with the loop, but the VGG probe ~1.5x slower (vmap turns a batch of
    different conv weights into grouped convolutions, which are slow on CPU).
    """
    return is_pure(model) and not any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules())


def random_direction(like: Sequence[Tensor], norm: float, seed: int) -> list[Tensor]:
    """A Gaussian direction shaped like `like`, scaled to total l2 norm `norm` (private generator)."""
    gen = torch.Generator().manual_seed(seed)
    d = [torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device) for t in like]
    scale = norm / float(torch.sqrt(sum(t.double().square().sum() for t in d)))
    return [t * scale for t in d]


def _total_norm(tensors: Sequence[Tensor]) -> float:
    """l2 norm of a list of tensors taken as one vector (float64, no overflow for huge gradients)."""
    return float(torch.sqrt(sum(t.double().square().sum() for t in tensors)))


def _probe_loop(model: nn.Module, params: list[nn.Parameter], start: list[Tensor], g: list[Tensor],
                d: list[Tensor], x: Tensor, y: Tensor, loss_fn: LossFn, etas: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Losses and gradient changes at each η, one forward-backward per η (model moved in place)."""
    losses, changes = [], []
    for eta in etas:
        with torch.no_grad():
            for p, p0, di in zip(params, start, d):
                p.copy_(p0).add_(di, alpha=-float(eta))
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, params)
        losses.append(loss.item())
        changes.append(_total_norm([a - b for a, b in zip(grads, g)]))
    return np.asarray(losses), np.asarray(changes)


def _probe_vmap(model: nn.Module, names: list[str], start: list[Tensor], g: list[Tensor], d: list[Tensor],
                x: Tensor, y: Tensor, loss_fn: LossFn, etas: np.ndarray, chunk: int | None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Losses and gradient changes at all η in one pass vectorised over η (pure nets only)."""
    def loss_at(params: dict[str, Tensor]) -> Tensor:
        return loss_fn(functional_call(model, params, (x,)), y)

    def at_eta(eta: Tensor) -> tuple[Tensor, Tensor]:
        grads, loss = grad_and_value(loss_at)({n: p0 - eta * di for n, p0, di in zip(names, start, d)})
        change2 = sum((grads[n].double() - gi.double()).square().sum() for n, gi in zip(names, g))
        return loss, change2

    eta_t = torch.as_tensor(etas, dtype=start[0].dtype, device=start[0].device)
    losses, change2 = vmap(at_eta, chunk_size=chunk)(eta_t)
    return losses.double().cpu().numpy(), change2.sqrt().cpu().numpy()


def probe_landscape(model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn, etas: Sequence[float],
                    direction: str = "gradient", *, seed: int = 0, vectorised: bool | None = None,
                    chunk: int | None = None) -> Probe:
    """Loss and gradient change along x − η d for each η in `etas` (BN in training mode).

    direction: "gradient" (d = g = ∇L(x) on this batch) or "random" (Gaussian, ‖d‖ = ‖g‖, from
    `seed`). vectorised: None = use vmap where it is faster (`vmap_pays`); True forces it (error if impure);
    False = a loop of forward-backward passes. chunk: vmap chunk size (None = all η at once).
    The model, its gradients, buffers and all random generators are left exactly as they were.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; choose one of {DIRECTIONS}")
    etas = np.asarray(etas, dtype=float)
    if etas.ndim != 1 or etas.size == 0 or not np.all(etas > 0):
        raise ValueError(f"etas={etas} must be a non-empty 1-d sequence of positive step sizes")
    pure = is_pure(model)
    if vectorised and not pure:
        raise ValueError("vectorised=True needs a net without buffers or noise layers; use vectorised=None or False")
    use_vmap = vmap_pays(model) if vectorised is None else vectorised
    with train.preserved_state(model) as snap:
        model.train()
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        names, params = [n for n, _ in named], [p for _, p in named]
        loss0 = loss_fn(model(x), y)
        g = [t.detach() for t in torch.autograd.grad(loss0, params)]
        g_norm = _total_norm(g)
        d = g if direction == "gradient" else random_direction(g, g_norm, seed)
        if use_vmap:
            start = [p.detach() for p in params]
            losses, changes = _probe_vmap(model, names, start, g, d, x, y, loss_fn, etas, chunk)
        else:
            by_id = {id(p): s for p, s in zip(model.parameters(), snap.params)}
            start = [by_id[id(p)] for p in params]
            losses, changes = _probe_loop(model, params, start, g, d, x, y, loss_fn, etas)
    return Probe(etas, loss0.item(), g_norm, losses, changes)


def eta_grid(lr: float, low: float, high: float, n: int) -> np.ndarray:
    """n step sizes from low·lr to high·lr, evenly spaced in log (the paper gives only the range)."""
    if not (0 < low <= high) or n < 1:
        raise ValueError(f"step-size range [{low}, {high}] x lr with n={n} points is empty; need 0 < low <= high, n >= 1")
    return lr * np.geomspace(low, high, n)


# --- training hooks -------------------------------------------------------------------------------


def _due(step: int, every: int) -> bool:
    """Whether a probe that runs every `every` steps (0 = never) is due at `step`."""
    return every > 0 and step % every == 0


class LandscapeProbe(train.SelfContainedHook):
    """Hook: probe the landscape before the update (weights W^t, the step's batch) along each direction.

    Probes run every `every` steps, and every `early_every` steps before step `early_until`
    (the claims are about early training, where short runs have few regular probes).
    """

    def __init__(self, every: int, eta_factors: Sequence[float], directions: Sequence[str] = ("gradient",),
                 seed: int = 0, vectorised: bool | None = None, chunk: int | None = None,
                 early_every: int = 0, early_until: int = 0) -> None:
        self.every, self.eta_factors = every, np.asarray(eta_factors, dtype=float)
        self.early_every, self.early_until = early_every, early_until
        self.directions, self.seed, self.vectorised, self.chunk = tuple(directions), seed, vectorised, chunk
        self.steps: list[int] = []
        self.probes: dict[str, list[Probe]] = {d: [] for d in self.directions}

    def due(self, step: int) -> bool:
        """Whether a probe runs at `step`."""
        return _due(step, self.every) or (step < self.early_until and _due(step, self.early_every))

    def before_step(self, state: train.StepState) -> None:
        """Probe at W^t on this step's batch."""
        if not self.due(state.step):
            return
        self.steps.append(state.step)
        for direction in self.directions:
            self.probes[direction].append(probe_landscape(
                state.model, state.x, state.y, state.loss_fn, self.eta_factors * state.lr, direction,
                seed=1_000_003 * self.seed + state.step, vectorised=self.vectorised, chunk=self.chunk))

    def arrays(self) -> dict[str, np.ndarray]:
        """probe_steps, probe_eta_factors (η / lr) and, per direction ("probe", "probe_random"),
        _eta (steps × n step sizes), _loss0, _dnorm (‖d‖), _loss and _grad_change (steps × n)."""
        out: dict[str, np.ndarray] = {"probe_steps": np.asarray(self.steps, dtype=np.int64),
                                      "probe_eta_factors": self.eta_factors.copy()}
        for direction, probes in self.probes.items():
            key = "probe" if direction == "gradient" else "probe_random"
            n = len(self.eta_factors)
            out[f"{key}_eta"] = np.asarray([p.eta for p in probes]).reshape(-1, n)
            out[f"{key}_loss0"] = np.asarray([p.loss0 for p in probes], dtype=float)
            out[f"{key}_dnorm"] = np.asarray([p.direction_norm for p in probes], dtype=float)
            out[f"{key}_loss"] = np.asarray([p.loss for p in probes]).reshape(-1, n)
            out[f"{key}_grad_change"] = np.asarray([p.grad_change for p in probes]).reshape(-1, n)
        return out


class SharpnessProbe(train.SelfContainedHook):
    """Hook: top Hessian eigenvalue of the batch loss (BN in training mode) every `every` steps."""

    def __init__(self, every: int, iters: int, seed: int = 0) -> None:
        self.every, self.iters, self.seed = every, iters, seed
        self.steps: list[int] = []
        self.values: list[float] = []

    def due(self, step: int) -> bool:
        """Whether λ_max is computed at `step`."""
        return _due(step, self.every)

    def before_step(self, state: train.StepState) -> None:
        """Lanczos on the Hessian at W^t, this step's batch."""
        if not self.due(state.step):
            return
        self.steps.append(state.step)
        self.values.append(hessian.top_hessian_eigenvalue(state.model, state.x, state.y, state.loss_fn,
                                                          self.iters, seed=self.seed + state.step))

    def arrays(self) -> dict[str, np.ndarray]:
        """sharpness_steps, sharpness (λ_max per step)."""
        return {"sharpness_steps": np.asarray(self.steps, dtype=np.int64),
                "sharpness": np.asarray(self.values, dtype=float)}


class TheoremProbe(train.SelfContainedHook):
    """Hook: both sides of [S] Thm 4.1 (all units) and 4.2 (`units` units) at the BN after `layer`."""

    def __init__(self, every: int, layer: int, units: int) -> None:
        self.every, self.layer, self.units = every, layer, units
        self.steps: list[int] = []
        self.sides: dict[str, list[theory.TheoremSides]] = {"exact": [], "trained": []}

    def due(self, step: int) -> bool:
        """Whether the theorems are evaluated at `step`."""
        return _due(step, self.every)

    def before_step(self, state: train.StepState) -> None:
        """Evaluate both theorems exactly (float64, ε = 0) and as trained (the net's dtype and ε)."""
        if not self.due(state.step):
            return
        self.steps.append(state.step)
        for kind in self.sides:
            self.sides[kind].append(theory.theorem_sides(state.model, self.layer, state.x, state.y,
                                                         state.loss_fn, self.units, exact=kind == "exact"))

    def arrays(self) -> dict[str, np.ndarray]:
        """theorem_steps and, per kind (exact / trained), lhs/rhs of 4.1 and 4.2 as (steps, units)."""
        out: dict[str, np.ndarray] = {"theorem_steps": np.asarray(self.steps, dtype=np.int64),
                                      "theorem_layer": np.asarray(self.layer)}
        for kind, sides in self.sides.items():
            for name in ("lhs_41", "rhs_41", "lhs_42", "rhs_42", "ghat_sq_41", "removed_41", "gain_41",
                         "ghat_yhat_42"):
                out[f"thm_{kind}_{name}"] = np.asarray([getattr(s, name) for s in sides], dtype=float)
        return out


# --- experiments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One training run of the landscape page with its probes (one stored result)."""

    model_id: str  # "vgg" or "dln"
    norm: str  # "none" (standard), "bn", "l1", "l2", "linf"
    width: int | None
    lr: float
    steps: int
    batch_size: int | None  # None = full batch
    train_size: int | None  # VGG: CIFAR-10 subset (None = all); DLN: number of samples
    test_size: int | None  # VGG: CIFAR-10 test subset for accuracy (None = all; 0 = none)
    eval_every: int | None
    probe_every: int
    probe_every_early: int  # probe interval in the first 10% of the run (0 = as probe_every)
    eta_low: float  # step sizes from eta_low·lr ...
    eta_high: float  # ... to eta_high·lr
    n_etas: int
    random_directions: bool
    sharpness_every: int  # 0 = off
    lanczos_iters: int
    theorem_every: int  # 0 = off (BN runs only)
    theorem_layer: int
    theorem_units: int
    act_every: int  # 0 = off
    act_layers: tuple[int, ...]
    act_samples: int  # raw activation values kept per record (histograms)
    seed: int = 0
    standardise: bool = False  # VGG: standardise each input channel (data.standardise)
    match_scale: bool = False  # l_p nets: γ at init set so each l_p layer's output has BN's std 1 (S8's reading)
    engine: str = "auto"  # train.TrainConfig.engine: "auto" trains the DLN on the float64 moments engine


def _task(spec: RunSpec) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor] | None, str]:
    """(train data, test data or None, dataset variant) of a run."""
    if spec.model_id == "dln":
        x, y = data.dln_task(spec.train_size or 1000, spec.width or models.DEFAULT_WIDTH["dln"], spec.seed)
        return (x, y), None, "synthetic"
    if spec.model_id != "vgg":
        raise ValueError(f"model_id={spec.model_id!r}: the landscape page runs 'vgg' or 'dln'")
    tr, te = data.cifar10_task(spec.train_size, spec.test_size, spec.seed, spec.standardise)
    return (tr.x, tr.y), None if te is None else (te.x, te.y), tr.variant


def run_experiment(spec: RunSpec) -> dict[str, Any]:
    """Train one net with every probe of `spec`; returns the arrays to store (see the hooks)."""
    runtime.configure_threads(model_id=spec.model_id)
    runtime.seed_everything(spec.seed)
    train_data, test_data, variant = _task(spec)
    model = models.build(spec.model_id, spec.norm, width=spec.width, seed=spec.seed)
    if spec.match_scale:  # on the data of the first step (the DLN's is all of it)
        norms.match_output_scale(model, train_data[0][:spec.batch_size or len(train_data[0])])
    etas = np.geomspace(spec.eta_low, spec.eta_high, spec.n_etas)
    directions = ("gradient", "random") if spec.random_directions else ("gradient",)
    hooks: list[Any] = [LandscapeProbe(spec.probe_every, etas, directions, seed=spec.seed,
                                       early_every=spec.probe_every_early, early_until=spec.steps // 10),
                        SharpnessProbe(spec.sharpness_every, spec.lanczos_iters, seed=spec.seed)]
    if spec.norm == "bn" and spec.theorem_every:
        hooks.append(TheoremProbe(spec.theorem_every, spec.theorem_layer, spec.theorem_units))
    recorder = None
    if spec.act_every:  # last: it captures the training forward pass, after the probes restored the net
        recorder = recording.ActivationRecorder(model, spec.act_layers, every=spec.act_every,
                                                max_samples=spec.act_samples, seed=spec.seed)
        hooks.append(recorder)
    config = train.TrainConfig(lr=spec.lr, steps=spec.steps, batch_size=spec.batch_size, seed=spec.seed,
                               eval_every=spec.eval_every if test_data is not None else None, progress=False,
                               engine=spec.engine)
    log = train.train(model, train_data, config, hooks=hooks, loss_fn=models.loss_fn(spec.model_id),
                      test=test_data)
    out: dict[str, Any] = {"dataset": variant, "planned_steps": spec.steps, **log.arrays()}
    for hook in hooks[:-1] if recorder else hooks:
        out.update(hook.arrays())
    if recorder is not None:
        recorder.close()
        out.update({f"act_{k}": v for k, v in recorder.arrays().items()})
        out["act_layers"] = np.asarray(spec.act_layers, dtype=np.int64)
    return out


def run_specs(profile: str) -> dict[str, RunSpec]:
    """The page's own runs at `profile` (the DLN nets), keyed "dln-<norm>"; its VGG runs are `vgg_seeds.specs`."""
    s = profiles.settings("landscape", profile)
    specs = {f"dln-{norm}": RunSpec(
        "dln", norm, None, s.dln_lr, s.dln_steps, None, s.dln_samples, 0, None, s.dln_probe_every,
        s.dln_probe_every_early, s.dln_eta[0], s.dln_eta[1], s.n_etas,
        s.dln_random_directions and norm in ("none", "bn"),
        s.dln_sharpness_every if norm in ("none", "bn") else 0, s.lanczos_iters,
        s.dln_theorem_every, s.dln_theorem_layer, s.theorem_units, 0, (), 0, s.seed) for norm in NORM_ORDER}
    specs[MATCHED] = replace(specs["dln-linf"], match_scale=True)  # S8's reading with γ matched
    return specs


def run_all(profile: str, *, force: bool = False) -> dict[str, results.Result]:
    """Run (or load) every run of the landscape page at `profile`.

    Keys: "dln-<norm>" (`run_specs`) and the VGG nets at [S]'s lr 0.1 shared with the ICS page
    (`vgg_seeds.view`: "vgg-bn" for seed 0, "vgg-bn-s1", ... for the others); a VGG run whose CIFAR-10
    files are absent is a "not run" result (`results.is_run` False) saying why.
    The DLN seed study (`dln_seeds.landscape_runs`, its divergence search) comes under keys "seeds:…".
    """
    from . import dln_seeds, vgg_seeds

    page = {key: results.load_or_run(f"landscape-{key}", run_experiment, spec, profile=profile, force=force)
            for key, spec in run_specs(profile).items()}
    page.update(vgg_seeds.view(vgg_seeds.runs(profile, force=force), "landscape", profile))
    return dln_seeds.with_study(page, dln_seeds.landscape_runs(profile), profile)


# --- summaries ------------------------------------------------------------------------------------


def _worst(a: np.ndarray) -> np.ndarray:
    """Non-finite values (a probe that blew up) as +inf, so they count as 'worst' in medians."""
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a), a, np.inf)


def loss_band(res: Mapping[str, np.ndarray], key: str = "probe") -> tuple[np.ndarray, np.ndarray]:
    """(min, max) over η of L(x − η d) at each probe step ([S] Fig. 4a)."""
    loss = _worst(res[f"{key}_loss"])
    return loss.min(1), loss.max(1)


def predictiveness_band(res: Mapping[str, np.ndarray], key: str = "probe") -> tuple[np.ndarray, np.ndarray]:
    """(min, max) over η of ‖∇L(x) − ∇L(x − η d)‖ at each probe step ([S] Fig. 4b)."""
    change = _worst(res[f"{key}_grad_change"])
    return change.min(1), change.max(1)


def effective_beta(res: Mapping[str, np.ndarray], key: str = "probe") -> np.ndarray:
    """max over η of ‖∇L(x) − ∇L(x − η d)‖ / (η ‖d‖) at each probe step ([S] Fig. 4c)."""
    change = _worst(res[f"{key}_grad_change"])
    return (change / (res[f"{key}_eta"] * res[f"{key}_dnorm"][:, None])).max(1)


def early(res: Mapping[str, np.ndarray], values: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """The values at probe steps in the first `fraction` of the run's planned steps."""
    return values[res["probe_steps"] < fraction * int(res["planned_steps"])]


def median_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """median(a) / median(b), inf-aware (a blown-up probe counts as inf)."""
    ma, mb = float(np.median(_worst(a))), float(np.median(_worst(b)))
    if mb == 0:
        return math.inf if ma > 0 else math.nan
    return ma / mb


def smoothed_final_loss(res: Mapping[str, np.ndarray], fraction: float = 0.1) -> float:
    """Mean training loss over the last `fraction` of logged steps (inf if the run diverged)."""
    if bool(res["diverged"]):
        return math.inf
    loss = np.asarray(res["loss"], dtype=float)
    k = max(1, int(round(fraction * len(loss))))
    return float(loss[-k:].mean())


PROGRESS_FACTOR = 0.9  # a run "trained" if its final loss fell below 0.9 x its initial loss; a net
# still on its initial plateau (e.g. a deep plain ReLU net at chance) has a trivially flat landscape,
# and comparing its smoothness with a net that is training says nothing about the paper's claims.


def training_progress(res: Mapping[str, np.ndarray]) -> float:
    """Smoothed final training loss over the loss at step 0 (inf if the run diverged)."""
    first = float(np.asarray(res["loss"], dtype=float)[0])
    return smoothed_final_loss(res) / first if first > 0 else math.nan


def early_progress(res: Mapping[str, np.ndarray], fraction: float = 0.1) -> float:
    """Training loss at the end of the first `fraction` of the run (mean of its last tenth) over the loss at step 0."""
    loss = np.asarray(res["loss"], dtype=float)
    end = min(len(loss), max(1, int(round(fraction * int(res["planned_steps"])))))
    first = float(loss[0])
    return float(loss[end - max(1, end // 10):end].mean()) / first if first > 0 else math.nan


def loss_rises(res: Mapping[str, np.ndarray]) -> tuple[int, int, float]:
    """(steps whose full-batch loss rose, steps, largest one-step rise factor): edge-of-stability signs."""
    loss = np.asarray(res["loss"], dtype=float)
    ratio = loss[1:] / loss[:-1]
    return int(np.sum(ratio > 1)), len(ratio), float(np.max(ratio, initial=1.0))


def made_progress(res: Mapping[str, np.ndarray]) -> bool:
    """Whether the run trained at all: final loss below PROGRESS_FACTOR x initial (and not diverged)."""
    return training_progress(res) < PROGRESS_FACTOR


def mean_log_loss(res: Mapping[str, np.ndarray]) -> float:
    """Geometric mean of the training loss over the whole run (inf if it diverged): speed and level at once."""
    if bool(res["diverged"]):
        return math.inf
    loss = np.asarray(res["loss"], dtype=float)
    return float(np.exp(np.log(np.maximum(loss, 1e-300)).mean()))


def activation_shift(res: Mapping[str, np.ndarray], layers: Sequence[int] | None = None) -> float:
    """How far the recorded units' distributions move over training, in units of their initial spread.

    Per recorded layer (one random unit each, `recording.ActivationRecorder`):
    (|mean_T − mean_0| + |std_T − std_0|) / std_0 between the first and last record; averaged over
    those of `layers` that were recorded (default: every recorded layer).
    """
    recorded = [int(k) for k in np.atleast_1d(res["act_layers"])]
    shifts = []
    for k in recorded if layers is None else [k for k in layers if k in recorded]:
        mean, std = res[f"act_layer{k}_mean"], res[f"act_layer{k}_std"]
        if len(mean) < 2:
            return math.nan
        shifts.append((abs(mean[-1] - mean[0]) + abs(std[-1] - std[0])) / max(std[0], 1e-12))
    return float(np.mean(shifts)) if shifts else math.nan


def theorem_gaps(res: Mapping[str, np.ndarray], kind: str = "exact") -> dict[str, np.ndarray]:
    """Relative gaps |lhs − rhs| / max(|lhs|, |rhs|) of Thm 4.1 and 4.2, as (steps, units) arrays."""
    return {thm: theory.relative_gap(res[f"thm_{kind}_lhs_{thm}"], res[f"thm_{kind}_rhs_{thm}"])
            for thm in ("41", "42")}


# --- verdicts -------------------------------------------------------------------------------------

MIN_EARLY_PROBES = 3  # fewer probes in the first 10% of a run cannot give a median worth quoting
MIN_PROBES = 5  # likewise for medians over a whole run
SMOOTHER_FACTOR = 1.5  # "lower"/"less"/"more predictive": the BN median must beat the standard one by 1.5x;
# a margin rather than 1.0 so that probe-to-probe noise (~tens of %) cannot decide a verdict.
COMPARABLE_FACTOR = 2.0  # "comparable" performance and smoothness: training loss (geometric mean over the
# run, which rewards speed as [S] Fig. 13's curves do) and median effective β within 2x of BN's (the
# paper's Fig. 11-13 curves differ by about that much while called comparable).
THEOREM_TOL = 1e-8  # exact BN in float64: equality up to rounding (observed ~1e-13; 1e-8 leaves room)


def _pair(res: Mapping[str, results.Result], model_id: str) -> tuple[results.Result, results.Result]:
    """(standard, BN) results of `model_id`."""
    return res[f"{model_id}-none"], res[f"{model_id}-bn"]


def _dataset(res: Mapping[str, results.Result], keys: Sequence[str]) -> str:
    """The datasets the results rest on, comma-separated."""
    return ", ".join(sorted({res[k].dataset for k in keys if k in res}))


def vgg_ratio(r: Mapping[str, results.Result], claim_id: str) -> tuple[float, bool]:
    """One VGG seed's standard/BN ratio of S5–S7's measure ({"standard", "bn"} runs) and whether it has enough probes."""
    from . import dln_seeds

    metric, early_only = dln_seeds.SMOOTHNESS[claim_id]
    a, b = metric(r["standard"].arrays), metric(r["bn"].arrays)
    if early_only:
        a, b = early(r["standard"].arrays, a), early(r["bn"].arrays, b)
    enough = min(a.size, b.size) >= (MIN_EARLY_PROBES if early_only else MIN_PROBES)
    return (median_ratio(a, b) if min(a.size, b.size) else math.nan), enough


def _vgg_smoothness(res: Mapping[str, results.Result], claim_id: str, profile: str) -> Verdict:
    """VGG half of S5–S7 over its seeds (`vgg_seeds.vgg_verdict`): standard/BN ratio > SMOOTHER_FACTOR."""
    from . import vgg_seeds

    seeds = vgg_seeds.per_seed(res, {"standard": "vgg-none", "bn": "vgg-bn"})
    if not seeds:
        return claims.not_run_verdict(claim_id, "the VGG runs were not made (data not found)", profile)

    def holds(r: Mapping[str, results.Result]) -> bool | None:
        ratio, enough = vgg_ratio(r, claim_id)
        return bool(ratio > SMOOTHER_FACTOR) if enough else None

    numbers = {f"ratio, seed {s}": vgg_ratio(r, claim_id)[0] for s, r in seeds.items()}
    detail = f"a seed holds if its ratio > {SMOOTHER_FACTOR} (and has >= {MIN_PROBES} probes, {MIN_EARLY_PROBES} early)"
    return vgg_seeds.vgg_verdict(claim_id, seeds, "standard", holds, numbers=numbers, detail=detail,
                                 dataset=_dataset(res, ["vgg-none", "vgg-bn"]), profile=profile)


def _smoothness_verdict(claim_id: str, res: Mapping[str, results.Result], profile: str, what: str) -> Verdict:
    """Standard/BN ratio of a median smoothness measure (`dln_seeds.SMOOTHNESS[claim_id]`), DLN and VGG over seeds.

    DLN: per seed of the DLN study (`dln_seeds`, in `run_all` under `dln_seeds.PREFIX`), the ratio must exceed
    SMOOTHER_FACTOR; `claims.seed_verdict` decides over >= dln_seeds.MIN_SEEDS tested seeds (a seed whose
    standard or BN run did not train, `made_progress`, is not testable), under each reading,
    the headline being `dln_seeds.headline_convention`. VGG: the same ratio over its seeds
    (`_vgg_smoothness`, gated by `vgg_seeds.trains`). The halves are combined by `claims.combine`.
    """
    from . import dln_seeds

    runs = dln_seeds.study(res)
    if not runs or "divergence" not in runs:
        return claims.not_run_verdict(claim_id, "the DLN seed study was not run", profile)
    window = "in the first 10% of training" if claim_id == "S6" else "over all probes"
    vgg = _vgg_smoothness(res, claim_id, profile)
    keys = [k for k in ("vgg-none", "vgg-bn") if k in res] + [dln_seeds.PREFIX + "divergence"]

    def under(reading: str) -> Verdict:
        outcomes, ratios = dln_seeds.smoothness_outcomes(runs, reading, claim_id)
        numbers = {"median ratio over seeds": dln_seeds.nan_median(ratios),
                   "smallest ratio": float(np.min(ratios, initial=math.inf)) if ratios.size else math.nan}
        dln = claims.seed_verdict(claim_id, outcomes, min_seeds=dln_seeds.MIN_SEEDS, numbers=numbers,
                                  detail=f"a seed holds if its ratio > {SMOOTHER_FACTOR}")
        return claims.combine(claim_id, [("DLN", dln), ("VGG", vgg)],
                              detail=f"ratio = median {what} {window}, standard / BN",
                              dataset=_dataset(res, keys), profile=profile)

    names = dln_seeds.readings(profiles.settings("dln_seeds", profile))
    return dln_seeds.reading_verdicts(under, names, dln_seeds.headline_convention(runs["divergence"]))


def verdict_s5(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S5: with BN the loss varies less along the gradient (width of the loss band, standard/BN)."""
    return _smoothness_verdict("S5", res, profile, "loss-band width max_η L − min_η L")


def verdict_s6(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S6: with BN gradients are more predictive early on (max_η ‖Δ∇L‖, standard/BN, first 10%)."""
    return _smoothness_verdict("S6", res, profile, "gradient change max_η ‖∇L(x) − ∇L(x − ηg)‖")


def verdict_s7(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S7: with BN the effective β-smoothness is lower (median over probes, standard/BN)."""
    return _smoothness_verdict("S7", res, profile, "effective β-smoothness")


MIN_STEPS_S8 = 100  # below this many steps, final losses say little about "performance"


def _lp_failures(runs: Mapping[str, Mapping[str, np.ndarray]], m: str) -> tuple[dict[str, float], list[str]]:
    """S8's comparison in one set of runs of model `m` ({norm: arrays}): numbers and the l_p nets that miss BN."""
    bn_loss, bn_beta = mean_log_loss(runs["bn"]), float(np.median(_worst(effective_beta(runs["bn"]))))
    numbers = {f"{m} loss bn": bn_loss, f"{m} loss standard": mean_log_loss(runs["none"]), f"{m} beta bn": bn_beta}
    failures = []
    for p in ("l1", "l2", "linf"):
        loss, beta = mean_log_loss(runs[p]), float(np.median(_worst(effective_beta(runs[p]))))
        numbers[f"{m} loss {p}"], numbers[f"{m} beta {p}"] = loss, beta
        if not loss <= COMPARABLE_FACTOR * bn_loss:
            failures.append(f"{m} {p}: training loss {loss:.3g} > {COMPARABLE_FACTOR} x BN's {bn_loss:.3g}")
        if not beta <= COMPARABLE_FACTOR * bn_beta:
            failures.append(f"{m} {p}: median β {beta:.3g} > {COMPARABLE_FACTOR} x BN's {bn_beta:.3g}")
    return numbers, failures


def verdict_s8(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S8: l_p nets match BN (mean log training loss and median effective β within COMPARABLE_FACTOR of BN's);
    l1 trains the DLN better than BN (lower mean log loss).

    DLN (one seed: the page's runs) and VGG (over its seeds, gated by `vgg_seeds.trains`) are judged
    apart and combined by `claims.combine`. With the γ-matched DLN l∞ run (MATCHED) the verdict also
    carries S8 under that reading (`S8_READINGS`).
    """
    if not all(f"dln-{n}" in res for n in NORM_ORDER):
        return Verdict("S8", claims.NOT_TESTABLE, {}, "the DLN l_p runs were not made at this profile", "", profile)
    if int(res["dln-bn"].arrays["steps_run"]) < MIN_STEPS_S8:
        return Verdict("S8", claims.NOT_TESTABLE, {}, f"DLN runs shorter than {MIN_STEPS_S8} steps", "", profile)
    dln = _dln_s8({n: res[f"dln-{n}"].arrays for n in NORM_ORDER})
    headline = _s8(res, profile, dln)
    if MATCHED not in res or not results.is_run(res[MATCHED]):
        return headline
    matched_dln = _dln_s8({**{n: res[f"dln-{n}"].arrays for n in NORM_ORDER}, "linf": res[MATCHED].arrays})
    matched = _s8(res, profile, matched_dln, "vgg-linf_matched")
    loss = matched_dln.numbers
    return replace(headline, readings=(
        (S8_READINGS[0] + " (headline)", headline.verdict),
        (S8_READINGS[1], f"{matched.verdict} (DLN l∞ loss {loss['dln loss linf']:.3g} against BN's {loss['dln loss bn']:.3g}; "
                         f"at γ = 1: {dln.numbers['dln loss linf']:.3g})")))


S8_READINGS = ("γ = 1 at init in every l_p net, as in BN (the layers' default; [S] says nothing else)",
               "the l∞ nets with γ at init matched to BN's output scale (std 1 per unit on a training batch)")
"""S8's readings of how the l_p nets start: [S] §3.3 gives no init for γ; dividing by the max shrinks l∞'s output at
γ = 1 (to about a third of BN's for 1,000 Gaussian values), which the second reading undoes."""


def _dln_s8(runs: Mapping[str, Mapping[str, np.ndarray]]) -> Verdict:
    """S8 on the DLN's runs ({norm: arrays}): every l_p net within the factor of BN, and l1 below BN."""
    numbers, failures = _lp_failures(runs, "dln")
    if not numbers["dln loss l1"] < numbers["dln loss bn"]:
        failures.append(f"dln: l1 training loss {numbers['dln loss l1']:.3g} not below BN's {numbers['dln loss bn']:.3g}")
    return Verdict("S8", claims.NOT_REPRODUCED if failures else claims.REPRODUCED, numbers,
                   "; ".join(failures) or "every l_p net within the factor of BN, and l1 below BN")


def _s8(res: Mapping[str, results.Result], profile: str, dln: Verdict, vgg_linf: str = "vgg-linf") -> Verdict:
    """S8's verdict: the DLN half `dln` combined with the VGG half over its seeds (its l∞ nets: `vgg_linf`)."""
    from . import vgg_seeds

    seeds = vgg_seeds.per_seed(res, {n: vgg_linf if n == "linf" else f"vgg-{n}" for n in NORM_ORDER})
    if not seeds:
        vgg = claims.not_run_verdict("S8", "the VGG l_p runs were not made at this profile", profile)
    else:
        def compare(r: Mapping[str, results.Result]) -> tuple[dict[str, float], list[str]]:
            return _lp_failures({n: r[n].arrays for n in NORM_ORDER}, "vgg")

        per = {s: compare(r)[0] for s, r in seeds.items()}
        vgg = vgg_seeds.vgg_verdict(
            "S8", seeds, "none", lambda r: not compare(r)[1],
            numbers={f"{k}, median over seeds": vgg_seeds.seed_median([v[k] for v in per.values()])
                     for k in next(iter(per.values()))},
            detail="a seed holds if every l_p net is within the factor of BN's loss and median β")
    keys = [f"{m}-{n}" for m in ("vgg", "dln") for n in NORM_ORDER]
    return claims.combine("S8", [("DLN (one seed)", dln), ("VGG", vgg)],
                          detail=(f"loss = geometric mean of the training loss over the run; factor {COMPARABLE_FACTOR}"),
                          dataset=_dataset(res, keys), profile=profile)


def verdict_s9(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S9: l_p nets' sampled activation distributions shift more over training than the standard net's.

    Per seed (gated by `vgg_seeds.trains`), at the landscape settings' `act_layers`.
    """
    from . import vgg_seeds

    layers = profiles.settings("landscape", profile).act_layers
    names = ("none", "l1", "l2", "linf")
    seeds = vgg_seeds.per_seed(res, {n: f"vgg-{n}" for n in names})
    seeds = {s: r for s, r in seeds.items() if all(r[n].arrays["act_steps"].size >= 2 for n in names)}
    if not seeds:
        return Verdict("S9", claims.NOT_TESTABLE, {}, "no activation records of the VGG l_p runs at this profile",
                       "", profile)
    numbers = {f"shift {method_name(n)}, median over seeds": vgg_seeds.seed_median(
        [activation_shift(r[n].arrays, layers) for r in seeds.values()]) for n in names}

    def holds(r: Mapping[str, results.Result]) -> bool:
        base = activation_shift(r["none"].arrays, layers)
        return all(activation_shift(r[p].arrays, layers) > base for p in ("l1", "l2", "linf"))

    detail = ("shift = (|Δmean| + |Δstd|) / initial std of one random unit per layer "
              f"({', '.join(f'#{k}' for k in layers)}) between the first and last record, averaged over layers; "
              "a seed holds if every l_p net's exceeds the standard net's")
    return vgg_seeds.vgg_verdict("S9", seeds, "none", holds, numbers=numbers, detail=detail,
                                 dataset=_dataset(res, [f"vgg-{n}" for n in names]), profile=profile)


def bn_gradient_effect(res: Mapping[str, np.ndarray]) -> dict[str, float]:
    """What Thm 4.1's terms do on a live BN net (exact BN), beyond the identity itself.

    Over every checked step and unit: the median share of ‖ĝ‖² the two reduction terms remove, the
    range of γ/σ (above 1 the BN layer amplifies the gradient), the median and range of
    ‖∇_y L̂‖² / ‖ĝ‖² (BN's gradient against the same net without this BN), and the share of Thm 4.2
    checks with ⟨ĝ, ŷ⟩ > 0 (where its last term lowers the curvature bound).
    """
    if "thm_exact_removed_41" not in res or res["thm_exact_removed_41"].size == 0:
        return {}
    lhs, ghat = np.asarray(res["thm_exact_lhs_41"]).ravel(), np.asarray(res["thm_exact_ghat_sq_41"]).ravel()
    ratio = lhs[ghat > 0] / ghat[ghat > 0]
    gain, gy = np.asarray(res["thm_exact_gain_41"]).ravel(), np.asarray(res["thm_exact_ghat_yhat_42"]).ravel()
    return {"median share of ‖ĝ‖² removed": float(np.median(res["thm_exact_removed_41"])),
            "smallest γ/σ": float(gain.min()), "largest γ/σ": float(gain.max()),
            "median ‖∇_y L̂‖²/‖ĝ‖²": float(np.median(ratio)) if ratio.size else math.nan,
            "smallest ‖∇_y L̂‖²/‖ĝ‖²": float(ratio.min()) if ratio.size else math.nan,
            "largest ‖∇_y L̂‖²/‖ĝ‖²": float(ratio.max()) if ratio.size else math.nan,
            "share of 4.2 checks with ⟨ĝ,ŷ⟩ > 0": float(np.mean(gy > 0)) if gy.size else math.nan}


def verdict_s10(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S10: Thm 4.1 and 4.2 hold (with equality, as the proofs give) on live BN nets, exact BN in float64.

    The equality is an identity of BN's backward pass, so the verdict says only that the algebra and
    its implementation agree; the numbers of `bn_gradient_effect` say what the terms do on these nets.
    """
    numbers: dict[str, float] = {}
    keys = [k for k in ("vgg-bn", "dln-bn") if k in res and "theorem_steps" in res[k].arrays
            and res[k].arrays["theorem_steps"].size]
    if not keys:
        return Verdict("S10", claims.NOT_TESTABLE, {}, "no theorem checks at this profile", "", profile)
    ok = True
    for k in keys:
        a = res[k].arrays
        m = k.split("-")[0]
        for kind in ("exact", "trained"):
            for thm, gap in theorem_gaps(a, kind).items():
                numbers[f"{m}_{kind}_max_gap_{thm}"] = float(gap.max())
        numbers.update({f"{m}: {name}": v for name, v in bn_gradient_effect(a).items()})
        exact = theorem_gaps(a, "exact")
        ok &= all(float(g.max()) < THEOREM_TOL for g in exact.values())
        ok &= bool(np.all(a["thm_exact_lhs_41"] <= a["thm_exact_rhs_41"] * (1 + THEOREM_TOL)))
    detail = (f"largest relative gap |lhs − rhs| / max(|lhs|, |rhs|) over steps and units; reproduced "
              f"(as equality) if below {THEOREM_TOL:g} for exact BN (float64, ε = 0); 'trained' = the "
              "float32 net with its ε = 1e-5, where the ε the theorems omit opens a gap of order ε/σ². "
              "The equality is an identity of BN's backward pass, so 'reproduced' says the algebra holds, "
              "not that BN smooths: the other numbers say how much the reduction terms remove, whether "
              "γ/σ amplifies (> 1), how BN's gradient compares with the net's without this BN, and how "
              "often ⟨ĝ, ŷ⟩ > 0")
    return Verdict("S10", claims.REPRODUCED if ok else claims.NOT_REPRODUCED, numbers, detail,
                   _dataset(res, keys), profile)


CLAIMS: dict[str, tuple[Callable[[Mapping[str, results.Result], str], Verdict], tuple[str, ...]]] = {
    "S5": (verdict_s5, ("vgg-none", "vgg-bn", "dln-none", "dln-bn")),
    "S6": (verdict_s6, ("vgg-none", "vgg-bn", "dln-none", "dln-bn")),
    "S7": (verdict_s7, ("vgg-none", "vgg-bn", "dln-none", "dln-bn")),
    "S8": (verdict_s8, tuple(f"{m}-{n}" for m in ("vgg", "dln") for n in (*NORM_ORDER, "linf_matched"))),
    "S9": (verdict_s9, ("vgg-none", "vgg-l1", "vgg-l2", "vgg-linf")),
    "S10": (verdict_s10, ("vgg-bn", "dln-bn")),
}
"""Claim id -> (verdict function, keys of `run_all(profile)` it reads).

Every verdict function takes (results, profile): `results` maps the keys of `run_all` (e.g.
"vgg-bn", "dln-none") to `results.Result`s — pass `run_all(profile)` itself — and returns a
`claims.Verdict`. Missing runs (e.g. the VGG l_p runs at a profile that skips them) give
"not testable at this scale" or a DLN-only verdict, as each function's docstring says.
"""


def verdicts(res: Mapping[str, results.Result], profile: str) -> list[Verdict]:
    """Every verdict of the section (S5–S10) from `run_all(profile)`'s results.

    Runs that were not made (their dataset absent) are left out; each function then judges the
    nets that remain or says the claim is not testable (S9 rests on VGG runs alone).
    """
    ran = {k: r for k, r in res.items() if results.is_run(r)}
    out = []
    for cid, (fn, keys) in CLAIMS.items():
        missing = [res[k] for k in keys if k in res and not results.is_run(res[k])]
        out.append(claims.not_run_verdict(cid, results.not_run_reason(missing), profile)
                   if missing and all(k.startswith("vgg") for k in keys) else fn(ran, profile))
    return out
