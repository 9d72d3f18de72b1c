"""Questions other features ask about the friend graph (messages, groups)."""

from ..models import Black
from .context import Context


def is_blacklisted(ctx: Context, owner_id: str, other_id: str) -> bool:
    """Has owner_id put other_id on their blacklist?"""
    return ctx.session.get(Black, (owner_id, other_id)) is not None
