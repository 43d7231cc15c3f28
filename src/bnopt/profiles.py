"""Scale profiles: one frozen settings record per book section for each of `ci`, `workstation`, `paper`.

`paper` is the papers' own setting (a GPU machine for the deep nets); `ci` runs the whole book on two
CPU cores in about half an hour; `workstation` sits in between (a smoke run, `python -m bnopt.build
--profile workstation --smoke`, estimates about two hours on two cores; its runs are independent, so
more cores take less). Every section
owns one block below: a frozen dataclass whose defaults are the paper's values, one instance per
profile, and a sentence saying what each profile shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

PROFILES: tuple[str, ...] = ("ci", "workstation", "paper")


class UnknownProfileError(ValueError):
    """Raised for a profile name that is not one of PROFILES."""


def check_profile(profile: str) -> str:
    """Return `profile` if it is known, else raise an error listing the valid ones."""
    if profile not in PROFILES:
        raise UnknownProfileError(
            f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)} "
            f"(e.g. `make book PROFILE=ci` or papermill -p profile ci)")
    return profile


_SETTINGS: dict[str, dict[str, Any]] = {}
_SHRINKS: dict[str, dict[str, str]] = {}


def _register(section: str, by_profile: dict[str, Any], shrinks: dict[str, str]) -> None:
    """Record a section's settings and shrinkage text for every profile."""
    missing = set(PROFILES) - set(by_profile) | set(PROFILES) - set(shrinks)
    if missing:
        raise RuntimeError(f"section {section!r} lacks profiles {sorted(missing)}")
    _SETTINGS[section] = by_profile
    _SHRINKS[section] = shrinks


def sections() -> tuple[str, ...]:
    """Names of the sections that have settings."""
    return tuple(_SETTINGS)


def settings(section: str, profile: str) -> Any:
    """The frozen settings of `section` at `profile`."""
    check_profile(profile)
    if section not in _SETTINGS:
        raise KeyError(f"unknown section {section!r}; choose one of {', '.join(_SETTINGS)}")
    return _SETTINGS[section][profile]


def shrinkage(section: str, profile: str) -> str:
    """What `profile` shrinks in `section` compared with the papers (a sentence)."""
    check_profile(profile)
    return _SHRINKS[section][profile]


def differences(section: str, profile: str) -> dict[str, tuple[Any, Any]]:
    """Settings where `profile` differs from `paper`: name -> (profile value, paper value)."""
    here, paper = settings(section, profile), settings(section, "paper")
    return {f.name: (getattr(here, f.name), getattr(paper, f.name))
            for f in fields(here) if getattr(here, f.name) != getattr(paper, f.name)}


# --- section: intro ---
@dataclass(frozen=True)
class IntroSettings:
    """The intro's live figure: GD against BNGD on a 2-D least-squares problem."""

    kappa: float = 20.0  # condition number of the 2x2 H
    steps: int = 60  # iterations shown
    seed: int = 0


_register("intro",
          {p: IntroSettings() for p in PROFILES},
          {p: "nothing: the intro's toy problem is the same at every profile." for p in PROFILES})
# --- end: intro ---

@dataclass(frozen=True)
class ClaimsSettings:
    """The ledger computes nothing: it judges the results the section pages stored at this profile."""

    load_only: bool = True


_register("claims", {p: ClaimsSettings() for p in PROFILES},
          {p: "nothing itself: it judges the results the other pages computed at this profile."
           for p in PROFILES})


