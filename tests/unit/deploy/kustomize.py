"""Render a kustomization the way ``kustomize build`` does, for the subset our manifests use.

No kustomize binary runs here, so the suite renders the overlays itself: ``resources`` (files
and folders), ``namespace``, ``labels`` (metadata only, like kustomize's default
``includeSelectors: false``), ``images`` and JSON 6902 ``patches`` with a ``target``. Anything
else in a kustomization is an error, so a manifest change that needs more fails loudly here.
"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

SUPPORTED_KEYS = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"}


def render(folder: Path) -> list[dict]:
    """Return the resources ``kustomize build folder`` would print."""
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED_KEYS
    if unknown:
        raise ValueError(f"{folder}: kustomization keys this renderer does not know: {sorted(unknown)}")
    docs: list[dict] = []
    for entry in spec.get("resources", []):
        path = folder / entry
        docs += render(path) if path.is_dir() else [d for d in yaml.safe_load_all(path.read_text()) if d]
    docs = copy.deepcopy(docs)
    for doc in docs:
        for label_set in spec.get("labels", []):
            doc["metadata"].setdefault("labels", {}).update(label_set["pairs"])
        if "namespace" in spec:
            doc["metadata"]["namespace"] = spec["namespace"]
        for image in spec.get("images", []):
            set_image(doc, name=image["name"], new_name=image.get("newName", image["name"]), new_tag=image.get("newTag"))
    for patch in spec.get("patches", []):
        targets = [d for d in docs if d["kind"] == patch["target"]["kind"] and d["metadata"]["name"] == patch["target"]["name"]]
        if not targets:
            raise ValueError(f"{folder}: patch target {patch['target']} matches no resource")
        for doc in targets:
            for op in yaml.safe_load(patch["patch"]):
                apply_json_patch(doc, op)
    return docs


def pod_containers(doc: dict) -> list[dict]:
    """Return the containers of a workload's pod template (none for other kinds)."""
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    return pod.get("initContainers", []) + pod.get("containers", [])


def set_image(doc: dict, *, name: str, new_name: str, new_tag: str | None) -> None:
    for container in pod_containers(doc):
        if container["image"].split(":")[0] == name:
            container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def apply_json_patch(doc: dict, op: dict) -> None:
    """Apply one RFC 6902 add/replace/remove; ``replace``/``remove`` need an existing path."""
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in op["path"].split("/")[1:]]
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key = int(last) if isinstance(node, list) and last != "-" else last
    if op["op"] in {"replace", "remove"} and (key not in node if isinstance(node, dict) else key >= len(node)):
        raise KeyError(f"{op['op']} {op['path']}: no such path")
    if op["op"] == "remove":
        del node[key]
    elif op["op"] == "add" and isinstance(node, list):
        node.insert(len(node) if key == "-" else key, op["value"])
    elif op["op"] in {"add", "replace"}:
        node[key] = op["value"]
    else:
        raise ValueError(f"unsupported patch op {op['op']}")
