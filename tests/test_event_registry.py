"""docs/protocol.md's event tables and both SDKs' lists of handled events say what im.event_types declares."""

import re
from pathlib import Path

from im import event_types
from tests.support.js_sdk import js_sdk_exports

PROTOCOL = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def event_tables(text: str) -> list[tuple[str, dict[str, dict[str, str]]]]:
    """Each table whose first column is `type` (event-log types) or `event` (socket events), as
    (that heading, {name: {column: cell}}); a row may name several events (`a` / `b`)."""
    tables = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        head = _cells(line) if line.startswith("|") else []
        if not head or head[0] not in ("type", "event") or i + 1 >= len(lines) or not lines[i + 1].startswith("|-"):
            continue
        if i > 0 and lines[i - 1].startswith("|"):
            continue  # not a heading row
        rows: dict[str, dict[str, str]] = {}
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            cells = _cells(row)
            for name in re.findall(r"`([a-z0-9_]+)`", cells[0]):
                assert name not in rows, f"{name} twice in one table"
                rows[name] = dict(zip(head, cells, strict=True))
        tables.append((head[0], rows))
    return tables


def _documented(heading: str) -> dict[str, dict[str, str]]:
    """The rows of every table of this heading but those that only map events to SDK callbacks."""
    found: dict[str, dict[str, str]] = {}
    for head, rows in event_tables(PROTOCOL):
        for name, row in rows.items():
            if head != heading or ("data" not in row and "payload" not in row):
                continue
            assert name not in found, f"{name} is in two event tables"
            found[name] = row
    return found


def test_the_protocols_event_log_tables_are_the_declared_logged_events():
    documented = _documented("type")
    assert set(documented) == set(event_types.logged_types())
    for name, row in documented.items():
        audience = event_types.EVENTS[name].audience
        assert audience in row["who hears it"], f"{name}: the protocol does not say it reaches {audience!r}"


def test_the_protocols_socket_event_table_is_every_socket_event_the_server_sends():
    documented = _documented("event")
    assert list(documented) == event_types.socket_events()
    for name, row in documented.items():
        if name != event_types.ENVELOPE:
            audience = event_types.EVENTS[name].audience
            assert audience in row["who hears it"], f"{name}: the protocol does not say it reaches {audience!r}"


def test_the_table_reader_sees_a_misdocumented_event():
    doc = PROTOCOL.replace("| `group_dismissed` |", "| `group_disbanded` |")
    names = {name for head, rows in event_tables(doc) if head == "type" for name in rows}
    assert "group_disbanded" in names and "group_dismissed" not in names


def test_the_python_sdk_routes_exactly_the_logged_events():
    import im.sdk  # noqa: F401  (each feature module adds its routes on import)
    from im.sdk.groups import APPLICATION_BATCHES
    from im.sdk.listeners import EVENT_ROUTES

    assert not set(EVENT_ROUTES) & set(APPLICATION_BATCHES)
    assert set(EVENT_ROUTES) | set(APPLICATION_BATCHES) == set(event_types.logged_types())


def test_the_js_sdk_handles_exactly_the_declared_events():
    handled = js_sdk_exports()["HANDLED_EVENTS"]
    assert sorted(handled["socket"]) == sorted(event_types.socket_events())
    assert len(handled["log"]) == len(set(handled["log"]))
    assert set(handled["log"]) == set(event_types.logged_types())


def test_both_sdks_route_each_logged_event_to_the_same_callback():
    import im.sdk  # noqa: F401
    from im.sdk.listeners import EVENT_ROUTES

    js = js_sdk_exports()["EVENT_ROUTES"]
    slots = {"message": "advancedMsg"}  # the JS SDK's name of the message listener, as OpenIM's
    for name, (slot, method) in EVENT_ROUTES.items():
        camel = "on" + "".join("C2C" if w == "c2c" else w.title() for w in method[3:].split("_"))
        assert js[name] == [slots.get(slot, slot), camel], name
