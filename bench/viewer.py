"""Viewer start-up: seconds to the first rendered frame, scene bytes, draw calls, triangles.

Run: .venv/bin/python bench/viewer.py [--rounds N] [--models gpt2,llama_70b_meta]

For each configuration (GPT-2 fully expanded and at --depth 3, LLaMA-70B on the meta device
fully expanded) and each round: launch headless Chromium (timed separately, not counted),
start `python -m nnviz3d view SPEC --no-browser --port 0 [--depth N]`, and time
  * capture+serve: until the subprocess prints its `nnviz3d: viewing ... at URL` line;
  * first frame: until the page at URL reports `window.nnviz3d.ready === true` (total, from
    starting the subprocess).
Scene bytes is the size of the binary WebSocket frames the page received; draw calls,
triangles and blocks come from `window.nnviz3d` after a fresh `render()` once the SDF labels have
settled (1.5 s after the first frame). The table shows the median of the rounds.
"""

from __future__ import annotations

import argparse
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from playwright.sync_api import sync_playwright

from nnviz3d.render.browser import ARGS  # `nnviz3d render`'s flags: headless, SwiftShader

SPECS = {"gpt2": "nnviz3d.zoo:gpt2", "llama_70b_meta": "nnviz3d.zoo:llama_70b_meta"}
DEPTHS = {"gpt2": [None, 3], "llama_70b_meta": [None]}
URL_TIMEOUT_S = 300.0
READY_TIMEOUT_S = 240.0
URL_LINE = re.compile(r"nnviz3d: viewing .* at (http://\S+)")
COLUMNS = {
    "serve_s": "capture+serve s",
    "ready_s": "first frame s",
    "scene_bytes": "scene bytes",
    "draw_calls": "draw calls",
    "triangles": "triangles",
    "blocks": "blocks",
}


def wait_for_url(proc: subprocess.Popen, timeout: float) -> str:
    """Read the subprocess's output line by line (in a thread, so a timeout holds)."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen, deadline = [], time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"no URL after {timeout:.0f} s") from None
        if line is None:
            tail = "".join(seen[-5:]).strip()
            raise RuntimeError(f"viewer exited ({proc.wait()}) without a URL: {tail}")
        seen.append(line)
        if match := URL_LINE.search(line):
            return match.group(1)


def one_round(p, spec: str, depth: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="nnviz3d-bench-") as profile:
        start = time.perf_counter()
        browser = p.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            headless=True,
            viewport={"width": 1280, "height": 800},
            args=ARGS,
        )
        result = {"browser_s": time.perf_counter() - start}
        proc = None
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            received = {"binary": 0, "text": 0}

            def on_frame(payload):
                received["binary" if isinstance(payload, bytes) else "text"] += len(payload)

            page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
            cmd = [sys.executable, "-m", "nnviz3d", "view", spec, "--no-browser", "--port", "0"]
            if depth is not None:
                cmd += ["--depth", str(depth)]
            start = time.perf_counter()
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
            )
            url = wait_for_url(proc, URL_TIMEOUT_S)
            result["serve_s"] = time.perf_counter() - start
            page.goto(url, timeout=READY_TIMEOUT_S * 1000)
            page.wait_for_function(
                "window.nnviz3d && window.nnviz3d.ready === true",
                polling="raf",
                timeout=READY_TIMEOUT_S * 1000,
            )
            result["ready_s"] = time.perf_counter() - start
            # SDF labels are laid out by a worker after the first frame: read the numbers
            # once they have settled (each label is 2 draw calls: fill and outline).
            page.wait_for_timeout(1500)
            page.evaluate("window.nnviz3d.render()")
            stats = page.evaluate(
                "({d: window.nnviz3d.drawCalls, t: window.nnviz3d.triangles,"
                " n: window.nnviz3d.nodeCount})"
            )
            result.update(
                scene_bytes=received["binary"],
                text_bytes=received["text"],
                draw_calls=stats["d"],
                triangles=stats["t"],
                blocks=stats["n"],
            )
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            browser.close()
    return result


def fmt(key: str, value) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if key.endswith("_s") else f"{value:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", default=",".join(SPECS))
    args = parser.parse_args()
    configs = [(m, d) for m in args.models.split(",") for d in DEPTHS[m]]

    table = []
    with sync_playwright() as p:
        for model, depth in configs:
            rounds, errors = [], []
            for i in range(1, args.rounds + 1):
                label = f"{model} depth={depth or 'all'} round {i}/{args.rounds}"
                try:
                    r = one_round(p, SPECS[model], depth)
                except Exception as exc:  # a failed round is reported, not fatal
                    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    errors.append(f"{type(exc).__name__}: {line[:160]}")
                    print(f"{label}: FAILED {errors[-1]}", flush=True)
                    continue
                rounds.append(r)
                print(
                    f"{label}: browser {r['browser_s']:.2f} s, capture+serve "
                    f"{r['serve_s']:.2f} s, first frame {r['ready_s']:.2f} s, scene "
                    f"{r['scene_bytes']:,} B (+{r['text_bytes']:,} B text), "
                    f"{r['draw_calls']} draw calls, {r['triangles']:,} triangles, "
                    f"{r['blocks']:,} blocks",
                    flush=True,
                )
            median = {
                k: (
                    (statistics.median if k.endswith("_s") else statistics.median_low)(
                        [r[k] for r in rounds]
                    )
                    if rounds
                    else None
                )
                for k in COLUMNS
            }
            table.append((model, depth, median, rounds, errors))

    print("\n| model | depth | " + " | ".join(COLUMNS.values()) + " |")
    print("|---|---|" + "---:|" * len(COLUMNS))
    for model, depth, median, _rounds, _errors in table:
        cells = [fmt(k, median[k]) for k in COLUMNS]
        print(f"| {model} | {depth or 'all'} | " + " | ".join(cells) + " |")
    print("\nMedian of the rounds; rounds (capture+serve / first frame, s):")
    for model, depth, _median, rounds, errors in table:
        times = ", ".join(f"{r['serve_s']:.2f}/{r['ready_s']:.2f}" for r in rounds)
        print(
            f"  {model} depth={depth or 'all'}: {times or 'none'}"
            + "".join(f"\n    failed: {e}" for e in errors)
        )


if __name__ == "__main__":
    main()
