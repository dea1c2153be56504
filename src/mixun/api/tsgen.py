"""TypeScript types for the web client, generated from the OpenAPI document (web/src/api-types.ts).

    PYTHONPATH=src .venv/bin/python -m mixun.api.tsgen            # rewrite web/src/api-types.ts
    PYTHONPATH=src .venv/bin/python -m mixun.api.tsgen --check    # exit 1 when the file is stale

Every schema of ``components`` becomes one exported type: the response models (api/models.py), the
request bodies, ``Error``, and the WebSocket frames with ``Frame`` their union (discriminated by
``type``). tests/unit/test_api_types.py fails when the committed file differs from a fresh generation,
so a change of a model without regenerating fails the suite (docs/api.md).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[3] / "web" / "src" / "api-types.ts"
HEADER = ("// Generated from the OpenAPI document by `python -m mixun.api.tsgen` (src/mixun/api/tsgen.py): do not edit.\n"
          "// The server's response models are in src/mixun/api/models.py; docs/api.md says how this file is kept true.\n")
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def document() -> dict[str, Any]:
    """The document the server serves (built from a throw-away configuration: it holds no data)."""
    from mixun.api.app import create_app
    from mixun.config import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        return create_app(load_settings({"MIXUN_DATA_DIR": tmp})).openapi()


def _key(name: str) -> str:
    return name if _IDENT.match(name) else json.dumps(name)


def ts_type(schema: dict[str, Any], indent: str = "") -> str:
    """The TypeScript for one JSON schema."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(ts_type(s, indent) for s in schema[key]))
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(ts_type({**schema, "type": k}, indent) for k in kind)
    if kind in ("integer", "number"):
        return "number"
    if kind in ("string", "boolean", "null"):
        return str(kind)
    if kind == "array":
        item = ts_type(schema.get("items", {}), indent)
        return f"({item})[]" if "|" in item or "{" in item else f"{item}[]"
    if kind == "object" or "properties" in schema:
        return _object(schema, indent)
    return "unknown"


def _object(schema: dict[str, Any], indent: str) -> str:
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    if not props:
        if isinstance(extra, dict) and extra:
            return f"{{ [key: string]: {ts_type(extra, indent)} }}"
        return "{ [key: string]: unknown }"
    inner = indent + "  "
    required = set(schema.get("required", []))
    lines = []
    for name, sub in props.items():
        doc = sub.get("description")
        if doc:
            lines.append(f"{inner}/** {_comment(doc)} */")
        lines.append(f"{inner}{_key(name)}{'' if name in required else '?'}: {ts_type(sub, inner)};")
    if extra is True or (isinstance(extra, dict) and extra):
        lines.append(f"{inner}[key: string]: unknown;")
    return "{\n" + "\n".join(lines) + f"\n{indent}}}"


def _comment(text: str) -> str:
    return " ".join(text.replace("*/", "* /").split())


def render(doc: dict[str, Any]) -> str:
    schemas = doc.get("components", {}).get("schemas", {})
    parts = [HEADER]
    for name in sorted(schemas):
        schema = schemas[name]
        if schema.get("description"):
            parts.append(f"/** {_comment(schema['description'])} */")
        parts.append(f"export type {name} = {ts_type(schema)};\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render(document())
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{OUT} is stale: run python -m mixun.api.tsgen\n")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
