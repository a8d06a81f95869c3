"""Importing the light inference modules must not load TensorFlow, Keras or Django."""

from __future__ import annotations

import subprocess
import sys

LIGHT_MODULES = ("inference", "inference.registry", "inference.preprocess", "inference.metrics", "inference.aggregate",
                 "inference.dicom_io", "inference.datasets", "inference.classify", "inference.models", "inference.augment")


def test_light_modules__import_without_tensorflow_keras_or_django():
    code = (f"import sys\nfor name in {LIGHT_MODULES!r}:\n    __import__(name)\n"
            "heavy = sorted(m for m in ('tensorflow', 'keras', 'django') if m in sys.modules)\n"
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
