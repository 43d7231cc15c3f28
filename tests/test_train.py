"""Training loop: SGD maths, determinism, divergence, separate lr, hooks and state restoration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bnopt import models, runtime, train

torch.set_num_threads(1)


def _mnist_like(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random 28×28 images with labels."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(10, (n,), generator=g)


def _dln_data(n: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """[S]'s DLN data: Gaussian x, targets A x with Gaussian A."""
    g = torch.Generator().manual_seed(0)
    x, a = torch.randn(n, 10, generator=g), torch.randn(10, 10, generator=g)
    return x, x @ a.T


def _run(norm: str = "bn", hooks=(), **cfg) -> tuple[torch.nn.Module, train.TrainLog]:
    """Train a width-2 conv2 for a few minibatch steps."""
    model = models.build("conv2", norm, width=2, seed=0)
    config = train.TrainConfig(**{"lr": 0.1, "steps": 6, "batch_size": 8, "progress": False, **cfg})
    return model, train.train(model, _mnist_like(), config, hooks, loss_fn=models.loss_fn("conv2"))


def test_one_step_is_sgd():
    """One full-batch step gives W − lr·∇L(W), norm parameters with lr_norm."""
    model = models.build("conv2", "bn", width=2, seed=0)
    ref = models.build("conv2", "bn", width=2, seed=0)
    x, y = _mnist_like(12)
    models.loss_fn("conv2")(ref(x), y).backward()
    train.train(model, (x, y), train.TrainConfig(lr=0.3, lr_norm=0.05, steps=1, progress=False),
                loss_fn=models.loss_fn("conv2"))
    for (name, p), q in zip(model.named_parameters(), ref.parameters()):
        lr = 0.05 if models.is_norm_parameter(model, name) else 0.3
        torch.testing.assert_close(p, q - lr * q.grad, rtol=0, atol=1e-7)


@pytest.mark.parametrize("norm", ["bn", "noisy_bn"])
def test_same_config_and_seed_are_bit_identical(norm):
    """Two runs with the same seeds give bit-identical losses and weights; another seed differs."""
    m1, log1 = _run(norm)
    m2, log2 = _run(norm)
    assert np.array_equal(log1.loss, log2.loss) and np.array_equal(log1.accuracy, log2.accuracy)
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    _, log3 = _run(norm, seed=1)
    assert not np.array_equal(log1.loss, log3.loss)


def test_huge_lr_diverges_without_raising():
    """The DLN at lr = 1 blows up: diverged_at is recorded, arrays stop there, no exception."""
    model = models.build("dln", "none", depth=5)
    log = train.train(model, _dln_data(), train.TrainConfig(lr=1.0, steps=200, progress=False),
                      loss_fn=models.loss_fn("dln"))
    assert log.diverged and log.diverged_at is not None and 0 < log.diverged_at < 200
    assert log.steps_run == log.diverged_at and log.steps[-1] == log.diverged_at
    assert not (log.loss[-1] <= 1e6 * log.loss[0])  # inf, NaN or over the bound
    assert log.final_loss() == math.inf


def test_absolute_bound_and_factor():
    """An absolute bound below the initial loss stops at step 0; factor=None, bound=None never stop."""
    data, fn = _dln_data(), models.loss_fn("dln")
    log = train.train(models.build("dln", depth=3), data,
                      train.TrainConfig(lr=1e-6, steps=5, diverge_bound=1.0, progress=False), loss_fn=fn)
    assert log.diverged_at == 0 and log.steps_run == 0
    log = train.train(models.build("dln", depth=3), data,
                      train.TrainConfig(lr=1e-6, steps=5, diverge_factor=None, progress=False), loss_fn=fn)
    assert not log.diverged and log.diverged_at is None and len(log.loss) == 5


@pytest.mark.parametrize("lr, lr_norm", [(0.0, 0.2), (0.2, 0.0)])
def test_separate_lr_for_norm_parameters_is_applied(lr, lr_norm):
    """lr moves only weights/biases, lr_norm only γ, β."""
    model, _ = _run(lr=lr, lr_norm=lr_norm)
    start = models.build("conv2", "bn", width=2, seed=0)
    for (name, p), q in zip(model.named_parameters(), start.parameters()):
        if name.endswith("layer.bias"):
            continue  # zero gradient before BN
        moved = not torch.equal(p, q)
        assert moved == (lr_norm > 0 if models.is_norm_parameter(model, name) else lr > 0), name


