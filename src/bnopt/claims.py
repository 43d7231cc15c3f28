"""Claim verdicts: the shared record every section uses to judge a paper's claim from results.

A section turns its results into per-seed outcomes (does the claim hold in this seed's runs, or is
the seed not testable because a stated gate failed); `seed_verdict` is the one rule that turns
those outcomes into a verdict, for every section:

- *reproduced*: the claim holds in at least AGREEMENT (80 %) of the tested seeds and the effect
  over all seeds (e.g. its median) clears the section's threshold;
- *not reproduced*: it fails in at least AGREEMENT of the tested seeds;
- *mixed*: anything in between (the split is shown);
- *not testable at this scale*: fewer tested seeds than the section needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
MIXED = "mixed"
NOT_TESTABLE = "not testable at this scale"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, MIXED, NOT_TESTABLE)
AGREEMENT = 0.8  # share of tested seeds that must agree for a one-sided verdict (the rule)


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict with the numbers that decided it and, where judged over seeds, their split."""

    claim_id: str
    verdict: str
    numbers: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    dataset: str = ""
    profile: str = ""
    seeds: tuple[tuple[int, bool | None], ...] = ()  # (seed, holds; None = not testable) per seed
    readings: tuple[tuple[str, str], ...] = ()  # (reading of an open choice, verdict under it), headline first

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} for claim {self.claim_id} is not one of {VERDICTS}")

    @property
    def split(self) -> str:
        """'k of n seeds hold' (with the untestable ones), or '' when not judged over seeds."""
        if not self.seeds:
            return ""
        tested = [h for _, h in self.seeds if h is not None]
        held = ", ".join(str(s) for s, h in self.seeds if h)
        line = f"holds in {sum(tested)} of {len(tested)} seeds" + (f" (seeds {held})" if held else "")
        untested = len(self.seeds) - len(tested)
        return line + (f"; {untested} seed(s) not testable" if untested else "")

    def as_row(self) -> dict[str, str]:
        """Flatten for a table: claim, verdict, numbers, data, profile."""
        nums = ", ".join(f"{k} = {v:.3g}" for k, v in self.numbers.items())
        under = "; ".join(f"under {r}: {v}" for r, v in self.readings)
        detail = "; ".join(t for t in (self.split, under, self.detail) if t)
        return {"claim": self.claim_id, "verdict": self.verdict, "numbers": nums,
                "detail": detail, "data": self.dataset, "profile": self.profile}


def not_run_verdict(claim_id: str, reason: str, profile: str) -> Verdict:
    """'Not testable': the runs the claim needs were not made (e.g. their dataset is absent), and why."""
    return Verdict(claim_id, NOT_TESTABLE, {}, f"not run: {reason}", "", profile)


def seed_verdict(claim_id: str, outcomes: Sequence[tuple[int, bool | None]], *, effect_clears: bool = True,
                 min_seeds: int = 1, numbers: dict[str, float] | None = None, detail: str = "",
                 dataset: str = "", profile: str = "") -> Verdict:
    """The verdict from per-seed outcomes (seed, holds or None = not testable) by the module's rule."""
    if min_seeds < 1:
        raise ValueError(f"min_seeds={min_seeds} must be >= 1")
    outcomes = tuple((int(s), None if h is None else bool(h)) for s, h in outcomes)
    tested = [h for _, h in outcomes if h is not None]
    share = sum(tested) / len(tested) if tested else 0.0
    if len(tested) < min_seeds:
        word = NOT_TESTABLE
        detail = "; ".join(t for t in (f"{len(tested)} tested seed(s), {min_seeds} needed", detail) if t)
    elif share >= AGREEMENT and effect_clears:
        word = REPRODUCED
    elif 1.0 - share >= AGREEMENT:
        word = NOT_REPRODUCED
    else:
        word = MIXED
    return Verdict(claim_id, word, dict(numbers or {}), detail, dataset, profile, outcomes)


def combine(claim_id: str, parts: Sequence[tuple[str, Verdict]], *, numbers: dict[str, float] | None = None,
            detail: str = "", dataset: str = "", profile: str = "") -> Verdict:
    """One verdict from a claim's independently judged parts (e.g. its VGG and DLN halves).

    Parts that are not testable are left out (and named); reproduced when every tested part is,
    not reproduced when every tested part is not, mixed otherwise; not testable when no part is.
    The result carries the first part's per-seed outcomes (its `split`); the detail names every part's.
    """
    tested = [v.verdict for _, v in parts if v.verdict != NOT_TESTABLE]
    if not tested:
        word = NOT_TESTABLE
    elif all(t == REPRODUCED for t in tested):
        word = REPRODUCED
    elif all(t == NOT_REPRODUCED for t in tested):
        word = NOT_REPRODUCED
    else:
        word = MIXED
    said = "; ".join(f"{name}: {v.verdict}" + (f", {v.split}" if v.split else "") + (f" ({v.detail})" if v.detail else "")
                     for name, v in parts)
    merged = {f"{name}: {k}": x for name, v in parts for k, x in v.numbers.items()}
    return Verdict(claim_id, word, {**(numbers or {}), **merged}, "; ".join(t for t in (detail, said) if t),
                   dataset, profile, parts[0][1].seeds if parts else ())


