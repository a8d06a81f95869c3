"""Print parameters and FLOPs per slice of every variant: ``python -m inference.models [--sizes 224 256 512]``."""

from __future__ import annotations

import argparse

from inference.models import VARIANTS, build_model
from inference.models.flops import FLOPS_DEFINITION, model_flops


def main(argv: list[str] | None = None) -> None:
    """Build each variant at each size and print its parameter count and GFLOPs per slice."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 256, 512], help="input sides in pixels")
    parser.add_argument("--num-classes", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'variant':<8}{'size':>6}{'params':>12}{'GFLOPs/slice':>15}")
    for variant in VARIANTS:
        for size in args.sizes:
            model = build_model(variant, input_size_px=size, num_classes=args.num_classes)
            print(f"{variant:<8}{size:>6}{model.count_params():>12,}{model_flops(model) / 1e9:>15.3f}")
    print(f"FLOPs = {FLOPS_DEFINITION}")


if __name__ == "__main__":
    main()
