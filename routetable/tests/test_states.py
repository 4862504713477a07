import pytest

from routetable import Mode, RouteState, Snapshot


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("monolith", RouteState(Mode.MONOLITH)),
        ("Shadow", RouteState(Mode.SHADOW)),
        ("extracted", RouteState(Mode.EXTRACTED)),
        ("canary 25", RouteState(Mode.CANARY, 25)),
        ("canary:0", RouteState(Mode.CANARY, 0)),
        ("canary 100", RouteState(Mode.CANARY, 100)),
    ],
)
def test_parse_reads_every_state(text: str, expected: RouteState) -> None:
    assert RouteState.parse(text) == expected
    assert RouteState.parse(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("sideways", "unknown route state"),
        ("canary", "whole percent"),
        ("canary 101", "0..100"),
        ("canary ten", "whole percent"),
        ("extracted 5", "takes no argument"),
    ],
)
def test_parse_rejects_bad_states_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RouteState.parse(text)


def test_json_round_trip() -> None:
    state = RouteState(Mode.CANARY, 40)
    assert RouteState.from_json(state.to_json()) == state


def test_snapshot_defaults_absent_routes_to_the_monolith_and_is_read_only() -> None:
    snap = Snapshot(version=3, states={"payments": RouteState(Mode.EXTRACTED)})
    assert snap.get("inventory") == RouteState(Mode.MONOLITH)
    with pytest.raises(TypeError):
        snap.states["x"] = RouteState()  # type: ignore[index]
