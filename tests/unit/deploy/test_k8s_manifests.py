"""The Kubernetes manifests (triage/deploy/k8s): rendered per overlay, schema-validated, and
checked against the code they run (queues, settings, URLs, commands)."""
import re
import shlex

import jsonschema
import kubernetes_validate
import pytest
import yaml
from django.urls import resolve

from tests.conftest import REPO_ROOT
from tests.unit.deploy.keda_schema import SCHEMAS as KEDA_SCHEMAS
from tests.unit.deploy.kustomize import pod_containers, render

K8S = REPO_ROOT / "triage" / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir())
KUBERNETES_VERSION = "1.30"


def rendered(overlay: str) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in render(K8S / "overlays" / overlay)}


def validate(doc: dict) -> None:
    """Validate against the Kubernetes schemas (strict: unknown fields fail), KEDA's by our schema."""
    if doc["kind"] in KEDA_SCHEMAS:
        jsonschema.validate(doc, KEDA_SCHEMAS[doc["kind"]])
    else:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def container(docs: dict, name: str) -> dict:
    kind = "StatefulSet" if name.endswith("dicom-scp") else "Deployment"
    (only,) = pod_containers(docs[(kind, name)])
    return only


def worker_queues(docs: dict, name: str) -> str:
    command = container(docs, name)["command"]
    return command[command.index("--queues") + 1]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay__every_resource_is_valid(overlay):
    docs = render(K8S / "overlays" / overlay)
    assert len(docs) >= 15
    for doc in docs:
        validate(doc)
        assert doc["metadata"]["namespace"].startswith("ct-triage")


def test_validate__rejects_what_a_cluster_would_reject():
    docs = rendered("production")
    deployment = docs[("Deployment", "ct-triage-web")]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate({**deployment, "spec": {**deployment["spec"], "replicas": "two"}})
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: an unknown field is an error
        validate({**deployment, "spec": {**deployment["spec"], "replica": 2}})
    scaled = docs[("ScaledObject", "ct-triage-worker-gpu")]
    typo = yaml.safe_load(yaml.safe_dump(scaled))
    typo["spec"]["triggers"][0]["metadata"]["listname"] = typo["spec"]["triggers"][0]["metadata"].pop("listName")
    with pytest.raises(jsonschema.ValidationError):
        validate(typo)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay__has_the_production_shape(overlay):
    docs = rendered(overlay)
    for name in ("web", "worker-ingest", "worker-analysis", "worker-gpu", "beat"):
        assert ("Deployment", f"ct-triage-{name}") in docs
    hpa = docs[("HorizontalPodAutoscaler", "ct-triage-web")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "ct-triage-web" and hpa["minReplicas"] >= 1
    job = docs[("Job", "ct-triage-migrate")]
    assert pod_containers(job)[0]["command"][-2:] == ["migrate", "--noinput"]
    beat = docs[("Deployment", "ct-triage-beat")]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    for service in ("postgres", "redis", "s3"):
        external = docs[("Service", service)]["spec"]
        assert external["type"] == "ExternalName" and external["externalName"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay__gpu_workers_hold_a_gpu_and_ingest_workers_none(overlay):
    docs = rendered(overlay)
    gpu = container(docs, "ct-triage-worker-gpu")["resources"]
    assert gpu["requests"]["nvidia.com/gpu"] == gpu["limits"]["nvidia.com/gpu"] == 1
    assert "--concurrency" in container(docs, "ct-triage-worker-gpu")["command"]
    assert "nvidia.com/gpu" not in str(container(docs, "ct-triage-worker-ingest")["resources"])
    assert "nvidia.com/gpu" not in str(container(docs, "ct-triage-worker-analysis")["resources"])
    assert worker_queues(docs, "ct-triage-worker-gpu") == "gpu"  # the model only: no CPU stage waits in front of it


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay__keda_scales_each_worker_on_its_own_celery_queue(overlay):
    from triage.celery import app

    docs = rendered(overlay)
    scaled = {d["spec"]["scaleTargetRef"]["name"]: d for (kind, _), d in docs.items() if kind == "ScaledObject"}
    assert set(scaled) == {"ct-triage-worker-ingest", "ct-triage-worker-analysis", "ct-triage-worker-gpu"}
    for target, obj in scaled.items():
        triggers = obj["spec"]["triggers"]
        assert {t["type"] for t in triggers} == {"redis"}
        assert [t["metadata"]["listName"] for t in triggers] == worker_queues(docs, target).split(",")
        for trigger in triggers:
            auth = docs[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
            assert {ref["name"] for ref in auth["spec"]["secretTargetRef"]} == {"ct-triage"}
    consumed = [queue for t in scaled for queue in worker_queues(docs, t).split(",")]
    assert sorted(consumed) == sorted(q.name for q in app.conf.task_queues)  # each queue by one kind of worker


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay__dicom_scp_has_a_stable_port_and_a_persistent_spool(overlay):
    docs = rendered(overlay)
    service = docs[("Service", "ct-triage-dicom-scp")]["spec"]
    assert service["ports"][0]["port"] == 11112
    scp = container(docs, "ct-triage-dicom-scp")
    command = scp["command"]
    assert command[command.index("--port") + 1] == "11112" and command[command.index("--host") + 1] == "0.0.0.0"
    spool = command[command.index("--spool-dir") + 1]
    mounts = {m["mountPath"]: m["name"] for m in scp["volumeMounts"]}
    claims = {c["metadata"]["name"] for c in docs[("StatefulSet", "ct-triage-dicom-scp")]["spec"]["volumeClaimTemplates"]}
    assert mounts[spool] in claims


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay__web_probes_reach_health_urls_with_an_allowed_host(overlay):
    docs = rendered(overlay)
    web = container(docs, "ct-triage-web")
    allowed = docs[("ConfigMap", "ct-triage")]["data"]["ALLOWED_HOSTS"].split(",")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = web[probe]["httpGet"]
        assert resolve(get["path"]).url_name in {"health-live", "health-ready"}
        headers = {h["name"]: h["value"] for h in get["httpHeaders"]}
        assert headers["Host"] in allowed and headers["X-Forwarded-Proto"] == "https"


def test_manifests__hold_no_secret_and_every_setting_is_read_by_the_code():
    sources = "".join(p.read_text() for p in (REPO_ROOT / "triage").rglob("*.py"))
    docs = rendered("production")
    assert not [key for key in docs if key[0] == "Secret"]
    for name in docs[("ConfigMap", "ct-triage")]["data"]:
        assert re.search(rf'["\']{name}["\']', sources), f"{name} is set in the ConfigMap but never read"
    for doc in docs.values():
        for c in pod_containers(doc):
            assert {ref.get("secretRef", {}).get("name") for ref in c.get("envFrom", [])} <= {"ct-triage", None}


def test_manifests__commands_name_real_management_commands():
    docs = rendered("production")
    commands = {shlex.split(" ".join(c["command"]))[2] for d in docs.values() for c in pod_containers(d)
                if c["command"][:2] == ["python", "manage.py"]}
    from django.core.management import get_commands

    assert commands == {"migrate", "dicom_scp"} and commands <= set(get_commands())
