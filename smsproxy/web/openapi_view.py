"""An OpenAPI 3.1 document (as quart-schema builds it) turned into what a reference page
shows: operations with their parameters, request fields and responses, and the named
response shapes. Nested objects become dotted rows (`participants[].number`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

Schema = dict[str, Any]
REF_PREFIX = "#/components/schemas/"
# Deeper than any shape here; stops a schema that refers to itself.
MAX_DEPTH = 6


@dataclass
class FieldDoc:
    name: str
    type: str
    required: bool
    description: str = ""
    constraints: list[str] = field(default_factory=list)
    default: str | None = None


@dataclass
class ResponseDoc:
    status: str
    reason: str
    description: str
    shape: str | None

    @property
    def shape_anchor(self) -> str:
        return anchor_of("shape", self.shape or "")


@dataclass
class OperationDoc:
    method: str
    path: str
    group: str  # the resource: `chats` for /api/v1/chats/{chat_id}
    anchor: str
    summary: str
    description: str
    secured: bool
    path_parameters: list[FieldDoc]
    query_parameters: list[FieldDoc]
    header_parameters: list[FieldDoc]
    body_shape: str | None
    body_fields: list[FieldDoc] | None
    body_closed: bool  # unknown fields are refused
    responses: list[ResponseDoc]


@dataclass
class ShapeDoc:
    name: str
    anchor: str
    description: str
    fields: list[FieldDoc]


@dataclass
class ApiDoc:
    title: str
    version: str
    operations: list[OperationDoc]
    shapes: list[ShapeDoc]
    security: list[str]  # how to authenticate, one line per scheme

    def groups(self) -> list[tuple[str, list[OperationDoc]]]:
        grouped: dict[str, list[OperationDoc]] = {}
        for operation in self.operations:
            grouped.setdefault(operation.group, []).append(operation)
        return list(grouped.items())


def anchor_of(*parts: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", "-".join(parts).lower()).strip("-")


class Reader:
    def __init__(self, spec: Schema) -> None:
        self.spec = spec
        self.components: dict[str, Schema] = spec.get("components", {}).get("schemas", {})
        self.shapes: dict[str, Schema] = {}

    def resolve(self, schema: Schema) -> tuple[Schema, str | None]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            name = ref.removeprefix(REF_PREFIX)
            return self.components.get(name, {}), name
        return schema, None

    def type_of(self, schema: Schema) -> str:
        """A type as a person reads it: `string (date-time) or null`, `array of ChatOut`."""
        schema, name = self.resolve(schema)
        variants = schema.get("anyOf") or schema.get("oneOf")
        if variants:
            kinds = [self.type_of(v) for v in variants]
            names = [k for k in kinds if k != "null"]
            return " or ".join(names + (["null"] if len(names) < len(kinds) else []))
        if "enum" in schema:
            return " | ".join(json.dumps(v) for v in schema["enum"])
        kind = schema.get("type", "any")
        if kind == "array":
            return f"array of {self.type_of(schema.get('items', {}))}"
        if kind == "object" or "properties" in schema:
            return str(name or schema.get("title") or "object")
        if "format" in schema:
            return f"{kind} ({schema['format']})"
        return str(kind)

    def fields(self, schema: Schema, prefix: str = "", depth: int = 0) -> list[FieldDoc]:
        """One row per property; an object's (or array of objects') properties follow
        it as `name.child` (or `name[].child`)."""
        schema, _ = self.resolve(schema)
        required = set(schema.get("required", []))
        rows = []
        for name, prop in schema.get("properties", {}).items():
            rows.append(self.field(prefix + name, prop, name in required))
            nested, suffix = self.nested_object(prop)
            if nested is not None and depth < MAX_DEPTH:
                rows += self.fields(nested, f"{prefix}{name}{suffix}.", depth + 1)
        return rows

    def nested_object(self, schema: Schema) -> tuple[Schema | None, str]:
        schema, _ = self.resolve(schema)
        for variant in schema.get("anyOf") or schema.get("oneOf") or [schema]:
            variant, _ = self.resolve(variant)
            if variant.get("type") == "array":
                inner, _ = self.resolve(variant.get("items", {}))
                if "properties" in inner:
                    return inner, "[]"
            elif "properties" in variant:
                return variant, ""
        return None, ""

    def field(self, name: str, schema: Schema, required: bool) -> FieldDoc:
        resolved, _ = self.resolve(schema)
        default = json.dumps(resolved["default"]) if "default" in resolved else None
        return FieldDoc(
            name=name,
            type=self.type_of(schema),
            required=required,
            description=str(resolved.get("description", "")),
            constraints=constraints_of(resolved, self),
            default=default,
        )

    def remember(self, schema: Schema) -> str | None:
        """Keep a response shape to describe once, under its name."""
        resolved, name = self.resolve(schema)
        name = name or resolved.get("title")
        if name and name not in self.shapes:
            self.shapes[name] = resolved
        return name


def constraints_of(schema: Schema, reader: Reader) -> list[str]:
    found: list[str] = []
    for variant in schema.get("anyOf") or schema.get("oneOf") or [schema]:
        variant, _ = reader.resolve(variant)
        found += _limits(variant, "minLength", "maxLength", "characters")
        found += _limits(variant, "minItems", "maxItems", "items")
        found += _limits(variant, "minimum", "maximum", "")
        if "exclusiveMinimum" in variant:
            found.append(f"more than {variant['exclusiveMinimum']}")
        if "exclusiveMaximum" in variant:
            found.append(f"less than {variant['exclusiveMaximum']}")
        if "pattern" in variant:
            found.append(f"matches {variant['pattern']}")
    return found


def _limits(schema: Schema, low_key: str, high_key: str, unit: str) -> list[str]:
    low, high = schema.get(low_key), schema.get(high_key)
    unit = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return [f"{low} to {high}{unit}"]
    if low is not None:
        return [f"at least {low}{unit}"]
    if high is not None:
        return [f"at most {high}{unit}"]
    return []


def read_spec(spec: Schema, path_prefix: str) -> ApiDoc:
    """The operations under `path_prefix`, in the document's order."""
    reader = Reader(spec)
    default_security = spec.get("security") or []
    operations = []
    for path, item in spec.get("paths", {}).items():
        if not (path == path_prefix or path.startswith(path_prefix + "/")):
            continue
        for method, op in item.items():
            group = path.removeprefix(path_prefix).strip("/").split("/")[0]
            operations.append(_operation(reader, method.upper(), path, group, op, default_security))
    shapes = [
        ShapeDoc(name, anchor_of("shape", name), str(s.get("description", "")), reader.fields(s))
        for name, s in reader.shapes.items()
    ]
    info = spec.get("info", {})
    return ApiDoc(
        title=str(info.get("title", "API")),
        version=str(info.get("version", "")),
        operations=operations,
        shapes=shapes,
        security=_security(spec),
    )