# --- section: landscape ---
@dataclass(frozen=True)
class LandscapeSettings:
    """[S] §3–4 landscape probes on the VGG net (CIFAR-10) and the 25-layer DLN, with BN and l_p norms.

    Step sizes of a probe run over [eta[0], eta[1]] × lr in `n_etas` log-spaced points.
    """

    # VGG on CIFAR-10: the ICS page's runs at its first lr ([S]'s 0.1), probed (`vgg_seeds`)
    vgg_eta: tuple[float, float] = (0.5, 4.0)  # × lr ([S] App. A.2.2; Fig. 4 caps at 0.4 = 4 × 0.1)
    vgg_probe_every: int = 10  # [S] probes every step; every 10th gives the same curves at 1/10 the cost
    vgg_probe_every_early: int = 10  # probe interval in the first 10% of the run
    vgg_random_directions: bool = True  # also probe along random directions ([S] §3.2), standard/BN only
    vgg_sharpness_every: int = 250  # top Hessian eigenvalue (the book's extra; not in [S])
    vgg_theorem_every: int = 500  # Thm 4.1/4.2 checks (not in [S], which proves them)
    vgg_theorem_layer: int = 5  # the BN after conv layer #5
    act_layers: tuple[int, ...] = (3, 11)  # [S] Fig. 14 names no layers: Fig. 1's #3 and #11 (recorded
    # with the ICS page's layers, every `record_every` steps of its settings)
    act_samples: int = 2000  # raw activation values kept per record, for the histograms
    lp_vgg: bool = True  # also train the VGG with l1, l2, l∞ normalisation (Fig. 11, 14)
    # 25-layer deep linear network ([S] App. A.1): 1,000 samples, full-batch GD, lr 1e-6, 10,000 steps
    dln_lr: float = 1e-6
    dln_steps: int = 10_000
    dln_samples: int = 1000
    dln_eta: tuple[float, float] = (0.01, 30.0)  # × lr ([S] App. A.2.2)
    dln_probe_every: int = 10
    dln_probe_every_early: int = 10
    dln_random_directions: bool = True
    dln_sharpness_every: int = 250
    dln_theorem_every: int = 500
    dln_theorem_layer: int = 12  # the BN after the middle layer
    # shared
    n_etas: int = 8  # step sizes per probe ([S] gives only the range)
    lanczos_iters: int = 20  # Lanczos steps per top-eigenvalue estimate
    theorem_units: int = 4  # units per Thm 4.2 check (Thm 4.1 checks every unit)
    seed: int = 0


_register("landscape",
          {"paper": LandscapeSettings(),
           "workstation": LandscapeSettings(vgg_probe_every=25, vgg_sharpness_every=250, vgg_theorem_every=500,
                                            dln_probe_every=50),
           "ci": LandscapeSettings(
               vgg_probe_every=75, vgg_probe_every_early=15, vgg_random_directions=False,
               vgg_sharpness_every=300, vgg_theorem_every=500,
               dln_steps=1500, dln_probe_every=50, dln_probe_every_early=20, dln_sharpness_every=300,
               dln_theorem_every=750, n_etas=6, lanczos_iters=10)},
          {"paper": "nothing but the probe interval (every 10th VGG / DLN step instead of every step).",
           "workstation": "the VGG is the ICS page's (width 16, 2,000 steps) and is probed every 25 steps; "
                          "the DLN is at paper scale.",
           "ci": "the VGG is the ICS page's (width 8, 2,000 steps on 10,000 images), probed every 75 steps "
                 "(every 15 in the first 10 %) without random-direction probes; the DLN to 1,500 steps, "
                 "probes to 6 step sizes, fewer of them, and Lanczos to 10 steps."})
# --- end: landscape ---


# --- section: dln_seeds ---
@dataclass(frozen=True)
class DLNSeedsSettings:
    """[S]'s 25-layer DLN over seeds and loss conventions (the DLN halves of S4–S7, edge of stability).

    The probes (steps, intervals, step sizes) are the landscape page's at the same profile; the ICS
    runs are [S] App. A's 10,000 steps. Values marked "book" are the book's choices.
    """

    seeds: int = 10  # book: seeds 0..9 (data, A and initial weights); the spec asks for >= 10
    lr: float = 1e-6  # [S] App. A
    conventions: tuple[str, ...] = ("half_sum", "sum")  # the loss read as ½·sum and as sum (dln_seeds)
    # book: also trained per sample in float32 (as TensorFlow would), under ½·sum, TensorFlow's l2_loss
    float32_conventions: tuple[str, ...] = ("half_sum",)
    float32_ics: bool = True  # the float32 readings also for the ICS runs (S4), not only the probed runs (S5–S7)
    ics_steps: int = 10_000  # [S] App. A
    ics_layers: tuple[int, ...] = (9, 17)  # [S] Fig. 3b
    ics_every: int = 50  # book: Definition 2.1 every this many steps
    flip_every: int = 50  # book: cos(G_t, G_t+1) of the whole gradient at t = 0, every, 2·every, ...
    divergence_seeds: int = 3  # book: seeds of the plain-DLN divergence search
    divergence_factors: tuple[float, ...] = (2, 3, 5, 7, 10, 14, 20, 30, 50, 70, 100)  # × lr, book
    divergence_steps: int = 10_000  # [S] App. A's training length