@dataclass(frozen=True)
class Claim:
    """A claim of one of the papers, where it is made and which section's results judge it."""

    claim_id: str
    statement: str
    where: str
    section: str  # book page (and bnopt module family) whose results decide it
    figure: str | tuple[str, ...]  # name(s) of the figure(s) on that page that show the evidence

    @property
    def figures(self) -> tuple[str, ...]:
        """The evidence figures' names as a tuple."""
        return (self.figure,) if isinstance(self.figure, str) else self.figure


CLAIMS: tuple[Claim, ...] = (
    Claim("S1", "BatchNorm trains the VGG net faster and to higher accuracy.", "[S] Fig. 1", "ics", "fig-ics-vgg-accuracy"),
    Claim("S2", "Noisy BatchNorm trains about as well as BatchNorm despite unstable activation distributions.", "[S] Fig. 2, 7", "ics", ("fig-ics-noisy-training", "fig-ics-noisy-distributions", "fig-ics-moment-changes")),
    Claim("S3", "The same noise without BatchNorm prevents training.", "[S] §2.1", "ics", "fig-ics-noisy-training"),
    Claim("S4", "BatchNorm does not reduce internal covariate shift (Def. 2.1); in the DLN, G and G' are nearly uncorrelated with BatchNorm.", "[S] Fig. 3", "ics", ("fig-ics-shift", "fig-ics-shift-dln")),
    Claim("S5", "With BatchNorm the loss varies less along the gradient.", "[S] Fig. 4a, 9a", "landscape", ("fig-landscape-vgg", "fig-landscape-dln")),
    Claim("S6", "With BatchNorm gradients are more predictive (up to about two orders of magnitude early on).", "[S] Fig. 4b, 9b, 10", "landscape", ("fig-landscape-vgg", "fig-landscape-dln", "fig-landscape-predictiveness-eta")),
    Claim("S7", "With BatchNorm the effective β-smoothness is lower.", "[S] Fig. 4c, 9c", "landscape", ("fig-landscape-vgg", "fig-landscape-dln")),
    Claim("S8", "l_p normalisations match BatchNorm in performance and smoothness; l_1 beats BatchNorm on the DLN.", "[S] Fig. 11–13", "landscape", ("fig-landscape-lp-training", "fig-landscape-lp-smoothness-vgg", "fig-landscape-lp-smoothness-dln")),
    Claim("S9", "l_p normalisations shift activation distributions more than no normalisation.", "[S] Fig. 14", "landscape", "fig-landscape-lp-activations"),
    Claim("S10", "Theorems 4.1 and 4.2 hold on live networks.", "[S] §4", "landscape", "fig-landscape-theorems"),
    Claim("C1", "GD on least squares converges if and only if ε < 2/λ_max.", "[C] §2.1", "ols", "fig-ols-loss"),
    Claim("C2", "BNGD converges for every ε > 0 when ε_a ∈ (0, 1].", "[C] Thm 3.3", "ols", ("fig-ols-loss", "fig-ols-fig1")),
    Claim("C3", "Scaling law: {a₀, r w₀, ε_a, r² ε} is the same run up to w ↦ r w; likewise the rotation and rescaling of H.", "[C] Prop. 3.2", "scaling", "fig-scaling-ols"),
    Claim("C4", "κ* ≤ κ and the eigenvalues of H* interlace with those of H.", "[C] Lemma A.1", "ols", "fig-ols-spectra"),
    Claim("C5", "BNGD can beat optimally tuned GD (acceleration).", "[C] Prop. 3.4, Fig. 1", "ols", "fig-ols-fig1"),
    Claim("C6", "The effective step grows like ε for small ε and like 1/ε for large ε, with an insensitive band in between.", "[C] Prop. 3.5", "ols", "fig-ols-effective-step"),
    Claim("C7", "A smaller a₀ widens the near-optimal region; a small ε_a weakens BatchNorm.", "[C] §4.1", "ols", "fig-ols-fig1"),
    Claim("C8", "A larger dimension widens the near-optimal ε interval; the condition number matters little.", "[C] App. B, slides", "ols", ("fig-ols-appb-fig7", "fig-ols-appb-fig8")),
    Claim("C9", "The scaling law holds in deep nets up to the ε-term in the BatchNorm denominator.", "[C] Fig. 2", "scaling", ("fig-scaling-deep-paper-eps", "fig-scaling-deep-zero-eps", "fig-scaling-deep-check")),
    Claim("C10", "BNGD with a separate learning rate is stable over a far wider range than GD or shared-lr BNGD.", "[C] Fig. 3", "sweeps", "fig-sweeps-loss"),
    Claim("C11", "BatchNorm speeds up deep nets more than the one-layer net.", "[C] §4.2", "sweeps", "fig-sweeps-loss"),
)


