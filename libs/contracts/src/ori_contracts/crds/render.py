"""Render the CRD models into CustomResourceDefinition documents (plain dicts).

pydantic's JSON Schema is turned into the *structural* OpenAPI v3 subset the API server
accepts: `$ref`s are inlined, `Optional` becomes `nullable`, `const` becomes a one-value
`enum`, `int | str` becomes `x-kubernetes-int-or-string`, free-form JSON becomes
`x-kubernetes-preserve-unknown-fields`, and a discriminated union (the bot's tools) becomes
one object holding every variant's fields plus a CEL rule per variant for its required ones.
Defaults are not rendered (the operator applies them through the models, so a stored object
stays as its author wrote it); they are named in the field's description instead.
`tools/gen_crds.py` writes the result to `crds/`.
"""

import json
from typing import Any, Final

from ori_contracts.crds.common import API_VERSION, GROUP, VERSION, CustomResource, cel

__all__ = ["render_crd", "structural_schema"]

Schema = dict[str, Any]

_KEPT: Final = frozenset(
    {
        "description",
        "type",
        "format",
        "maximum",
        "minimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "multipleOf",
        "enum",
        "maxProperties",
        "minProperties",
        "required",
        "items",
        "properties",
        "additionalProperties",
        "nullable",
    }
)
_PRESERVE: Final[Schema] = {"x-kubernetes-preserve-unknown-fields": True}
_BRANCH_DROPS: Final = frozenset({"type", "description", "nullable", "default"})


def structural_schema(schema: Schema) -> Schema:
    """Turn a pydantic JSON Schema (with `$defs`) into a structural CRD schema.

    Args:
        schema: `Model.model_json_schema(by_alias=True)`.

    Returns:
        The converted schema, with no `$ref` left.
    """
    defs = schema.get("$defs", {})
    return _convert(schema, defs)


def _resolve(node: Schema, defs: Schema) -> Schema:
    while "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _convert(raw: Schema, defs: Schema) -> Schema:
    node = _resolve(raw, defs)
    if "oneOf" in node or "anyOf" in node:
        out = _union(node, defs)
    elif not node.get("type") and "enum" not in node and "const" not in node:
        out = dict(_PRESERVE)  # JsonValue / Any: any JSON at all
    else:
        out = _plain(node, defs)
    description = _description(node)
    if description:
        out["description"] = description
    return _ordered(out)


def _description(node: Schema) -> str:
    # The shared models say "None: <meaning>"; a YAML author leaves the field out instead.
    text = str(node.get("description", "")).strip().replace("None: ", "Unset: ")
    default = node.get("default")
    if default not in (None, [], {}, "") and "default" in node:
        shown = default if isinstance(default, str) else json.dumps(default)
        shown = shown if shown.endswith(".") else f"{shown}."
        text = f"{text} Default: {shown}" if text else f"Default: {shown}"
    return text


def _plain(node: Schema, defs: Schema) -> Schema:
    out: Schema = {k: v for k, v in node.items() if k in _KEPT or k.startswith("x-kubernetes-")}
    if "const" in node:
        out["enum"] = [node["const"]]
    out.pop("description", None)
    for bound in ("Minimum", "Maximum"):
        exclusive = node.get(f"exclusive{bound}")
        if exclusive is not None:
            out[bound.lower()] = exclusive
            out[f"exclusive{bound}"] = True
    if "properties" in node:
        out["properties"] = {k: _convert(v, defs) for k, v in node["properties"].items()}
        out.pop("additionalProperties", None)  # structural schemas allow one or the other
    elif isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = _convert(node["additionalProperties"], defs)
    elif "patternProperties" in node:
        out.update(_keyed_map(node, defs))
    elif out.get("type") == "object" and "additionalProperties" not in node:
        out.update(_PRESERVE)
    if "items" in node:
        out["items"] = _convert(node["items"], defs)
    if node.get("uniqueItems"):
        out.setdefault("x-kubernetes-list-type", "set")
    return out


def _keyed_map(node: Schema, defs: Schema) -> Schema:
    """A map whose keys must match a pattern: `additionalProperties` plus CEL on the keys."""
    ((pattern, value),) = node["patternProperties"].items()
    rules = [cel(f"self.all(k, k.matches('{pattern}'))", f"every key must match {pattern}")]
    longest = node.get("propertyNames", {}).get("maxLength")
    if longest is not None:
        rules.append(cel(f"self.all(k, size(k) <= {longest})", f"keys are {longest} long at most"))
    existing = node.get("x-kubernetes-validations", [])
    return {
        "additionalProperties": _convert(value, defs),
        "x-kubernetes-validations": [*rules, *existing],
    }