_register("dln_seeds",
          {"paper": DLNSeedsSettings(), "workstation": DLNSeedsSettings(),
           "ci": DLNSeedsSettings(ics_every=200, flip_every=100, float32_ics=False)},
          {"paper": "nothing: 10 seeds of the 25-layer DLN at [S]'s settings, under both loss conventions, and in float32 under ½·sum.",
           "workstation": "nothing: 10 seeds of the 25-layer DLN at [S]'s settings, under both loss conventions, and in float32 under ½·sum.",
           "ci": "only how often Definition 2.1 is measured (every 200 instead of 50 steps); 10 seeds, "
                 "10,000 steps, both loss conventions; float32 under ½·sum for the probed runs (S5–S7) only, as the float32 ICS runs would add about 5.5 minutes (measured); the probes are the landscape page's (1,500 steps)."})
# --- end: dln_seeds ---


# --- section: ols ---
@dataclass(frozen=True)
class OLSSettings:
    """[C] §2–3, App. A–B: GD, BNGD and MBNGD on least squares. Defaults are the paper's values;
    where [C] leaves a value open the comment says "book's choice"."""

    fig1_kappas: tuple[float, ...] = (10.0, 100.0, 1000.0)  # book's choice: [C] does not give its κ
    fig1_dim: int = 100  # H = diag(logspace(0, log10 κ, 100))
    fig1_steps: int = 2000
    fig1_eps_a_scale: float = 1.99  # ε_a = 1.99 · logspace(-10, 0, 41)
    fig1_eps_a: tuple[float, float, int] = (-10.0, 0.0, 41)
    fig1_eps: tuple[float, float, int] = (-5.0, 16.0, 43)  # ε = logspace(-5, 16, 43)
    fig1_a0: tuple[float, ...] = (10.0, 1.0, 1e-2, 1e-4, 1e-8)
    loss_floor: float = 1e-20  # book's choice: losses are compared before optimal GD falls below this
    # (relative to its start), as float64 round-off stops both methods near 1e-32
    curves_kappa: float = 100.0  # book's choice: κ of the loss-curve, ε̂ and GD-threshold figures
    curves_eps_a: tuple[float, ...] = (0.5, 1.0, 1.5, 1.99, 2.1)  # ε_a ≤ 1 (Thm 3.3) and beyond
    eff_eps: tuple[float, float, int] = (-5.0, 16.0, 85)  # ε grid of the ε̂ figure (quarter decades)
    eff_a0: tuple[float, ...] = (1.0, 1e-2, 1e-4)
    # Prop. 3.5 read uniformly in k (book's choices, [C] gives no setting): ε̂_k/ε over the lowest two
    # decades of the ε̂ grid (ε·λ_max ≤ 0.1 at κ = 100) and ε̂_k·ε over the highest two, every k ≤ 1e5
    uniform_steps: int = 100_000
    uniform_eps_small: tuple[float, float, int] = (-5.0, -3.0, 9)
    uniform_eps_large: tuple[float, float, int] = (14.0, 16.0, 9)
    # C5/C7 over several draws of u (book's choice: [C] Fig. 1 shows one u): Fig. 1's setting on every
    # other grid point in ε_a and in ε; draw 0 has the u of the Fig. 1 figure
    fig1_draws: int = 5
    draw_eps_a: tuple[float, float, int] = (-10.0, 0.0, 21)  # ε_a = 1.99 · logspace(-10, 0, 21)
    draw_eps: tuple[float, float, int] = (-5.0, 16.0, 22)  # ε = logspace(-5, 16, 22)
    gd_factors: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999, 1.001, 1.01, 1.1, 1.5, 2.5)  # ε / (2/λ_max)
    spectra_draws: int = 1000  # random u per κ for κ* (and random H for interlacing)
    appb_steps: int = 5000  # [C] Fig. 5; book's choice for Fig. 6–8 (not stated)
    appb_eps: tuple[float, float, int] = (-5.0, 16.0, 43)  # book's choice: App. B gives no ε grid
    fig5_dim: int = 5  # H = diag(logspace(0, log10 2000, 5))
    fig5_cond: float = 2000.0
    fig5_tests: int = 300
    fig6_dim: int = 100  # H = diag(linspace(1, 2000, 100))
    fig6_cond: float = 2000.0
    fig6_tests: int = 500
    fig7_dims: tuple[int, ...] = (5, 10, 20, 50, 100)  # book's choice: H = diag(linspace(1, 2000, d))
    fig8_conds: tuple[float, ...] = (10.0, 100.0, 1000.0, 2000.0, 10000.0)  # book's choice, d = 100
    fig78_tests: int = 500  # book's choice: as Fig. 6
    seed: int = 0


