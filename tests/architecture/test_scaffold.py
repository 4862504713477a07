"""The extracted services' apps are what the monolith's apps generate (no hand edits)."""

import pytest

from extracted import scaffold


@pytest.mark.parametrize("context", scaffold.CONTEXTS)
def test_generated_service_app_matches_the_monolith(context):
    problems = scaffold.check(context)
    assert not problems, "run `carve extract scaffold` to regenerate:\n" + "\n".join(
        f"{d.path.relative_to(scaffold.REPO)}: {d.problem}" for d in problems
    )


def test_a_hand_edit_of_a_generated_file_is_found(tmp_path, monkeypatch):
    generated = scaffold.target_dir("payments") / "services.py"
    copy = tmp_path / "services.py"
    copy.write_text(generated.read_text() + "\n# a hand edit\n")
    monkeypatch.setattr(scaffold, "target_dir", lambda context: tmp_path)
    monkeypatch.setattr(scaffold, "expected", lambda context: {copy: generated.read_text()})
    assert [(d.path.name, d.problem) for d in scaffold.check("payments")] == [
        ("services.py", "stale")
    ]
