"""Annotation canvas latency in real Chromium: pointer event to painted frame.

Starts the stack (Redis + daphne, production settings, no worker), seeds a team with page-only
models at each ``--resolutions`` size, signs in and opens the real annotation page of an empty
mask. In the page, listeners registered after the page's own record, per input event, the
time from the event's timestamp to the end of its handling (mask changed and its dirty
rectangle put into the canvas) and to the next painted frame (a requestAnimationFrame
callback, then a message task, which runs once that frame has been produced). Measured:

- brush strokes (``--moves`` pointer moves per stroke, several brush sizes), per resolution;
- a flood fill of the whole empty mask (resolution^2 pixels) and its undo (Ctrl+Z);
- the baseline for the dirty-rectangle repaint: repainting the whole mask on every event
  (what a naive canvas does), timed in the same page; a calibration write pass; the frame
  interval of the run. The page's own work per event is reported apart from the input
  queueing and vsync wait, which depend on the machine's load.

Run: ``nice -n 19 .venv/bin/python bench/canvas_latency.py`` (a few minutes). Prints a
table and, with ``--json PATH``, writes the figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Page, sync_playwright

from scripts.annotation_fixture import seed_stack
from scripts.local_stack import REPO_ROOT, running_stack

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Per input event, ms: from event.timeStamp to the start of dispatch (input queueing), to the end
# of the page's handling, and to the next painted frame. Capture listeners on window run before
# the page's listeners, bubble listeners on window after them.
INSTRUMENT_JS = """() => {
  window.__latency = [];
  const started = new WeakMap();
  const types = ['pointermove', 'pointerdown', 'keydown'];
  const begin = (event) => started.set(event, performance.now());
  for (const type of types) window.addEventListener(type, begin, true);
  const record = (event) => {
    const handled = performance.now();
    const start = started.get(event);
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      const t0 = event.timeStamp;
      channel.port1.onmessage = () => window.__latency.push({type: event.type, queued: start - t0,
        work: handled - start, handled: handled - t0, frame: performance.now() - t0});
      channel.port2.postMessage(0);
    });
  };
  for (const type of types) window.addEventListener(type, record);
}"""
TAKE_JS = "() => { const samples = window.__latency; window.__latency = []; return samples; }"
SETTLE_JS = "() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))"
FRAME_INTERVAL_JS = """() => new Promise((resolve) => {
  const times = [];
  const tick = (t) => {
    times.push(t);
    if (times.length < 61) requestAnimationFrame(tick); else resolve(times);
  };
  requestAnimationFrame(tick);
})"""
# The naive alternative (every event repaints the whole mask through the palette) against the
# dirty rectangle of one brush segment (48 px brush, 8 px move), and a calibration pass: one
# JS loop writing resolution^2 bytes, to compare runs on machines of different speed and load.
PAINT_BASELINE_JS = """async (size) => {
  const {LabelMask} = await import('/static/canvas/mask.js');
  const {MaskView, buildPalette} = await import('/static/canvas/view.js');
  const canvas = document.createElement('canvas');
  canvas.width = size; canvas.height = size;
  const mask = new LabelMask(size, size);
  const view = new MaskView(canvas.getContext('2d'), mask, buildPalette(['#000000', '#ff0000']));
  const median = (values) => values.sort((a, b) => a - b)[values.length >> 1];
  // performance.now() is coarse (0.1 ms): time batches of `reps` calls, report ms per call.
  const time = (reps, work) => {
    const times = [];
    for (let batch = 0; batch < 9; batch += 1) {
      mask.data[batch * 7] = batch % 2;
      const start = performance.now();
      for (let i = 0; i < reps; i += 1) work(i);
      times.push((performance.now() - start) / reps);
    }
    return median(times);
  };
  const data = mask.data;
  return {
    full: time(5, () => view.paint(mask.bounds())),
    dirty: time(500, (i) => view.paint({x: 100 + (i % 50), y: 100, width: 8 + 48 + 4, height: 48 + 4})),
    pass: time(5, (k) => { for (let i = 0; i < data.length; i += 1) data[i] = (i + k) & 3; }),
  };
}"""


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(samples: list[dict[str, Any]], kind: str) -> dict[str, float]:
    """p50/p95/max of handled and frame latency of the samples of one event type."""
    handled = [s["handled"] for s in samples if s["type"] == kind]
    frame = [s["frame"] for s in samples if s["type"] == kind]
    work = [s["work"] for s in samples if s["type"] == kind]
    return {"count": len(frame), "work_p50": percentile(work, 50), "work_p95": percentile(work, 95),
            "handled_p50": percentile(handled, 50),
            "handled_p95": percentile(handled, 95), "frame_p50": percentile(frame, 50),
            "frame_p95": percentile(frame, 95), "frame_max": max(frame)}


def to_page(page: Page, resolution: int) -> Callable[[float, float], tuple[float, float]]:
    """A function from mask points to page coordinates for the current view."""
    box = page.locator("#layer").bounding_box()
    assert box is not None
    scale = box["width"] / resolution
    return lambda x, y: (box["x"] + x * scale, box["y"] + y * scale)


def open_page(page: Page, url: str, image: int) -> None:
    """Open an image's annotation page, wait for it, instrument it."""
    page.goto(f"{url}images/{image}/annotate/")
    page.wait_for_selector("body[data-ready=true]", timeout=180_000)
    page.evaluate("() => localStorage.clear()")
    page.evaluate(INSTRUMENT_JS)
    page.focus("#stage")


