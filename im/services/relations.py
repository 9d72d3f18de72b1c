"""Questions other features ask about the friend graph (messages, groups)."""

from ..extensions import db
from ..models import Black


def is_blacklisted(owner_id: str, other_id: str) -> bool:
    """Has owner_id put other_id on their blacklist?"""
    return db.session.get(Black, (owner_id, other_id)) is not None
