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