def _ordered(out: Schema) -> Schema:
    """Description and type first, then the rest as built: easier to read in YAML."""
    head: Schema = {k: out[k] for k in ("description", "type") if k in out}
    return {**head, **{k: v for k, v in out.items() if k not in head}}


def _union(node: Schema, defs: Schema) -> Schema:
    options: list[Schema] = node.get("oneOf") or node.get("anyOf") or []
    branches = [_resolve(b, defs) for b in options]
    nullable = any(b.get("type") == "null" for b in branches)
    branches = [b for b in branches if b.get("type") != "null"]
    if len(branches) == 1:
        out = _convert({**branches[0], "description": node.get("description", "")}, defs)
    elif {b.get("type") for b in branches} == {"integer", "string"}:
        out = {"x-kubernetes-int-or-string": True}
    elif "discriminator" in node:
        out = _merge_variants(branches, node["discriminator"]["propertyName"], defs)
    elif len({b.get("type") for b in branches}) == 1 and branches[0].get("type") != "object":
        converted = [_convert(b, defs) for b in branches]
        out = {"type": branches[0]["type"]}
        out["anyOf"] = [{k: v for k, v in c.items() if k not in _BRANCH_DROPS} for c in converted]
    else:
        out = dict(_PRESERVE)  # mixed shapes (e.g. str | SecretRef); the models validate them
    out.pop("description", None)
    if nullable:
        out["nullable"] = True
    return out


def _merge_variants(branches: list[Schema], tag: str, defs: Schema) -> Schema:
    properties: Schema = {}
    tags: list[str] = []
    rules: list[Schema] = []
    for branch in branches:
        value = branch["properties"][tag].get("const")
        tags.append(value)
        for name, prop in branch["properties"].items():
            if name != tag:  # defaults differ per variant, so none is named
                properties.setdefault(name, _convert(_without_default(prop), defs))
        needed = sorted(set(branch.get("required") or []) - {tag})
        if needed:
            checks = " && ".join(f"has(self.{name})" for name in needed)
            message = f"{tag} '{value}' requires {', '.join(needed)}"
            rules.append(cel(f"self.{tag} != '{value}' || ({checks})", message))
    properties[tag] = {"description": "Which variant this is.", "type": "string", "enum": tags}
    out: Schema = {"type": "object", "required": [tag], "properties": properties}
    if rules:
        out["x-kubernetes-validations"] = rules
    return out


def _without_default(node: Schema) -> Schema:
    return {k: v for k, v in node.items() if k != "default"}


def _root_schema(resource: CustomResource) -> Schema:
    spec = structural_schema(resource.spec.model_json_schema(by_alias=True))
    status = structural_schema(resource.status.model_json_schema(by_alias=True))
    return {
        "type": "object",
        "description": resource.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion, `ori.dev/v1alpha1`."},
            "kind": {"type": "string", "description": f"Kind, `{resource.kind}`."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def render_crd(resource: CustomResource) -> Schema:
    """Render one kind's CustomResourceDefinition.

    Args:
        resource: The kind's description (`BOT`, `CAMPAIGN`, `FLEETPOOL`).

    Returns:
        The `apiextensions.k8s.io/v1` CustomResourceDefinition, ready to dump as YAML.
    """
    subresources: Schema = {"status": {}}
    if resource.scale is not None:
        subresources["scale"] = {
            "specReplicasPath": resource.scale.spec_replicas_path,
            "statusReplicasPath": resource.scale.status_replicas_path,
            "labelSelectorPath": resource.scale.label_selector_path,
        }
    version: Schema = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "subresources": subresources,
        "additionalPrinterColumns": [c.render() for c in resource.printer_columns],
        "schema": {"openAPIV3Schema": _root_schema(resource)},
    }
    names: Schema = {
        "kind": resource.kind,
        "listKind": f"{resource.kind}List",
        "plural": resource.plural,
        "singular": resource.singular,
        "shortNames": list(resource.short_names),
        "categories": list(resource.categories),
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": resource.crd_name,
            "labels": {"app.kubernetes.io/name": "ori", "app.kubernetes.io/part-of": "ori"},
            "annotations": {
                "ori.dev/generated-by": "tools/gen_crds.py",
                "ori.dev/api": API_VERSION,
            },
        },
        "spec": {"group": GROUP, "scope": "Namespaced", "names": names, "versions": [version]},
    }
