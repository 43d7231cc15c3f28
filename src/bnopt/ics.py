"""Internal covariate shift, [S] §2 and App. A: Fig. 1, 2, 3 (= 6), 7, 8 and verdicts S1–S4.

Definition 2.1 ([S] §2.2). For layer i at step t, with batch (x^t, y^t):

    G   = ∇_{W_i} L(W_1^t, …, W_k^t)                                  (the gradient SGD applies)
    G'  = ∇_{W_i} L(W_1^{t+1}, …, W_{i−1}^{t+1}, W_i^t, …, W_k^t)    (layers before i updated)

and ICS is ‖G − G'‖₂, with cos(G, G') beside it. `ICSMeasurement` is a training hook that
measures both every `every` steps for chosen layers: `before_step` keeps a copy of W^t and of
every random generator; `after_step` (weights are W^{t+1}) sets, for each measured layer i, the
parameters of layers #1..#(i−1) to W^{t+1} and of layers #i..#k to W^t, rewinds the generators
so a noisy-BN net draws the same noise as at step t, and takes one forward-backward pass for
W_i. "Layer #j" is block j of `models.blocks`: its conv/linear weight and bias and the γ, β of
its normalisation; G is taken for the conv/linear weight W_i. The work happens inside
`train.preserved_state`, so training is exactly as without the hook (tested). Cost: one
forward-backward pass per measured layer on measured steps (`benchmarks/bench_ics.py`).

Experiments. `run_specs(profile)` lists every run of the page: VGG on CIFAR-10 for each method
("standard", "bn", "noisy_bn", "standard_noise" = [S] Algorithm 1's noise without BN) and
learning rate, and the 25-layer DLN with and without BN; `run_experiment(spec)` trains one with
`ICSMeasurement` and `recording.ActivationRecorder`; `run_all(profile)` runs or loads them all
through `results.load_or_run`; `CLAIMS` maps S1–S4 to their verdict functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bnopt import claims, data, models, profiles, recording, results, runtime, train
from bnopt.claims import Verdict

METHODS: dict[str, tuple[str, bool | str]] = {  # method -> (norm for models.build, noise=)
    "standard": ("none", False),
    "bn": ("bn", False),
    "noisy_bn": ("noisy_bn", False),
    "standard_noise": ("none", True),  # [S] §2.1: the same noise added to the net without BN
    "standard_noise_scaled": ("none", "scaled"),  # the book's S3 reading: that noise scaled to each unit's spread
}
CHANCE = 0.1  # CIFAR-10 has 10 balanced classes


# --- Definition 2.1 -------------------------------------------------------------------------------


def layer_of_parameters(model: nn.Module) -> list[int]:
    """For each tensor of `model.parameters()`, the 1-based layer (block) it belongs to.

    Parameters outside every block (none in `models`' nets) get a layer number past the last
    one, so they always count as "not yet updated".
    """
    owner: dict[int, int] = {}
    for k, block in enumerate(models.blocks(model), start=1):
        for p in block.parameters():
            owner[id(p)] = k
    beyond = len(models.blocks(model)) + 1
    return [owner.get(id(p), beyond) for p in model.parameters()]


def ics_gradient_change(g: Tensor, g_prime: Tensor) -> tuple[float, float]:
    """(‖G − G'‖₂, cos(G, G')) of two gradients (flattened; cos is NaN if either is zero)."""
    g, g_prime = g.detach().double().reshape(-1), g_prime.detach().double().reshape(-1)
    norms = float(g.norm() * g_prime.norm())
    cos = float(g @ g_prime) / norms if norms > 0 else math.nan
    return float((g - g_prime).norm()), cos


def shifted_gradient(model: nn.Module, layer: int, old: Sequence[Tensor], new: Sequence[Tensor],
                     owners: Sequence[int], batch: tuple[Tensor, Tensor],
                     loss_fn: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """G' of Definition 2.1: ∇_{W_layer} L with layers before `layer` at `new`, the rest at `old`.

    `old`/`new` are values of every tensor of `model.parameters()` (W^t and W^{t+1}); `owners`
    is `layer_of_parameters(model)`. Overwrites the model's parameters: call it inside
    `train.preserved_state`.
    """
    params = list(model.parameters())
    with torch.no_grad():
        for p, o, n, k in zip(params, old, new, owners):
            p.copy_(n if k < layer else o)
    weight = models.weight_layers(model)[layer - 1].weight
    loss = loss_fn(model(batch[0]), batch[1])
    (g_prime,) = torch.autograd.grad(loss, weight)
    return g_prime


class ICSMeasurement(train.SelfContainedHook):
    """Training hook measuring Definition 2.1 for `layers` every `every` steps (see module doc).

    layers: 1-based layer numbers ("layer #k" = k-th conv/linear layer from the input).
    Results via `arrays()`: ics_steps (m,), ics_layers (L,), ics_l2, ics_cos, ics_grad_norm and
    ics_shifted_grad_norm (m × L; ‖G‖ and ‖G'‖ to read the l2 difference against).
    """

    def __init__(self, layers: Sequence[int], every: int = 1, recompute_g: bool = False) -> None:
        if every < 1:
            raise ValueError(f"every={every} must be >= 1 (measure every `every` steps)")
        if not layers or any(int(k) < 1 for k in layers):
            raise ValueError(f"layers={tuple(layers)} must be 1-based layer numbers (#1 is the input layer)")
        self.layers, self.every = tuple(int(k) for k in layers), every
        self.recompute_g = recompute_g  # G by autograd at W^t, in the precision of G' (the moments engine's G is float64)
        self._before: train.Snapshot | None = None
        self.steps: list[int] = []
        self.l2: list[list[float]] = []
        self.cos: list[list[float]] = []
        self.grad_norm: list[list[float]] = []
        self.shifted_grad_norm: list[list[float]] = []

    def due(self, step: int) -> bool:
        """Whether `step` is measured."""
        return step % self.every == 0

    def before_step(self, state: train.StepState) -> None:
        """On measured steps, keep W^t and the random generators' states."""
        self._before = train.Snapshot(state.model) if state.step % self.every == 0 else None

    def after_step(self, state: train.StepState) -> None:
        """Measure ‖G − G'‖ and cos(G, G') per layer; the model is left exactly as found."""
        before, self._before = self._before, None
        if before is None:
            return
        model = state.model
        n_layers = len(models.weight_layers(model))
        bad = [k for k in self.layers if k > n_layers]
        if bad:
            raise ValueError(f"ICS layers {bad} do not exist; this net has layers #1..#{n_layers}")
        owners = layer_of_parameters(model)
        weights = [layer.weight for layer in models.weight_layers(model)]
        name_of = {id(p): name for name, p in model.named_parameters()}
        row_l2, row_cos, row_g, row_gp = [], [], [], []
        with train.preserved_state(model) as now:
            for k in self.layers:
                g = state.grads[name_of[id(weights[k - 1])]]
                if self.recompute_g:
                    before.restore_rng()
                    g = shifted_gradient(model, k, before.params, before.params, owners, (state.x, state.y),
                                         state.loss_fn)
                before.restore_rng()  # same noise draws as the training pass of step t
                g_prime = shifted_gradient(model, k, before.params, now.params, owners,
                                           (state.x, state.y), state.loss_fn)
                l2, cos = ics_gradient_change(g, g_prime)
                row_l2.append(l2)
                row_cos.append(cos)
                row_g.append(float(g.double().norm()))
                row_gp.append(float(g_prime.double().norm()))
        self.steps.append(state.step)
        self.l2.append(row_l2)
        self.cos.append(row_cos)
        self.grad_norm.append(row_g)
        self.shifted_grad_norm.append(row_gp)

    def arrays(self) -> dict[str, np.ndarray]:
        """The measurements as numpy arrays (rows = measured steps, columns = layers)."""
        shape = (len(self.steps), len(self.layers))
        return {"ics_steps": np.asarray(self.steps, dtype=np.int64),
                "ics_layers": np.asarray(self.layers, dtype=np.int64),
                "ics_l2": np.asarray(self.l2, dtype=np.float64).reshape(shape),
                "ics_cos": np.asarray(self.cos, dtype=np.float64).reshape(shape),
                "ics_grad_norm": np.asarray(self.grad_norm, dtype=np.float64).reshape(shape),
                "ics_shifted_grad_norm": np.asarray(self.shifted_grad_norm, dtype=np.float64).reshape(shape)}


# --- experiments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """One training run of the ICS page with its measurements (one stored result)."""

    model_id: str  # "vgg" or "dln"
    method: str  # a key of METHODS
    lr: float
    steps: int
    width: int | None  # None = paper size
    batch_size: int | None  # None = full batch (the DLN)
    train_size: int | None  # VGG: CIFAR-10 subset (None = all 50,000); DLN: number of samples
    test_size: int | None  # VGG: CIFAR-10 test subset (None = all 10,000); DLN: 0 (no test set)
    eval_every: int | None  # test accuracy every this many steps (None = at the end only)
    ics_layers: tuple[int, ...]  # () = no ICS measurement
    ics_every: int
    act_layers: tuple[int, ...]  # layers whose activations are recorded
    act_every: int
    depth: int | None = None  # DLN depth (None for VGG)
    seed: int = 0
    standardise: bool = False  # VGG: standardise each input channel (data.standardise)


def _task(spec: RunSpec) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor] | None, str]:
    """(training data, test data or None, dataset variant) of a run."""
    if spec.model_id == "dln":
        return data.dln_task(spec.train_size or 1000, spec.width or models.DEFAULT_WIDTH["dln"], spec.seed), \
            None, "synthetic"
    if spec.model_id != "vgg":
        raise ValueError(f"model_id={spec.model_id!r}: the ICS page runs 'vgg' or 'dln'")
    tr, te = data.cifar10_task(spec.train_size, spec.test_size, spec.seed, spec.standardise)
    return (tr.x, tr.y), None if te is None else (te.x, te.y), tr.variant