def _operation(
    reader: Reader, method: str, path: str, group: str, op: Schema, default_security: list[Any]
) -> OperationDoc:
    parameters: dict[str, list[FieldDoc]] = {"path": [], "query": [], "header": []}
    for parameter in op.get("parameters", []):
        row = reader.field(
            parameter["name"],
            parameter.get("schema", {}),
            bool(parameter.get("required", parameter.get("in") == "path")),
        )
        if parameter.get("description"):
            row.description = parameter["description"]
        parameters.setdefault(parameter.get("in", "query"), []).append(row)
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    body_schema = body.get("schema")
    resolved_body = reader.resolve(body_schema)[0] if body_schema else {}
    responses = []
    for status, response in op.get("responses", {}).items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        responses.append(
            ResponseDoc(
                status=str(status),
                reason=_reason(status),
                description=str(response.get("description", "")),
                shape=reader.remember(schema) if schema else None,
            )
        )
    return OperationDoc(
        method=method,
        path=path,
        group=group,
        anchor=anchor_of(method, path.replace("{", "").replace("}", "")),
        summary=str(op.get("summary", "")),
        description=str(op.get("description", "")),
        secured=bool(op.get("security", default_security)),
        path_parameters=parameters["path"],
        query_parameters=parameters["query"],
        header_parameters=parameters["header"],
        body_shape=(reader.resolve(body_schema)[1] or resolved_body.get("title"))
        if body_schema
        else None,
        body_fields=reader.fields(body_schema) if body_schema else None,
        body_closed=resolved_body.get("additionalProperties") is False,
        responses=responses,
    )


def _reason(status: Any) -> str:
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return ""


def _security(spec: Schema) -> list[str]:
    lines = []
    for name, scheme in spec.get("components", {}).get("securitySchemes", {}).items():
        kind = scheme.get("type")
        if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            lines.append("Authorization: Bearer <key>")
        elif kind == "apiKey":
            lines.append(f"{scheme.get('name', name)} ({scheme.get('in', 'header')})")
        else:
            lines.append(f"{name}: {kind}")
    return lines
