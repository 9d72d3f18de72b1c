"""docs/protocol.md documents every operation the server declares."""

from pathlib import Path

from im.operations import OPERATIONS
from tests.support.js_sdk import js_sdk_exports

PROTOCOL = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()


def test_every_operation_is_documented():
    missing = [name for name in OPERATIONS if f"`{name}`" not in PROTOCOL]
    assert not missing, f"undocumented operations: {missing}"


def test_every_error_code_is_documented():
    from im.errors import ALL_ERRORS

    missing = [cls.__name__ for cls in ALL_ERRORS if str(cls.code) not in PROTOCOL]
    assert not missing, f"undocumented error codes: {missing}"


def test_every_event_type_the_sdks_route_is_documented_and_routed_by_both():
    import im.sdk  # noqa: F401  (each feature module adds its routes on import)
    from im.sdk.listeners import EVENT_ROUTES

    missing = [t for t in EVENT_ROUTES if f"`{t}`" not in PROTOCOL]
    assert not missing, f"undocumented event types: {missing}"
    js_types = set(js_sdk_exports()["EVENT_ROUTES"])
    assert set(EVENT_ROUTES) <= js_types, f"not routed by the JS SDK: {set(EVENT_ROUTES) - js_types}"


def test_group_member_notices_are_read_alike_by_both_sdks_and_documented():
    from im.sdk.groups import MEMBER_NOTICES

    js_map = {int(t): cb for t, cb in js_sdk_exports()["MEMBER_NOTICES"].items()}
    camel = {t: "on" + "".join(w.title() for w in cb[3:].split("_")) for t, cb in MEMBER_NOTICES.items()}
    assert js_map == camel
    section = PROTOCOL.split("#### Member changes reach members through notices", 1)[1].split("\n### ", 1)[0]
    for content_type, callback in MEMBER_NOTICES.items():
        assert str(content_type) in section and f"`{callback}`" in section and f"`{camel[content_type]}`" in section
