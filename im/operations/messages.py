"""Message operations: send, sync by seq, history, search, revoke, delete, typing."""

import logging
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, RootModel, StringConstraints, model_validator

from ..services import groups, messages, search
from ..services.context import Context
from . import runner
from .groups import GroupId
from .registry import ALONE, Caller, NoParams, Params, UserId, batch_runner, by_pair, by_user, operation

log = logging.getLogger(__name__)

# si_<user id>~<user id> or sg_<group id> (docs/protocol.md). Only the shape is checked: an id is looked up,
# never parsed, so one of the old form si_<a>_<b> is simply a conversation nobody has (1403, or left out).
ConversationId = Annotated[str, StringConstraints(pattern=r"^s[ig]_[A-Za-z0-9_.~\-]{1,129}$")]
ClientMsgId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Seq = Annotated[int, Field(ge=1)]


# Not only blanks; the same set of blanks as the service's check.
NonBlankText = Annotated[str, StringConstraints(min_length=1, max_length=messages.MAX_TEXT, pattern=r"[^ \t\r\n\f\v]")]
FileUrl = Annotated[str, StringConstraints(pattern=r"^/api/files/[0-9a-f]{32}$")]


class TextContent(Params):
    text: NonBlankText


class AtTextContent(Params):
    text: NonBlankText
    at_user_ids: Annotated[list[UserId], Field(min_length=1, max_length=messages.MAX_AT_USERS)]


class QuoteContent(Params):
    text: NonBlankText
    quote_seq: Seq


class FileContent(Params):
    """The url of an upload; the server fills in the rest from the upload itself."""

    url: FileUrl
    name: Annotated[str, StringConstraints(max_length=255)] | None = None
    size: Annotated[int, Field(ge=0)] | None = None
    width: Annotated[int, Field(ge=0)] | None = None
    height: Annotated[int, Field(ge=0)] | None = None
    mime_type: Annotated[str, StringConstraints(max_length=100)] | None = None


class CustomContent(Params):
    data: Any


class _Send(Params):
    # Exactly one target, said in the published schema too, so generated clients know it.
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["recv_id"]}, {"required": ["group_id"]}]})

    # No null in the schema: leave the other target out instead.
    recv_id: UserId = None
    group_id: GroupId = None
    client_msg_id: ClientMsgId | None = None

    @model_validator(mode="after")
    def _one_target(self):
        if (self.recv_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of recv_id and group_id")
        return self


class SendText(_Send):
    content_type: Literal[101]
    content: TextContent


class SendPicture(_Send):
    content_type: Literal[102]
    content: FileContent


class SendFile(_Send):
    content_type: Literal[105]
    content: FileContent


class SendAtText(_Send):
    content_type: Literal[106]
    content: AtTextContent


class SendCustom(_Send):
    content_type: Literal[110]
    content: CustomContent


class SendQuote(_Send):
    content_type: Literal[114]
    content: QuoteContent


SHAPES = {
    shape.model_fields["content_type"].annotation.__args__[0]: shape
    for shape in (SendText, SendPicture, SendFile, SendAtText, SendCustom, SendQuote)
}


class SendMessageParams(RootModel):
    """One shape per content type, so the published schema says exactly what each type takes."""

    root: SendText | SendPicture | SendFile | SendAtText | SendCustom | SendQuote

    @model_validator(mode="wrap")
    @classmethod
    def _shape_of_its_type(cls, data, handler):
        """Validate against the shape of the given content_type only, so errors name that shape's fields."""
        content_type = data.get("content_type") if isinstance(data, dict) else None
        if type(content_type) is not int:
            return handler(data)
        shape = SHAPES.get(content_type)
        if shape is None:
            raise ValueError(f"content_type must be one of {sorted(SHAPES)} (113 goes by typing_status_update)")
        return cls.model_construct(shape.model_validate(data))


class SeqRange(Params):
    conversation_id: ConversationId
    begin_seq: Seq
    end_seq: Seq


class PullMessagesParams(Params):
    ranges: Annotated[list[SeqRange], Field(min_length=1, max_length=messages.MAX_PULL_RANGES)]
    limit: Annotated[int, Field(ge=1, le=messages.MAX_PULL_MESSAGES)] = messages.MAX_PULL_MESSAGES


class HistoryParams(Params):
    conversation_id: ConversationId
    start_seq: Seq | None = None
    count: Annotated[int, Field(ge=1, le=100)] = 20


ContentTypes = Annotated[list[Annotated[int, Field(ge=1, le=9999)]], Field(min_length=1, max_length=16)]


# A keyword holding a control character (NUL matched every message) is refused, not searched for.
Keyword = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]