_register("ols",
          {"ci": OLSSettings(fig6_tests=100, fig78_tests=50),
           "workstation": OLSSettings(fig78_tests=200),
           "paper": OLSSettings()},
          {"ci": "App. B averages over fewer random tests (Fig. 6: 100 instead of 500; Fig. 7–8: 50); "
                 "everything else, [C] Fig. 1 included, runs at the paper's full scale.",
           "workstation": "App. B Fig. 7–8 average over 200 random tests instead of 500; everything else "
                          "runs at the paper's full scale.",
           "paper": "nothing: this is the paper's scale (κ values, App. B's ε grid and test counts "
                    "for Fig. 7–8, the extra draws of u behind C5/C7 and the horizon of the uniform-in-k "
                    "check of Prop. 3.5 are the book's choices where [C] gives none)."})
# --- end: ols ---


# --- section: scaling ---
@dataclass(frozen=True)
class ScalingSettings:
    """[C] Prop. 3.2 / Lemma A.8–A.9 and Fig. 2: the scaling law on OLS (exact) and in network (2).

    Fig. 2 gives neither its η values nor its learning rates: "book's choice" marks those.
    """

    # Least squares, Prop. 3.2 exactly ([C] gives no setting for this check: all book's choices)
    ols_dim: int = 10  # d of the random dense H
    ols_kappa: float = 100.0  # its condition number
    ols_steps: int = 1000  # BNGD iterations compared
    ols_rs: tuple[float, ...] = (1e-3, 0.5, 3.0, 1e4, -2.0)  # Prop. 3.2(2): w₀ → r w₀, ε → r² ε
    ols_mus: tuple[float, ...] = (0.01, 1.0, 50.0)  # Prop. 3.2(1): H → μ Q H Qᵀ ...
    ols_gammas: tuple[float, ...] = (0.1, 1.0, 20.0)  # ... a₀ → γ a₀, w₀ → γ Q w₀
    ols_rotations: int = 3  # random orthogonal Q per (μ, γ)
    # Network (2) on MNIST, [C] Fig. 2
    model_id: str = "conv2"  # [C] network (2), Conv-MaxPool-Conv-MaxPool-FC-FC, BN on all layers
    width: int | None = None  # None = models' paper size (w = 32)
    n_train: int | None = None  # MNIST training images in the epoch (None = all 60,000)
    batch_size: int = 100
    epochs: int = 1  # loss "at epoch = 1"
    etas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # book's choice
    lr_grid: tuple[float, float, int] = (-3.0, 3.0, 40)  # ℓ = lr/η² = logspace(-3, 3, 40); book's
    # choice (the grid of the authors' Fig. 3 script)
    lr_norm: float = 0.1  # lr_a of γ, β, fixed as ε_a in Prop. 3.2; book's choice
    bn_eps: float = 1e-3  # the paper's constant in √(σ² + eps); the exact law is checked at 0 too
    seed: int = 0
    threads: int | None = None  # None = runtime's recommendation (all cores for convolutions)
    device: str = "auto"  # the GPU if there is one
    check_width: int | None = None  # float64 check of (r·w, r²·lr): network width
    check_n_train: int = 1000
    check_steps: int = 10
    check_rs: tuple[float, ...] = (0.01, 0.1, 10.0, 100.0)
    check_lrs: tuple[float, ...] = (0.1, 1.0, 10.0)


_register("scaling",
          {"ci": ScalingSettings(width=8, n_train=2000, etas=(0.01, 0.1, 1.0, 10.0), lr_grid=(-2.0, 3.0, 6),
                                 device="cpu", check_width=4, check_n_train=500, check_steps=5,
                                 check_lrs=(0.1, 1.0)),
           "workstation": ScalingSettings(width=16, n_train=10_000, lr_grid=(-3.0, 3.0, 13), device="cpu",
                                          check_width=8),
           "paper": ScalingSettings()},
          {"ci": "network (2) to width 8, one epoch on 2,000 MNIST images, 4 values of η and 6 learning "
                 "rates; the float64 check on a "
                 "width-4 net for 5 steps.",
           "workstation": "network (2) to width 16, one epoch on 10,000 MNIST images, 13 learning rates.",
           "paper": "nothing: the paper's network (2) and full MNIST epoch; η values, learning rates and "
                    "lr_a are the book's choices, since [C] does not give them."})
