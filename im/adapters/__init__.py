"""The only places that reach into a library's private code: one module per library.

Each module names the release it was written for (`TARGETS`, the pins of requirements.txt) and what
of the library it relies on; tests/test_adapters.py checks the installed versions and every relied-on
internal, and fails with what to re-read when an upgrade changes either.
"""

from importlib import metadata


def installed(targets: dict[str, str]) -> dict[str, str]:
    """The installed version of each distribution in `targets`."""
    return {name: metadata.version(name) for name in targets}
