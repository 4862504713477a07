"""The published event schemas: in step with the code, append-only, never reused."""

import json
import shutil

from contracts import export
from contracts.events import Event
from contracts.registry import EVENT_CLASSES, REGISTRY, routing_key, schema_filename


def test_code_and_published_schemas_agree():
    assert export.check_drift() == []


def test_every_event_names_its_context_and_aggregate_consistently():
    for cls in EVENT_CLASSES:
        context, name = cls.TYPE.split(".")
        assert name[0].isupper()
        if cls.KIND == "event":
            assert cls.AGGREGATE.startswith(f"{context}."), cls
        else:
            assert cls.KIND == "command" and cls.AGGREGATE == "orders.saga", cls
        assert routing_key(cls.TYPE) == cls.TYPE
        assert REGISTRY[cls.TYPE][cls.VERSION] is cls


def test_each_published_file_is_the_schema_of_its_name_and_version():
    for path in export.SCHEMA_DIR.glob("*.json"):
        schema = json.loads(path.read_text())
        event_type, version = schema["$id"].removeprefix("carve:").rsplit(":v", 1)
        assert path.name == f"{event_type}.v{version}.json"
        assert event_type in REGISTRY and int(version) in REGISTRY[event_type]


def test_changing_a_published_schema_is_refused_and_reported(tmp_path):
    published = tmp_path / "schemas"
    shutil.copytree(export.SCHEMA_DIR, published)
    victim = published / schema_filename(EVENT_CLASSES[0])
    altered = json.loads(victim.read_text())
    altered["properties"]["nickname"] = {"type": "string"}
    victim.write_text(json.dumps(altered))

    written, refused = export.export(published)
    assert written == [] and refused == [victim.name]
    assert json.loads(victim.read_text())["properties"]["nickname"]  # left as published
    assert any("never changes" in problem for problem in export.check_drift(published))


def test_a_name_reused_for_a_different_schema_is_caught(tmp_path, monkeypatch):
    published = tmp_path / "schemas"
    shutil.copytree(export.SCHEMA_DIR, published)
    original = EVENT_CLASSES[0]

    class Impostor(Event):  # same name and version, other fields
        TYPE = original.TYPE
        VERSION = original.VERSION
        AGGREGATE = original.AGGREGATE
        something_else: int

    monkeypatch.setattr(export, "EVENT_CLASSES", (Impostor, *EVENT_CLASSES[1:]))
    problems = export.check_drift(published)
    assert problems == [
        f"{schema_filename(original)}: the code's schema differs from the "
        "published one; a published schema never changes: add a new version "
        "(e.g. ...V2) instead"
    ]
    assert export.export(published) == ([], [schema_filename(original)])


def test_a_removed_event_type_is_reported(tmp_path):
    published = tmp_path / "schemas"
    shutil.copytree(export.SCHEMA_DIR, published)
    (published / "orders.OrderShipped.v1.json").write_text("{}")
    assert any("no longer registered" in p for p in export.check_drift(published))


def test_export_writes_new_versions_only(tmp_path):
    written, refused = export.export(tmp_path)
    assert sorted(written) == sorted(schema_filename(cls) for cls in EVENT_CLASSES)
    assert export.export(tmp_path) == ([], [])
