"""JSON schemas for the KEDA resources we use (kubernetes-validate knows only built-in kinds).

Written from KEDA 2.x's CRDs (``keda.sh_scaledobjects.yaml``, ``keda.sh_triggerauthentications.yaml``)
and the Redis list scaler's documented parameters, narrowed to what a typo would break:
unknown fields are rejected, the Redis trigger's metadata keys are the scaler's own, and
counts are strings of digits (KEDA reads every metadata value as a string).
"""
COUNT = {"type": "string", "pattern": r"^[0-9]+$"}
REDIS_LIST_METADATA = {
    "type": "object",
    "properties": {
        "address": {"type": "string"}, "host": {"type": "string"}, "port": {"type": "string"},
        "addressFromEnv": {"type": "string"}, "hostFromEnv": {"type": "string"}, "portFromEnv": {"type": "string"},
        "passwordFromEnv": {"type": "string"}, "usernameFromEnv": {"type": "string"},
        "listName": {"type": "string", "minLength": 1},
        "listLength": COUNT, "activationListLength": COUNT, "databaseIndex": COUNT,
        "enableTLS": {"enum": ["true", "false"]}, "unsafeSsl": {"enum": ["true", "false"]},
    },
    "required": ["listName", "listLength"],
    "additionalProperties": False,
}
METADATA = {
    "type": "object",
    "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                   "namespace": {"type": "string"}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}},
    "required": ["name"],
}


def resource_schema(kind: str, spec: dict) -> dict:
    """Return the schema of a ``keda.sh/v1alpha1`` resource of ``kind`` with ``spec``; nothing else allowed."""
    return {
        "type": "object",
        "properties": {"apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": kind}, "metadata": METADATA,
                       "spec": {**spec, "type": "object", "additionalProperties": False}},
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
    }


SCALED_OBJECT = resource_schema("ScaledObject", {
    "properties": {
        "scaleTargetRef": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                           "apiVersion": {"type": "string"}, "envSourceContainerName": {"type": "string"}},
            "required": ["name"], "additionalProperties": False,
        },
        "minReplicaCount": {"type": "integer", "minimum": 0},
        "maxReplicaCount": {"type": "integer", "minimum": 1},
        "pollingInterval": {"type": "integer", "minimum": 1},
        "cooldownPeriod": {"type": "integer", "minimum": 0},
        "triggers": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "type": {"const": "redis"},  # the only scaler we use; others would need their schema here
                    "name": {"type": "string"},
                    "metadata": REDIS_LIST_METADATA,
                    "authenticationRef": {"type": "object", "properties": {"name": {"type": "string"}},
                                          "required": ["name"], "additionalProperties": False},
                },
                "required": ["type", "metadata"], "additionalProperties": False,
            },
        },
    },
    "required": ["scaleTargetRef", "triggers"],
})
TRIGGER_AUTHENTICATION = resource_schema("TriggerAuthentication", {
    "properties": {
        "secretTargetRef": {
            "type": "array", "minItems": 1,
            "items": {"type": "object",
                      "properties": {"parameter": {"type": "string"}, "name": {"type": "string"}, "key": {"type": "string"}},
                      "required": ["parameter", "name", "key"], "additionalProperties": False},
        },
    },
    "required": ["secretTargetRef"],
})
SCHEMAS = {"ScaledObject": SCALED_OBJECT, "TriggerAuthentication": TRIGGER_AUTHENTICATION}
