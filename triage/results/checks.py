"""System checks of the results app (B14): the model the workers will load must be there, unaltered."""
from pathlib import Path

from django.core.checks import Error, register


@register()
def check_active_model_weights(app_configs=None, *, root: Path | None = None, **kwargs):
    """results.E001: the active model's card and weights exist; results.E002: the weights match the card's sha256."""
    from inference.registry import WEIGHTS_ROOT, ModelNotFoundError, model_directory, read_model_card, sha256_file

    root = root or WEIGHTS_ROOT
    try:
        directory = model_directory(None, root=root)
        card = read_model_card(None, root=root)
    except ModelNotFoundError as exc:
        return [Error(f"Active model not found under {root}: {exc}", id="results.E001")]
    weights = directory / card["weights_file"]
    if not weights.is_file():
        return [Error(f"Model weights missing: {weights}", id="results.E001")]
    if sha256_file(weights) != card["weights_sha256"]:
        return [Error(f"Model weights do not match the sha256 of their model card: {weights}", id="results.E002",
                      hint="The weights were changed or corrupted; restore them or publish a new version.")]
    return []
