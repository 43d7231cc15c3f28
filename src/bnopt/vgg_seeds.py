"""[S]'s VGG nets on CIFAR-10 for both [S] pages, over seeds: one training per (method, lr, seed).

The ICS page (Definition 2.1, activation records, accuracy) and the landscape page (probes along
the gradient, λ_max, Thm 4.1/4.2) read the same nets: each VGG run trains once with every hook
either page needs (`run`), and both pages load that one stored result. `specs(profile)` lists the
runs: Fig. 1's learning rates for the standard and BN nets, noisy BN and the noise without BN at
the first lr, Fig. 3a's lrs, and the l_p nets at the first lr. The standard and BN nets at the first
lr (S1's first half, S4's VGG half, S5–S7) run for `vgg_seeds` seeds, every other run for
`vgg_other_seeds` (the ICS settings).

Gate. A claim that compares a net with the standard net says nothing while the standard net has not
trained: a net stuck near chance has a flat loss along any direction and barely changing
activations. So a seed is judged only when its standard net at the first lr reaches
TRAINS_ACCURACY training accuracy (`trains`); otherwise that seed is "not testable at this
scale". A verdict needs MIN_SEEDS judged seeds (`claims.seed_verdict`).

Keys: "<method>-lr<lr>-s<seed>" here; `ics_view` and `landscape_view` give the pages' keys
("vgg-bn-lr0.1", "vgg-bn" for seed 0; "…-s1", "…-s2" for the others).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

import torch

from . import claims, data, ics, landscape, models, norms, parallel, profiles, recording, results, runtime, train

NAME = "vgg"  # the stored results' name
METHODS: dict[str, tuple[str, bool]] = {**ics.METHODS, "l1": ("l1", False), "l2": ("l2", False),
                                        "linf": ("linf", False), "linf_matched": ("linf", False)}  # method -> (norm, noise)
MATCHED = "linf_matched"  # the l∞ net started with γ matched to BN's output scale (S8's second reading)
PROBED = ("standard", "bn", "l1", "l2", "linf", MATCHED)  # the landscape page's nets (at the first lr)
TRAINS_ACCURACY = 0.40  # the gate: 4x chance. At width 8 the plain net needs 900-1,350 SGD steps to
# get there (4 seeds measured); below it, e.g. at 0.29 after 600 steps, its training loss is still
# 0.8x its initial value, so its landscape is that of a net on its initial plateau.
MIN_SEEDS = 3  # judged seeds a VGG verdict needs


@dataclass(frozen=True)
class VGGRun:
    """One VGG training with the hooks of both pages (one stored result)."""

    method: str  # a key of METHODS
    lr: float
    seed: int
    width: int | None
    steps: int
    batch_size: int
    train_size: int | None  # CIFAR-10 training images (None = all 50,000)
    test_size: int | None  # test images (None = all 10,000)
    eval_every: int
    standardise: bool
    ics_layers: tuple[int, ...]  # () = no Definition 2.1 measurement
    ics_every: int
    act_layers: tuple[int, ...]
    act_every: int
    act_samples: int  # raw activation values kept per record (histograms)
    probe_every: int  # 0 = no landscape probes
    probe_every_early: int
    eta_low: float
    eta_high: float
    n_etas: int
    random_directions: bool
    sharpness_every: int  # 0 = off
    lanczos_iters: int
    theorem_every: int  # 0 = off (BN nets only)
    theorem_layer: int
    theorem_units: int


def key(method: str, lr: float, seed: int) -> str:
    """Key of a run in `specs` / `runs`, e.g. "bn-lr0.1-s2"."""
    return f"{method}-lr{lr:g}-s{seed}"


def run(spec: VGGRun) -> dict[str, Any]:
    """Train one VGG net with Definition 2.1, the probes and the activation recorder; the arrays to store."""
    if spec.method not in METHODS:
        raise ValueError(f"unknown method {spec.method!r}; choose one of {', '.join(METHODS)}")
    runtime.configure_threads(model_id="vgg")
    runtime.seed_everything(spec.seed)
    tr, te = data.cifar10_task(spec.train_size, spec.test_size, spec.seed, spec.standardise)
    norm, noise = METHODS[spec.method]
    model = models.build("vgg", norm, width=spec.width, seed=spec.seed, noise=noise)
    if spec.method == MATCHED:  # γ from a random training batch (the files may be sorted by class)
        pick = torch.randperm(len(tr.x), generator=torch.Generator().manual_seed(spec.seed))[:spec.batch_size]
        norms.match_output_scale(model, tr.x[pick])
    hooks: list[Any] = []
    if spec.probe_every:
        etas = np.geomspace(spec.eta_low, spec.eta_high, spec.n_etas)
        directions = ("gradient", "random") if spec.random_directions else ("gradient",)
        hooks.append(landscape.LandscapeProbe(spec.probe_every, etas, directions, seed=spec.seed,
                                              early_every=spec.probe_every_early, early_until=spec.steps // 10))
    if spec.sharpness_every:
        hooks.append(landscape.SharpnessProbe(spec.sharpness_every, spec.lanczos_iters, seed=spec.seed))
    if spec.theorem_every and norm == "bn":
        hooks.append(landscape.TheoremProbe(spec.theorem_every, spec.theorem_layer, spec.theorem_units))
    if spec.ics_layers:
        hooks.append(ics.ICSMeasurement(spec.ics_layers, spec.ics_every))
    # last: the recorder captures the training forward pass (every other hook leaves the net as it found it)
    recorder = recording.ActivationRecorder(model, spec.act_layers, every=spec.act_every,
                                            max_samples=spec.act_samples, seed=spec.seed)
    config = train.TrainConfig(lr=spec.lr, steps=spec.steps, batch_size=spec.batch_size, seed=spec.seed,
                               eval_every=spec.eval_every if te is not None else None, progress=False,
                               engine="auto")
    try:
        log = train.train(model, (tr.x, tr.y), config, hooks=[*hooks, recorder], loss_fn=models.loss_fn("vgg"),
                          test=None if te is None else (te.x, te.y))
    finally:
        recorder.close()
    out: dict[str, Any] = {"dataset": tr.variant, "planned_steps": spec.steps, **log.arrays()}
    for hook in hooks:
        out.update(hook.arrays())
    out.update({f"act_{k}": v for k, v in recorder.arrays().items()})
    out["act_layers"] = np.asarray(spec.act_layers, dtype=np.int64)
    out.update(clean_accuracies(model, tr, te))
    return out


def clean_accuracies(model: Any, tr: data.Dataset, te: data.Dataset | None, n: int = 1000) -> dict[str, float]:
    """Accuracy after training without noise (eval mode) on the first `n` training images and on the test set."""
    loss_fn = models.loss_fn("vgg")
    _, train_acc = train.evaluate(model, (tr.x[:n], tr.y[:n]), loss_fn)
    out = {"clean_train_accuracy": train_acc}
    if te is not None:
        out["clean_test_accuracy"] = train.evaluate(model, (te.x, te.y), loss_fn)[1]
    return out


def plan(profile: str) -> list[tuple[str, float, int]]:
    """(method, lr, number of seeds) of every VGG net of both pages at `profile` (0 seeds: not run there)."""
    i, ls = profiles.settings("ics", profile), profiles.settings("landscape", profile)
    first = i.vgg_lrs[0]
    nets = [(m, lr) for lr in i.vgg_lrs for m in ("standard", "bn")]
    nets += [("noisy_bn", first), ("standard_noise", first), ("standard_noise_scaled", first)]
    nets += [(m, lr) for lr in i.vgg_ics_lrs for m in ("standard", "bn") if (m, lr) not in nets]
    nets += [(m, first) for m in ("l1", "l2", "linf", MATCHED) if ls.lp_vgg]
    return [(m, lr, i.vgg_seeds if lr == first and m in ("standard", "bn") else i.vgg_other_seeds)
            for m, lr in nets]


def specs(profile: str) -> dict[str, VGGRun]:
    """Every VGG run of both pages at `profile`, keyed by `key`."""
    i, ls = profiles.settings("ics", profile), profiles.settings("landscape", profile)
    first = i.vgg_lrs[0]
    act = tuple(sorted(set(i.vgg_fig1_layers) | set(i.vgg_fig2_layers) | set(ls.act_layers)))
    out: dict[str, VGGRun] = {}
    for method, lr, n_seeds in plan(profile):
        probed = lr == first and method in PROBED
        plain = method in ("standard", "bn")
        for seed in range(i.seed, i.seed + n_seeds):
            out[key(method, lr, seed)] = VGGRun(
                method, lr, seed, i.vgg_width, i.vgg_steps, i.batch_size, i.train_size, i.test_size,
                i.eval_every, i.vgg_standardise,
                i.vgg_ics_layers if plain and lr in i.vgg_ics_lrs else (), i.ics_every,
                act, i.record_every, ls.act_samples,
                ls.vgg_probe_every if probed else 0, ls.vgg_probe_every_early, ls.vgg_eta[0], ls.vgg_eta[1],
                ls.n_etas, ls.vgg_random_directions and plain and probed,
                ls.vgg_sharpness_every if plain and probed else 0, ls.lanczos_iters,
                ls.vgg_theorem_every if probed else 0, ls.vgg_theorem_layer, ls.theorem_units)
    return out


def runs(profile: str, *, force: bool = False) -> dict[str, results.Result]:
    """Every VGG run at `profile`, loaded or run on local workers ("not run" results without CIFAR-10)."""
    return parallel.run_many(NAME, run, specs(profile), profile, dataset="cifar10", force=force)


def _page_key(method: str, lr: float, seed: int, page: str, first_lr: float) -> str | None:
    """A run's key on `page` ("ics" or "landscape"), or None if that page does not read it."""
    suffix = "" if seed == 0 else f"-s{seed}"
    if page == "ics":
        return f"vgg-{method}-lr{lr:g}{suffix}" if method in ics.METHODS else None
    if lr != first_lr or method not in PROBED:
        return None
    return f"vgg-{MATCHED if method == MATCHED else METHODS[method][0]}{suffix}"


