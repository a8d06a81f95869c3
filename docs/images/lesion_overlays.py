"""Render the before/after lesion-outline figures in this folder: ``python docs/images/lesion_overlays.py``.

For each real series (kept outside the repository, ``../shared/data``) one representative slice is
shown twice, side by side, in the lung window: left the replaced lesion rule
(``inference.quantify.bench.reference_quantify``), right today's ``quantify_volume``. Outlines come
from the platform's own renderer (``render_lesion_outline_png``: GGO amber, consolidation red),
laid over the slice as the viewer does.

Sources of the pictured slices: TCIA Lung-PET-CT-Dx (Lung_Dx-A0002, CC BY 4.0; Li P. et al., "A
large-scale CT and PET/CT dataset for lung cancer diagnosis", TCIA 2020) and COVID-CT-MD (covid-P002;
Afshar P. et al., Sci Data 8:121, 2021; research use).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from inference.dicom_io import read_series  # noqa: E402
from inference.explain.render import render_lesion_outline_png, window_to_rgb  # noqa: E402
from inference.quantify.bench import reference_quantify  # noqa: E402
from inference.quantify.lesions import CONSOLIDATION, GGO  # noqa: E402
from inference.quantify.report import quantify_volume  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SERIES = {
    "lung-dx-a0002": (DATA / "dicom-series-lung-pet-ct-dx" / "Lung_Dx-A0002", 0.35),  # lower lobes
    "covid-p002": (DATA / "dicom-covid-ct-md" / "covid-P002", 0.30),
}


def panel(slice_hu: np.ndarray, labels: np.ndarray, title: str) -> Image.Image:
    """Return the windowed slice with the rendered outline PNG composited on it and a caption."""
    base = Image.fromarray(window_to_rgb(slice_hu)).convert("RGBA")
    outline = Image.open(io.BytesIO(render_lesion_outline_png(labels)))
    image = Image.alpha_composite(base, outline).convert("RGB")
    ImageDraw.Draw(image).text((8, 8), title, fill=(255, 255, 255))
    return image


def main() -> None:
    """Write ``lesion-overlay-<series>.png`` (old | new) for each series present."""
    for name, (folder, depth) in SERIES.items():
        files = sorted(folder.rglob("*.dcm"))
        if not files:
            print(f"skipped {name}: {folder} absent")
            continue
        volume = read_series(files)
        new = quantify_volume(volume.hu, spacing_mm=volume.spacing_mm, orientation=volume.orientation,
                              superior_first=volume.superior_first)
        old_mask = reference_quantify(volume.hu, spacing_mm=volume.spacing_mm)
        old = np.where(old_mask, np.where(volume.hu > -300.0, CONSOLIDATION, GGO), 0).astype(np.uint8)
        lung_slices = np.flatnonzero(new.lungs.both.any(axis=(1, 2)))
        order = lung_slices if not volume.superior_first else lung_slices[::-1]  # index 0 = most inferior
        index = int(order[int(round(depth * (len(order) - 1)))])
        old_share = old_mask[index].sum() / max(new.lungs.both[index].sum(), 1)
        new_share = np.isin(new.lesion_labels[index], (GGO, CONSOLIDATION)).sum() / max(new.lungs.both[index].sum(), 1)
        left = panel(volume.hu[index], old[index], f"before: {100 * old_share:.1f} % of lung on this slice")
        right = panel(volume.hu[index], new.lesion_labels[index], f"after: {100 * new_share:.1f} %")
        canvas = Image.new("RGB", (left.width + right.width, left.height))
        canvas.paste(left, (0, 0))
        canvas.paste(right, (left.width, 0))
        out = Path(__file__).with_name(f"lesion-overlay-{name}.png")
        canvas.save(out)
        print(f"{out.name}: slice {index}, before {100 * old_share:.1f} %, after {100 * new_share:.1f} %")


if __name__ == "__main__":
    main()
