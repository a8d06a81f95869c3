"""Viewer benchmark in Debian chromium: first image, window change and scroll, PNG path vs 16-bit canvas path.

Run: ``bash tests/run.sh tests/benchmarks/bench_viewer.py -s -q`` (explicit path: the file name keeps it
out of the normal run). One study of BENCH_VIEWER_SLICES (default 300) slices of BENCH_VIEWER_SIZE_PX
(default 512) px, served by pytest-django's live server on loopback; both paths run in the same session
against the same study. Times come from ``performance.now()`` in the page and are printed, never asserted.

- first image: navigation start to the first slice drawn (the PNG decoded, or the canvas painted);
- window change: setting a window until the slice is drawn with it (PNG: a request per change);
- scroll: one slice step until that slice is drawn, over every slice (canvas: after loading).
"Drawn" is the canvas painted or the PNG decoded; the browser shows it in its next frame (16.7 ms at 60 Hz).
"""
import os
import statistics

import numpy as np
import pytest
from django.utils import timezone

from tests.browser.conftest import CHROMIUM_ARGS, browser, sign_in  # noqa: F401 (browser: session fixture)
from tests.unit.worklist.factories import add_result, ct_dicom, make_study, store_series
from triage.accounts.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SLICES = int(os.environ.get("BENCH_VIEWER_SLICES", "300"))
SIZE_PX = int(os.environ.get("BENCH_VIEWER_SIZE_PX", "512"))
WINDOW_CHANGES = 20
# A new window each time (level steps of 10 HU): a repeated one would come from the browser's cache.
WINDOWS = [(40 + 10 * i, 400) for i in range(WINDOW_CHANGES)]

STEP_JS = """async ([kind, values]) => {
  const times = [];
  for (const value of values) {
    const t0 = performance.now();
    if (kind === 'window') { viewer.setWindow(value[0], value[1]); await viewer.whenDrawn(value[2], value[0], value[1]); }
    else { viewer.show(value[0]); await viewer.whenDrawn(value[0], value[1], value[2]); }
    times.push(performance.now() - t0);
  }
  return times;
}"""


def _ct_volume() -> list[bytes]:
    """A body-shaped phantom: air outside, soft tissue, two lungs, a spine, noise (stored = HU + 1024)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:SIZE_PX, 0:SIZE_PX] / SIZE_PX
    body = ((x - .5) / .42) ** 2 + ((y - .5) / .32) ** 2 < 1
    lungs = (((x - .32) / .13) ** 2 + ((y - .47) / .2) ** 2 < 1) | (((x - .68) / .13) ** 2 + ((y - .47) / .2) ** 2 < 1)
    spine = ((x - .5) / .05) ** 2 + ((y - .72) / .05) ** 2 < 1
    base = np.where(body, 40, -1000) + np.where(lungs, -860, 0) + np.where(spine, 660, 0)
    files = []
    for z in range(SLICES):
        hu = base + rng.normal(0, 15, base.shape)
        files.append(ct_dicom(np.clip(hu + 1024, 0, 4095).astype(np.int16), z_mm=float(z), number=z + 1))
    return files


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"median {statistics.median(ordered):7.1f} ms  p95 {p95:7.1f} ms  (n = {len(ordered)})"


def _measure(browser, live_server, user, study, render: str) -> dict:  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    sign_in(page, live_server.url, user.username)
    query = "?render=png" if render == "png" else ""
    page.goto(f"{live_server.url}/studies/{study.uuid}/view/{query}")
    page.wait_for_function("window.viewerStats && viewerStats.firstImageMs !== null")
    figures = {"first_image_ms": page.evaluate("viewerStats.firstImageMs"),
               "document_ms": page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")}
    if render == "raw":
        page.wait_for_function(f"viewerStats.loaded === {SLICES}")
        figures["all_loaded_ms"] = page.evaluate("performance.now()")
    start = SLICES - 1  # the viewer opens on the most superior slice
    figures["window"] = page.evaluate(STEP_JS, ["window", [[wl, ww, start] for wl, ww in WINDOWS]])
    wl, ww = WINDOWS[-1]
    figures["scroll"] = page.evaluate(STEP_JS, ["scroll", [[i, wl, ww] for i in range(start - 1, -1, -1)]])
    context.close()
    return figures


@pytest.mark.slow
def test_bench_viewer__png_path_vs_canvas_path(browser, live_server, hospital_a, make_user, study_storage):  # noqa: F811
    study = make_study(hospital=hospital_a, received_at=timezone.now())
    store_series(study=study, files=_ct_volume())
    add_result(study=study, probability=0.5, slice_probabilities=[0.5] * SLICES)
    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    png = _measure(browser, live_server, user, study, "png")
    raw = _measure(browser, live_server, user, study, "raw")
    print(f"\nViewer, {SLICES} slices of {SIZE_PX}² px, loopback live server, chromium {' '.join(CHROMIUM_ARGS[:1])}")
    print(f"first image      PNG {png['first_image_ms']:7.1f} ms   canvas {raw['first_image_ms']:7.1f} ms   from navigation"
          f" start (page HTML done at {png['document_ms']:.0f} / {raw['document_ms']:.0f} ms)")
    print(f"                 PNG {png['first_image_ms'] - png['document_ms']:7.1f} ms   canvas "
          f"{raw['first_image_ms'] - raw['document_ms']:7.1f} ms   after the page HTML arrived;"
          f" canvas: all {SLICES} slices loaded at {raw['all_loaded_ms'] / 1000:.1f} s")
    print(f"window change    PNG {_summary(png['window'])}")
    print(f"                 canvas {_summary(raw['window'])}")
    print(f"scroll, 1 slice  PNG {_summary(png['scroll'])}")
    print(f"                 canvas {_summary(raw['scroll'])}")
    ratio = statistics.median(png["scroll"]) / max(statistics.median(raw["scroll"]), 1e-3)
    wratio = statistics.median(png["window"]) / max(statistics.median(raw["window"]), 1e-3)
    print(f"median ratio PNG / canvas: window change {wratio:.1f}x, scroll {ratio:.1f}x")
    assert len(raw["scroll"]) == len(png["scroll"]) == SLICES - 1