def view(all_runs: Mapping[str, results.Result], page: str, profile: str) -> dict[str, results.Result]:
    """The runs `page` reads, under its keys (seed 0 as "vgg-bn-lr0.1" / "vgg-bn", others "…-s<seed>").

    A net that `profile` does not run (no seeds) is a "not run" result under its seed-0 key, saying so.
    """
    first = profiles.settings("ics", profile).vgg_lrs[0]
    out = {}
    for k, spec in specs(profile).items():
        page_key = _page_key(spec.method, spec.lr, spec.seed, page, first)
        if page_key is not None:
            out[page_key] = all_runs[k]
    for method, lr, n_seeds in plan(profile):
        page_key = _page_key(method, lr, 0, page, first)
        if n_seeds == 0 and page_key is not None:
            out[page_key] = results.not_run(f"{NAME}-{key(method, lr, 0)}", NOT_AT_PROFILE.format(profile=profile),
                                            profile)
    return out


NOT_AT_PROFILE = ("not run at profile {profile}, which trains only the standard and BN VGG at lr 0.1 (over "
                  "3 seeds) to keep within its time budget; the workstation and paper profiles run it")


def seeds_of(res: Mapping[str, results.Result], base: str) -> dict[int, results.Result]:
    """The seeds of page key `base` present in `res` (seed 0 under `base`, seed s under `base`-s<s>)."""
    found = {0: res[base]} if base in res else {}
    prefix = base + "-s"
    for k, r in res.items():
        if k.startswith(prefix) and k[len(prefix):].isdigit():
            found[int(k[len(prefix):])] = r
    return dict(sorted(found.items()))


