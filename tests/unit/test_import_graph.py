"""The apps under ``triage/`` form a one-way graph (STYLE B16).

The step apps (``studies`` receives and ingests, ``results`` analyses and stores) know nothing of
each other, and no two apps import each other; orchestration sits above them in ``triage/pipeline``.
Two views of the same rule: a static one over every module of every app (function-level and
``TYPE_CHECKING`` imports included, so a lazy import cannot hide a loop), and a run-time one that
imports a step's services in a fresh interpreter and looks at what it loaded.
"""
import ast
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

TRIAGE = REPO_ROOT / "triage"
APPS = sorted(p.name for p in TRIAGE.iterdir() if (p / "apps.py").is_file())
STEP_APPS = ("studies", "results")


def _imported_modules(path: Path) -> list[tuple[str, int]]:
    """Return every module ``path`` imports (absolute dotted names) with its line number."""
    package = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def app_import_graph() -> dict[str, dict[str, list[str]]]:
    """Map each app to the other apps it imports, with the ``file:line`` of each import."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for app in APPS:
        for path in sorted((TRIAGE / app).rglob("*.py")):
            for module, line in _imported_modules(path):
                parts = module.split(".")
                if len(parts) > 1 and parts[0] == "triage" and parts[1] in APPS and parts[1] != app:
                    where = f"{path.relative_to(REPO_ROOT)}:{line}"
                    if where not in graph[app][parts[1]]:
                        graph[app][parts[1]].append(where)
    return graph


def mutual_imports(graph) -> dict[tuple[str, str], list[str]]:
    """Return each pair of apps that import each other, with the imports in both directions."""
    return {(a, b): graph[a][b] + graph[b][a]
            for a in sorted(graph) for b in sorted(graph[a]) if a < b and a in graph.get(b, {})}


def test_app_import_graph__sees_imports_inside_functions_and_relative_ones(tmp_path, monkeypatch):
    fake = tmp_path / "triage"
    for app, source in {"one": "def f():\n    from triage.two import services\n",
                        "two": "from ..one import models\n"}.items():
        (fake / app).mkdir(parents=True)
        (fake / app / "apps.py").write_text("")
        (fake / app / "services.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "TRIAGE", fake)
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "APPS", ["one", "two"])
    assert list(mutual_imports(app_import_graph())) == [("one", "two")]


def test_apps__no_two_apps_import_each_other():
    pairs = mutual_imports(app_import_graph())
    assert not pairs, "apps that import each other:\n" + "\n".join(
        f"  {a} <-> {b}: {', '.join(where)}" for (a, b), where in pairs.items())


def test_step_apps__studies_and_results_import_nothing_of_each_other():
    graph = app_import_graph()
    studies, results = STEP_APPS
    assert graph[studies].get(results, []) == [] and graph[results].get(studies, []) == []


LOADED_BY = """
import importlib, pkgutil, sys, django
django.setup()
before = set(sys.modules)
services = importlib.import_module("triage.{app}.services")
for module in pkgutil.iter_modules(getattr(services, "__path__", [])):  # a services package: every module
    importlib.import_module(f"{{services.__name__}}.{{module.name}}")
print("\\n".join(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("app, other", [("studies", "results"), ("results", "studies")])
def test_importing_step_services__loads_nothing_of_the_other_step(app, other):
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "triage.settings", "PYTHONPATH": str(REPO_ROOT)}
    run = subprocess.run([sys.executable, "-c", LOADED_BY.format(app=app)], capture_output=True, text=True,
                         cwd=REPO_ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    loaded = run.stdout.split()
    package = TRIAGE / app / "services"
    probed = {f"triage.{app}.services"} | {f"triage.{app}.services.{p.stem}" for p in package.glob("*.py")
                                          if p.stem != "__init__"}
    assert probed <= set(loaded)  # the probe imported every services module, so the check can fail
    assert [m for m in loaded if m.startswith(f"triage.{other}.")] == []


def test_selectors__import_no_service_of_their_own_app():
    """Reads never depend on writes (STYLE B1): ``selectors`` may audit, but not call its app's services."""
    offenders = [f"{app}/selectors.py:{line} imports {module}"
                 for app in APPS if (TRIAGE / app / "selectors.py").is_file()
                 for module, line in _imported_modules(TRIAGE / app / "selectors.py")
                 if module == f"triage.{app}.services" or module.startswith(f"triage.{app}.services.")]
    assert offenders == []
