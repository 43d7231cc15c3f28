"""The moments engine for the DLN (`bnopt.dln`) against autograd on the per-sample model, in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bnopt import data, dln, models, recording, train


def dln64(norm: str, depth: int = 6, seed: int = 0, bn_eps: float | None = None) -> torch.nn.Sequential:
    """A float64 DLN whose γ, β are moved off their initial values (so their gradients matter)."""
    model = models.build("dln", norm, depth=depth, seed=seed, bn_eps=bn_eps).double()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in models.norm_parameters(model):
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def task64(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The DLN task in float64, with a mean shift so every mean term is exercised."""
    x, y = data.dln_task(n, 10, seed)
    return x.double() + 0.5, y.double() - 0.25


@pytest.mark.parametrize("norm,bn_eps,n", [("none", None, 200), ("bn", None, 200), ("bn", 0.0, 200),
                                           ("bn", None, 6), ("none", None, 6)])
def test_loss_and_gradients_equal_autograd(norm: str, bn_eps: float | None, n: int) -> None:
    """Loss and every parameter's gradient equal autograd's, also with eps = 0 and with N < d."""
    model, (x, y) = dln64(norm, bn_eps=bn_eps), task64(n)
    ref = models.l2_loss(model(x), y)
    ref.backward()
    loss, grads = dln.loss_and_grads(model, x, y)
    assert loss == pytest.approx(ref.item(), rel=1e-10)
    scale = max(p.grad.abs().max().item() for p in model.parameters())
    for _, p, kind, k in dln._slots(model):
        np.testing.assert_allclose(grads[kind][k], p.grad.numpy(), rtol=0, atol=1e-10 * scale)


def run(norm: str, engine: str, hooks=(), **cfg) -> tuple[train.TrainLog, torch.nn.Sequential]:
    """A float64 run of a small DLN with one engine."""
    model = dln64(norm)
    config = train.TrainConfig(engine=engine, progress=False, **{"lr": 2e-5, "steps": 40, **cfg})
    x, y = task64()
    log = train.train(model, (x, y), config, hooks=hooks, loss_fn=models.l2_loss, test=(x[:50], y[:50]))
    return log, model


@pytest.mark.parametrize("norm", ["none", "bn"])
def test_moments_engine_follows_the_autograd_run(norm: str) -> None:
    """Same losses, test evaluations and final parameters as the autograd engine (lr_norm too)."""
    a, ma = run(norm, "autograd", lr_norm=6e-5, eval_every=15, log_every=4)
    b, mb = run(norm, "moments", lr_norm=6e-5, eval_every=15, log_every=4)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-9)
    np.testing.assert_array_equal(a.eval_steps, b.eval_steps)
    np.testing.assert_allclose(b.test_loss, a.test_loss, rtol=1e-9)
    assert b.steps_run == a.steps_run == 40 and not b.diverged
    for pa, pb in zip(ma.parameters(), mb.parameters()):
        np.testing.assert_allclose(pb.detach().numpy(), pa.detach().numpy(), rtol=1e-8, atol=1e-12)
    assert a.loss[-1] < a.loss[0]  # the run learns, so the comparison is not between two constants


@pytest.mark.parametrize("norm", ["none", "bn"])
def test_divergence_is_recorded_at_the_same_step(norm: str) -> None:
    """A too-large step diverges at the same step with both engines, and no update is made there."""
    a, _ = run(norm, "autograd", lr=0.5, steps=200)
    b, _ = run(norm, "moments", lr=0.5, steps=200)
    assert a.diverged and b.diverged
    assert b.diverged_at == a.diverged_at and b.steps_run == a.steps_run == a.diverged_at
    assert b.steps[-1] == b.diverged_at and not (math.isfinite(b.loss[-1]) and b.loss[-1] < 1e6 * b.loss[0])


class Spy:
    """A hook that records what it sees, including an extra forward pass of its own."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, float, float]] = []

    def before_step(self, state: train.StepState) -> None:
        """Loss of the model as the hook finds it."""
        with torch.no_grad():
            self.seen.append(("before", state.step, state.loss_fn(state.model(state.x), state.y).item(), math.nan))

    def after_step(self, state: train.StepState) -> None:
        """The step's loss, the first layer's gradient norm and the model's loss after the update."""
        with torch.no_grad():
            now = state.loss_fn(state.model(state.x), state.y).item()
            out = state.loss_fn(state.output, state.y).item()
        g = state.grads["0.layer.weight"].norm().item()
        self.seen.append(("after", state.step, now, g))
        assert out == pytest.approx(state.loss, rel=1e-9)


@pytest.mark.parametrize("norm", ["none", "bn"])
def test_hooks_see_the_model_as_with_autograd(norm: str) -> None:
    """Hooks get the same model, loss, output and gradients from both engines."""
    spies = {engine: Spy() for engine in ("autograd", "moments")}
    for engine, spy in spies.items():
        run(norm, engine, hooks=[spy], steps=10)
    a, b = spies["autograd"].seen, spies["moments"].seen
    assert [s[:2] for s in a] == [s[:2] for s in b] and len(a) == 20
    np.testing.assert_allclose([s[2] for s in b], [s[2] for s in a], rtol=1e-9)
    np.testing.assert_allclose([s[3] for s in b[1::2]], [s[3] for s in a[1::2]], rtol=1e-9)


