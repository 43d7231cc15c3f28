"""[S]'s deep linear network over seeds and loss conventions: the evidence behind the DLN halves of S4–S7.

A DLN run at lr 1e-6 sits at the edge of stability (lr · λ_max / 2 near 1, the gradient flipping
sign from step to step), where rounding differences grow and a median over one run's steps can
change sign with the seed. So the DLN verdicts rest on `seeds` seeds (each drawing the data, A and
the initial weights) and are decided by `claims.seed_verdict`.

Loss convention. [S] App. A minimise ‖W₁…W_k x − Ax‖²₂, "an ℓ2 loss", and do not say whether the
squared errors of the 1,000 samples are summed or half-summed (TensorFlow's `l2_loss`, the usual
"l2 loss" of TensorFlow code, is ½·sum). Gradient descent on c · sum at lr is gradient descent on
the sum at c · lr, and every number the verdicts read (a cosine, a ratio of the standard net's
median to the BN net's) is unchanged by the loss's scale; so the convention c is run as the summed
loss at lr × c (`CONVENTIONS`, tested). `HEADLINE` is the reading the paper's text supports best:
App. A.2.2 chose the largest probe step, 30 × lr, "slightly smaller than the learning rate at which
the standard (no BatchNorm) network diverges"; `divergence` measures that learning rate, and
`headline_convention` picks the convention whose divergence point lies closest to 30 × lr.

Precision. The book trains the DLN on the exact float64 moments engine (`bnopt.dln`); [S] trained
it per sample in TensorFlow, in float32. At the edge of stability rounding differences grow (two
runs of one seed in the two precisions part within a few hundred steps), so each convention named in
the profile's `float32_conventions` is also run as a *reading* of its own: the same seed, data and
initial weights trained per sample by float32 autograd (`FLOAT32`, engine "autograd"). A reading is
a convention's name, with FLOAT32 appended for the float32 runs (`readings`, `convention_of`). A
float32 ICS run costs 15–55 s against the moments engine's 1 s, so a profile may run the float32
readings for the probed runs only (`float32_ics`; `ics_readings`).

Runs: `ics_runs` (10,000 steps, Definition 2.1 at [S] Fig. 3b's layers, gradient flips) and
`landscape_runs` (the landscape page's probes and λ_max) for every reading × seed × {standard,
BN}; independent runs go to local worker processes, one thread each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from . import claims, data, ics, landscape, models, parallel, profiles, results, runtime, train

SECTION = "dln_seeds"
CONVENTIONS: dict[str, float] = {"half_sum": 0.5, "sum": 1.0}  # lr factor under the summed loss
FLOAT32 = "_float32"  # suffix of a reading trained per sample in float32 (the others: float64 moments engine)
LABELS = {"half_sum": "½·sum (TensorFlow l2_loss)", "sum": "sum over samples"}
LABELS.update({c + FLOAT32: f"{label}, float32 per sample" for c, label in list(LABELS.items())})
PAPER_PROBE_FACTOR = 30.0  # [S] App. A.2.2: the largest DLN probe step is 30 × lr
MIN_SEEDS = 10  # the DLN halves of S4–S7 are judged over at least 10 tested seeds (SPEC: "at least 10")
PREFIX = "seeds:"  # the study's results inside a page's `run_all` dict: "seeds:<key>", "seeds:divergence"


def with_study(page: Mapping[str, results.Result], runs: Mapping[str, results.Result], profile: str
               ) -> dict[str, results.Result]:
    """A page's `run_all` dict with the study's runs and its divergence search added under PREFIX."""
    return {**page, **{PREFIX + k: r for k, r in runs.items()}, PREFIX + "divergence": divergence(profile)}


def study(res: Mapping[str, results.Result]) -> dict[str, results.Result]:
    """The study's results inside a page's `run_all` dict, keyed as in `ics_specs` / `landscape_specs`."""
    return {k[len(PREFIX):]: r for k, r in res.items() if k.startswith(PREFIX)}


def convention_of(reading: str) -> str:
    """The loss convention of a reading ("half_sum_float32" → "half_sum")."""
    convention = reading.removesuffix(FLOAT32)
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown loss convention {convention!r} (reading {reading!r}); choose one of "
                         f"{', '.join(CONVENTIONS)}, optionally followed by {FLOAT32!r}")
    return convention


def engine_of(reading: str) -> str:
    """The training engine of a reading: float32 autograd for FLOAT32 readings, else the float64 moments engine."""
    convention_of(reading)
    return "autograd" if reading.endswith(FLOAT32) else "moments"


def short_label(reading: str) -> str:
    """A tick-sized name of a reading: "½·sum", "sum", "½·sum f32"."""
    short = {"half_sum": "½·sum", "sum": "sum"}[convention_of(reading)]
    return short + (" f32" if reading.endswith(FLOAT32) else "")


def readings(settings: Any) -> tuple[str, ...]:
    """Every reading a profile runs: each convention (float64), then the float32 ones."""
    for c in settings.float32_conventions:
        convention_of(c)
        if c.endswith(FLOAT32):
            raise ValueError(f"float32_conventions={settings.float32_conventions!r} names conventions, "
                             f"not readings: drop the {FLOAT32!r} suffix")
    return (*settings.conventions, *(c + FLOAT32 for c in settings.float32_conventions))


def ics_readings(settings: Any) -> tuple[str, ...]:
    """The readings of the ICS runs (S4): every reading, or only the conventions where `float32_ics` is off."""
    return readings(settings) if settings.float32_ics else tuple(settings.conventions)


def lr_of(settings: Any, reading: str) -> float:
    """The learning rate under the summed loss that runs `reading`'s convention at [S]'s lr."""
    return settings.lr * CONVENTIONS[convention_of(reading)]


# --- the runs -------------------------------------------------------------------------------------


class GradientFlips(train.SelfContainedHook):
    """Hook: cos(∇L(W_t), ∇L(W_{t+1})) of the whole gradient at t = 0, every, 2·every, ..."""

    def __init__(self, every: int) -> None:
        if every < 2:
            raise ValueError(f"every={every} must be >= 2 (a pair of steps per measurement)")
        self.every = every
        self._last: torch.Tensor | None = None
        self.steps: list[int] = []
        self.cos: list[float] = []

    def due(self, step: int) -> bool:
        """Whether `step` is one of a measured pair."""
        return step % self.every <= 1

    def after_step(self, state: train.StepState) -> None:
        """Keep the gradient at t ≡ 0, compare it with the one at t ≡ 1 (mod every)."""
        phase = state.step % self.every
        if phase > 1 or state.grads is None:
            return
        flat = torch.cat([g.detach().double().reshape(-1) for g in state.grads.values()])
        if phase == 0:
            self._last = flat
        elif self._last is not None:
            norms = float(self._last.norm() * flat.norm())
            self.cos.append(float(self._last @ flat) / norms if norms > 0 else math.nan)
            self.steps.append(state.step - 1)
            self._last = None

    def arrays(self) -> dict[str, np.ndarray]:
        """flip_steps (t) and flip_cos (cos of the gradients at t and t + 1)."""
        return {"flip_steps": np.asarray(self.steps, dtype=np.int64), "flip_cos": np.asarray(self.cos, dtype=float)}


@dataclass(frozen=True)
class ICSRun:
    """One DLN training with Definition 2.1 and the gradient-flip measurement (one stored result)."""

    method: str  # "standard" or "bn"
    lr: float  # under the summed loss (see CONVENTIONS)
    steps: int
    samples: int
    depth: int
    ics_layers: tuple[int, ...]
    ics_every: int
    flip_every: int
    seed: int
    engine: str = "moments"  # "moments" (float64, exact) or "autograd" (float32 per sample; FLOAT32 readings)


def run_ics(spec: ICSRun) -> dict[str, Any]:
    """Train the DLN (moments engine) with the ICS and gradient-flip hooks; the arrays to store."""
    runtime.configure_threads(model_id="dln")
    runtime.seed_everything(spec.seed)
    x, y = data.dln_task(spec.samples, models.DEFAULT_WIDTH["dln"], spec.seed)
    model = ics.build_model(ics.RunSpec("dln", spec.method, spec.lr, spec.steps, None, None, spec.samples, 0,
                                        None, (), 1, (), 1, spec.depth, spec.seed))
    # the moments engine's G is float64: recomputed by float32 autograd, as G' is; autograd's G already is
    hooks = [ics.ICSMeasurement(spec.ics_layers, spec.ics_every, recompute_g=spec.engine == "moments"),
             GradientFlips(spec.flip_every)]
    config = train.TrainConfig(lr=spec.lr, steps=spec.steps, seed=spec.seed, progress=False, engine=spec.engine)
    log = train.train(model, (x, y), config, hooks=hooks, loss_fn=models.loss_fn("dln"))
    return {"dataset": "synthetic", "planned_steps": spec.steps, **log.arrays(), **hooks[0].arrays(),
            **hooks[1].arrays()}


def ics_specs(profile: str) -> dict[str, ICSRun]:
    """Every ICS run of the study, keyed "<reading>-s<seed>-<method>"."""
    s, i = profiles.settings(SECTION, profile), profiles.settings("ics", profile)
    return {f"{r}-s{seed}-{m}": ICSRun(m, lr_of(s, r), s.ics_steps, i.dln_samples, i.dln_depth, s.ics_layers,
                                       s.ics_every, s.flip_every, seed, engine_of(r))
            for r in ics_readings(s) for seed in range(s.seeds) for m in ("standard", "bn")}


def landscape_specs(profile: str) -> dict[str, landscape.RunSpec]:
    """Every probed run of the study (the landscape page's DLN settings), keyed "<reading>-s<seed>-<norm>"."""
    s = profiles.settings(SECTION, profile)
    page = landscape.run_specs(profile)
    out = {}
    for r in readings(s):
        for seed in range(s.seeds):
            for norm in ("none", "bn"):
                out[f"{r}-s{seed}-{norm}"] = replace(page[f"dln-{norm}"], lr=lr_of(s, r), seed=seed,
                                                     random_directions=False, theorem_every=0, engine=engine_of(r))
    return out


def ics_runs(profile: str) -> dict[str, results.Result]:
    """The study's ICS runs at `profile` (loaded, or run on local workers)."""
    return parallel.run_many("dln_seeds-ics", run_ics, ics_specs(profile), profile)


def landscape_runs(profile: str) -> dict[str, results.Result]:
    """The study's probed runs at `profile` (loaded, or run on local workers)."""
    return parallel.run_many("dln_seeds-landscape", landscape.run_experiment, landscape_specs(profile), profile)


# --- where the plain DLN diverges -----------------------------------------------------------------


@dataclass(frozen=True)
class DivergenceSearch:
    """The plain DLN trained at lr × each factor until it diverges, for a few seeds."""

    lr: float
    factors: tuple[float, ...]
    steps: int
    samples: int
    depth: int
    seeds: int


def run_divergence(cfg: DivergenceSearch) -> dict[str, Any]:
    """Per seed, the smallest factor at which the summed-loss plain DLN diverges (inf: none did)."""
    runtime.configure_threads(model_id="dln")
    first = np.full(cfg.seeds, math.inf)
    for seed in range(cfg.seeds):
        x, y = data.dln_task(cfg.samples, models.DEFAULT_WIDTH["dln"], seed)
        for f in sorted(cfg.factors):
            net = models.build("dln", "none", depth=cfg.depth, seed=seed)
            log = train.train(net, (x, y), train.TrainConfig(lr=cfg.lr * f, steps=cfg.steps, seed=seed,
                                                             progress=False, engine="moments"),
                              loss_fn=models.loss_fn("dln"))
            if log.diverged:
                first[seed] = f
                break
    return {"dataset": "synthetic", "first_diverging_factor": first, "factors": np.asarray(cfg.factors, float)}


def divergence(profile: str) -> results.Result:
    """The plain DLN's divergence search at `profile` (summed loss, factors of [S]'s lr)."""
    s, i = profiles.settings(SECTION, profile), profiles.settings("ics", profile)
    cfg = DivergenceSearch(s.lr, s.divergence_factors, s.divergence_steps, i.dln_samples, i.dln_depth,
                           s.divergence_seeds)
    return results.load_or_run("dln_seeds-divergence", run_divergence, cfg, profile=profile)


def divergence_factors(div: results.Result, convention: str) -> np.ndarray:
    """Per seed, the plain DLN's divergence lr over [S]'s lr under `convention` (½·sum: twice the sum's)."""
    return np.asarray(div["first_diverging_factor"], dtype=float) / CONVENTIONS[convention]


def headline_convention(div: results.Result) -> str:
    """The convention whose median divergence factor is closest (in log) to [S]'s 'slightly above 30'."""
    def distance(c: str) -> float:
        f = float(np.median(divergence_factors(div, c)))
        return abs(math.log(f / PAPER_PROBE_FACTOR)) if math.isfinite(f) else math.inf
    return min(CONVENTIONS, key=distance)


# --- per-seed outcomes ----------------------------------------------------------------------------


def _seeds(runs: Mapping[str, results.Result], reading: str) -> list[int]:
    """Seeds present for `reading`, in order."""
    return sorted({int(k.split("-")[1][1:]) for k in runs if k.startswith(reading + "-")})


def s4_outcomes(runs: Mapping[str, results.Result], reading: str, layers: Sequence[int]
                ) -> tuple[list[tuple[int, bool | None]], dict[str, np.ndarray]]:
    """Per seed: does the BN DLN keep cos(G, G') from rising (≤ standard + tol) and near 0 (|·| < 0.5)?

    Also the per-seed median cosines, 'standard #k' and 'bn #k' (NaN where a run has too few measurements).
    """
    outcomes, cos = [], {f"{m} #{k}": [] for m in ("standard", "bn") for k in layers}
    for seed in _seeds(runs, reading):
        std, bn = (runs[f"{reading}-s{seed}-{m}"].arrays for m in ("standard", "bn"))
        enough = min(len(std["ics_steps"]), len(bn["ics_steps"])) >= ics.MIN_ICS_MEASUREMENTS
        holds = True
        for k in layers:
            c_std, c_bn = ics.median_cosine(std, k), ics.median_cosine(bn, k)
            cos[f"standard #{k}"].append(c_std if enough else math.nan)
            cos[f"bn #{k}"].append(c_bn if enough else math.nan)
            holds &= not c_bn > c_std + ics.COS_TOLERANCE and abs(c_bn) < ics.UNCORRELATED
        outcomes.append((seed, bool(holds) if enough else None))
    return outcomes, {k: np.asarray(v) for k, v in cos.items()}


SMOOTHNESS: dict[str, tuple[Callable[[Mapping[str, np.ndarray]], np.ndarray], bool]] = {
    "S5": (lambda r: np.subtract(*landscape.loss_band(r)[::-1]), False),  # loss-band width, all probes
    "S6": (lambda r: landscape.predictiveness_band(r)[1], True),  # largest gradient change, first 10 %
    "S7": (landscape.effective_beta, False),  # effective β-smoothness, all probes
}
"""S5–S7: the measure of each claim (as `landscape.verdict_s5..7`) and whether only early probes count."""


def smoothness_outcomes(runs: Mapping[str, results.Result], reading: str, claim_id: str
                        ) -> tuple[list[tuple[int, bool | None]], np.ndarray]:
    """Per seed: is the standard/BN median ratio of the claim's measure above `landscape.SMOOTHER_FACTOR`?

    A seed is not testable (None) when a run has too few probes or did not train (`landscape.made_progress`).
    Also returns the per-seed ratios.
    """
    metric, early_only = SMOOTHNESS[claim_id]
    need = landscape.MIN_EARLY_PROBES if early_only else landscape.MIN_PROBES
    outcomes, ratios = [], []
    for seed in _seeds(runs, reading):
        std, bn = (runs[f"{reading}-s{seed}-{n}"].arrays for n in ("none", "bn"))
        a, b = metric(std), metric(bn)
        if early_only:
            a, b = landscape.early(std, a), landscape.early(bn, b)
        ratio = landscape.median_ratio(a, b) if min(a.size, b.size) else math.nan
        ratios.append(ratio)
        testable = min(a.size, b.size) >= need and landscape.made_progress(std) and landscape.made_progress(bn)
        outcomes.append((seed, bool(ratio > landscape.SMOOTHER_FACTOR) if testable else None))
    return outcomes, np.asarray(ratios)


def edge_of_stability(runs: Mapping[str, results.Result], reading: str, method: str) -> dict[str, np.ndarray]:
    """lr · λ_max / 2 per probed step and seed (rows), from the probed runs; NaN-padded."""
    chosen = [runs[f"{reading}-s{seed}-{method}"] for seed in _seeds(runs, reading)]
    rows = [np.asarray(r["sharpness"], dtype=float) * float(r.meta["config"]["lr"]) / 2 for r in chosen]
    longest = max(chosen, key=lambda r: len(r["sharpness_steps"]), default=None)
    n = 0 if longest is None else len(longest["sharpness_steps"])
    padded = [np.pad(v, (0, n - len(v)), constant_values=np.nan) for v in rows]  # a diverged run stops early
    return {"steps": np.arange(0) if longest is None else np.asarray(longest["sharpness_steps"]),
            "lr_lambda_half": np.array(padded).reshape(len(rows), n)}


def late_half(eos: Mapping[str, np.ndarray]) -> np.ndarray:
    """The lr · λ_max / 2 values (all seeds) at probed steps in the last half of training."""
    steps = np.asarray(eos["steps"])
    late = steps >= steps.max() / 2 if steps.size else np.zeros(0, bool)
    return np.asarray(eos["lr_lambda_half"])[:, late].ravel()


def flip_share(runs: Mapping[str, results.Result], reading: str, method: str) -> np.ndarray:
    """Per seed, the share of measured step pairs whose gradients point against each other (cos < 0)."""
    return np.asarray([float(np.mean(runs[f"{reading}-s{s}-{method}"]["flip_cos"] < 0))
                       for s in _seeds(runs, reading)])


def reading_verdicts(make: Callable[[str], claims.Verdict], names: Sequence[str], headline: str
                     ) -> claims.Verdict:
    """The headline reading's verdict, carrying every reading's verdict (`names`) as its readings."""
    order = [headline, *[c for c in names if c != headline]]
    by = {c: make(c) for c in order}
    shown = tuple((LABELS[c] + (" (headline)" if c == headline else ""), by[c].verdict + (
        f", {by[c].split}" if by[c].split else "")) for c in order)
    return replace(by[headline], readings=shown)


def nan_median(values: np.ndarray) -> float:
    """Median of the finite values (NaN when there is none), without numpy's all-NaN warning."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan
