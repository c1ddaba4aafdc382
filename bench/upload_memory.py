"""Peak memory of normalising heavy uploads in the web process: the bounded path vs the plain one.

Each scenario runs in a fresh interpreter and reports its peak resident memory above what it held
before the uploads (``ru_maxrss`` minus the resident size just before). Scenarios:

* ``one``: one 6000x6000 upload (a 120 KB palette PNG; a 3 MB JPEG), normalised to 64 px.
* ``six``: six such PNG uploads at once, in six threads as daphne's request threads run them.

``baseline`` is the plain pipeline (decode at full size, convert, crop, resize; no limit on
concurrent decodes), written out below as it was before the bounded one; ``bounded`` is
``webapp.assets.uploads.normalize_upload`` under ``decode_slot(PARTEDIT_UPLOAD_DECODES=2)``.

Run: ``nice .venv/bin/python bench/upload_memory.py``.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZE = 6000
RESOLUTION = 64
CONCURRENT = 6
DECODES = 2


def heavy_upload(fmt: str) -> bytes:
    """A 6000x6000 photo: a palette PNG of large flat areas (compresses to ~100 KB), or a JPEG."""
    rng = np.random.default_rng(0)
    if fmt == "PNG":
        blocks = rng.integers(0, 16, (SIZE // 500, SIZE // 500), dtype=np.uint8)
        image = PILImage.fromarray(np.kron(blocks, np.ones((500, 500), np.uint8)), mode="L").convert("P")
    else:
        small = rng.integers(0, 255, (SIZE // 100, SIZE // 100, 3), dtype=np.uint8)
        image = PILImage.fromarray(small).resize((SIZE, SIZE), PILImage.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=85)
    return buffer.getvalue()


def baseline(data: bytes) -> bytes:
    """The plain pipeline: full-size decode and RGB conversion, then crop and resize."""
    from webapp.assets import uploads

    photo = uploads.decode_photo(data, max_bytes=50_000_000, max_pixels=40_000_000)
    box = uploads.crop_box_for(*photo.pixels.size, None, None, None)
    crop = photo.pixels.crop(tuple(box)).resize((RESOLUTION, RESOLUTION), PILImage.Resampling.LANCZOS)
    return uploads.encode_png(crop)


def bounded(data: bytes) -> bytes:
    """The web app's path: ``normalize_upload`` in one of ``DECODES`` decode slots."""
    from webapp.assets import uploads

    with uploads.decode_slot(DECODES):
        return uploads.normalize_upload(data, (None, None, None), RESOLUTION, 50_000_000, 40_000_000).png


def resident_kib() -> int:
    """This process' resident memory now, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def run_one(path: str, scenario: str, upload: str) -> None:
    """Child process: run one scenario and print its peak memory above the starting point (MiB)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings_test")
    import django

    django.setup()
    function = baseline if path == "baseline" else bounded
    data = Path(upload).read_bytes()
    before = resident_kib()
    count = CONCURRENT if scenario == "six" else 1
    threads = [threading.Thread(target=function, args=(data,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mib": round((peak - before) / 1024, 1), "file_kib": round(len(data) / 1024)}))


def measure(path: str, scenario: str, upload: Path) -> dict[str, float]:
    """Run a scenario in a fresh interpreter and return its figures."""
    command = [sys.executable, __file__, "--one", path, scenario, str(upload)]
    result = subprocess.run(command, capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Print the peak memory of each scenario for both paths and their ratio."""
    if sys.argv[1:2] == ["--one"]:
        run_one(*sys.argv[2:5])
        return
    print(f"{SIZE}x{SIZE} uploads normalised to {RESOLUTION} px; peak resident memory above the start")
    with tempfile.TemporaryDirectory() as folder:
        for scenario, fmt in (("one", "PNG"), ("one", "JPEG"), ("six", "PNG")):
            upload = Path(folder) / f"upload.{fmt.lower()}"
            upload.write_bytes(heavy_upload(fmt))
            plain, ours = measure("baseline", scenario, upload), measure("bounded", scenario, upload)
            ratio = ours["peak_mib"] / max(plain["peak_mib"], 0.1)
            print(f"{scenario} {fmt:<4} ({plain['file_kib']} KiB): baseline {plain['peak_mib']:7.1f} MiB, "
                  f"bounded {ours['peak_mib']:7.1f} MiB, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
