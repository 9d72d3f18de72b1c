"""Answers bounded in bytes as well as in count: a page stops before the item that would take its
encoded size past IM_MAX_ANSWER_BYTES, but always holds at least one item, so that paging advances."""

import json
from collections.abc import Iterable
from typing import Any, TypeVar

from .context import Context

T = TypeVar("T")


def encoded_size(item: Any) -> int:
    """The item's size as JSON on the wire (both transports escape non-ASCII, so count it escaped)."""
    return len(json.dumps(item, separators=(",", ":"), default=str))


class Budget:
    """The bytes a page may still take."""

    def __init__(self, ctx: Context, limit: int | None = None, answers: int = 1) -> None:
        """`limit` bytes, or `answers` times IM_MAX_ANSWER_BYTES (an answer allowed to be larger)."""
        self.left = ctx.settings.max_answer_bytes * answers if limit is None else limit
        self.taken = 0

    def fits(self, item: Any) -> bool:
        """Count the item in if it fits what is left (the first one always does)."""
        size = encoded_size(item)
        if self.taken and size > self.left:
            return False
        self.left -= size
        self.taken += 1
        return True


def take(ctx: Context, items: Iterable[T], limit: int | None = None) -> tuple[list[T], bool]:
    """(the leading items that fit one page, whether the page was cut by bytes)."""
    budget = Budget(ctx, limit)
    page: list[T] = []
    for item in items:
        if not budget.fits(item):
            return page, True
        page.append(item)
    return page, False
