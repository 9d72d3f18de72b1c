"""One error type with a stable code, translated once at each edge (REST and socket ack).

Codes follow OpenIM's numbering where OpenIM has one. docs/protocol.md lists them all; the list is
also served by the `error_codes` operation so clients never have to hard-code it.
"""


class IMError(Exception):
    """A failure the client can switch on: `code`, a message, and the HTTP status to answer with."""

    code = 500
    http_status = 500
    message = "internal server error"

    def __init__(self, message: str | None = None, *, data=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.data = data

    def envelope(self) -> dict:
        return {"errCode": self.code, "errMsg": self.message, "data": self.data}


def _error(name: str, code: int, http_status: int, message: str) -> type[IMError]:
    cls = type(name, (IMError,), {"code": code, "http_status": http_status, "message": message})
    ALL_ERRORS.append(cls)
    return cls


ALL_ERRORS: list[type[IMError]] = [IMError]

# General
InvalidParams = _error("InvalidParams", 1001, 400, "invalid parameters")
NoPermission = _error("NoPermission", 1002, 403, "no permission")
UnknownOperation = _error("UnknownOperation", 1003, 404, "unknown operation")
NotFound = _error("NotFound", 1004, 404, "record not found")
PayloadTooLarge = _error("PayloadTooLarge", 1007, 413, "payload too large")
RateLimited = _error("RateLimited", 1008, 429, "too many requests")

# Accounts and login
UserNotFound = _error("UserNotFound", 1101, 404, "user not found")
UserAlreadyRegistered = _error("UserAlreadyRegistered", 1102, 409, "user_id already registered")
LoginFailed = _error("LoginFailed", 1103, 401, "wrong user_id or password")
AdminRefused = _error("AdminRefused", 1104, 403, "admin secret missing, wrong, or not configured")

# Tokens (OpenIM 15xx)
TokenMissing = _error("TokenMissing", 1500, 401, "token required")
TokenExpired = _error("TokenExpired", 1501, 401, "token expired")
TokenRevoked = _error("TokenRevoked", 1502, 401, "token revoked")
TokenMalformed = _error("TokenMalformed", 1503, 401, "token malformed")
TokenKicked = _error("TokenKicked", 1506, 401, "token kicked by another login")
TokenNotExist = _error("TokenNotExist", 1507, 401, "token does not exist")
TokenAmbiguous = _error("TokenAmbiguous", 1508, 401, "two different tokens presented")

# Friends and blacklist
SelfOperation = _error("SelfOperation", 1201, 400, "cannot do this to yourself")
AlreadyFriends = _error("AlreadyFriends", 1202, 409, "already friends")
NotFriends = _error("NotFriends", 1203, 403, "not friends")
Blocked = _error("Blocked", 1204, 403, "blocked by the other user")
ApplicationNotFound = _error("ApplicationNotFound", 1205, 404, "friend application not found")
ApplicationHandled = _error("ApplicationHandled", 1206, 409, "application already handled")
FriendLimit = _error("FriendLimit", 1207, 409, "friend limit reached")
AlreadyBlacklisted = _error("AlreadyBlacklisted", 1208, 409, "already in blacklist")
NotBlacklisted = _error("NotBlacklisted", 1209, 404, "not in blacklist")
NotInFriendList = _error("NotInFriendList", 1210, 404, "not in friend list")

# Groups (OpenIM 13xx)
GroupNotFound = _error("GroupNotFound", 1301, 404, "group not found")
AlreadyInGroup = _error("AlreadyInGroup", 1302, 409, "already a member")
NotInGroup = _error("NotInGroup", 1303, 403, "not a member of the group")
GroupDismissed = _error("GroupDismissed", 1304, 410, "group dismissed")
GroupFull = _error("GroupFull", 1305, 409, "group is full")
GroupMuted = _error("GroupMuted", 1306, 403, "group is muted")
MemberMuted = _error("MemberMuted", 1307, 403, "you are muted in this group")
GroupApplicationNotFound = _error("GroupApplicationNotFound", 1308, 404, "group application not found")
OwnerCannotQuit = _error("OwnerCannotQuit", 1309, 409, "the owner must transfer or dismiss")

# Messages and conversations (14xx)
MessageNotFound = _error("MessageNotFound", 1401, 404, "message not found")
RevokeExpired = _error("RevokeExpired", 1402, 409, "revoke window has passed")
ConversationNotFound = _error("ConversationNotFound", 1403, 404, "conversation not found")
ContentInvalid = _error("ContentInvalid", 1404, 400, "content malformed for its type")
UploadInvalid = _error("UploadInvalid", 1405, 400, "upload rejected")
FileNotFound = _error("FileNotFound", 1406, 404, "file not found")
UploadQuotaExceeded = _error("UploadQuotaExceeded", 1407, 413, "upload quota exceeded: delete or revoke files first")


def codes_table() -> list[dict]:
    """Every error code with its name and default message."""
    return [
        {"code": c.code, "name": c.__name__, "http_status": c.http_status, "message": c.message}
        for c in sorted(ALL_ERRORS, key=lambda c: c.code)
    ]