def build_model(spec: RunSpec) -> nn.Sequential:
    """The net of a run: `spec.model_id` with the normalisation and noise of `spec.method`."""
    if spec.method not in METHODS:
        raise ValueError(f"unknown method {spec.method!r}; choose one of {', '.join(METHODS)}")
    norm, noise = METHODS[spec.method]
    kw = {"depth": spec.depth} if spec.model_id == "dln" and spec.depth else {}
    return models.build(spec.model_id, norm, width=spec.width, seed=spec.seed, noise=noise, **kw)


def run_experiment(spec: RunSpec) -> dict[str, Any]:
    """Train one net with the ICS measurement and the activation recorder; the arrays to store."""
    runtime.configure_threads(model_id=spec.model_id)
    runtime.seed_everything(spec.seed)
    train_data, test_data, variant = _task(spec)
    model = build_model(spec)
    hooks: list[Any] = []
    # the DLN trains on the float64 moments engine: G is recomputed by float32 autograd, as G' is
    ics = ICSMeasurement(spec.ics_layers, spec.ics_every, recompute_g=spec.model_id == "dln") if spec.ics_layers else None
    if ics is not None:
        hooks.append(ics)
    # last: the recorder captures the training forward pass (the ICS hook leaves the net as it found it)
    recorder = recording.ActivationRecorder(model, spec.act_layers, every=spec.act_every, seed=spec.seed)
    hooks.append(recorder)
    config = train.TrainConfig(lr=spec.lr, steps=spec.steps, batch_size=spec.batch_size, seed=spec.seed,
                               eval_every=spec.eval_every if test_data is not None else None,
                               progress=False, engine="auto")
    try:
        log = train.train(model, train_data, config, hooks=hooks, loss_fn=models.loss_fn(spec.model_id),
                          test=test_data)
    finally:
        recorder.close()
    out: dict[str, Any] = {"dataset": variant, "planned_steps": spec.steps, **log.arrays()}
    if ics is not None:
        out.update(ics.arrays())
    out.update({f"act_{k}": v for k, v in recorder.arrays().items()})
    out["act_layers"] = np.asarray(spec.act_layers, dtype=np.int64)
    return out


