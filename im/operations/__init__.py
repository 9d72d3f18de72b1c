"""Public operations; importing this package declares them all."""

from . import accounts, conversations, friends, groups, messages  # noqa: F401
from .registry import OPERATIONS, Caller, execute, operation  # noqa: F401