class SearchParams(Params):
    keyword: Keyword
    conversation_id: ConversationId | None = None
    # From the previous page's answer; offset paging is gone (a deep offset read every match before it).
    cursor: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}$")] | None = None
    count: Annotated[int, Field(ge=1, le=messages.MAX_SEARCH_COUNT)] = messages.MAX_SEARCH_COUNT
    send_id: UserId | None = None
    content_types: ContentTypes | None = None
    start_time: Annotated[int, Field(ge=0, le=search.MAX_TIME)] | None = None  # ms, inclusive
    end_time: Annotated[int, Field(ge=0, le=search.MAX_TIME)] | None = None


class RevokeParams(Params):
    conversation_id: ConversationId
    client_msg_id: ClientMsgId | None = None
    seq: Seq | None = None


class DeleteMessageParams(Params):
    conversation_id: ConversationId
    seq: Seq


class TypingParams(Params):
    recv_id: UserId
    msg_tip: Annotated[str, StringConstraints(max_length=256)]


@operation("send_message", SendMessageParams, limits=[("send_message_user", by_user)], group_commit=True)
def send_message(ctx: Context, caller: Caller, p: SendMessageParams):
    """Send a one-to-one or group message; a retry with the same client_msg_id returns the first one."""
    v = p.root
    content = v.content.model_dump(exclude_unset=True)
    if v.group_id is not None:
        return groups.send_group_message(ctx, caller.user_id, v.group_id, v.content_type, content, v.client_msg_id)
    return messages.send_single(ctx, caller.user_id, v.recv_id, v.content_type, content, v.client_msg_id)


@batch_runner("send_message")
def send_messages(ctx: Context, calls: list[tuple[Caller, SendMessageParams]]) -> list:
    """One-to-one sends of a group commit written together; group sends and the rest run alone."""
    out = [ALONE] * len(calls)
    singles = [
        (
            i,
            messages.SingleSend(
                caller.user_id,
                p.root.recv_id,
                p.root.content_type,
                p.root.content.model_dump(exclude_unset=True),
                p.root.client_msg_id,
            ),
        )
        for i, (caller, p) in enumerate(calls)
        if p.root.recv_id is not None
    ]
    if singles:
        sends = [s for _, s in singles]
        try:
            results = runner.call_alone(ctx, lambda c: messages.send_singles(c, sends, ALONE))
        except Exception as exc:
            # Its writes are undone. A concurrent retry that committed one of these client_msg_ids
            # since they were checked (IntegrityError), or any failure: each send then runs alone, in
            # a SAVEPOINT of its own, so that only the one at fault fails.
            log.warning("batched one-to-one sends undone (%s: %s); each runs alone", type(exc).__name__, exc)
            results = [ALONE] * len(sends)
        for (i, _), result in zip(singles, results):
            out[i] = result
    return out


@operation("get_max_seqs")
def get_max_seqs(ctx: Context, caller: Caller, p: NoParams):
    """The newest readable seq of each of the caller's conversations (compared on reconnect)."""
    return messages.get_max_seqs(ctx, caller.user_id)


@operation("pull_messages", PullMessagesParams)
def pull_messages(ctx: Context, caller: Caller, p: PullMessagesParams):
    """Messages in seq ranges of several conversations at once (catch-up and gap filling)."""
    return messages.pull_messages(
        ctx, caller.user_id, [(r.conversation_id, r.begin_seq, r.end_seq) for r in p.ranges], p.limit
    )


@operation("get_history_message_list", HistoryParams)
def get_history_message_list(ctx: Context, caller: Caller, p: HistoryParams):
    """A page of a conversation's messages before start_seq (or the newest), oldest first."""
    return messages.get_history(ctx, caller.user_id, p.conversation_id, p.start_seq, p.count)


@operation("search_messages", SearchParams, limits=[("search_messages_user", by_user)])
def search_messages(ctx: Context, caller: Caller, p: SearchParams):
    """A page of the messages the caller may see whose text or file name contains keyword, newest first,
    paged by cursor and narrowed by sender, content types and time."""
    return search.search_messages(
        ctx,
        caller.user_id,
        p.keyword,
        p.conversation_id,
        p.cursor,
        p.count,
        p.send_id,
        p.content_types,
        p.start_time,
        p.end_time,
    )


@operation("revoke_message", RevokeParams)
def revoke_message(ctx: Context, caller: Caller, p: RevokeParams):
    """The sender withdraws a message within IM_REVOKE_SECONDS."""
    return messages.revoke_message(ctx, caller.user_id, p.conversation_id, p.client_msg_id, p.seq)


@operation("delete_message", DeleteMessageParams)
def delete_message(ctx: Context, caller: Caller, p: DeleteMessageParams):
    """Remove a message for the caller only."""
    messages.delete_message(ctx, caller.user_id, p.conversation_id, p.seq)
    return None


@operation("typing_status_update", TypingParams, limits=[("typing_status_update_pair", by_pair("recv_id"))])
def typing_status_update(ctx: Context, caller: Caller, p: TypingParams):
    """Tell the peer's online terminals that the caller is typing (content type 113)."""
    messages.typing_status_update(ctx, caller.user_id, p.recv_id, p.msg_tip)
    return None