def run_key(model_id: str, method: str, lr: float) -> str:
    """Key of a run in `run_specs` / `run_all`, e.g. "vgg-bn-lr0.1", "dln-standard-lr1e-06"."""
    return f"{model_id}-{method}-lr{lr:g}"


def run_specs(profile: str) -> dict[str, RunSpec]:
    """The page's own runs at `profile` (the DLN), keyed by `run_key`; its VGG runs are `vgg_seeds.specs`."""
    s = profiles.settings("ics", profile)
    specs: dict[str, RunSpec] = {}
    act_dln = tuple(sorted(set(s.dln_fig8_layers)))
    for lr in s.dln_lrs:
        for method in ("standard", "bn"):
            specs[run_key("dln", method, lr)] = RunSpec(
                "dln", method, lr, s.dln_steps, None, None, s.dln_samples, 0, None, s.dln_ics_layers,
                s.dln_every, act_dln, s.dln_every, s.dln_depth, s.seed)
    return specs


def run_all(profile: str, *, force: bool = False) -> dict[str, results.Result]:
    """Run (or load) every run of the ICS page at `profile`.

    Keys: `run_key` for the DLN runs (`run_specs`) and the VGG runs shared with the landscape page
    (`vgg_seeds.view`: "vgg-bn-lr0.1" for seed 0, "vgg-bn-lr0.1-s1", ... for the others); a VGG run
    whose CIFAR-10 files are absent is a "not run" result (`results.is_run` False) saying why.
    The DLN seed study (`dln_seeds.ics_runs`, its divergence search) comes under keys "seeds:…".
    """
    from . import dln_seeds, vgg_seeds

    page = {key: results.load_or_not_run(f"ics-{key}", run_experiment, spec, profile=profile, force=force,
                                         dataset=None)
            for key, spec in run_specs(profile).items()}
    page.update(vgg_seeds.view(vgg_seeds.runs(profile, force=force), "ics", profile))
    return dln_seeds.with_study(page, dln_seeds.ics_runs(profile), profile)