class _Probe:
    """A hook that measures gradients itself, messes with the model inside preserved_state."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float, dict]] = []
        self.before: dict[int, dict[str, torch.Tensor]] = {}

    def before_step(self, state: train.StepState) -> None:
        assert state.loss is None and state.grads is None
        with train.preserved_state(state.model) as snap:
            for _ in range(2):  # extra passes: gradients at W^t with the step's own noise
                snap.restore_rng()
                state.model.zero_grad()
                state.loss_fn(state.model(state.x), state.y).backward()
            self.before[state.step] = {n: p.grad.clone() for n, p in state.model.named_parameters()}
            with torch.no_grad():
                for p in state.model.parameters():
                    p.mul_(3.0)  # must be undone
            torch.rand(3)  # consumes global RNG: must be undone
            state.model.eval()

    def after_step(self, state: train.StepState) -> None:
        self.seen.append((state.step, state.loss, state.grads))


@pytest.mark.parametrize("norm", ["bn", "noisy_bn"])
def test_hooks_see_grads_and_preserved_state_restores(norm):
    """A hook's probing leaves the run bit-identical; after_step sees the step's loss and gradients."""
    probe = _Probe()
    m_hooked, log_hooked = _run(norm, hooks=[probe])
    m_plain, log_plain = _run(norm)
    assert np.array_equal(log_hooked.loss, log_plain.loss)
    for p, q in zip(m_hooked.parameters(), m_plain.parameters()):
        assert torch.equal(p, q)
    assert [s for s, _, _ in probe.seen] == list(range(6))
    for step, loss, grads in probe.seen:
        assert loss == log_plain.loss[step]
        for name, g in grads.items():
            torch.testing.assert_close(g, probe.before[step][name], rtol=0, atol=0)


def test_epochs_cover_the_data_in_seeded_order():
    """epochs=2 with batch 8 on 40 samples: 10 steps, each epoch a permutation; order from the seed."""
    x = torch.arange(40.0).reshape(40, 1).repeat(1, 10)
    y = torch.zeros(40, 10)
    seen: list[list[int]] = []

    class Batches:
        def before_step(self, state):
            seen.append(state.x[:, 0].long().tolist())

    config = train.TrainConfig(lr=0.0, epochs=2, batch_size=8, seed=3, progress=False)
    log = train.train(models.build("dln", depth=2), (x, y), config, [Batches()], loss_fn=models.loss_fn("dln"))
    assert len(log.loss) == 10 == train.total_steps(config, 40)
    for epoch in (seen[:5], seen[5:]):
        assert sorted(sum(epoch, [])) == list(range(40))
    assert seen[:5] != seen[5:]
    assert train.steps_per_epoch(50_000, 128) == 390


def test_test_set_evaluation_and_log_arrays():
    """eval_every gives test loss/accuracy after those steps and at the end; arrays() is flat numpy."""
    model = models.build("conv2", "noisy_bn", width=2)
    data, test = _mnist_like(), _mnist_like(30, seed=1)
    config = train.TrainConfig(lr=0.1, steps=5, batch_size=10, eval_every=2, eval_batch_size=20,
                               log_every=2, progress=False)
    log = train.train(model, data, config, loss_fn=models.loss_fn("conv2"), test=test)
    assert log.eval_steps.tolist() == [2, 4, 5] and log.steps.tolist() == [0, 2, 4]
    assert np.all((0 <= log.test_accuracy) & (log.test_accuracy <= 1))
    assert model.training  # back in training mode
    arrays = log.arrays()
    assert all(isinstance(v, np.ndarray) for v in arrays.values()) and arrays["diverged_at"] == -1
    # evaluation uses batch statistics and no noise: deterministic
    assert train.evaluate(model, test, models.loss_fn("conv2"), 20) == train.evaluate(
        model, test, models.loss_fn("conv2"), 20)


def test_config_errors_and_progress_bar(capsys):
    """Bad settings are refused by name; progress=True draws a bar on stderr."""
    with pytest.raises(ValueError, match="exactly one of steps"):
        train.TrainConfig(lr=0.1)
    with pytest.raises(ValueError, match="batch_size=0"):
        train.TrainConfig(lr=0.1, steps=1, batch_size=0)
    with pytest.raises(ValueError, match="batch_size=100 exceeds the 40"):
        train.steps_per_epoch(40, 100)
    train.ProgressBar(3, True).update(1, 0.5)
    assert "2/3" in capsys.readouterr().err


def test_runtime_helpers(monkeypatch):
    """Devices resolve or fail with the fix named; seeding repeats draws; threads are set."""
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="use device='cpu'"):
            runtime.resolve_device("cuda")
        assert runtime.resolve_device("auto") == torch.device("cpu")
    runtime.seed_everything(5)
    a = (torch.rand(2), np.random.rand())
    runtime.seed_everything(5)
    assert torch.equal(a[0], torch.rand(2)) and a[1] == np.random.rand()
    assert runtime.configure_threads(model_id="dln") == 1 == torch.get_num_threads()
    monkeypatch.setattr(runtime, "busy_cores", lambda sample_s=0.2: 0.0)  # as on an idle machine
    assert runtime.recommended_threads("vgg") == runtime.available_cores()
    monkeypatch.setenv("BNOPT_THREADS", "3")
    assert runtime.recommended_threads("dln") == 3
    with pytest.raises(ValueError, match="threads=0"):
        runtime.configure_threads(0)
    torch.set_num_threads(1)
