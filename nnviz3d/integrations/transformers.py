"""``Trainer(callbacks=[NNViz3DCallback()])``: the live view of a Hugging Face Trainer run.

    from nnviz3d.integrations.transformers import NNViz3DCallback
    trainer = transformers.Trainer(model, args, train_dataset=data,
                                   callbacks=[NNViz3DCallback(port=8080)])

The keyword arguments are ``nnviz3d.watch``'s. The callback watches the model when training
begins (example inputs: one sample of the training set through the Trainer's collator, else
what nnviz3d infers from the model, token ids for a language model), and reports at each
optimiser step (``state.global_step``):

* the gradients, taken just before ``optimizer.step()`` (``on_pre_optimizer_step``): the
  Trainer zeroes them before the step ends;
* what the Trainer logs (``loss``, ``learning_rate``, ``grad_norm``..., every
  ``logging_steps``) at the step it was logged;
* each evaluation's metrics as the validation curves, ``eval_loss`` as the validation loss.

The run is closed when training ends (the Trainer signals no failure: a run that raises keeps
what was recorded up to then). Under torch.distributed only rank 0 records and serves.
"""

from __future__ import annotations

import numbers
import random

import numpy as np
import torch
from transformers import TrainerCallback

from .batches import model_inputs, val_name

SKIPPED = ("epoch", "total_flos")
"""Logged numbers that are bookkeeping, not metrics of the model (nor are ``*_runtime`` and
``*_per_second``)."""


class NNViz3DCallback(TrainerCallback):
    def __init__(self, **watch_kwargs) -> None:
        self.watch_kwargs = watch_kwargs
        self.watcher = None
        """The run's :class:`nnviz3d.live.watcher.Watcher` once training began."""

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        from ..live.watch import watch

        if model is not None and self.watcher is None:
            self.watcher = watch(
                model, example_inputs(model, train_dataloader), **self.watch_kwargs
            )

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self._watching():
            self.watcher.capture_gradients(step=state.global_step + 1)

    def on_step_end(self, args, state, control, **kwargs):
        if self._watching():
            self.watcher.step(step=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self._watching() or not logs or any(val_name(k) for k in logs):
            return  # an evaluation's logs: on_evaluate reports them
        metrics = {k: v for k, v in logs.items() if _metric(k, v)}
        if metrics:
            self.watcher.log(metrics, step=state.global_step)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not self._watching() or not metrics:
            return
        val = {val_name(k) or k: v for k, v in metrics.items() if _metric(k, v)}
        if val:
            self.watcher.log(val, step=state.global_step, split="val")

    def on_train_end(self, args, state, control, **kwargs):
        if self.watcher is not None:
            self.watcher.close()

    def _watching(self) -> bool:
        return self.watcher is not None and not self.watcher.closed


def example_inputs(model, loader):
    """One training sample through the loader's collator, on the model's device; None (nnviz3d
    infers inputs from the model) when the data cannot be indexed. The random generators are
    put back: a collator that masks at random does not shift the run's randomness."""
    dataset = getattr(loader, "dataset", None)
    collate = getattr(loader, "collate_fn", None)
    if dataset is None or collate is None or isinstance(dataset, torch.utils.data.IterableDataset):
        return None
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()
    try:
        batch = model_inputs(collate([dataset[0]]))
    except Exception:  # noqa: BLE001 - an odd dataset: inferred inputs instead
        return None
    finally:
        torch.set_rng_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if isinstance(batch, dict):
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    return batch.to(device) if isinstance(batch, torch.Tensor) else batch


def _metric(name: str, value) -> bool:
    """A number the model's curves should show (not the Trainer's timings and counters)."""
    if name in SKIPPED or name.endswith(("_runtime", "_per_second")):
        return False
    return isinstance(value, numbers.Real) or (
        isinstance(value, torch.Tensor) and value.numel() == 1
    )