# --- end: scaling ---


# --- section: ics ---
@dataclass(frozen=True)
class ICSSettings:
    """[S] §2 and App. A: VGG on CIFAR-10 (Fig. 1, 2, 3a, 7) and the 25-layer DLN (Fig. 3b, 8).

    Defaults are [S]'s values; where [S] is silent (how often to measure, which DLN layers Fig. 8
    shows, how many units to follow) the value is the book's choice, marked "book".
    """

    vgg_width: int = 64  # VGG base width w (models "vgg": convs w..8w; 64 = VGG-13 sizes)
    vgg_steps: int = 15_000  # SGD steps ([S] App. A.1)
    batch_size: int = 128  # minibatch ([S] App. A.1)
    train_size: int | None = None  # CIFAR-10 training images used (None = all 50,000)
    test_size: int | None = None  # CIFAR-10 test images used (None = all 10,000)
    vgg_lrs: tuple[float, ...] = (0.1, 0.5)  # Fig. 1 learning rates; noisy BN (Fig. 2) uses the first
    vgg_ics_lrs: tuple[float, ...] = (0.1, 0.01)  # Fig. 3a learning rates
    vgg_ics_layers: tuple[int, ...] = (5, 10)  # Fig. 3a layers (#k = k-th weight layer from the input)
    vgg_fig1_layers: tuple[int, ...] = (3, 11)  # Fig. 1c activation layers
    vgg_fig2_layers: tuple[int, ...] = (2, 9, 13)  # Fig. 2 / Fig. 7 activation layers
    dln_steps: int = 10_000  # full-batch GD steps ([S] App. A.1)
    dln_samples: int = 1_000  # DLN data set size = batch size ([S] App. A.1)
    dln_depth: int = 25  # number of 10x10 layers ([S] App. A.1)
    dln_lrs: tuple[float, ...] = (1e-6, 1e-7)  # Fig. 3b learning rates
    dln_ics_layers: tuple[int, ...] = (9, 17)  # Fig. 3b layers
    dln_fig8_layers: tuple[int, ...] = (5, 13, 21)  # book: Fig. 8 does not name its layers
    ics_every: int = 50  # book: measure Definition 2.1 every this many steps (~1 backward per layer)
    record_every: int = 50  # book: activation quantiles every this many steps (moments every step)
    dln_every: int = 50  # book: the DLN runs' ICS and activation records every this many steps
    eval_every: int = 500  # book: test accuracy every this many steps
    units: int = 8  # book: random units followed per layer (quantiles drawn for the first)
    seed: int = 0  # initial weights, minibatch order, data subset, sampled units (the first seed)
    vgg_seeds: int = 3  # book: seeds of the standard and BN VGG at the first lr (S1, S4, S5–S7), >= 3
    vgg_other_seeds: int = 3  # book: seeds of every other VGG run (lr 0.5, noisy BN, l_p: S1, S2, S3, S8, S9);
    # 0 = those nets are not run at the profile
    vgg_standardise: bool = True  # book: [S] does not say; each input channel to mean 0, std 1 (data.standardise)


_register("ics",
          {"paper": ICSSettings(),
           "workstation": ICSSettings(vgg_width=16, vgg_steps=2_000, train_size=None, test_size=None,
                                      ics_every=20, record_every=20, eval_every=200),
           "ci": ICSSettings(vgg_width=8, vgg_steps=2000, train_size=10_000, test_size=1_000,
                             vgg_ics_lrs=(0.1,), ics_every=50, record_every=50, eval_every=300,
                             vgg_other_seeds=0)},
          {"paper": "nothing: VGG (width 64) for 15,000 SGD steps on all of CIFAR-10 and the "
                    "25-layer DLN for 10,000 GD steps, as in [S] App. A.",
           "workstation": "VGG is 4x narrower (width 16) and trains 2,000 instead of 15,000 steps "
                          "on all of CIFAR-10; the DLN is the paper's.",
           "ci": "VGG is 8x narrower (width 8) and trains 2,000 instead of 15,000 steps on 10,000 "
                 "CIFAR-10 training images (tested on 1,000); only the standard and BN nets at lr 0.1 are "
                 "trained (3 seeds each), to keep the two [S] pages near their time budget: lr 0.5, Fig. 3a's "
                 "lr 0.01, noisy BN, the noise without BN and the l_p nets are not run, so S2, S3, S9 and "
                 "the VGG halves of S8 and of S1 at lr 0.5 are not testable at ci; the DLN is the paper's "
                 "(10,000 full-batch steps). Claims about final accuracy are judged after 2,000 steps, where "
                 "the paper's runs go on for 15,000."})
