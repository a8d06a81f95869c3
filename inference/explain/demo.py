"""A tiny slice classifier trained on phantom slices, used to exercise and illustrate Grad-CAM.

``python -m inference.explain.demo --out docs/images/overlay-example.png`` trains it (about half a
minute on a CPU), explains the slice of a "severe" phantom with the most quantified lesion and writes
the overlay, masked to the quantified lungs. This model
is a test instrument, not a diagnostic model. Keras is imported inside the functions.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from inference.explain.gradcam import FEATURES_LAYER, gradcam, mask_heatmaps, select_key_slices
from inference.explain.render import render_overlay_png
from inference.phantom import make_phantom_volume
from inference.preprocess import hu_to_window_uint8
from inference.quantify.report import quantify_volume

LESION_HU = -400.0
LESION_CLASS = 1
LESION_RADIUS_FRACTION = 0.14  # disc radius as a fraction of the slice width
LUNG_SLICE_CHOICES = 6  # training slices come from the phantom's widest lung slices


def build_demo_model(*, size_px: int, seed: int = 0) -> Any:
    """Build Input → Rescaling → Conv → Pool → Conv → Pool → Conv "features" → GAP → Dense softmax "probabilities"."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(size_px, size_px, 1), name="slice_uint8")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name=FEATURES_LAYER)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(2, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    return model


def add_disc_lesion(
    slice_hu: np.ndarray, *, centre_yx: tuple[int, int], radius_px: float, lung_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return a copy of the slice with a GGO disc (``LESION_HU``) inside the lung, and the disc mask."""
    rows, columns = np.ogrid[: slice_hu.shape[0], : slice_hu.shape[1]]
    disc = ((rows - centre_yx[0]) ** 2 + (columns - centre_yx[1]) ** 2 <= radius_px**2) & lung_mask
    return np.where(disc, np.float32(LESION_HU), slice_hu), disc


def phantom_slices(
    *, count: int, size_px: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Make slices from the phantom's widest lung levels (fresh noise each), half with one GGO disc in a random lung.

    Returns
    -------
    images : uint8 (count, size_px, size_px) in the lung window.
    labels : int (count,), 1 = lesion.
    lesion_masks : boolean (count, size_px, size_px) disc masks (empty for label 0).
    lung_masks : boolean (count, size_px, size_px) ground-truth lung masks.
    """
    rng = np.random.default_rng(seed)
    hu, _, masks, _ = make_phantom_volume(slices=48, size_px=size_px, severity="none", seed=seed)
    lungs = masks.lung_left | masks.lung_right
    widest_slices = np.argsort(lungs.sum(axis=(1, 2)))[-LUNG_SLICE_CHOICES:]
    picks = rng.choice(widest_slices, size=count)
    labels = (np.arange(count) % 2).astype(np.int64)
    images = np.empty((count, size_px, size_px), dtype=np.uint8)
    lesion_masks = np.zeros((count, size_px, size_px), dtype=bool)
    for index, (z, label) in enumerate(zip(picks, labels)):
        slice_hu = hu[z] + rng.normal(0.0, 10.0, size=hu[z].shape).astype(np.float32)
        if label:
            candidates = np.argwhere(lungs[z])
            centre = candidates[rng.integers(len(candidates))]
            slice_hu, lesion_masks[index] = add_disc_lesion(
                slice_hu, centre_yx=(int(centre[0]), int(centre[1])), radius_px=size_px * LESION_RADIUS_FRACTION, lung_mask=lungs[z]
            )
        images[index] = hu_to_window_uint8(slice_hu)
    return images, labels, lesion_masks, lungs[picks]


def train_demo_model(*, size_px: int = 64, samples: int = 256, epochs: int = 20, seed: int = 0) -> Any:
    """Train the demo model on phantom slices (lesion vs no lesion) and return it."""
    images, labels, _, _ = phantom_slices(count=samples, size_px=size_px, seed=seed)
    model = build_demo_model(size_px=size_px, seed=seed)
    model.fit(images[..., None], labels, batch_size=32, epochs=epochs, verbose=0, shuffle=True)
    return model


def main(argv: Sequence[str] | None = None) -> None:
    """Train the demo model and write a Grad-CAM overlay of a phantom's key slice as PNG."""
    parser = argparse.ArgumentParser(prog="python -m inference.explain.demo", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model = train_demo_model(size_px=args.size, seed=args.seed)
    hu, spacing_mm, _, _ = make_phantom_volume(slices=48, size_px=args.size, severity="severe", seed=args.seed + 1)
    quantified = quantify_volume(hu, spacing_mm=spacing_mm)
    lesion_per_slice = np.count_nonzero(quantified.lesion_labels, axis=(1, 2))
    key = select_key_slices(lesion_per_slice, k=1)  # illustrate the slice with the most lesion
    heatmaps = gradcam(model, hu_to_window_uint8(hu[key]), class_index=LESION_CLASS)
    heatmap = mask_heatmaps(heatmaps, lung_masks=quantified.lungs.both[key])[0]
    probability = float(model.predict(hu_to_window_uint8(hu[key])[..., None], verbose=0)[0, LESION_CLASS])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(render_overlay_png(hu[key[0]], heatmap))
    print(f"slice {int(key[0])} p(lesion)={probability:.3f} -> {args.out}")


if __name__ == "__main__":
    main()
