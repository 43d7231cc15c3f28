"""Least-squares dynamics of [C] against closed forms and a plain per-configuration loop."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bnopt import ols
from bnopt.claims import VERDICTS


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def problem(rng: np.random.Generator) -> ols.Problem:
    """A small diagonal OLS problem with κ = 50."""
    return ols.diagonal_problem(ols.logspace_eigenvalues(50.0, 8), ols.random_unit_vectors(1, 8, rng)[0])


# --- GD closed forms --------------------------------------------------------------------------------
def test_gd_threshold_and_optimal_rate(problem: ols.Problem) -> None:
    lam = problem.h
    thr, eps_opt = ols.gd_stability_threshold(lam), ols.optimal_gd_step(lam)
    assert thr == pytest.approx(2 / 50.0)
    assert ols.spectral_radius(eps_opt, lam) == pytest.approx((50 - 1) / (50 + 1))
    assert ols.optimal_gd_rate(lam) == pytest.approx(49 / 51)
    w0 = np.zeros((4, 8))
    r = ols.run("gd", problem, w0, thr * np.array([0.98, 0.999, 1.001, 1.05]), 3000)
    start = ols.gd_loss(np.zeros(8), lam, problem.u)
    final = r.loss[:, -1]
    assert np.all(final[:2] < start) and np.all(~(final[2:] < start))  # converge iff ε < 2/λ_max


def test_gd_rate_is_kappa_ratio(problem: ols.Problem) -> None:
    rec = np.arange(201)
    r = ols.run("gd", problem, np.zeros((1, 8)), ols.optimal_gd_step(problem.h), 200, record_at=rec)
    # the error is dominated by the extreme eigenvalues, both contracting at (κ−1)/(κ+1)
    rate = (r.loss[0, 200] / r.loss[0, 100]) ** (1 / 200)
    assert rate == pytest.approx(49 / 51, rel=1e-3)


def test_gd_closed_form_matches_iteration(problem: ols.Problem, rng: np.random.Generator) -> None:
    w0 = ols.random_unit_vectors(1, 8, rng)
    eps = np.array([0.01, 0.03, 0.05])
    r = ols.run("gd", problem, np.repeat(w0, 3, 0), eps, 50)
    closed = ols.gd_loss_closed_form(problem.h, problem.u - w0, eps, 50)[:, 0]
    np.testing.assert_allclose(r.loss[:, -1], closed, rtol=1e-10)


# --- BNGD fixed points and H* -----------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, -3.0, 1e5])
def test_bngd_fixed_points(problem: ols.Problem, scale: float) -> None:
    """a* = sign(s)·√(uᵀHu), w* = s u is left unchanged by a BNGD step for any step sizes."""
    u, lam = problem.u, problem.h
    a_star = math.copysign(math.sqrt(u @ (lam * u)), scale)
    a, w = ols.bngd_step(a_star, scale * u, lam, problem.g, 0.7, 123.0)
    assert a == pytest.approx(a_star, rel=1e-14)
    np.testing.assert_allclose(w, scale * u, rtol=1e-13, atol=1e-13 * abs(scale))
    assert ols.bn_loss(a_star, scale * u, lam, u) == pytest.approx(0.0, abs=1e-28)
    np.testing.assert_allclose(ols.residual(scale * u, lam, u), 0.0, atol=1e-15)


def test_h_star_annihilates_u_and_is_hessian_block(problem: ols.Problem, rng: np.random.Generator) -> None:
    H = ols.random_spd(6, 30.0, rng)
    u = rng.standard_normal(6)
    np.testing.assert_allclose(ols.h_star(H, u) @ u, 0.0, atol=1e-12)
    np.testing.assert_allclose(ols.h_star(problem.h, problem.u) @ problem.u, 0.0, atol=1e-12)


def test_interlacing_and_pseudo_condition_number(rng: np.random.Generator) -> None:
    for _ in range(30):
        d = int(rng.integers(2, 12))
        H = ols.random_spd(d, 10 ** rng.uniform(0.5, 3), rng)
        u = rng.standard_normal(d)
        assert ols.interlacing_violation(H, u) <= 1e-12
        star = ols.h_star_eigenvalues(H, u)
        assert abs(star[0]) <= 1e-10 * star[-1]
        assert ols.pseudo_condition_number(star) <= ols.condition_number(H) * (1 + 1e-12)


def test_interlacing_detects_a_wrong_h_star(rng: np.random.Generator) -> None:
    """The check can fail: H* built with the wrong sign breaks λ_i(H*) ≤ λ_i(H)."""
    H = ols.random_spd(5, 20.0, rng)
    u = rng.standard_normal(5)
    wrong = H + np.outer(H @ u, H @ u) / (u @ H @ u)
    lam, star = ols.eigenvalues(H), np.linalg.eigvalsh(wrong)
    assert np.max(star - lam) > 1e-3


def test_secular_pseudo_condition_number_matches_eigensolver(rng: np.random.Generator) -> None:
    eigs = ols.logspace_eigenvalues(300.0, 20)
    u = ols.random_unit_vectors(6, 20, rng)
    fast = ols.pseudo_condition_number_diagonal(eigs, u)
    slow = [ols.pseudo_condition_number(ols.h_star_eigenvalues(eigs, x)) for x in u]
    np.testing.assert_allclose(fast, slow, rtol=1e-11)


def test_effective_step_definition(problem: ols.Problem, rng: np.random.Generator) -> None:
    """The residual obeys e_{k+1}-ish recursion: u − (wᵀg/σ²) w_{k+1} = (I − ε̂_k H) e_k (eq. 12)."""
    w = rng.standard_normal(8)
    a, eps = 0.8, 0.37
    eff = ols.effective_step(a, w, problem.h, problem.g, eps)
    e = ols.residual(w, problem.h, problem.u)
    _, w1 = ols.bngd_step(a, w, problem.h, problem.g, 1.0, eps)
    c = (w @ problem.g) / (w @ (problem.h * w))
    np.testing.assert_allclose(problem.u - c * w1, e - eff * problem.h * e, atol=1e-13)


# --- vectorised against the plain loop --------------------------------------------------------------
@pytest.mark.parametrize("method", ols.METHODS)
@pytest.mark.parametrize("diagonal", [True, False])
def test_vectorised_equals_plain_loop(method: str, diagonal: bool, rng: np.random.Generator) -> None:
    d, n, steps = 6, 24, 150
    if diagonal:
        p = ols.diagonal_problem(ols.logspace_eigenvalues(40.0, d), ols.random_unit_vectors(n, d, rng))
    else:
        p = ols.matrix_problem(ols.random_spd(d, 40.0, rng), ols.random_unit_vectors(1, d, rng)[0])
    w0 = ols.random_unit_vectors(n, d, rng)
    eps = np.logspace(-3, 4, n) if method != "gd" else np.linspace(1e-3, 0.045, n)
    a0, eps_a = rng.uniform(0.1, 3, n), rng.uniform(0.05, 1, n)
    r = ols.run(method, p, w0, eps, steps, a0=a0, eps_a=eps_a, chunk=5, threads=2)
    a, w, loss = ols.run_plain(method, p, a0, w0, eps_a, eps, steps)
    assert not r.diverged.any()
    scale = np.abs(w).max(axis=1, keepdims=True)
    np.testing.assert_allclose(r.w / scale, w / scale, rtol=0, atol=1e-12)
    if method != "gd":
        np.testing.assert_allclose(r.a, a, rtol=1e-12, atol=1e-14)
    start = np.array([ols.gd_loss(x, p.h, p.u if p.u.ndim == 1 else p.u[i], diagonal)
                      for i, x in enumerate(w0)])
    np.testing.assert_allclose(r.loss[:, -1], loss, rtol=0, atol=1e-12 * start.max() + 1e-12 * loss.max())


def test_records_and_freezing_do_not_change_results(problem: ols.Problem) -> None:
    """Rows frozen at a floating-point fixed point report the same records as rows iterated to the end."""
    n = 12
    w0 = np.tile(ols.fig1_start(problem.h, problem.u), (n, 1))
    eps = np.logspace(-2, 3, n)
    rec = [0, 100, 400, 800]
    r = ols.run("bngd", problem, w0, eps, 800, a0=1.0, eps_a=1.0, record_at=rec)
    for i in (0, 5, 11):
        a, w = 1.0, w0[i].copy()
        for k in range(801):
            if k in rec:
                # the direct formula loses ~1e-16·‖u‖ to cancellation, hence the absolute tolerance
                assert r.loss[i, rec.index(k)] == pytest.approx(ols.bn_loss(a, w, problem.h, problem.u),
                                                                rel=1e-9, abs=1e-22)
            a, w = ols.bngd_step(a, w, problem.h, problem.g, 1.0, eps[i])


# --- the numba path (diagonal H) against the torch path and the plain loop -------------------------
def _close_rows(x: np.ndarray, y: np.ndarray, rel: float = 1e-12) -> None:
    """x == y to `rel` of each row's largest finite |y| (records near round-off have no relative digits),
    with NaN exactly where y has NaN."""
    x, y = np.atleast_2d(x), np.atleast_2d(y)
    np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
    finite = np.where(np.isnan(y), 0.0, np.abs(y))
    scale = finite.max(axis=1, keepdims=True)
    assert np.all(np.abs(np.nan_to_num(x - y)) <= rel * scale), np.nanmax(np.abs(x - y) / scale)


@pytest.mark.parametrize("method", ols.METHODS)
def test_numba_equals_torch_and_plain(method: str, problem: ols.Problem, rng: np.random.Generator) -> None:
    n, d, steps = 30, problem.dim, 800
    w0 = np.tile(ols.fig1_start(problem.h, problem.u), (n, 1))
    w0[1:6] = ols.random_unit_vectors(5, d, rng)
    w0[6] = 0.0  # MBNGD (a = 0/0) and BNGD (NaN loss recorded at step 0) diverge at step 0
    thr = ols.gd_stability_threshold(problem.h)
    eps = np.linspace(0.02, 0.98, n) * thr if method == "gd" else np.logspace(-3, 16, n)
    if method == "gd":
        eps[7] = 50 * thr  # diverges through σ²
    eps_a = np.linspace(0.01, 1.0, n)
    eps_a[8] = 2.5  # BNGD diverges through |a|
    a0 = np.linspace(0.1, 2.0, n)
    rec = [0, 1, 17, 33, 400, 799, 800]
    kw = dict(a0=a0, eps_a=eps_a, record_at=rec, threads=2)
    fast = ols.run(method, problem, w0, eps, steps, engine="numba", **kw)
    ref = ols.run(method, problem, w0, eps, steps, engine="torch", chunk=7, **kw)
    assert fast.diverged.any()
    np.testing.assert_array_equal(fast.diverged_at, ref.diverged_at)
    for field in ("loss", "effective_step", "residual_h2", "residual_norm", "w"):
        _close_rows(getattr(fast, field), getattr(ref, field))
    a_scale = np.sqrt(problem.u @ (problem.h * problem.u)) + a0  # a = wᵀg/σ cancels to ~1e-16 of this
    np.testing.assert_array_equal(np.isnan(fast.a), np.isnan(ref.a))
    assert np.all(np.nan_to_num(np.abs(fast.a - ref.a)) <= 1e-12 * a_scale)
    ok = ~fast.diverged
    a, w, loss = ols.run_plain(method, problem, a0[ok], w0[ok], eps_a[ok], eps[ok], steps)
    _close_rows(fast.w[ok], w)
    if method != "gd":
        assert np.all(np.abs(fast.a[ok] - a) <= 1e-12 * a_scale[ok])
    start = fast.loss[ok, 0]
    assert np.all(np.abs(fast.loss[ok, -1] - loss) <= 1e-12 * np.maximum(start, loss))


def test_numba_engine_needs_diagonal_h(rng: np.random.Generator) -> None:
    p = ols.matrix_problem(ols.random_spd(4, 10.0, rng), ols.random_unit_vectors(1, 4, rng)[0])
    with pytest.raises(ValueError, match="diagonal"):
        ols.run("gd", p, np.ones((1, 4)), 0.1, 10, engine="numba")
    with pytest.raises(ValueError, match="unknown engine"):
        ols.run("gd", p, np.ones((1, 4)), 0.1, 10, engine="jax")


# --- divergence -------------------------------------------------------------------------------------
def test_overflow_is_divergence_at_its_step(problem: ols.Problem) -> None:
    w0 = np.zeros((2, 8))
    thr = ols.gd_stability_threshold(problem.h)
    r = ols.run("gd", problem, w0, np.array([0.5 * thr, 50 * thr]), 3000, record_at=np.arange(3001))
    assert r.diverged_at[0] == ols.NOT_DIVERGED and r.diverged_at[1] > 0
    k = r.diverged_at[1]
    assert np.all(np.isfinite(r.loss[1, :k])) and np.all(np.isnan(r.loss[1, k:]))
    # the step is where σ² first leaves the bound: rerun k−1 steps by hand
    w = np.zeros(8)
    for _ in range(k - 1):
        w = ols.gd_step(w, problem.h, problem.g, 50 * thr)
    assert w @ (problem.h * w) <= ols.DIVERGENCE_BOUND
    w = ols.gd_step(w, problem.h, problem.g, 50 * thr)
    assert not w @ (problem.h * w) <= ols.DIVERGENCE_BOUND


def test_bngd_survives_huge_steps_and_large_eps_a_diverges(problem: ols.Problem) -> None:
    w0 = np.tile(ols.fig1_start(problem.h, problem.u), (3, 1))
    r = ols.run("bngd", problem, w0, np.array([1e16, 1e16, 1.0]), 2000, a0=1.0,
                eps_a=np.array([1.0, 0.5, 2.5]), record_at=[0, 1000, 2000])
    assert not r.diverged[:2].any() and np.all(np.isfinite(r.w[:2]))
    assert np.all(r.loss[:2, 2] <= r.loss[:2, 1])  # settling, though slowly (ε̂ ~ 1/ε)
    assert np.all(r.effective_step[:2, 2] < 1e-6)
    assert r.diverged[2] and abs(r.diverged_at[2] - np.log(ols.A_BOUND) / np.log(1.5)) < 10  # |a_k| ~ 1.5^k
    assert np.isnan(r.loss[2, 2])


def test_unknown_method_is_named(problem: ols.Problem) -> None:
    with pytest.raises(ValueError, match="unknown method 'sgd'"):
        ols.run("sgd", problem, np.ones((1, 8)), 0.1, 10)


# --- experiments and verdicts on tiny configs -------------------------------------------------------
def test_fig1_grid_tiny_and_verdicts() -> None:
    cfg = ols.Fig1Config(kappa=20.0, dim=10, steps=300, eps_a_scale=1.99, eps_a=(-4.0, 0.0, 5),
                         eps=(-3.0, 8.0, 12), a0=(1.0, 1e-4), loss_floor=1e-20, seed=0)
    res = ols.run_fig1_grid(cfg)
    assert res["bn_loss_final"].shape == (2, 5, 12)
    cls = ols.fig1_classes(res)
    assert set(np.unique(cls)) <= {0, 1, 2, 3}
    draws = [[ols.run_fig1_draw(dataclasses.replace(cfg, seed=seed))] for seed in range(3)]
    np.testing.assert_array_equal(draws[0][0]["bn_loss_compare"], res["bn_loss_compare"])  # same cells, same u
    for v in (ols.verdict_c5(draws, "ci"), ols.verdict_c7(draws, "ci")):
        assert v.verdict in VERDICTS and v.numbers and len(v.seeds) == 3


def test_uniform_step_and_appendix_b_tiny() -> None:
    cfg = ols.UniformStepConfig(kappa=20.0, dim=6, steps=500, eps_small=(-4.0, -3.0, 3), eps_large=(6.0, 7.0, 3),
                                a0=(1.0,), eps_a=1.0, seed=0)
    uni = ols.run_uniform_step(cfg)
    assert uni["effective_step_small"].shape == (1, 3, uni["steps"].size)
    row = ols.c6_uniform(uni)[0]
    assert 0 < row["small C1"] <= row["small C2"] and row["small widening"] >= 1.0
    appb = ols.run_appendix_b(ols.AppBConfig("linspace", 50.0, 4, 6, 300, (-3.0, 6.0, 10), 0))
    assert 0 < appb["k_half"] <= appb["k_compare"] // 2 and appb["mb_residual_h2_half"].shape == (10, 6)
    for reading in ols.C8_READINGS:
        assert 0.0 <= ols.appb_interval(appb, reading) <= 9.0 + 1e-9


def test_intro_demo_gd_diverges_bngd_converges() -> None:
    demo = ols.intro_demo()
    assert demo["eps"] > demo["threshold"]
    assert demo["gd_loss"][-1] > 1e6 * demo["gd_loss"][0]
    assert demo["bngd_loss"][-1] < 1e-3 * demo["bngd_loss"][0]