# --- end: ics ---


# --- section: sweeps ---
@dataclass(frozen=True)
class SweepsSettings:
    """[C] §4.2, Fig. 3: loss at the end of epoch 1 against lr for GD, BNGD and BNGD with lr_a."""

    datasets: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10")  # panels (nets: sweeps.PANELS)
    lr_log10_range: tuple[float, float] = (-3.0, 3.0)  # lr = logspace(-3, 3, n_lrs) ([C]'s script)
    n_lrs: int = 40
    # Panels whose grid runs past 10^hi, at the same (or a finer) step. MNIST runs to 1e6: the
    # one-layer net's weights sit before BN, so they are scale-invariant, and its softmax-MSE loss
    # is bounded, so shared-lr BNGD cannot blow up and stays stable past [C]'s 1e3; on a grid that
    # ends there its largest stable lr is not seen and C10 could not be decided on that panel.
    lr_log10_tops: tuple[tuple[str, float], ...] = (("mnist", 6.0),)
    lr_as: tuple[float, ...] = (1.0, 0.1, 0.01, 0.001)  # lr of γ, β for separate-lr BNGD
    seeds: int = 5  # runs per lr ("averaged over 5 independent runs")
    epochs: int = 1  # the loss is read at the end of epoch 1
    batch_size: int = 100
    train_samples: tuple[tuple[str, int | None], ...] = (  # the "epoch" (None: whole training set)
        ("mnist", None), ("fashion-mnist", None), ("cifar10", None))
    eval_samples: int | None = None  # end-of-epoch loss on this many of those images (None: all)
    eval_batch_size: int = 1000  # BN statistics of the end-of-epoch evaluation (as train.evaluate)
    widths: tuple[tuple[str, int | None], ...] = (  # models.build widths (None: models' paper size)
        ("mnist_linear", None), ("conv2", None), ("cifar_conv2fc3", None))
    bn_eps: float = 1e-3  # [C]: sqrt(sigma^2 + 1e-3)
    diverge_factor: float = 1e6  # diverged: loss NaN/inf or > 1e6 × its first value
    lrs_per_job: int | None = None  # lrs per vectorised job (None: a whole curve per job)
    device: str = "auto"  # GPU when present


_register("sweeps", {
    "paper": SweepsSettings(),
    "workstation": SweepsSettings(
        n_lrs=25, seeds=3, eval_samples=5000, device="cpu",
        train_samples=(("mnist", None), ("fashion-mnist", 10_000), ("cifar10", 10_000)),
        widths=(("mnist_linear", None), ("conv2", 8), ("cifar_conv2fc3", 16))),
    "ci": SweepsSettings(
        # One lr_a: a full CIFAR-10 epoch costs about a minute per curve on the 2-core CI machine.
        n_lrs=13, lr_as=(0.01,), seeds=2, eval_samples=1000, device="cpu",
        train_samples=(("mnist", None), ("fashion-mnist", 10_000), ("cifar10", None)),
        widths=(("mnist_linear", None), ("conv2", 4), ("cifar_conv2fc3", 4))),
}, {
    "paper": "nothing but the MNIST grid, which runs on past [C]'s 1e3 to 1e6 at the same step: [C]'s "
             "nets and grid (40 lrs over 1e-3..1e3, 4 lr_a, 5 seeds, a full epoch), meant for a GPU.",
    "workstation": "25 lrs and 3 seeds; the convnets are 4x narrower and their epoch is 10,000 "
                   "images; the end-of-epoch loss is measured on 5,000 training images.",
    "ci": "half-decade lr steps (13 lrs, 19 on MNIST), lr_a of 0.01 only, 2 seeds; the epoch is "
          "all of MNIST and CIFAR-10 (600 / 500 steps) but 10,000 Fashion-MNIST "
          "images (100 steps), the "
          "convnets have width 4 (8-16x narrower), and the end-of-epoch loss is measured on 1,000 "
          "training images.",
})
# --- end: sweeps ---