# --- summaries ------------------------------------------------------------------------------------


def final_train_accuracy(res: Mapping[str, np.ndarray], fraction: float = 0.1) -> float:
    """Mean minibatch training accuracy over the last `fraction` of the planned steps.

    A diverged run counts as chance (it no longer classifies).
    """
    if bool(res["diverged"]):
        return CHANCE
    steps, acc = np.asarray(res["steps"]), np.asarray(res["accuracy"], dtype=float)
    tail = steps >= (1 - fraction) * int(res["planned_steps"])
    return float(acc[tail].mean()) if tail.any() else float(acc[-1])


def final_test_accuracy(res: Mapping[str, np.ndarray]) -> float:
    """Test accuracy after the last step (chance if the run diverged)."""
    if bool(res["diverged"]) or len(res["test_accuracy"]) == 0:
        return CHANCE
    return float(res["test_accuracy"][-1])


def final_train_loss(res: Mapping[str, np.ndarray], fraction: float = 0.1) -> float:
    """Mean training loss over the last `fraction` of logged steps (inf if the run diverged)."""
    if bool(res["diverged"]):
        return math.inf
    loss = np.asarray(res["loss"], dtype=float)
    return float(loss[-max(1, int(round(fraction * len(loss)))):].mean())


def median_cosine(res: Mapping[str, np.ndarray], layer: int, skip_first: bool = False) -> float:
    """Median over measured steps of cos(G, G') for `layer` (NaN-free steps only)."""
    col = list(np.asarray(res["ics_layers"])).index(layer)
    cos = np.asarray(res["ics_cos"], dtype=float)[:, col]
    cos = cos[1:] if skip_first else cos
    cos = cos[np.isfinite(cos)]
    return float(np.median(cos)) if cos.size else math.nan


def median_l2(res: Mapping[str, np.ndarray], layer: int) -> float:
    """Median over measured steps of ‖G − G'‖₂ for `layer`."""
    col = list(np.asarray(res["ics_layers"])).index(layer)
    l2 = np.asarray(res["ics_l2"], dtype=float)[:, col]
    l2 = l2[np.isfinite(l2)]
    return float(np.median(l2)) if l2.size else math.nan


