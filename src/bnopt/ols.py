"""Least squares with and without BatchNorm: GD, BNGD and MBNGD of [C] (Cai, Li, Shen 2019), §2–3, App. A–B.

One name space for the section, re-exporting its four parts (`from bnopt import ols; ols.run(...)`):

- `ols_model`: problems (H, u), closed forms (GD's threshold and rate, H*, κ*) and single steps;
- `ols_engines`: `run` over many configurations (numba for diagonal H, torch for dense H) and the
  plain per-configuration loop `run_plain` they are tested against;
- `ols_experiments`: the page's experiments (configs, `run_fig1_grid`, ..., `run_all`);
- `ols_verdicts`: the claim verdicts (C1, C2, C4–C8), their readings and the slides' table.
"""

from __future__ import annotations

from .ols_model import (  # noqa: F401
    Problem, hmul, diagonal_problem, matrix_problem, logspace_eigenvalues, linspace_eigenvalues,
    random_unit_vectors, random_spd, eigenvalues, condition_number, gd_stability_threshold, optimal_gd_step,
    rate_from_condition, optimal_gd_rate, spectral_radius, h_star, pseudo_condition_number_diagonal,
    h_star_eigenvalues, pseudo_condition_number, pseudo_spectral_radius, interlacing_violation, gd_step,
    bngd_step, mbngd_step, effective_step, residual, h_norm2, bn_loss, gd_loss, gd_loss_closed_form,
)
from .ols_engines import (  # noqa: F401
    METHODS, DIVERGENCE_BOUND, A_BOUND, NOT_DIVERGED, FREEZE_CHECK_EVERY, ENGINES, run_plain, Run, run,
)
from .ols_experiments import (  # noqa: F401
    grid, fig1_start, Fig1Config, fig1_config, fig1_problem, compare_step, run_fig1_grid, fig1_draw_config,
    run_fig1_draw, EXTEND_FACTOR, SETTLE_TOL, CLOSE_AND_BELOW, CLOSE_NOT_BELOW, FAR_AND_BELOW, FAR_NOT_BELOW,
    CLOSE_FACTOR, fig1_classes, CurvesConfig, curves_config, run_curves, EffectiveStepConfig,
    effective_step_config, generic_start, run_effective_step, UniformStepConfig, uniform_step_config,
    run_uniform_step, SpectraConfig, spectra_config, run_spectra, AppBConfig, appb_configs, run_appendix_b,
    APPB_FLOOR, geometric_mean, arithmetic_mean, NEAR_OPTIMAL_FACTOR, near_optimal_decades, intro_demo,
    run_all,
)
from .ols_verdicts import (  # noqa: F401
    measured_rate, gd_threshold_table, verdict_c1, settling, verdict_c2, verdict_c4, MIN_DRAWS, BEAT_FACTOR,
    c5_beats, verdict_c5, loglog_slope, SLOPE_TOL, EDGE_DECADES, BAND_FACTOR, BAND_MIN_DECADES, BAND_READINGS,
    BAND_HEADLINE, band_decades, insensitive_band, uniform_bounds, allowed_widening, c6_uniform,
    c6_band_readings, verdict_c6, SMALL_EPS_A, WIDEN_DIP, c7_fractions, c7_holds, verdict_c7, C8_READINGS,
    C8_HEADLINE, RATE_FRACTION, C8_MIN_GROWTH, C8_COND_SHARE, appb_interval, c8_widths, c8_readings,
    verdict_c8, local_rates, rate_table, appb_gd_interval, slides_table,
    verdicts,
)

__all__ = [
    "Problem", "hmul", "diagonal_problem", "matrix_problem", "logspace_eigenvalues", "linspace_eigenvalues",
    "random_unit_vectors", "random_spd", "eigenvalues", "condition_number", "gd_stability_threshold",
    "optimal_gd_step", "rate_from_condition", "optimal_gd_rate", "spectral_radius", "h_star",
    "pseudo_condition_number_diagonal", "h_star_eigenvalues", "pseudo_condition_number",
    "pseudo_spectral_radius", "interlacing_violation", "gd_step", "bngd_step", "mbngd_step", "effective_step",
    "residual", "h_norm2", "bn_loss", "gd_loss", "gd_loss_closed_form", "METHODS", "DIVERGENCE_BOUND",
    "A_BOUND", "NOT_DIVERGED", "FREEZE_CHECK_EVERY", "ENGINES", "run_plain", "Run", "run", "grid",
    "fig1_start", "Fig1Config", "fig1_config", "fig1_problem", "compare_step", "run_fig1_grid",
    "fig1_draw_config", "run_fig1_draw", "EXTEND_FACTOR", "SETTLE_TOL", "CLOSE_AND_BELOW", "CLOSE_NOT_BELOW",
    "FAR_AND_BELOW", "FAR_NOT_BELOW", "CLOSE_FACTOR", "fig1_classes", "CurvesConfig", "curves_config",
    "run_curves", "EffectiveStepConfig", "effective_step_config", "generic_start", "run_effective_step",
    "UniformStepConfig", "uniform_step_config", "run_uniform_step", "SpectraConfig", "spectra_config",
    "run_spectra", "AppBConfig", "appb_configs", "run_appendix_b", "APPB_FLOOR", "geometric_mean",
    "arithmetic_mean", "NEAR_OPTIMAL_FACTOR", "near_optimal_decades", "intro_demo", "run_all",
    "measured_rate", "gd_threshold_table", "verdict_c1", "settling", "verdict_c2", "verdict_c4", "MIN_DRAWS",
    "BEAT_FACTOR", "c5_beats", "verdict_c5", "loglog_slope", "SLOPE_TOL", "EDGE_DECADES", "BAND_FACTOR",
    "BAND_MIN_DECADES", "BAND_READINGS", "BAND_HEADLINE", "band_decades", "insensitive_band",
    "uniform_bounds", "allowed_widening", "c6_uniform", "c6_band_readings", "verdict_c6", "SMALL_EPS_A",
    "WIDEN_DIP", "c7_fractions", "c7_holds", "verdict_c7", "C8_READINGS", "C8_HEADLINE", "RATE_FRACTION",
    "C8_MIN_GROWTH", "C8_COND_SHARE", "appb_interval", "c8_widths", "c8_readings", "verdict_c8",
    "local_rates", "rate_table", "appb_gd_interval", "slides_table",
    "verdicts",
]
