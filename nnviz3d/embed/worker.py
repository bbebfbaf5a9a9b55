"""A long-lived process that embeds feature sets, so training and the server never wait for
UMAP (or its numba compilation: 15-60 s in a fresh process).

The process is a fresh interpreter (``python -m nnviz3d.embed.worker``, talking over two
pipes), not a multiprocessing child: multiprocessing's spawn re-runs the user's main script,
which in a training script without an ``if __name__ == "__main__"`` guard would train again.
At start a thread warms numba up with a tiny fit and says ``ready``, while jobs are served.
Each job is a layer's features at a step; the process answers with a PCA layout at once
(milliseconds), then the requested method (UMAP by default) started from, and aligned to,
the previous layout of that layer, so points move smoothly between steps. Until numba is warm
a UMAP job is answered with PCA only (aligned to the previous layout) and the newest such job
per layer is fitted with UMAP once the warm-up ends (see ``_Jobs``). Jobs for a layer that are
still queued when a newer one arrives are skipped. A failing fit (NaN features, a crash
inside UMAP) is answered with an ``error`` message and the process goes on. Told to stop, it
first finishes the jobs that wait for the warm-up (the parent bounds how long it waits).

Messages out (on ``results``): ``("ready", seconds)``, ``("result", job)`` with job =
``{"layer", "step", "method", "points", "labels", "seconds", "knn", "final"}`` (final:
the last answer to that job; the caller may send the layer's next one), ``("error", {"layer",
"step", "message"})``, ``("progress", {"layer", "step", "stage"})``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

# numpy is imported inside functions: the process sets its thread limits before numpy loads
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "numba"


NICE = 19
"""The embedding process runs at a lower priority, with one thread for numba, OpenMP and BLAS:
on a small machine a second busy process makes torch's spinning intra-op threads wait (measured
here: a 2-core box trained 20x slower while UMAP compiled at full width)."""


THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class _Results:
    """The child's side of the answer pipe (the warm-up thread and the job loop share it)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def put(self, message) -> None:
        with self.lock:
            self.conn.send(message)


def _serve(requests: Connection, results: _Results, warm_umap: bool = True) -> None:
    try:
        os.nice(NICE)
    except OSError:
        pass
    from . import methods

    umap = threading.Event()
    """Set once numba is warm (or its warm-up failed: jobs then say why themselves)."""

    def warm() -> None:  # beside the job loop: PCA answers do not wait for numba
        from ..extras import available

        try:
            if warm_umap and available("umap"):  # else the service asked for PCA or t-SNE
                results.put(("ready", methods.warm_up()))
        except Exception as exc:  # UMAP unusable: PCA still works
            results.put(
                (
                    "error",
                    {"layer": "", "step": -1, "message": f"UMAP warm-up failed ({exc}); PCA only"},
                )
            )
        finally:
            umap.set()

    threading.Thread(target=warm, name="warm-up", daemon=True).start()
    jobs = _Jobs(previous={}, results=results, methods=methods, umap=umap)
    stop = False
    while not stop or jobs.deferred:
        if not stop:
            # block for the next job, but while jobs wait for the warm-up wake to run them
            stop = jobs.take(requests, None if not jobs.deferred else 0.0 if umap.is_set() else 0.1)
        elif not umap.wait(0.1):  # told to stop: the deferred jobs still finish (the parent
            continue  # bounds how long it waits for them)
        if umap.is_set():
            jobs.run_deferred()


class _Jobs:
    """The job loop's state: each layer's previous layout (the next fit starts from it and
    is aligned to it) and the jobs whose fit waits for numba's warm-up.

    Before UMAP is warm, a UMAP job is answered with PCA at once (aligned to that layer's
    previous layout) marked ``final``, so the caller sends the next one; the newest job per
    layer is kept and fitted as soon as the warm-up ends. A training run thus shows a PCA
    cloud that follows the steps during the warm-up, then UMAP from the newest step, never
    a cloud stuck on the first step while numba compiles."""

    def __init__(self, previous: dict, results: _Results, methods, umap: threading.Event):
        self.previous = previous
        self.results = results
        self.methods = methods
        self.umap = umap
        self.deferred: dict[str, dict] = {}

    def take(self, requests: Connection, timeout: float | None) -> bool:
        """Read the waiting jobs (blocking up to ``timeout``, None: until one comes) and
        answer them, the newest per layer only; True when told to stop."""
        try:
            if timeout is not None and not requests.poll(timeout):
                return False
            first = requests.recv()
        except EOFError:  # the parent went away
            self.deferred.clear()
            return True
        if first is None:
            return True
        newest = {first["layer"]: first}
        stop = False
        while requests.poll(0):  # skip jobs that a newer one for the same layer replaces
            nxt = requests.recv()
            if nxt is None:
                stop = True
                break
            newest[nxt["layer"]] = nxt
        for job in newest.values():
            self.answer(job)
        return stop

    def answer(self, job: dict) -> None:
        if job.get("method", "umap") != "umap" or self.umap.is_set():  # t-SNE needs no numba
            self.deferred.pop(job["layer"], None)  # this newer job replaces it
            _run(job, self.previous, self.results, self.methods)
        else:
            _run(job, self.previous, self.results, self.methods, pca_only=True)
            self.deferred[job["layer"]] = job

    def run_deferred(self) -> None:
        while self.deferred:
            _, job = self.deferred.popitem()
            _run(job, self.previous, self.results, self.methods)


