"""Activation recording during training: what [S] Fig. 1c, 2, 8 and 14 (distributions) and Fig. 7
(per-step change of the moments) plot.

    rec = recording.ActivationRecorder(model, layers=[2, 9, 13], every=50, seed=0)
    log = train.train(model, data, config, hooks=[rec], loss_fn=...)
    arrays = rec.arrays()   # e.g. arrays["layer9_quantiles"]: (records, 5)

Which activation. [S] samples "activations of a given layer" ("layer inputs", App. A.2.1), and
for the noisy-BN net the plotted distribution must include the injected noise. We record the
output of layer #k's normalisation block, i.e. the input of its nonlinearity: conv/linear →
(norm → noise) → here → ReLU. Without normalisation this is the layer's own output; in the DLN
(no nonlinearity) it is exactly the next layer's input. `where="post_activation"` records after
the ReLU instead. A unit is a feature of a linear layer or a channel of a convolution, whose
sample is batch × height × width, as in [S] App. A.2.1.

What is recorded, for layer #k (1-based, `models.weight_layers` order):
- every `every` steps, for one fixed random unit (drawn once from `seed`): its quantiles over the
  sample (`quantiles`, default 5/15/50/85/95 %), mean, std, and optionally a random subsample of
  at most `max_samples` raw values;
- at the same steps, the change of every unit's mean and variance since the previous step
  (|Δ mean|, |Δ var|, one row of `units` columns; [S] Fig. 7), taken from the forward pass of
  steps t − 1 and t.
The recorder captures the first forward pass of a recorded step, which is the training forward
pass when hooks listed before it leave the model as they found it (`train.preserved_state`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from bnopt import models

WHERE = ("pre_activation", "post_activation")


def unit_values(out: Tensor, unit: int) -> Tensor:
    """All values of one unit: column `unit` of (N, F), or channel `unit` of (N, C, H, W) flattened."""
    return out[:, unit].reshape(-1)


def unit_moments(out: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (biased) variance of every unit over batch (× height × width)."""
    dims = (0,) + tuple(range(2, out.dim()))
    return out.mean(dims), out.var(dims, correction=0)


def tap_module(block: models.Block, where: str) -> nn.Module:
    """The module whose output is the recorded activation of `block` (see module docstring)."""
    if where not in WHERE:
        raise ValueError(f"where={where!r}; choose one of {WHERE}")
    if where == "post_activation" and block.act is not None:
        return block.act
    return block.norm if block.norm is not None else block.layer


class _LayerRecord:
    """Buffers for one recorded layer."""

    def __init__(self, layer: int, unit: int, units: int) -> None:
        self.layer, self.unit, self.units = layer, unit, units
        self.quantiles: list[np.ndarray] = []
        self.mean: list[float] = []
        self.std: list[float] = []
        self.samples: list[np.ndarray] = []
        self.mean_change: list[np.ndarray] = []
        self.var_change: list[np.ndarray] = []
        self.previous: tuple[int, Tensor, Tensor] | None = None  # (step, means, variances)


