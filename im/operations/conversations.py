"""Conversation operations: lists, settings, read state."""

from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from .. import yielding
from ..models.enums import RecvMsgOpt
from ..services import conversation_lists, conversation_settings
from ..services.context import Context
from .messages import ConversationId
from .registry import Caller, NoParams, Omittable, Params, UserId, operation


class SplitParams(Params):
    # bounded: SQL offsets are 64-bit at most, and past 2**31 a list is empty anyway
    offset: Annotated[int, Field(ge=0, le=2**31 - 1)]
    count: Annotated[int, Field(ge=1, le=conversation_lists.MAX_SPLIT_COUNT)]


class ConversationParams(Params):
    conversation_id: ConversationId


class GetOneParams(Params):
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["conversation_id"]}, {"required": ["user_id"]}]}
    )
    # No null in the schema: leave the other one out instead.
    conversation_id: Omittable[ConversationId] = None
    # The peer of a one-to-one conversation: the client need not compute the id (OpenIM's sourceID).
    user_id: Omittable[UserId] = None

    @model_validator(mode="after")
    def _one_of(self) -> "GetOneParams":
        if (self.conversation_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of conversation_id and user_id")
        return self


class MultipleParams(Params):
    conversation_ids: Annotated[list[ConversationId], Field(min_length=1, max_length=1000)]


class PinParams(Params):
    conversation_id: ConversationId
    is_pinned: bool


class RecvOptParams(Params):
    conversation_id: ConversationId
    opt: Annotated[int, Field(ge=min(RecvMsgOpt), le=max(RecvMsgOpt))]


class DraftParams(Params):
    conversation_id: ConversationId
    text: Annotated[str, StringConstraints(max_length=10_000)]


@operation("get_all_conversation_list")
def get_all_conversation_list(ctx: Context, caller: Caller, p: NoParams) -> list[dict[str, Any]]:
    """The caller's conversations: pinned first, then by latest message (at most IM_MAX_ANSWER_BYTES)."""
    # Other work runs between the pages it is built of: a long list must not stop others' sends.
    return conversation_lists.get_all_conversation_list(ctx, caller.user_id, pause=yielding.pause)


@operation("get_conversation_list_split", SplitParams)
def get_conversation_list_split(ctx: Context, caller: Caller, p: SplitParams) -> list[dict[str, Any]]:
    """A page of the conversation list, in its order (pinned, then the preview's send time, then id)."""
    return conversation_lists.get_conversation_list_split(ctx, caller.user_id, p.offset, p.count)


@operation("get_one_conversation", GetOneParams)
def get_one_conversation(ctx: Context, caller: Caller, p: GetOneParams) -> dict[str, Any]:
    """One conversation of the caller by id, or the one-to-one one with user_id (created empty if needed)."""
    return conversation_lists.get_one_conversation(ctx, caller.user_id, p.conversation_id, p.user_id)


@operation("get_multiple_conversation", MultipleParams)
def get_multiple_conversation(ctx: Context, caller: Caller, p: MultipleParams) -> list[dict[str, Any]]:
    """Several conversations of the caller by id; ids they do not have are left out."""
    return conversation_lists.get_multiple_conversation(ctx, caller.user_id, p.conversation_ids)


@operation("pin_conversation", PinParams)
def pin_conversation(ctx: Context, caller: Caller, p: PinParams) -> dict[str, Any]:
    """Pin or unpin a conversation (on all the caller's terminals)."""
    return conversation_settings.pin_conversation(ctx, caller.user_id, p.conversation_id, p.is_pinned)


@operation("set_conversation_recv_message_opt", RecvOptParams)
def set_conversation_recv_message_opt(ctx: Context, caller: Caller, p: RecvOptParams) -> dict[str, Any]:
    """0 receive, 1 do not receive, 2 receive without notification."""
    return conversation_settings.set_recv_message_opt(ctx, caller.user_id, p.conversation_id, p.opt)


@operation("set_conversation_draft", DraftParams)
def set_conversation_draft(ctx: Context, caller: Caller, p: DraftParams) -> dict[str, Any]:
    """Keep a draft text on a conversation ("" clears it)."""
    return conversation_settings.set_draft(ctx, caller.user_id, p.conversation_id, p.text)


@operation("delete_conversation", ConversationParams)
def delete_conversation(ctx: Context, caller: Caller, p: ConversationParams) -> None:
    """Hide a conversation for the caller until a new message arrives."""
    conversation_settings.delete_conversation(ctx, caller.user_id, p.conversation_id)
    return None


@operation("get_total_unread_msg_count")
def get_total_unread_msg_count(ctx: Context, caller: Caller, p: NoParams) -> int:
    """The caller's unread messages over conversations with recv_msg_opt 0."""
    return conversation_lists.total_unread(ctx, caller.user_id)


@operation("mark_conversation_message_as_read", ConversationParams)
def mark_conversation_message_as_read(ctx: Context, caller: Caller, p: ConversationParams) -> dict[str, Any]:
    """Everything in the conversation is read; the peer gets a read receipt."""
    return conversation_settings.mark_read(ctx, caller.user_id, p.conversation_id)
