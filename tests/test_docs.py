"""docs/protocol.md documents every operation the server declares."""

from pathlib import Path

from im.operations import OPERATIONS

PROTOCOL = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()


def test_every_operation_is_documented():
    missing = [name for name in OPERATIONS if f"`{name}`" not in PROTOCOL]
    assert not missing, f"undocumented operations: {missing}"


def test_every_error_code_is_documented():
    from im.errors import ALL_ERRORS

    missing = [cls.__name__ for cls in ALL_ERRORS if str(cls.code) not in PROTOCOL]
    assert not missing, f"undocumented error codes: {missing}"


def test_every_event_type_the_sdks_route_is_documented_and_routed_by_both():
    import re

    import im.sdk  # noqa: F401  (each feature module adds its routes on import)
    from im.sdk.listeners import EVENT_ROUTES

    missing = [t for t in EVENT_ROUTES if f"`{t}`" not in PROTOCOL]
    assert not missing, f"undocumented event types: {missing}"
    js = (Path(__file__).resolve().parents[1] / "static" / "js" / "im-sdk.js").read_text()
    block = re.search(r"const ROUTED_TYPES = \{(.*?)\n\};", js, re.S).group(1)
    js_types = set(re.findall(r'"([a-z0-9_]+)"', block))
    assert set(EVENT_ROUTES) <= js_types, f"not routed by the JS SDK: {set(EVENT_ROUTES) - js_types}"


def test_group_member_notices_are_read_alike_by_both_sdks_and_documented():
    import re

    from im.sdk.groups import MEMBER_NOTICES

    js = (Path(__file__).resolve().parents[1] / "static" / "js" / "im-sdk.js").read_text()
    block = re.search(r"export const MEMBER_NOTICES = Object.freeze\(\{(.*?)\}\);", js, re.S).group(1)
    js_map = {int(t): cb for t, cb in re.findall(r'(\d+): "(\w+)"', block)}
    camel = {t: "on" + "".join(w.title() for w in cb[3:].split("_")) for t, cb in MEMBER_NOTICES.items()}
    assert js_map == camel
    section = PROTOCOL.split("#### Member changes reach members through notices", 1)[1].split("\n### ", 1)[0]
    for content_type, callback in MEMBER_NOTICES.items():
        assert str(content_type) in section and f"`{callback}`" in section and f"`{camel[content_type]}`" in section
