"""Message operations: send, sync by seq, history, search, revoke, delete, typing."""
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from ..services import groups, messages
from .groups import GroupId
from .registry import Caller, NoParams, Params, UserId, by_user, operation

ConversationId = Annotated[str, StringConstraints(pattern=r"^s[ig]_[A-Za-z0-9_.\-]{1,129}$")]
ClientMsgId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Seq = Annotated[int, Field(ge=1)]


class SendMessageParams(Params):
    recv_id: UserId | None = None
    group_id: GroupId | None = None
    content_type: int
    content: dict[str, Any]
    client_msg_id: ClientMsgId | None = None

    @model_validator(mode="after")
    def _one_target(self):
        if (self.recv_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of recv_id and group_id")
        return self


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


class SearchParams(Params):
    keyword: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    conversation_id: ConversationId | None = None


class RevokeParams(Params):
    conversation_id: ConversationId
    client_msg_id: ClientMsgId | None = None
    seq: Seq | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.client_msg_id is None) == (self.seq is None):
            raise ValueError("give exactly one of client_msg_id and seq")
        return self


class DeleteMessageParams(Params):
    conversation_id: ConversationId
    seq: Seq


class TypingParams(Params):
    recv_id: UserId
    msg_tip: Annotated[str, StringConstraints(max_length=256)]


@operation("send_message", SendMessageParams, limits=[("send_message_user", by_user)])
def send_message(caller: Caller, p: SendMessageParams):
    """Send a one-to-one or group message; a retry with the same client_msg_id returns the first one."""
    if p.group_id is not None:
        return groups.send_group_message(caller.user_id, p.group_id, p.content_type, p.content,
                                         p.client_msg_id)
    return messages.send_single(caller.user_id, p.recv_id, p.content_type, p.content, p.client_msg_id)


@operation("get_max_seqs")
def get_max_seqs(caller: Caller, p: NoParams):
    """The newest readable seq of each of the caller's conversations (compared on reconnect)."""
    return messages.get_max_seqs(caller.user_id)


@operation("pull_messages", PullMessagesParams)
def pull_messages(caller: Caller, p: PullMessagesParams):
    """Messages in seq ranges of several conversations at once (catch-up and gap filling)."""
    return messages.pull_messages(caller.user_id, [(r.conversation_id, r.begin_seq, r.end_seq) for r in p.ranges],
                                  p.limit)


@operation("get_history_message_list", HistoryParams)
def get_history_message_list(caller: Caller, p: HistoryParams):
    """A page of a conversation's messages before start_seq (or the newest), oldest first."""
    return messages.get_history(caller.user_id, p.conversation_id, p.start_seq, p.count)


@operation("search_messages", SearchParams)
def search_messages(caller: Caller, p: SearchParams):
    """Messages the caller may see whose text or file name contains keyword."""
    return messages.search_messages(caller.user_id, p.keyword, p.conversation_id)


@operation("revoke_message", RevokeParams)
def revoke_message(caller: Caller, p: RevokeParams):
    """The sender withdraws a message within IM_REVOKE_SECONDS."""
    return messages.revoke_message(caller.user_id, p.conversation_id, p.client_msg_id, p.seq)


@operation("delete_message", DeleteMessageParams)
def delete_message(caller: Caller, p: DeleteMessageParams):
    """Remove a message for the caller only."""
    messages.delete_message(caller.user_id, p.conversation_id, p.seq)
    return None


@operation("typing_status_update", TypingParams)
def typing_status_update(caller: Caller, p: TypingParams):
    """Tell the peer's online terminals that the caller is typing (content type 113)."""
    messages.typing_status_update(caller.user_id, p.recv_id, p.msg_tip)
    return None
