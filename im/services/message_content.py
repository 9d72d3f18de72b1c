"""What a message carries: one pydantic shape per content type, said once, and the checks that read.

The operation's parameter models (im.operations.messages) are built from these shapes, so a send over
REST or a socket is refused by its schema before it reaches a service; a caller of the services that
passes raw JSON gets it checked against the same shapes here. What needs the database (the quoted
message, the upload behind a url) and the size as stored are checked when the message is stored.
"""

import json
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError
from sqlalchemy import select

from .. import errors
from ..models import Message
from ..validation import StrictModel
from . import conversations, uploads
from .context import Context

TEXT, PICTURE, FILE, AT_TEXT, CUSTOM, TYPING, QUOTE = 101, 102, 105, 106, 110, 113, 114
CONTENT_TYPES = (TEXT, PICTURE, FILE, AT_TEXT, CUSTOM, QUOTE)
MAX_TEXT = 10_000
BLANK = " \t\r\n\f\v"  # a text of only these is blank (the same set the published schema uses)
MAX_CONTENT_BYTES = 64 * 1024
MAX_AT_USERS = 1000

# Not only blanks: the pattern says so in the published schema too.
NonBlankText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=r"[^ \t\r\n\f\v]")]
FileUrl = Annotated[str, StringConstraints(pattern=r"^/api/files/[0-9a-f]{32}$")]
MentionedId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]  # a user id, or AtAllTag


class Shape(StrictModel):
    """Base of the content shapes: unknown keys and type coercion are refused, as in every parameter."""


class TextContent(Shape):
    text: NonBlankText


class AtTextContent(Shape):
    text: NonBlankText
    at_user_ids: Annotated[list[MentionedId], Field(min_length=1, max_length=MAX_AT_USERS)]


class QuoteContent(Shape):
    text: NonBlankText
    quote_seq: Annotated[int, Field(ge=1)]


class FileContent(Shape):
    """The url of an upload; the server fills in the rest from the upload itself."""

    url: FileUrl
    name: Annotated[str, StringConstraints(max_length=255)] | None = None
    size: Annotated[int, Field(ge=0)] | None = None
    width: Annotated[int, Field(ge=0)] | None = None
    height: Annotated[int, Field(ge=0)] | None = None
    mime_type: Annotated[str, StringConstraints(max_length=100)] | None = None


class CustomContent(Shape):
    data: Any


SHAPES: dict[int, type[Shape]] = {
    TEXT: TextContent,
    PICTURE: FileContent,
    FILE: FileContent,
    AT_TEXT: AtTextContent,
    CUSTOM: CustomContent,
    QUOTE: QuoteContent,
}


def shape_of(content_type: int, content: object) -> Shape:
    """The content as the shape of its type (already one: as it is), or ContentInvalid."""
    shape = SHAPES.get(content_type)
    if shape is None:
        if content_type == TYPING:
            raise errors.ContentInvalid("typing (113) is sent with typing_status_update, never stored")
        raise errors.ContentInvalid(f"unknown content_type {content_type}; one of {list(CONTENT_TYPES)}")
    if isinstance(content, shape):
        return content
    if not isinstance(content, dict):
        raise errors.ContentInvalid("content must be a JSON object")
    try:
        return shape.model_validate(content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in ("content", *first["loc"]))
        raise errors.ContentInvalid(f"{where}: {first['msg']}") from None


@dataclass(frozen=True)
class Stored:
    """A message's content as stored, the text search finds it by, and the uploads it carries."""

    content: dict[str, Any]
    search_text: str
    file_ids: list[str]


def to_store(ctx: Context, sender_id: str, conversation_id: str, content_type: int, shape: Shape) -> Stored:
    """The checks that read (the quoted message, the upload) and the stored size, or the IMError."""
    given = shape.model_dump(exclude_unset=True)
    if len(json.dumps(given, ensure_ascii=False).encode()) > MAX_CONTENT_BYTES:
        raise errors.ContentInvalid(f"content is larger than {MAX_CONTENT_BYTES} bytes")
    if isinstance(shape, TextContent):
        return Stored(given, shape.text, [])
    if isinstance(shape, AtTextContent):
        # Measured as given, stored once each in the order first named.
        return Stored({"text": shape.text, "at_user_ids": list(dict.fromkeys(shape.at_user_ids))}, shape.text, [])
    if isinstance(shape, CustomContent):
        return Stored(given, "", [])
    if isinstance(shape, QuoteContent):
        quoted = ctx.session.scalar(
            select(Message.id).where(Message.conversation_id == conversation_id, Message.seq == shape.quote_seq)
        )
        if quoted is None or not _may_read_seq(ctx, sender_id, conversation_id, shape.quote_seq):
            raise errors.MessageNotFound("content.quote_seq is not a message of this conversation")
        return Stored(given, shape.text, [])
    assert isinstance(shape, FileContent)
    upload = uploads.from_url(ctx, shape.url, for_message=True)
    if upload is None or not uploads.may_access(ctx, sender_id, upload):
        raise errors.FileNotFound("content.url is not a file you uploaded or can see")
    if content_type == PICTURE and not upload.is_picture:
        raise errors.ContentInvalid("content.url is not a picture")
    return Stored(uploads.describe(upload), upload.name, [upload.file_id])


def _may_read_seq(ctx: Context, user_id: str, conversation_id: str, seq: int) -> bool:
    try:
        r = conversations.readable(ctx, user_id, conversation_id)
    except errors.ConversationNotFound:
        return False
    return r.min_seq <= seq <= r.max_seq
