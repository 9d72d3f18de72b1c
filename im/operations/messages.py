"""Message operations: send, sync by seq, history, search, revoke, delete, typing."""

import logging
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, ModelWrapValidatorHandler, RootModel, StringConstraints, model_validator

from ..services import message_send, message_sync, messages, search
from ..services.context import Context
from ..services.message_content import (
    AtTextContent,
    CustomContent,
    FileContent,
    QuoteContent,
    TextContent,
)
from . import runner
from .groups import GroupId
from .registry import ALONE, Caller, NoParams, Params, UserId, batch_runner, by_pair, by_user, operation

log = logging.getLogger(__name__)

# si_<user id>~<user id> or sg_<group id> (docs/protocol.md). Only the shape is checked: an id is looked up,
# never parsed, so one of the old form si_<a>_<b> is simply a conversation nobody has (1403, or left out).
ConversationId = Annotated[str, StringConstraints(pattern=r"^s[ig]_[A-Za-z0-9_.~\-]{1,129}$")]
ClientMsgId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Seq = Annotated[int, Field(ge=1)]


class _Send(Params):
    # Exactly one target, said in the published schema too, so generated clients know it.
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["recv_id"]}, {"required": ["group_id"]}]})

    # No null in the schema: leave the other target out instead. (Declared `UserId | None`, pydantic
    # would publish the null and name the union's member in every error's path.)
    recv_id: UserId = None  # type: ignore[assignment]
    group_id: GroupId = None  # type: ignore[assignment]
    client_msg_id: ClientMsgId | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
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


SendShape = SendText | SendPicture | SendFile | SendAtText | SendCustom | SendQuote
SHAPES: dict[int, type[SendShape]] = {
    101: SendText,
    102: SendPicture,
    105: SendFile,
    106: SendAtText,
    110: SendCustom,
    114: SendQuote,
}


class SendMessageParams(RootModel[SendShape]):
    """One shape per content type, so the published schema says exactly what each type takes."""

    root: SendText | SendPicture | SendFile | SendAtText | SendCustom | SendQuote

    @model_validator(mode="wrap")
    @classmethod
    def _shape_of_its_type(
        cls, data: Any, handler: ModelWrapValidatorHandler["SendMessageParams"]
    ) -> "SendMessageParams":
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
    ranges: Annotated[list[SeqRange], Field(min_length=1, max_length=message_sync.MAX_PULL_RANGES)]
    limit: Annotated[int, Field(ge=1, le=message_sync.MAX_PULL_MESSAGES)] = message_sync.MAX_PULL_MESSAGES


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
    count: Annotated[int, Field(ge=1, le=search.MAX_SEARCH_COUNT)] = search.MAX_SEARCH_COUNT
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


def _send(caller: Caller, p: SendMessageParams) -> message_send.Send:
    v = p.root
    return message_send.Send(caller.user_id, v.content_type, v.content, v.client_msg_id, v.recv_id, v.group_id)


@operation("send_message", SendMessageParams, limits=[("send_message_user", by_user)], group_commit=True)
def send_message(ctx: Context, caller: Caller, p: SendMessageParams) -> dict[str, Any]:
    """Send a one-to-one or group message; a retry with the same client_msg_id returns the first one."""
    return message_send.send_one(ctx, _send(caller, p))


@batch_runner("send_message")
def send_messages(ctx: Context, calls: list[tuple[Caller, SendMessageParams]]) -> list[Any]:
    """The sends of a group commit, written together by the one send implementation."""
    sends = [_send(caller, p) for caller, p in calls]
    try:
        return runner.call_alone(ctx, lambda c: list(message_send.send_messages(c, sends)))
    except Exception as exc:
        # Its writes are undone. On any failure but a refusal (answered per send, with nothing
        # written), each send then runs alone, in a SAVEPOINT of its own, so that only the one at fault fails.
        log.warning("batched sends undone (%s: %s); each runs alone", type(exc).__name__, exc)
        return [ALONE] * len(calls)


@operation("get_max_seqs")
def get_max_seqs(ctx: Context, caller: Caller, p: NoParams) -> dict[str, Any]:
    """The newest readable seq of each of the caller's conversations (compared on reconnect)."""
    return message_sync.get_max_seqs(ctx, caller.user_id)


@operation("pull_messages", PullMessagesParams)
def pull_messages(ctx: Context, caller: Caller, p: PullMessagesParams) -> dict[str, Any]:
    """Messages in seq ranges of several conversations at once (catch-up and gap filling)."""
    return message_sync.pull_messages(
        ctx, caller.user_id, [(r.conversation_id, r.begin_seq, r.end_seq) for r in p.ranges], p.limit
    )


@operation("get_history_message_list", HistoryParams)
def get_history_message_list(ctx: Context, caller: Caller, p: HistoryParams) -> dict[str, Any]:
    """A page of a conversation's messages before start_seq (or the newest), oldest first, with the
    revoke window, so that a client offers to revoke only what the server would still revoke."""
    page = message_sync.get_history(ctx, caller.user_id, p.conversation_id, p.start_seq, p.count)
    return {**page, "revoke_seconds": ctx.settings.revoke_seconds}


@operation("search_messages", SearchParams, limits=[("search_messages_user", by_user)])
def search_messages(ctx: Context, caller: Caller, p: SearchParams) -> dict[str, Any]:
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
def revoke_message(ctx: Context, caller: Caller, p: RevokeParams) -> dict[str, Any]:
    """The sender withdraws a message within IM_REVOKE_SECONDS."""
    return messages.revoke_message(ctx, caller.user_id, p.conversation_id, p.client_msg_id, p.seq)


@operation("delete_message", DeleteMessageParams)
def delete_message(ctx: Context, caller: Caller, p: DeleteMessageParams) -> None:
    """Remove a message for the caller only."""
    messages.delete_message(ctx, caller.user_id, p.conversation_id, p.seq)
    return None


@operation("typing_status_update", TypingParams, limits=[("typing_status_update_pair", by_pair("recv_id"))])
def typing_status_update(ctx: Context, caller: Caller, p: TypingParams) -> None:
    """Tell the peer's online terminals that the caller is typing (content type 113)."""
    messages.typing_status_update(ctx, caller.user_id, p.recv_id, p.msg_tip)
    return None