def _run(job: dict, previous: dict, results, methods, pca_only: bool = False) -> None:
    """Answer one job: PCA at once when the layer has no layout yet (or ``pca_only``, before
    UMAP is warm), then the requested method started from, and aligned to, the previous
    layout. The answer that ends the job says ``final``."""
    layer, step, labels = job["layer"], job["step"], job.get("labels")
    try:
        x = methods.prepare(job["features"])
        start = time.perf_counter()
        init = previous.get(layer)
        if init is not None and len(init) != len(x):
            init = None
        method = job.get("method", "umap")
        if pca_only or init is None or method == "pca":  # something to look at at once
            pca = methods.embed(x, "pca", init=init)
            final = pca_only or method == "pca"
            results.put(("result", _answer(layer, step, "pca", pca, labels, start, methods, final)))
            if final:
                previous[layer] = pca
                return
            init = pca
        results.put(("progress", {"layer": layer, "step": step, "stage": method}))
        start = time.perf_counter()
        points = methods.embed(x, method, init=init, seed=job.get("seed", 0))
        previous[layer] = points
        results.put(("result", _answer(layer, step, method, points, labels, start, methods, True)))
    except Exception as exc:
        results.put(
            ("error", {"layer": layer, "step": step, "message": f"{type(exc).__name__}: {exc}"})
        )


def _answer(layer, step, method, points, labels, start, methods, final: bool) -> dict:
    import numpy as np

    knn = None
    if labels is not None and len(set(np.asarray(labels).tolist())) > 1:
        knn = float(methods.knn_agreement(points, labels))
    return {
        "layer": layer,
        "step": step,
        "method": method,
        "points": np.asarray(points, np.float32),
        "labels": labels,
        "seconds": time.perf_counter() - start,
        "knn": knn,
        "final": final,
    }


class EmbeddingWorker:
    """The process, a thread that sends it jobs (newest per layer, so the caller never blocks
    on a full pipe) and a thread that hands its answers to ``on_message(kind, payload)``."""

    def __init__(self, on_message, *, umap: bool = True) -> None:
        """``umap=False``: the caller embeds with PCA or t-SNE only, so the process does not
        warm numba up (a minute of a core, cold)."""
        self.on_message = on_message
        self.ready = False
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
        env.setdefault("NUMBA_CACHE_DIR", str(CACHE))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nnviz3d.embed.worker",
                str(down_r),
                str(up_w),
                *([] if umap else ["--no-umap"]),
            ],
            pass_fds=(down_r, up_w),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        os.close(down_r)
        os.close(up_w)
        self._down = Connection(down_w, readable=False)
        self._up = Connection(up_r, writable=False)
        self._closed = False
        self._outbox: dict[str, dict | None] = {}
        self._wake = threading.Condition()
        self._sender = threading.Thread(target=self._send, name="nnviz3d-embed-send", daemon=True)
        self._sender.start()
        self._reader = threading.Thread(
            target=self._read, name="nnviz3d-embed-results", daemon=True
        )
        self._reader.start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def submit(
        self, layer: str, step: int, features, labels=None, method: str = "umap", seed: int = 0
    ) -> bool:
        """Queue a job (replacing one for the same layer not yet sent); False when the
        process is gone (it is not restarted)."""
        import numpy as np

        if self._closed or not self.alive():
            return False
        job = {
            "layer": layer,
            "step": int(step),
            "method": method,
            "seed": seed,
            "features": np.ascontiguousarray(features, np.float32),
            "labels": None if labels is None else np.asarray(labels),
        }
        with self._wake:
            self._outbox[layer] = job
            self._wake.notify()
        return True

    def _send(self) -> None:
        while True:
            with self._wake:
                while not self._outbox and not self._closed:
                    self._wake.wait()
                if self._closed and not self._outbox:
                    jobs = [None]
                else:
                    jobs = list(self._outbox.values())
                    self._outbox.clear()
            try:
                for job in jobs:
                    self._down.send(job)
            except (OSError, ValueError):  # the process is gone: the reader says so
                return
            if jobs == [None]:
                return

    def _read(self) -> None:
        while True:
            try:
                kind, payload = self._up.recv()
            except (EOFError, OSError):
                if not self._closed:
                    self.process.wait()
                    self.on_message(
                        "error",
                        {
                            "layer": "",
                            "step": -1,
                            "message": f"the embedding process died (exit code "
                            f"{self.process.returncode}); embeddings stop, training "
                            f"goes on",
                        },
                    )
                return
            if kind == "ready":
                self.ready = True
            try:
                self.on_message(kind, payload)
            except Exception:  # noqa: BLE001, S110 - a listener's bug must not end the reader
                pass

    def close(self, timeout: float = 2.0) -> None:
        """Stop the process: it finishes the job it is on for up to ``timeout`` seconds."""
        if self._closed:
            return
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._sender.join(timeout)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(2)
        for conn in (self._down, self._up):
            conn.close()


def main(argv: list[str]) -> int:
    requests = Connection(int(argv[0]), writable=False)
    results = _Results(Connection(int(argv[1]), readable=False))
    _serve(requests, results, warm_umap="--no-umap" not in argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
