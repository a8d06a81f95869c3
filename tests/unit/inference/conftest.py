"""Shared fixtures of the inference tests: a tiny class-folder dataset, a tiny trained run, a temporary registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.inference.factories import TINY_SIZE_PX, write_class_folders


def pytest_configure(config: pytest.Config) -> None:
    """Silence Keras 3.15's numpy-2 ``__array__`` DeprecationWarning raised inside save/load_weights."""
    config.addinivalue_line("filterwarnings", "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_class_folders(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """Train for two steps on the tiny dataset; return the run directory."""
    from inference import train

    out = tmp_path_factory.mktemp("runs") / "tiny-model"
    train.main(["--data", str(tiny_dataset), "--model", "s", "--size", str(TINY_SIZE_PX), "--epochs", "1",
                "--steps-per-epoch", "2", "--batch-size", "4", "--out", str(out), "--seed", "3"])
    return out


@pytest.fixture()
def published_tiny(tmp_path: Path, tiny_run: Path) -> Path:
    """Publish the tiny run as the active ``tiny/v1`` in a temporary registry root; return the root."""
    from inference.registry import publish_run

    publish_run(tiny_run, name="tiny", version="v1", root=tmp_path)
    return tmp_path

