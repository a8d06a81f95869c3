"""The web process never imports TensorFlow or Keras: only inference workers load the model."""
import subprocess
import sys

from tests.conftest import REPO_ROOT

WEB_PROCESS = """
import sys, django
django.setup()
from django.test import Client
import triage.urls                     # every view module
from triage.celery import app
app.loader.import_default_modules()   # every tasks module, as the web process sees them
Client().get("/api/health/")
Client().get("/login/")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"tensorflow", "keras", "jax", "torch"})
print("HEAVY:" + ",".join(heavy))
"""


def test_web_process__imports_no_tensorflow_or_keras():
    result = subprocess.run([sys.executable, "-c", WEB_PROCESS], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120, env={"DJANGO_SETTINGS_MODULE": "triage.settings", "PATH": "/usr/bin:/bin",
                                              "TRIAGE_VAR_DIR": str(REPO_ROOT / "var")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "HEAVY:\n" in result.stdout or result.stdout.strip().endswith("HEAVY:"), result.stdout