def median_moment_change(res: Mapping[str, np.ndarray], layer: int, moment: str = "mean") -> float:
    """Median over recorded steps and units of |Δ mean| (or |Δ var|) between successive steps (Fig. 7)."""
    values = np.asarray(res[f"act_layer{layer}_{moment}_change"], dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


# --- verdicts -------------------------------------------------------------------------------------

MIN_VGG_STEPS = 200  # below this a VGG run has barely left its initialisation: S1–S3 untestable
MIN_TEST_SIZE = 1000  # test accuracy from fewer images has a standard error over 1.5 points
MIN_ICS_MEASUREMENTS = 10  # medians of cos(G, G') from fewer steps say little
TRAIN_GAP = 0.02  # S1: BN ahead by >= 2 points of training accuracy (mean over >= ~25 batches of
#                   128 has a standard error under 1 point, so 2 points is not minibatch noise)
NOISY_TOLERANCE = 0.05  # S2: noisy BN "nearly matches" BN: within 5 points of training accuracy
SHIFT_FACTOR = 2.0  # S2: noisy BN's moments move at least twice as much per step as standard's
TRAINED_MARGIN = 0.10  # S3: a net "trains" once it is 10 points above chance ...
UNTRAINED_MARGIN = 0.05  # ... and "does not train" while within 5 points of chance
COS_TOLERANCE = 0.05  # S4: BN "reduces ICS" only if its median cosine is > 0.05 above standard's
UNCORRELATED = 0.5  # S4: "nearly uncorrelated": |median cos(G, G')| below 0.5 in the BN DLN
#                     (G' then keeps less than half of G's direction; anti-correlation is not "un-")


def _dataset(res: Mapping[str, results.Result], keys: Sequence[str]) -> str:
    """The dataset variants the given runs rest on, comma-separated."""
    return ", ".join(sorted({res[k].dataset for k in keys if k in res and res[k].dataset}))


def _vgg_scale_ok(res: Mapping[str, results.Result], key: str) -> bool:
    """Whether a VGG run is big enough to judge accuracy claims (steps and test set size)."""
    cfg = res[key].meta.get("config", {})
    test_size = cfg.get("test_size")
    big_test = test_size is None or test_size >= MIN_TEST_SIZE
    return int(res[key]["planned_steps"]) >= MIN_VGG_STEPS and big_test


def _vgg_seeds(res: Mapping[str, results.Result], bases: Mapping[str, str]) -> dict[int, dict[str, results.Result]]:
    """Per seed present for every one of the page keys `bases` (name -> key): {name: result}."""
    from . import vgg_seeds

    return vgg_seeds.per_seed(res, bases)


def _scale_ok(seeds: Mapping[int, Mapping[str, results.Result]]) -> bool:
    """Whether every run of every seed is big enough to judge accuracy claims (`_vgg_scale_ok`)."""
    return all(_vgg_scale_ok(runs, name) for runs in seeds.values() for name in runs)


def _s1_half(res: Mapping[str, results.Result], lr: float, with_test: bool, profile: str) -> Verdict:
    """S1 at one learning rate over its seeds: BN's training accuracy ahead by TRAIN_GAP (and test accuracy not lower)."""
    from . import vgg_seeds

    first = profiles.settings("ics", profile).vgg_lrs[0]
    bases = {"standard": run_key("vgg", "standard", lr), "bn": run_key("vgg", "bn", lr),
             "gate": run_key("vgg", "standard", first)}
    seeds = _vgg_seeds(res, bases)
    if not seeds:
        return claims.not_run_verdict("S1", f"no VGG runs at lr {lr:g}", profile)
    def gap(r: Mapping[str, results.Result], acc: Callable[[Mapping[str, np.ndarray]], float]) -> float:
        return acc(r["bn"].arrays) - acc(r["standard"].arrays)

    gaps = {s: gap(r, final_train_accuracy) for s, r in seeds.items()}
    test_gaps = {s: gap(r, final_test_accuracy) for s, r in seeds.items()}

    def holds(r: Mapping[str, results.Result]) -> bool:
        return gap(r, final_train_accuracy) >= TRAIN_GAP and (not with_test or gap(r, final_test_accuracy) >= 0)

    numbers = {f"train acc BN − standard, seed {s}": g for s, g in gaps.items()}
    if with_test:
        numbers.update({f"test acc BN − standard, seed {s}": g for s, g in test_gaps.items()})
    detail = (f"BN ahead by >= {TRAIN_GAP * 100:g} points of training accuracy (mean batch accuracy over the last "
              "10% of steps; diverged = chance)" + (" and its test accuracy not lower" if with_test else ""))
    if not _scale_ok(seeds):
        return Verdict("S1", claims.NOT_TESTABLE, numbers, detail + f"; needs >= {MIN_VGG_STEPS} steps and "
                       f">= {MIN_TEST_SIZE} test images", "", profile)
    return vgg_seeds.vgg_verdict("S1", seeds, "gate", holds, numbers=numbers, detail=detail,
                                 dataset=_dataset(res, list(bases.values())), profile=profile)


def verdict_s1(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S1: BN trains VGG faster and to higher accuracy ([S] Fig. 1), at each learning rate of Fig. 1.

    At each lr, over its seeds (`vgg_seeds.vgg_verdict`: the standard net at the first lr must
    train, `vgg_seeds.trains`): a seed holds iff BN's final training accuracy exceeds standard's by
    TRAIN_GAP and, at the first lr, BN's test accuracy is at least standard's. The lrs are combined
    by `claims.combine`. Needs "vgg-{standard,bn}-lr{lr}" (and their "-s<seed>" copies).
    """
    lrs = profiles.settings("ics", profile).vgg_lrs
    parts = [(f"lr {lr:g}", _s1_half(res, lr, i == 0, profile)) for i, lr in enumerate(lrs)]
    keys = [run_key("vgg", m, lr) for lr in lrs for m in ("standard", "bn")]
    return claims.combine("S1", parts, dataset=_dataset(res, keys), profile=profile)


def _normalised_fig2_layers(profile: str) -> tuple[int, ...]:
    """The Fig. 2 layers that carry a normalisation (and so the injected noise) in VGG."""
    s = profiles.settings("ics", profile)
    normed = [b.norm is not None for b in models.blocks(models.build("vgg", "bn", width=1))]
    return tuple(k for k in s.vgg_fig2_layers if normed[k - 1])


S2_READINGS: dict[str, tuple[str, Callable[[Mapping[str, np.ndarray]], float]]] = {
    "train_batches": ("training batches as trained, noise on ([S] Fig. 2)", lambda r: final_train_accuracy(r)),
    "clean_train": ("1,000 training images after training, noise off",
                    lambda r: CHANCE if bool(r["diverged"]) else float(r["clean_train_accuracy"])),
    "test": ("test images after training, noise off",
             lambda r: CHANCE if bool(r["diverged"]) else float(r["clean_test_accuracy"])),
}
"""S2's readings of "trains about as well": which accuracy is compared (the first is the headline)."""


def verdict_s2(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S2: noisy BN trains about as well as BN despite unstable distributions ([S] Fig. 2, 7).

    Per seed (gated as `vgg_seeds.vgg_verdict`): holds iff noisy BN's accuracy is within
    NOISY_TOLERANCE of BN's and, at every normalised Fig. 2 layer, the median step-to-step change of
    the activations' mean is at least SHIFT_FACTOR times the standard net's; under each reading of
    the accuracy (`S2_READINGS`; headline: the training batches, as [S] Fig. 2 plots).
    """
    from . import vgg_seeds

    lr = profiles.settings("ics", profile).vgg_lrs[0]
    bases = {m: run_key("vgg", m, lr) for m in ("standard", "bn", "noisy_bn")}
    seeds = _vgg_seeds(res, bases)
    layers = _normalised_fig2_layers(profile)

    def shifts_ok(r: Mapping[str, results.Result]) -> bool:
        return all(median_moment_change(r["noisy_bn"].arrays, k) >= SHIFT_FACTOR * median_moment_change(
            r["standard"].arrays, k) for k in layers)

    def under(reading: str) -> Verdict:
        acc = S2_READINGS[reading][1]
        numbers = {f"{reading} acc {m}, median over seeds": vgg_seeds.seed_median(
            [acc(r[m].arrays) for r in seeds.values()]) for m in ("bn", "noisy_bn", "standard")}
        for k in layers:
            numbers[f"|Δmean| noisy BN / standard #{k}, median over seeds"] = vgg_seeds.seed_median(
                [median_moment_change(r["noisy_bn"].arrays, k) / median_moment_change(r["standard"].arrays, k)
                 for r in seeds.values()])
        detail = (f"accuracy on {S2_READINGS[reading][0]}; a seed holds if noisy BN is within "
                  f"{NOISY_TOLERANCE * 100:g} points of BN and its activations' means move >= {SHIFT_FACTOR:g}x "
                  "as much per step as the standard net's (median over steps and units)")
        if not seeds or not _scale_ok(seeds):
            return Verdict("S2", claims.NOT_TESTABLE, numbers, detail, _dataset(res, list(bases.values())), profile)
        return vgg_seeds.vgg_verdict(
            "S2", seeds, "standard",
            lambda r: acc(r["noisy_bn"].arrays) >= acc(r["bn"].arrays) - NOISY_TOLERANCE and shifts_ok(r),
            numbers=numbers, detail=detail, dataset=_dataset(res, list(bases.values())), profile=profile)

    by = {k: under(k) for k in S2_READINGS}
    readings = tuple((S2_READINGS[k][0] + (" (headline)" if i == 0 else ""),
                      v.verdict + (f", {v.split}" if v.split else "")) for i, (k, v) in enumerate(by.items()))
    return replace(by["train_batches"], readings=readings)


NOISE_STD = 0.5 / math.sqrt(3)  # std of the additive noise's per-unit mean μ ~ U(−0.5, 0.5) ([S] Algorithm 1)


def noise_to_signal(standard: Mapping[str, np.ndarray], layers: Sequence[int]) -> float:
    """The additive noise's spread over the standard net's typical unit spread (median recorded std) at `layers`."""
    stds = [float(np.median(standard[f"act_layer{k}_std"])) for k in layers if f"act_layer{k}_std" in standard]
    return NOISE_STD / float(np.median(stds)) if stds else math.nan


def verdict_s3(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S3: the same noise without BN prevents training ([S] §2.1).

    Per seed (gated as `vgg_seeds.vgg_verdict`: the noise-free standard net must train): holds iff
    the noisy net without BN ends within UNTRAINED_MARGIN of chance (or diverged). The numbers carry
    the noise's scale against the plain net's activations (`noise_to_signal`): [S]'s noise is
    absolute, so it swamps a net whose units are small.
    """
    headline = _s3(res, profile, "standard_noise")
    scaled = _s3(res, profile, "standard_noise_scaled")
    if scaled.verdict == claims.NOT_TESTABLE and headline.verdict == claims.NOT_TESTABLE:
        return headline
    return replace(headline, readings=((S3_READINGS[0] + " (headline)", headline.verdict),
                                       (S3_READINGS[1], scaled.verdict + (f" ({scaled.split})" if scaled.split else ""))))


S3_READINGS = ("the noise of [S] Algorithm 1 as written, absolute",
               "its additive part scaled to each unit's spread over the batch (the book's control)")
"""S3's readings of "the same noise": [S] adds absolute noise, which swamps a net whose units are small."""


def _s3(res: Mapping[str, results.Result], profile: str, noise_method: str) -> Verdict:
    """S3 with the noise of VGG method `noise_method` (the noise without BN, absolute or scaled)."""
    from . import vgg_seeds

    lr = profiles.settings("ics", profile).vgg_lrs[0]
    bases = {m: run_key("vgg", m, lr) for m in ("standard", noise_method)}
    seeds = {s: {"standard": r["standard"], "standard_noise": r[noise_method]}
             for s, r in _vgg_seeds(res, bases).items()}
    layers = _normalised_fig2_layers(profile)
    numbers = {f"train acc standard + noise, seed {s}": final_train_accuracy(r["standard_noise"].arrays)
               for s, r in seeds.items()}
    numbers["noise std / standard net's unit std (median over seeds)"] = vgg_seeds.seed_median(
        [noise_to_signal(r["standard"].arrays, layers) for r in seeds.values()])
    detail = (f"chance = {CHANCE:.0%}; 'does not train' = within {UNTRAINED_MARGIN * 100:g} points of chance or "
              "diverged; the noise is absolute, as in [S] Algorithm 1, so the numbers give its spread against "
              "the plain net's pre-activations")

    def holds(r: Mapping[str, results.Result]) -> bool:
        noise = r["standard_noise"].arrays
        return bool(noise["diverged"]) or final_train_accuracy(noise) <= CHANCE + UNTRAINED_MARGIN

    if not seeds or not _scale_ok(seeds):
        return Verdict("S3", claims.NOT_TESTABLE, numbers, detail, _dataset(res, list(bases.values())), profile)
    return vgg_seeds.vgg_verdict("S3", seeds, "standard", holds, numbers=numbers, detail=detail,
                                 dataset=_dataset(res, list(bases.values())), profile=profile)


def _vgg_ics(res: Mapping[str, results.Result], profile: str) -> Verdict | None:
    """VGG half of S4 over seeds (Fig. 3a's lrs and layers): BN does not raise cos(G, G'); None if not run."""
    from . import vgg_seeds

    s = profiles.settings("ics", profile)
    bases = {f"{m} {lr:g}": run_key("vgg", m, lr) for lr in s.vgg_ics_lrs for m in ("standard", "bn")}
    bases["gate"] = run_key("vgg", "standard", s.vgg_lrs[0])
    seeds = _vgg_seeds(res, bases)
    if not seeds:
        return None
    numbers: dict[str, float] = {}
    for lr in s.vgg_ics_lrs:
        for k in s.vgg_ics_layers:
            for m in ("standard", "bn"):
                numbers[f"cos {m} lr {lr:g} #{k}, median over seeds"] = vgg_seeds.seed_median(
                    [median_cosine(r[f"{m} {lr:g}"].arrays, k) for r in seeds.values()])

    def holds(r: Mapping[str, results.Result]) -> bool | None:
        if min(len(r[n].arrays["ics_steps"]) for n in bases if n != "gate") < MIN_ICS_MEASUREMENTS:
            return None
        # NaN (a diverged run) never counts as reduced
        return not any(median_cosine(r[f"bn {lr:g}"].arrays, k) > median_cosine(r[f"standard {lr:g}"].arrays, k)
                       + COS_TOLERANCE for lr in s.vgg_ics_lrs for k in s.vgg_ics_layers)

    detail = (f"a seed holds if BN's median cos(G, G') is not above standard's by more than {COS_TOLERANCE:g} at "
              f"lr {', '.join(f'{lr:g}' for lr in s.vgg_ics_lrs)} and layers "
              f"{', '.join(f'#{k}' for k in s.vgg_ics_layers)} (needs >= {MIN_ICS_MEASUREMENTS} measured steps)")
    return vgg_seeds.vgg_verdict("S4", seeds, "gate", holds, numbers=numbers, detail=detail,
                                 dataset=_dataset(res, list(bases.values())), profile=profile)


def verdict_s4(res: Mapping[str, results.Result], profile: str) -> Verdict:
    """S4: BN does not reduce ICS; in the DLN, G and G' are nearly uncorrelated with BN ([S] Fig. 3).

    DLN at [S]'s lr 1e-6 and Fig. 3b's layers, over the seeds of the DLN study (`dln_seeds`, in
    `run_all` under `dln_seeds.PREFIX`): a seed holds when at every layer the BN DLN's median cos(G, G') is
    not above standard's by more than COS_TOLERANCE (BN does not make G' closer to G) and its
    absolute value is below UNCORRELATED; `claims.seed_verdict` decides over >= dln_seeds.MIN_SEEDS
    tested seeds, under each reading (`dln_seeds.readings`), the headline being `dln_seeds.headline_convention`.
    The VGG half (`_vgg_ics`, over its seeds) is combined with it by `claims.combine`; without its
    runs (data absent) the DLN decides alone, as the detail says.
    """
    from . import dln_seeds

    runs = dln_seeds.study(res)
    if not runs or "divergence" not in runs:
        return claims.not_run_verdict("S4", "the DLN seed study was not run", profile)
    layers = profiles.settings("dln_seeds", profile).ics_layers
    names = dln_seeds.ics_readings(profiles.settings("dln_seeds", profile))
    vgg = _vgg_ics(res, profile)
    if vgg is None:
        vgg = claims.not_run_verdict("S4", "the VGG runs were not made (data not found): DLN alone", profile)
    dataset = _dataset(res, [*_s_keys(profile)["S4"], dln_seeds.PREFIX + "divergence"])

    def under(reading: str) -> Verdict:
        outcomes, cos = dln_seeds.s4_outcomes(runs, reading, layers)
        numbers = {f"median over seeds: cos {k}": dln_seeds.nan_median(v) for k, v in cos.items()}
        detail = (f"per seed, median cos(G, G') over measured steps; a seed holds if BN's cosine is not above "
                  f"standard's by more than {COS_TOLERANCE:g} and |BN's| < {UNCORRELATED:g} at layers "
                  f"{', '.join(f'#{k}' for k in layers)}")
        dln = claims.seed_verdict("S4", outcomes, min_seeds=dln_seeds.MIN_SEEDS, numbers=numbers, detail=detail)
        return claims.combine("S4", [("DLN", dln), ("VGG", vgg)], dataset=dataset, profile=profile)

    return dln_seeds.reading_verdicts(under, names, dln_seeds.headline_convention(runs["divergence"]))


def _s_keys(profile: str) -> dict[str, tuple[str, ...]]:
    """The `run_all` keys each verdict reads at `profile`."""
    s = profiles.settings("ics", profile)
    lr = s.vgg_lrs[0]
    return {
        "S1": tuple(run_key("vgg", m, r) for r in s.vgg_lrs for m in ("standard", "bn")),
        "S2": tuple(run_key("vgg", m, lr) for m in ("standard", "bn", "noisy_bn")),
        "S3": tuple(run_key("vgg", m, lr) for m in ("standard", "standard_noise", "standard_noise_scaled")),
        "S4": tuple(run_key("vgg", m, r) for r in s.vgg_ics_lrs for m in ("standard", "bn")),  # + the seed study
    }


CLAIMS: dict[str, tuple[Callable[[Mapping[str, results.Result], str], Verdict], tuple[str, ...]]] = {
    cid: (fn, _s_keys("paper")[cid])
    for cid, fn in (("S1", verdict_s1), ("S2", verdict_s2), ("S3", verdict_s3), ("S4", verdict_s4))}
"""Claim id -> (verdict function, keys of `run_all(profile)` it reads at `paper`; `_s_keys(profile)`
gives another profile's, which may leave out a learning rate, e.g. Fig. 3a's 0.01 at `ci`; each key
also stands for its other seeds, "<key>-s<seed>").

Every verdict function takes (results, profile): `results` maps the keys of `run_all(profile)`
(e.g. "vgg-bn-lr0.1", "dln-standard-lr1e-06") to `results.Result`s — pass `run_all(profile)`
itself — and returns a `claims.Verdict`. S1 reads the standard/BN VGG runs at Fig. 1's learning
rates; S2 the standard, BN and noisy-BN VGG runs at the first; S3 the standard VGG with and
without noise; S4 the standard/BN VGG runs at Fig. 3a's learning rates and the DLN seed study
(keys "seeds:…", `dln_seeds`).
"""


def verdicts(res: Mapping[str, results.Result], profile: str) -> list[Verdict]:
    """Every verdict of the section (S1–S4) from `run_all(profile)`'s results.

    S1–S3 rest on VGG runs alone: when those were not made (CIFAR-10 absent, or a profile that does not
    run them) they are not testable and say why; S1 judges the learning rates whose runs were made and
    S4 the nets that were run (`verdict_s4`).
    """
    ran = {k: r for k, r in res.items() if results.is_run(r)}
    out = []
    for cid, (fn, _) in CLAIMS.items():
        keys = [k for k in _s_keys(profile)[cid] if k in res]
        missing = [res[k] for k in keys if not results.is_run(res[k])]
        # S4 rests on the DLN too; S1 judges each learning rate whose runs were made
        partial = cid == "S4" or (cid == "S1" and len(missing) < len(keys))
        out.append(claims.not_run_verdict(cid, results.not_run_reason(missing), profile)
                   if missing and not partial else fn(ran, profile))
    return out