@pytest.mark.parametrize("norm", ["none", "bn"])
def test_activation_recorder_records_the_same_with_both_engines(norm: str) -> None:
    """The recorder (a forward hook on the training pass) sees the same activations."""
    out = {}
    for engine in ("autograd", "moments"):
        model = dln64(norm)
        rec = recording.ActivationRecorder(model, [2, 5], every=4, max_samples=20, seed=3)
        x, y = task64()
        train.train(model, (x, y), train.TrainConfig(lr=2e-5, steps=13, engine=engine, progress=False), hooks=[rec],
                    loss_fn=models.l2_loss)
        rec.close()
        out[engine] = rec.arrays()
    assert out["autograd"].keys() == out["moments"].keys()
    for key, ref in out["autograd"].items():
        np.testing.assert_allclose(out["moments"][key], ref, rtol=1e-9, atol=1e-12, err_msg=key)
    assert out["moments"]["steps"].tolist() == [0, 4, 8, 12]


def test_auto_engine_picks_moments_only_where_it_applies() -> None:
    """"auto" trains the full-batch DLN with the moments engine and anything else with autograd."""
    x, y = data.dln_task(100)
    cfg = {"lr": 1e-6, "steps": 3, "engine": "auto", "progress": False}
    full = train.train(models.build("dln", "bn"), (x, y), train.TrainConfig(**cfg), loss_fn=models.l2_loss)
    mini = train.train(models.build("dln", "bn"), (x, y), train.TrainConfig(batch_size=50, **cfg), loss_fn=models.l2_loss)
    lp = train.train(models.build("dln", "l1"), (x, y), train.TrainConfig(**cfg), loss_fn=models.l2_loss)
    assert full.extra.get("engine") == "moments"
    assert "engine" not in mini.extra and "engine" not in lp.extra and mini.steps_run == lp.steps_run == 3


def test_same_seed_gives_bit_identical_runs() -> None:
    """Two runs of the same config give identical numbers (float32, as the book runs it)."""
    x, y = data.dln_task()
    logs = [train.train(models.build("dln", "bn"), (x, y), train.TrainConfig(lr=1e-6, steps=300, engine="moments"),
                        loss_fn=models.l2_loss) for _ in range(2)]
    np.testing.assert_array_equal(logs[0].loss, logs[1].loss)


@pytest.mark.parametrize("model_id,norm,cfg,why", [
    ("dln", "bn", {"batch_size": 100}, "full batch"),
    ("dln", "noisy_bn", {}, "not plain BatchNorm"),
    ("dln", "l1", {}, "not plain BatchNorm"),
    ("mnist_linear", "none", {}, "not a stack of Blocks"),
])
def test_runs_the_engine_cannot_do_raise_a_clear_error(model_id: str, norm: str, cfg: dict, why: str) -> None:
    """Minibatches, other normalisations and other nets are refused with the reason and the fix."""
    shape = models.INPUT_SHAPE[model_id]
    x, y = torch.randn(200, *shape), torch.randn(200, 10)
    with pytest.raises(ValueError, match=f"{why}.*engine='autograd'"):
        train.train(models.build(model_id, norm), (x, y), train.TrainConfig(lr=1e-6, steps=2, engine="moments", **cfg),
                    loss_fn=models.l2_loss)


def test_other_loss_and_unknown_engine_are_refused() -> None:
    """The engine computes the l2 loss only; an unknown engine name lists the valid ones."""
    x, y = data.dln_task(50)
    with pytest.raises(ValueError, match="l2_loss"):
        train.train(models.build("dln"), (x, y), train.TrainConfig(lr=1e-6, steps=2, engine="moments"),
                    loss_fn=lambda out, target: (out - target).abs().sum())
    with pytest.raises(ValueError, match="'autograd', 'moments', 'auto'"):
        train.TrainConfig(lr=1e-6, steps=2, engine="fast")


class _EveryStep:
    """A hook without `due`: the moments engine calls it at every step."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def after_step(self, state) -> None:
        self.seen.append(state.step)


class _Every7(_EveryStep):
    """The same hook acting every 7th step only: the steps between run in the fused kernel."""

    def due(self, step: int) -> bool:
        return step % 7 == 0

    def after_step(self, state) -> None:
        if self.due(state.step):
            super().after_step(state)


def test_steps_no_hook_is_due_at_run_fused_with_the_same_updates() -> None:
    x, y = data.dln_task(200, 10, seed=4)
    logs, nets = [], []
    for hook in (_EveryStep(), _Every7()):
        net = models.build("dln", "bn", depth=5, seed=4)
        logs.append(train.train(net, (x, y), train.TrainConfig(lr=1e-5, steps=30, progress=False, engine="moments"),
                                hooks=[hook], loss_fn=models.loss_fn("dln")))
        nets.append(net)
        if isinstance(hook, _Every7):
            assert hook.seen == [0, 7, 14, 21, 28]
    np.testing.assert_array_equal(logs[0].loss, logs[1].loss)
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)