class ActivationRecorder:
    """A training hook recording one random unit's distribution and all units' moment changes.

    model: a net from `models.build`. layers: 1-based layer numbers ("layer #k").
    every: record every this many steps (step 0 included). quantiles: levels in [0, 1].
    max_samples: also keep up to this many raw values per record (0 = none), drawn at random.
    seed: picks the unit of each layer (and the raw subsample). where: see module docstring.
    Call `close()` (or use as a context manager) to remove its forward hooks.
    """

    def __init__(self, model: nn.Module, layers: Sequence[int], *, every: int = 1,
                 quantiles: Sequence[float] = (0.05, 0.15, 0.5, 0.85, 0.95), max_samples: int = 0,
                 seed: int = 0, where: str = "pre_activation") -> None:
        blocks = models.blocks(model)
        bad = [k for k in layers if not 1 <= k <= len(blocks)]
        if bad:
            raise ValueError(f"layers {bad} do not exist; this net has layers #1..#{len(blocks)}")
        if every < 1:
            raise ValueError(f"every={every} must be >= 1")
        self.every, self.max_samples = every, max_samples
        self.q = torch.tensor(list(quantiles), dtype=torch.float64)
        self.gen = torch.Generator().manual_seed(seed)
        self.step: int | None = None
        self.steps: list[int] = []
        self.records: list[_LayerRecord] = []
        self._armed: set[int] = set()
        self._handles = []
        for k in layers:
            units = _units(blocks[k - 1])
            unit = int(torch.randint(units, (1,), generator=self.gen))
            rec = _LayerRecord(k, unit, units)
            self.records.append(rec)
            self._handles.append(tap_module(blocks[k - 1], where).register_forward_hook(self._capture(rec)))

    def _capture(self, rec: _LayerRecord):
        """A forward hook storing `rec`'s statistics once per armed step."""
        def hook(module: nn.Module, inputs: tuple, out: Tensor) -> None:
            if rec.layer not in self._armed:
                return
            self._armed.discard(rec.layer)
            self._record(rec, out.detach())
        return hook

    @torch.no_grad()
    def _record(self, rec: _LayerRecord, out: Tensor) -> None:
        """Store the moments (always) and, on a recording step, the unit's distribution."""
        step = self.step
        means, variances = unit_moments(out)
        if step % self.every == 0:
            if rec.previous is not None and rec.previous[0] == step - 1:
                rec.mean_change.append((means - rec.previous[1]).abs().cpu().numpy())
                rec.var_change.append((variances - rec.previous[2]).abs().cpu().numpy())
            else:
                rec.mean_change.append(np.full(rec.units, np.nan))
                rec.var_change.append(np.full(rec.units, np.nan))
            values = unit_values(out, rec.unit).double().cpu()
            rec.quantiles.append(torch.quantile(values, self.q).numpy())
            rec.mean.append(float(values.mean()))
            rec.std.append(float(values.std(correction=0)))
            if self.max_samples:
                keep = torch.randperm(len(values), generator=self.gen)[:self.max_samples]
                rec.samples.append(values[keep].numpy())
        rec.previous = (step, means, variances)

    def before_step(self, state) -> None:
        """Arm the taps on recorded steps and on the steps just before them."""
        self.step = state.step
        if state.step % self.every == 0 or (state.step + 1) % self.every == 0:
            self._armed = {r.layer for r in self.records}
            if state.step % self.every == 0:
                self.steps.append(state.step)

    def wants_forward(self, step: int) -> bool:
        """The training forward pass is needed on armed steps only (for engines that can skip it)."""
        return bool(self._armed)

    def after_step(self, state) -> None:
        """Disarm (a layer the training pass did not reach stays unrecorded for this step)."""
        self._armed = set()

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything recorded, as numpy arrays keyed "steps", "layer{k}_quantiles", ...

        Per layer k: _unit (index), _quantiles (records × levels), _mean, _std, _mean_change and
        _var_change (records × units; NaN at step 0), _samples (records × max_samples, if kept).
        """
        out = {"steps": np.asarray(self.steps, dtype=np.int64),
               "quantile_levels": self.q.numpy()}
        for r in self.records:
            p = f"layer{r.layer}_"
            out[p + "unit"] = np.array(r.unit)
            out[p + "quantiles"] = np.asarray(r.quantiles).reshape(len(r.quantiles), len(self.q))
            out[p + "mean"] = np.asarray(r.mean)
            out[p + "std"] = np.asarray(r.std)
            out[p + "mean_change"] = np.asarray(r.mean_change).reshape(len(r.mean_change), r.units)
            out[p + "var_change"] = np.asarray(r.var_change).reshape(len(r.var_change), r.units)
            if self.max_samples:
                out[p + "samples"] = np.asarray(r.samples)
        return out

    def close(self) -> None:
        """Remove the forward hooks from the model."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> "ActivationRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _units(block: models.Block) -> int:
    """Number of units (output features or channels) of a block's weight layer."""
    layer = block.layer
    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
