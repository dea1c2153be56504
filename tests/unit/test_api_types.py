"""web/src/api-types.ts is what the OpenAPI document generates (python -m mixun.api.tsgen): a model
changed without regenerating the client's types fails here."""

from __future__ import annotations

from mixun.api import tsgen


def test_committed_types_are_the_generated_ones() -> None:
    fresh = tsgen.render(tsgen.document())
    assert tsgen.OUT.read_text(encoding="utf-8") == fresh, "run: PYTHONPATH=src .venv/bin/python -m mixun.api.tsgen"


def test_frames_are_a_union_discriminated_by_type() -> None:
    text = tsgen.render(tsgen.document())
    assert "export type Frame = HelloFrame | PongFrame | ErrorFrame | MessageFrame" in text
    assert 'type: "message.created" | "message.edited";' in text
    assert "export type Message = {" in text and "  urgent_recipients?: UrgentRecipient[];" in text


def test_schema_to_typescript() -> None:
    assert tsgen.ts_type({"anyOf": [{"type": "integer"}, {"type": "null"}]}) == "number | null"
    assert tsgen.ts_type({"type": "array", "items": {"enum": ["a", "b"]}}) == '("a" | "b")[]'
    assert tsgen.ts_type({"type": "object", "additionalProperties": {"type": "string"}}) == "{ [key: string]: string }"
    assert tsgen.ts_type({"type": "object", "properties": {"a-b": {"type": "boolean"}}, "required": []}) == '{\n  "a-b"?: boolean;\n}'


def test_no_two_models_share_a_name() -> None:
    """Two classes of one name (a model declared twice, or two request bodies called alike) make pydantic
    qualify both component names with their modules (``mixun__api__models_org__Departure``), which then
    leak into the client's type names: one builder, one model (ADR 0018)."""
    names = list(tsgen.document().get("components", {}).get("schemas", {}))
    assert names and not [n for n in names if n.startswith("mixun__")]