PAPER_REPORTS: dict[str, str] = {
    "S1": ("[S] Fig. 1a-b, §2 and App. A.1: curves only for training (\"consistent gain in training speed\"); App."
           " A.1 gives test accuracy 83% with BatchNorm vs 80% without (92% vs 88% with data augmentation)."),
    "S2": ("[S] Fig. 2, §2.1, Fig. 7: \"nearly matches the performance of standard BatchNorm model, despite "
           "complete distributional instability\"; gap \"almost non-existent\". Plot only; noise nμ=0.5, nσ=1.25, "
           "rμ=rσ=0.1 (App. A.2.1)."),
    "S3": ("[S] §2.1: \"adding the same amount of noise to the activations of the standard (non-BatchNorm) "
           "network prevents it from training entirely.\" Stated in the text only, with no figure and no number."),
    "S4": ("[S] Fig. 3 (also Fig. 6), §2.2: BatchNorm nets \"often exhibit an increase in ICS\"; in the DLN, "
           "standard has \"almost no ICS\" but with BatchNorm \"G and G′ are almost uncorrelated\". Cosine and ℓ2 "
           "plots only."),
    "S5": ("[S] §3.2, Fig. 4a (VGG), Fig. 9a (DLN): without BatchNorm the loss \"has a very wide range of values "
           "along the direction of the gradient, especially in the initial phases of training\". Plot only, no "
           "number."),
    "S6": ("[S] §3.2, Fig. 4b (VGG): \"a significant difference (close to two orders of magnitude) in such "
           "gradient predictiveness\", \"especially early in training\". Fig. 9b (DLN), Fig. 10: plots only, no "
           "number."),
    "S7": ("[S] §3.2, Fig. 4c (VGG), Fig. 9c (DLN): effective β-smoothness is the max ℓ2 gradient change over "
           "distance moved. Authors say \"consistent differences\", \"a clear improvement\" with BatchNorm. Plot "
           "only, no number."),
    "S8": ("[S] §3.3, Figs. 11–13 (App. B), p = 1, 2, ∞: \"all the normalization strategies offer comparable "
           "performance to BatchNorm\"; \"for deep linear networks, ℓ1–normalization performs even better than "
           "BatchNorm\". Plots only."),
    "S9": ("[S] §3.3, Fig. 14 (VGG histograms): \"qualitatively, the ℓp–normalization techniques lead to larger "
           "distributional shift (as considered in [10]) than the vanilla, i.e., unnormalized, networks\". Plot "
           "only, no number."),
    "S10": ("[S] §4.2, Thms 4.1, 4.2 (proofs in App. C, γ and β held constant): analytic bounds only. Sole "
           "empirical pointer: \"σj tends to be large in practice (cf. Appendix Figure 8)\". Never checked "
           "numerically on a network."),
    "C1": "[C] §2.1, eq. 3–5: GD \"converges if 0 < ε < 2/λ_max\"; at ε_opt the rate is (κ−1)/(κ+1)",
    "C2": "[C] Thm 3.3: converges \"for any initial value (a₀, w₀) and any ε > 0, as long as ε_a ∈ (0, 1]\"",
    "C3": ("[C] Prop. 3.2, Lemmas A.8–A.9: {H,u,a0,w0,εa,ε} is equivalent to {H,u,a0,rw0,εa,r²ε} and to {μQᵀHQ, "
           "√μQu, γa0, γQw0, εa, ε} (μ,γ,r ≠ 0, QᵀQ = I). This is a proof; the paper gives no numerical check."),
    "C4": "[C] Lemma A.1: the eigenvalues of H* interlace with H's; §3.3: κ* ≤ κ, strict \"for almost all u\"",
    "C5": ("[C] §4.1, Fig. 1: \"the optimal convergence rate of BNGD can be better than GD in some "
           "configurations\"; \"if this difference is small, the acceleration is imperceptible\""),
    "C6": ("[C] Prop. 3.5: C₁ ≤ ε̂_k/ε ≤ C₂ for ε ≪ 1 and C₁ ≤ ε̂_k·ε ≤ C₂ for ε ≫ 1, constants \"independent on "
           "ε and k\"; §3.3: \"the interval of this insensitivity is actually quite large in practice\" (no width "
           "given)"),
    "C7": ("[C] §4.1: \"the size of this region is inversely dependent on the initial condition a₀\"; \"small ε_a "
           "will weaken the performance of BN\""),
    "C8": ("[C] App. B.2: \"larger dimensions leads to larger intervals of 'optimal' step size (Figure 7)\"; \"the "
           "effect of condition number on the 'optimal' interval is small (Figure 8)\" (no widths given)"),
    "C9": ("[C] §4.2, Fig. 2 (MNIST 2CNN+2FC, epoch-1 loss vs lr, weights ×η): the scaling law \"remains true for"
           " relatively large η\"; for small η the ε = 1e-3 term in √(σ²+ε) shifts the curves. Plot only."),
    "C10": ("[C] §4.2, Fig. 3 (lr = 1e-3…1e3 in their script): \"GD and BNGD with identical learning rates for "
           "weights and BN parameters exhibit a maximum allowed learning rate, beyond which the iterations "
           "becomes unstable. On the other hand, BNGD with separate learning rates exhibits a much larger range "
           "of stability over learning rate for non-BN parameters\" (on all three datasets)."),
    "C11": ("[C] §4.2, Fig. 3 (loss at epoch 1): \"BN accelerates convergence more significantly for deep "
           "networks, whereas for one-layer networks, the best performance of BNGD and GD are similar\"."),
}
"""What each paper itself reports for a claim (its number or words, with the place), shown beside every verdict."""


