"""Questions other features ask about the friend graph (messages, groups)."""
from ..extensions import db
from ..models import Black, Friend


def is_blacklisted(owner_id: str, other_id: str) -> bool:
    """Has owner_id put other_id on their blacklist?"""
    return db.session.get(Black, (owner_id, other_id)) is not None


def has_friend(owner_id: str, friend_id: str) -> bool:
    """Is friend_id in owner_id's friend list?"""
    return db.session.get(Friend, (owner_id, friend_id)) is not None
