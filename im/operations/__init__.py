"""Public operations; importing this package declares them all."""

from . import accounts, conversations, friends, groups, messages
from .registry import OPERATIONS, Caller, execute, operation

__all__ = ["OPERATIONS", "Caller", "accounts", "conversations", "execute", "friends", "groups", "messages", "operation"]
