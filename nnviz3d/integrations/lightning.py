"""``Trainer(callbacks=[NNViz3DCallback()])``: the live view of a Lightning run.

    from nnviz3d.integrations.lightning import NNViz3DCallback
    trainer = lightning.Trainer(callbacks=[NNViz3DCallback(port=8080)])

The keyword arguments are ``nnviz3d.watch``'s. The callback watches the LightningModule when
fit starts (example inputs: ``example_input_array``, else the first training batch's inputs,
one sample), and reports at each optimiser step (``trainer.global_step``):

* the training loss (what ``training_step`` returned) and the metrics logged with
  ``self.log`` (``trainer.callback_metrics``, each when it has a new value);
* the gradients, taken just before ``optimizer.step()`` (``on_before_optimizer_step``), so
  whenever the module zeroes them they are seen;
* at the end of each validation, the metrics named ``val_*`` (or ``val/``, ``valid_``,
  ``validation_``, ``eval_``), as the validation curves of the names without the prefix:
  ``val_loss`` is the validation loss.

The run is closed when fit ends or fails; under torch.distributed only rank 0 records and
serves (every rank probes: the watcher gathers statistics). ``pytorch_lightning`` (the older
package name) is used when ``lightning`` is not installed; with both, use
``NNViz3DCallbackPL`` with ``pytorch_lightning.Trainer``.
"""

from __future__ import annotations

import importlib
import importlib.util

from .batches import model_inputs, val_name


class _Hooks:
    def __init__(self, **watch_kwargs) -> None:
        super().__init__()
        self.watch_kwargs = watch_kwargs
        self.watcher = None
        """The run's :class:`nnviz3d.live.watcher.Watcher` once fit started."""
        self._reported: dict[str, object] = {}
        self._last_step = -1

    # -- start and end ----------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        example = getattr(pl_module, "example_input_array", None)
        if example is not None:
            self._watch(pl_module, example)

    def on_train_start(self, trainer, pl_module) -> None:
        self._last_step = trainer.global_step  # 0, or where a resumed run left off

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.watcher is None:
            self._watch(pl_module, model_inputs(batch))

    def _watch(self, pl_module, example) -> None:
        from ..live.watch import watch

        self.watcher = watch(pl_module, example, **self.watch_kwargs)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._close()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._close()

    def teardown(self, trainer, pl_module, stage) -> None:
        if stage == "fit":
            self._close()

    def _close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()

    # -- each step ----------------------------------------------------------------------------
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self._watching():
            self.watcher.capture_gradients(step=trainer.global_step + 1)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if not self._watching() or step == self._last_step:  # accumulating: no step taken
            return
        self._last_step = step
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        metrics = {k: v for k, v in self._new_metrics(trainer).items() if val_name(k) is None}
        self.watcher.step(
            loss if loss is not None and hasattr(loss, "item") else None, step=step, **metrics
        )

    def on_validation_end(self, trainer, pl_module) -> None:
        if not self._watching() or trainer.sanity_checking:
            return
        metrics = {
            val_name(k): v for k, v in self._new_metrics(trainer).items() if val_name(k) is not None
        }
        if metrics:
            self.watcher.validation(step=max(trainer.global_step, 0), **metrics)

    def _watching(self) -> bool:
        return self.watcher is not None and not self.watcher.closed

    def _new_metrics(self, trainer) -> dict:
        """``callback_metrics`` whose value is new since it was last reported (Lightning
        keeps a metric's tensor until it is logged again)."""
        out = {}
        for name, value in trainer.callback_metrics.items():
            if self._reported.get(name) is not value:
                out[name] = value
        self._reported.update(out)
        return out


def _callback_class(package: str):
    module = importlib.import_module(package)
    return type(
        "NNViz3DCallback",
        (_Hooks, module.Callback),
        {
            "__doc__": "The live view of a Lightning run: ``Trainer(callbacks=[NNViz3DCallback("
            "**watch_kwargs)])``; see nnviz3d.integrations.lightning.",
            "__module__": __name__,
        },
    )


def _available(package: str) -> bool:
    return importlib.util.find_spec(package.split(".")[0]) is not None


if _available("lightning"):
    NNViz3DCallback = _callback_class("lightning.pytorch")
elif _available("pytorch_lightning"):
    NNViz3DCallback = _callback_class("pytorch_lightning")
else:
    raise ImportError(
        "nnviz3d.integrations.lightning needs Lightning: pip install lightning "
        "(or pip install 'nnviz3d[lightning]')"
    )


def __getattr__(name: str):
    """``NNViz3DCallbackPL``, for ``pytorch_lightning.Trainer``: made when first asked for
    (importing the second package costs seconds)."""
    if name == "NNViz3DCallbackPL":
        if not _available("pytorch_lightning"):
            raise ImportError(
                "NNViz3DCallbackPL needs pytorch_lightning: pip install pytorch-lightning"
            )
        cls = (
            NNViz3DCallback
            if issubclass(NNViz3DCallback, importlib.import_module("pytorch_lightning").Callback)
            else _callback_class("pytorch_lightning")
        )
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["NNViz3DCallback", "NNViz3DCallbackPL"]  # noqa: F822 (made on first use)