def strokes(page: Page, resolution: int, size: int, count: int, moves: int) -> list[dict[str, Any]]:
    """Brush strokes across the mask; the latency samples of their pointer moves."""
    page.keyboard.press("b")
    page.keyboard.press("1")
    page.fill("#size-number", str(size))
    page.dispatch_event("#size-number", "change")
    page.focus("#stage")
    page.evaluate(TAKE_JS)
    point = to_page(page, resolution)
    for stroke in range(count):
        y = resolution * (0.1 + 0.8 * stroke / max(1, count - 1))
        page.mouse.move(*point(resolution * 0.1, y))
        page.mouse.down()
        for step in range(1, moves + 1):
            x = resolution * (0.1 + 0.8 * step / moves)
            page.mouse.move(*point(x, y + resolution * 0.05 * (step % 7) / 7))
        page.mouse.up()
    page.evaluate(SETTLE_JS)
    return [s for s in page.evaluate(TAKE_JS) if s["type"] == "pointermove"]


Samples = list[dict[str, Any]]


def fill_and_undo(page: Page, resolution: int, repeats: int) -> tuple[Samples, Samples]:
    """Flood fill the whole empty mask, then undo it, ``repeats`` times; their samples."""
    fills: Samples = []
    undos: Samples = []
    page.keyboard.press("2")
    page.keyboard.press("g")
    for _ in range(repeats):
        page.evaluate(TAKE_JS)
        page.mouse.click(*to_page(page, resolution)(0.5, 0.5))
        page.evaluate(SETTLE_JS)
        fills += [s for s in page.evaluate(TAKE_JS) if s["type"] == "pointerdown"]
        page.keyboard.press("Control+z")
        page.evaluate(SETTLE_JS)
        undos += [s for s in page.evaluate(TAKE_JS) if s["type"] == "keydown"]
    return fills, undos


def measure(url: str, seed: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of the run."""
    results: dict[str, Any] = {"strokes": [], "fill": {}, "undo": {}, "paint_ms": {}}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{url}sign-in/")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", seed["users"]["alice"]["password"])
            page.click("button[type=submit]")
            page.wait_for_url(lambda address: "sign-in" not in address)
            times = page.evaluate(FRAME_INTERVAL_JS)
            results["frame_interval_ms"] = statistics.median(b - a for a, b in itertools.pairwise(times))
            for resolution in args.resolutions:
                images = seed["by_resolution"][str(resolution)]
                open_page(page, url, images[0])
                for size in args.sizes:
                    samples = strokes(page, resolution, size, args.strokes, args.moves)
                    results["strokes"].append({"resolution": resolution, "size": size,
                                               **summary(samples, "pointermove")})
                open_page(page, url, images[1])
                fills, undos = fill_and_undo(page, resolution, args.fills)
                results["fill"][str(resolution)] = summary(fills, "pointerdown")
                results["undo"][str(resolution)] = summary(undos, "keydown")
                results["paint_ms"][str(resolution)] = page.evaluate(PAINT_BASELINE_JS, resolution)
        finally:
            browser.close()
    return results


def report(results: dict[str, Any]) -> None:
    """Print the table."""
    frame = results["frame_interval_ms"]
    print(f"chromium headless, software rendering; frame interval {frame:.1f} ms; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("ms per input event: the page's own work (its listeners: tool + dirty-rect paint), and from the")
    print("event's timestamp to handled and to the next painted frame (includes input queueing and vsync)")
    print(f"{'case':30} {'n':>4} {'work p50':>9} {'p95':>7} {'handled p50':>12} {'p95':>7} "
          f"{'frame p50':>10} {'p95':>7}")
    rows = [(f"brush {s['size']:>3} px, {s['resolution']}x{s['resolution']}", s) for s in results["strokes"]]
    rows += [(f"flood fill {r}x{r}, all pixels", v) for r, v in results["fill"].items()]
    rows += [(f"undo that fill, {r}x{r}", v) for r, v in results["undo"].items()]
    for name, s in rows:
        print(f"{name:30} {s['count']:>4} {s['work_p50']:>9.2f} {s['work_p95']:>7.2f} "
              f"{s['handled_p50']:>12.2f} {s['handled_p95']:>7.2f} "
              f"{s['frame_p50']:>10.2f} {s['frame_p95']:>7.2f}")
    for resolution, paint in results["paint_ms"].items():
        print(f"paint {resolution}x{resolution}: whole mask {paint['full']:.2f} ms, one brush segment's "
              f"dirty rectangle {paint['dirty']:.3f} ms "
              f"({paint['full'] / max(paint['dirty'], 1e-3):.0f}x less); "
              f"calibration: a JS loop writing {int(resolution) ** 2} bytes {paint['pass']:.2f} ms")


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 48])
    parser.add_argument("--strokes", type=int, default=4)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--fills", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the stack on `timeout` or kill
    folder = Path(tempfile.mkdtemp(prefix="canvas-latency-"))
    try:
        with running_stack(folder, REPO_ROOT / "models" / "demo", worker=False) as stack:
            seed = seed_stack(stack, *[f"--resolution={r}" for r in args.resolutions], "--images", "2")
            results = measure(stack.url, seed, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