def per_seed(res: Mapping[str, results.Result], bases: Mapping[str, str]) -> dict[int, dict[str, results.Result]]:
    """Per seed present for every base key: {name: that seed's result} (`bases`: name -> page key)."""
    found = {name: seeds_of(res, base) for name, base in bases.items()}
    common = set.intersection(*(set(v) for v in found.values())) if found else set()
    return {s: {name: found[name][s] for name in bases} for s in sorted(common)}


def trains(standard: Mapping[str, np.ndarray]) -> bool:
    """The gate: the standard net's final training accuracy (`ics.final_train_accuracy`) >= TRAINS_ACCURACY."""
    return ics.final_train_accuracy(standard) >= TRAINS_ACCURACY


def seed_outcomes(seeds: Mapping[int, Mapping[str, results.Result]], standard: str,
                  holds: Callable[[Mapping[str, results.Result]], bool | None]
                  ) -> tuple[list[tuple[int, bool | None]], list[int]]:
    """(seed, holds) per seed, None where the gate fails (its standard run `standard` did not train), and those seeds."""
    outcomes, gated = [], []
    for seed, runs_ in seeds.items():
        if not trains(runs_[standard].arrays):
            outcomes.append((seed, None))
            gated.append(seed)
        else:
            outcomes.append((seed, holds(runs_)))
    return outcomes, gated


def gate_detail(seeds: Mapping[int, Mapping[str, results.Result]], standard: str, gated: list[int]) -> str:
    """One sentence: the gate, each seed's standard training accuracy, and which seeds it left out."""
    accs = ", ".join(f"{ics.final_train_accuracy(r[standard].arrays):.2f}" for r in seeds.values())
    left = f"; not testable in seed(s) {', '.join(map(str, gated))}" if gated else ""
    return (f"a seed is judged when its standard VGG reaches {TRAINS_ACCURACY:.0%} training accuracy "
            f"(seeds {', '.join(map(str, seeds))}: {accs}){left}")


def vgg_verdict(claim_id: str, seeds: Mapping[int, Mapping[str, results.Result]], standard: str,
                holds: Callable[[Mapping[str, results.Result]], bool | None], *, numbers: dict[str, float],
                detail: str, effect_clears: bool = True, dataset: str = "", profile: str = "") -> claims.Verdict:
    """A VGG claim over seeds: the gate per seed, then `claims.seed_verdict` over >= MIN_SEEDS judged seeds."""
    outcomes, gated = seed_outcomes(seeds, standard, holds)
    return claims.seed_verdict(claim_id, outcomes, effect_clears=effect_clears, min_seeds=MIN_SEEDS,
                               numbers=numbers, detail="; ".join(
                                   t for t in (detail, gate_detail(seeds, standard, gated)) if t),
                               dataset=dataset, profile=profile)


def seed_median(values: list[float]) -> float:
    """Median of per-seed values, ignoring NaN (NaN when there is none)."""
    finite = [v for v in values if isinstance(v, float) and not math.isnan(v)] if values else []
    return float(np.median(finite)) if finite else math.nan