def claim(claim_id: str) -> Claim:
    """The claim with this id."""
    for c in CLAIMS:
        if c.claim_id == claim_id:
            return c
    raise KeyError(f"unknown claim {claim_id!r}; ids are {', '.join(c.claim_id for c in CLAIMS)}")


# Module of each section: `run_all(profile)` loads or runs its experiments and
# `verdicts(results, profile) -> list[Verdict]` judges its claims from them.
SECTION_MODULES: dict[str, str] = {
    "ols": "bnopt.ols", "scaling": "bnopt.scaling_deep", "sweeps": "bnopt.sweeps",
    "ics": "bnopt.ics", "landscape": "bnopt.landscape",
}


@dataclass(frozen=True)
class LedgerRow:
    """One claim with its verdict, or the reason it has none yet."""

    claim: Claim
    verdict: Verdict | None
    missing: str = ""  # why there is no verdict (section not executed at this profile yet)


def section_verdicts(section: str, profile: str) -> tuple[dict[str, Verdict], str]:
    """Verdicts of a section from its stored results (never running anything), or why there are none."""
    import importlib

    from . import results

    try:
        module = importlib.import_module(SECTION_MODULES[section])
        with results.load_only():
            found = module.verdicts(module.run_all(profile), profile)
    except results.ResultMissing:
        return {}, f"the {section} page has not produced results at profile `{profile}` yet"
    except ImportError as err:
        return {}, f"the {section} section is not available ({err})"
    return {v.claim_id: v for v in found}, ""


def ledger(profile: str) -> list[LedgerRow]:
    """Every claim of both papers with the verdict computed from this build's stored results."""
    rows = []
    cache: dict[str, tuple[dict[str, Verdict], str]] = {}
    for c in CLAIMS:
        if c.section not in cache:
            cache[c.section] = section_verdicts(c.section, profile)
        found, why = cache[c.section]
        verdict = found.get(c.claim_id)
        rows.append(LedgerRow(c, verdict, "" if verdict else (why or "no verdict function for this claim")))
    return rows


def summary(rows: list[LedgerRow], profile: str) -> str:
    """One line: how many claims reproduced, not reproduced, not testable, or without results."""
    counts = {v: sum(1 for r in rows if r.verdict and r.verdict.verdict == v) for v in VERDICTS}
    pending = sum(1 for r in rows if r.verdict is None)
    line = (f"{counts[REPRODUCED]} of {len(rows)} claims reproduced at the `{profile}` profile; "
            f"{counts[NOT_REPRODUCED]} not reproduced, {counts[MIXED]} mixed (seeds split), "
            f"{counts[NOT_TESTABLE]} not testable at this scale")
    return line + (f", {pending} without results yet." if pending else ".")


def scale_caveat(profile: str) -> str:
    """What a verdict at `profile` can say: at a shrunken profile, only what holds at that scale."""
    if profile == "paper":
        return "These verdicts are at the papers' own settings."
    return (f"`{profile}` runs smaller nets, fewer steps or fewer seeds than the papers (each page's banner says what "
            "it shrinks), so a claim *not reproduced* here is not reproduced at this scale, not refuted; the "
            "`paper` profile judges it at the papers' settings.")
