"""Each public operation declared once: name, parameter model, service call.

The REST API (POST /api/<name>), the Socket.IO event of the same name, the OpenAPI document and the
operations table in docs/protocol.md are all derived from these declarations.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeVar, cast, overload

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationError

from .. import errors, ratelimit
from ..services import auth, presence
from ..services.context import Context
from ..validation import StrictModel
from . import runner

log = logging.getLogger(__name__)

UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
UserIdList = Annotated[list[UserId], Field(max_length=1000)]
PlatformId = Annotated[int, Field(ge=1, le=10)]
BLANKS = " \t\r\n\f\v"
T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)
R = TypeVar("R")


def non_blank(max_length: int) -> StringConstraints:
    """A string with something besides blanks (`Annotated[str, non_blank(n), STRIP_BLANKS]`).

    The published schema says the same as the check: a pattern over one set of blanks (the one
    JSON Schema and Python agree on), rather than Python's stripping of every Unicode space, which a
    client reading the schema could not know about.
    """
    return StringConstraints(min_length=1, max_length=max_length, pattern=r"[^ \t\r\n\f\v]")


def _strip_blanks(text: str) -> str:
    return text.strip(BLANKS)


STRIP_BLANKS = AfterValidator(_strip_blanks)


def non_blank_text(max_length: int) -> object:
    """`Annotated[str, non_blank(max_length), STRIP_BLANKS]` built at run time, which a type checker
    cannot read as a type: spell that out instead."""
    return Annotated[str, non_blank(max_length), STRIP_BLANKS]


Nickname = Annotated[str, non_blank(64), STRIP_BLANKS]
FaceUrl = Annotated[str, StringConstraints(max_length=1024)]

# A field that may be left out but not sent as null (`field: Omittable[T] = None`): pydantic validates
# it as T alone, so a null is refused as T refuses it and the schema holds no null, while the type
# checker knows the attribute is None when the field was left out.
if TYPE_CHECKING:
    Omittable: TypeAlias = T | None
else:

    class Omittable:
        def __class_getitem__(cls, item):
            return item


class Params(StrictModel):
    """Base of every parameter model: unknown fields and type coercion are refused."""


class NoParams(Params):
    pass


@dataclass(frozen=True)
class Caller:
    """Who is calling: the authenticated user and the login session (terminal) they call from, and
    over a socket, that socket's id (None over REST)."""

    user_id: str
    session_id: int
    platform_id: int
    sid: str | None = None


# A rate limit's key function: (caller, params, the client's address) -> the key counted, or None
# for a call that is not counted under this limit.
KeyFunction = Callable[[Caller | None, BaseModel, str | None], str | None]
# How an operation runs: fn(ctx, caller, params) -> its answer's data. The caller is None only for
# an operation declared with auth=False, and params is always an instance of the declared model (a
# Params, or a RootModel over several of them).
Run = Callable[[Context, Caller | None, BaseModel], object]


@dataclass(frozen=True)
class Operation:
    name: str
    params: type[BaseModel]
    run: Run
    auth: bool
    admin: bool
    summary: str
    rest_only: bool
    limits: tuple[tuple[str, KeyFunction], ...] = ()
    group_commit: bool = False


def live_caller(session_row: presence.SocketSession | None) -> tuple[Caller | None, errors.IMError | None]:
    """The caller behind a socket's login session row (presence.session_row), re-checked on every
    event: (Caller, None) while it may act, else (None, the IMError saying why)."""
    if session_row is None:
        return None, errors.TokenMissing()
    try:
        auth.check_session_live(session_row)
    except errors.IMError as exc:
        return None, exc
    return Caller(session_row.user_id, session_row.id, session_row.platform_id, session_row.sid), None


OPERATIONS: dict[str, Operation] = {}
# Operations with group_commit may also take a whole batch at once: name -> fn(ctx, [(caller, params)])
# giving, per call, its result, the IMError refusing it (its writes undone), or ALONE.
BatchRunner = Callable[[Context, list[tuple[Caller, BaseModel]]], Sequence[object]]
BATCH_RUNNERS: dict[str, BatchRunner] = {}
ALONE = object()  # a batch runner's answer for a call it leaves to run alone (in a SAVEPOINT) in the batch


def by_address(caller: Caller | None, params: BaseModel, address: str | None) -> str | None:
    return address


def by_user(caller: Caller | None, params: BaseModel, address: str | None) -> str | None:
    return caller.user_id if caller else None


def by_param(field: str) -> KeyFunction:
    """A key function counting per the value of params.<field> (a user id the caller names)."""

    def key(caller: Caller | None, params: BaseModel, address: str | None) -> str | None:
        return str(getattr(params, field))

    return key


def by_pair(target_field: str) -> KeyFunction:
    """A key function counting per (caller, the user named by params.<target_field>)."""

    def key(caller: Caller | None, params: BaseModel, address: str | None) -> str | None:
        # user ids never hold a space, so the pair's key is unambiguous
        return f"{caller.user_id} {getattr(params, target_field)}" if caller else None

    return key


# The function an operation declares: one with auth (the default) is only ever called with a caller,
# one without must take a None caller too.
AuthOperation = Callable[[Context, Caller, P], R]
OpenOperation = Callable[[Context, Caller | None, P], R]


@overload
def operation(
    name: str,
    params: type[BaseModel] = ...,
    *,
    auth: Literal[True] = ...,
    admin: bool = ...,
    rest_only: bool = ...,
    limits: Sequence[tuple[str, KeyFunction]] = ...,
    group_commit: bool = ...,
) -> Callable[[AuthOperation[P, R]], AuthOperation[P, R]]: ...


@overload
def operation(
    name: str,
    params: type[BaseModel] = ...,
    *,
    auth: Literal[False],
    admin: bool = ...,
    rest_only: bool = ...,
    limits: Sequence[tuple[str, KeyFunction]] = ...,
    group_commit: bool = ...,
) -> Callable[[OpenOperation[P, R]], OpenOperation[P, R]]: ...


def operation(
    name: str,
    params: type[BaseModel] = NoParams,
    *,
    auth: bool = True,
    admin: bool = False,
    rest_only: bool = False,
    limits: Sequence[tuple[str, KeyFunction]] = (),
    group_commit: bool = False,
) -> Callable[[AuthOperation[P, R]], AuthOperation[P, R]] | Callable[[OpenOperation[P, R]], OpenOperation[P, R]]:
    """Declare a public operation; the decorated function maps (caller, params) to a service call.

    `limits` is a list of (limit name in ratelimit.DEFAULT_LIMITS, key function(caller, params,
    address)); each is counted before the call runs, failed attempts included. With `group_commit`,
    concurrent socket calls share one transaction (im.group_commit), each call in a SAVEPOINT of its
    own unless a batch runner takes it.
    """

    def declare(fn: AuthOperation[P, R]) -> AuthOperation[P, R]:
        if name in OPERATIONS:
            raise ValueError(f"operation {name} declared twice")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else name
        # prepare() gives fn only instances of `params` and, when auth is on, never a None caller.
        run = cast(Run, fn)
        OPERATIONS[name] = Operation(name, params, run, auth, admin, summary, rest_only, tuple(limits), group_commit)
        return fn

    return declare


def batch_runner(
    name: str,
) -> Callable[
    [Callable[[Context, list[tuple[Caller, P]]], Sequence[object]]],
    Callable[[Context, list[tuple[Caller, P]]], Sequence[object]],
]:
    """Declare how a group-commit operation runs many calls at once (see BATCH_RUNNERS)."""

    def declare(
        fn: Callable[[Context, list[tuple[Caller, P]]], Sequence[object]],
    ) -> Callable[[Context, list[tuple[Caller, P]]], Sequence[object]]:
        if not OPERATIONS[name].group_commit:
            raise ValueError(f"operation {name} has no group commit")
        # group_commit batches only calls that prepare() checked against the operation's own model.
        BATCH_RUNNERS[name] = cast(BatchRunner, fn)
        return fn

    return declare


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _integral_floats_as_ints(value: object) -> object:
    """JSON has one number type: 6.0 is the integer 6 (as JSON Schema says), never the string "6".

    Integers must fit the database's 64 bits; the published schema says so too (im.openapi).
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise errors.InvalidParams("integer out of the 64-bit range")
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


MAX_NESTING = 32
# The largest legitimate parameter object is a custom message whose content fills the service's 64 KiB
# (im.services.message_content.MAX_CONTENT_BYTES, measured as json.dumps writes it, ", " between values):
# at least 3 bytes a value, so at most 21,846 values; id lists hold at most 1,000.
MAX_VALUES = 25_000
MAX_REPORTED_ERRORS = 20


def _shape_problem(payload: dict[str, Any]) -> str | None:
    """Why a parsed payload is refused before anything walks it (nested too deeply, too many values),
    or None. An array's or object's length is counted before its members are looked at, so a body of
    500,000 numbers is refused after reading one length, and no walk goes past MAX_VALUES members."""
    values = 0
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(payload, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            return f"payload is nested deeper than {MAX_NESTING} levels"
        members = item.values() if isinstance(item, dict) else item
        values += len(members)
        if values > MAX_VALUES:
            return f"payload has more than {MAX_VALUES} values"
        stack.extend((v, depth + 1) for v in members if isinstance(v, (dict, list)))
    return None


def _parameter_path(loc: tuple[int | str, ...], payload: object, missing: bool) -> str:
    """The path of an error in the caller's own terms (`content.text`, `user_ids.0`).

    pydantic's location also names the validators it went through (a union's member, e.g.
    `function-after[_one_target(), SendText]`); a step that is not a key or an index of the value
    at hand is such a name and is left out, except the last step of a missing field: its name.
    """
    path: list[int | str] = []
    value = payload
    for step in loc[:-1] if missing else loc:
        if isinstance(value, dict) and step in value:
            path.append(step)
            value = value[step]
        elif isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
            path.append(step)
            value = value[step]
    if missing and loc:
        path.append(loc[-1])
    return ".".join(str(p) for p in path)


def _validation_message(exc: ValidationError, payload: object = None) -> tuple[str, list[dict[str, str]]]:
    details: list[dict[str, str]] = []
    for e in exc.errors(include_url=False):
        detail = {"field": _parameter_path(e["loc"], payload, e["type"] == "missing"), "error": e["msg"]}
        if detail not in details:
            details.append(detail)
        if len(details) == MAX_REPORTED_ERRORS:
            break
    first = details[0] if details else {"field": "", "error": "invalid"}
    return f"{first['field'] or 'payload'}: {first['error']}", details


def prepare(
    name: str,
    payload: object,
    caller: Caller | None,
    *,
    admin: bool = False,
    transport: str = "rest",
    auth_error: errors.IMError | None = None,
    address: str | None = None,
) -> tuple[Operation, BaseModel]:
    """Everything an operation checks before its service runs: existence, authorization, parameters,
    rate limits. Raises an IMError; touches no row."""
    op = OPERATIONS.get(name)
    if op is None or (op.rest_only and transport != "rest"):
        raise errors.UnknownOperation(f"unknown operation: {name}")
    if op.admin:
        # Refusals are counted per address; past the limit the answer is 1008 whatever the secret,
        # so a guess is never told apart from another.
        ratelimit.check("admin_failure_address", address)
        if not admin:
            ratelimit.hit("admin_failure_address", address)
            raise errors.AdminRefused()
    if op.auth and caller is None:
        raise auth_error or errors.TokenMissing()
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise errors.InvalidParams("payload must be a JSON object")
    problem = _shape_problem(payload)
    if problem:
        raise errors.InvalidParams(problem)
    numbers_read = _integral_floats_as_ints(payload)
    try:
        params = op.params.model_validate(numbers_read)
    except ValidationError as exc:
        message, details = _validation_message(exc, numbers_read)
        raise errors.InvalidParams(message, data={"errors": details}) from None
    for limit_name, key in op.limits:
        ratelimit.hit(limit_name, key(caller, params, address))
    return op, params


def ok(result: object) -> dict[str, Any]:
    return {"errCode": 0, "errMsg": "", "data": result}


def _failed(name: str, exc: Exception) -> tuple[dict[str, Any], int]:
    """The error's envelope and HTTP status (an unexpected one is logged, 500)."""
    if isinstance(exc, errors.IMError):
        return exc.envelope(), exc.http_status
    log.error("operation %s failed", name, exc_info=exc)
    return errors.IMError().envelope(), 500


def run(op: Operation, caller: Caller | None, params: BaseModel) -> tuple[dict[str, Any], int]:
    """Run a prepared operation in a transaction of its own: its result or its error as an envelope."""
    try:
        with runner.transaction() as ctx:
            result = op.run(ctx, caller, params)
    except Exception as exc:
        return _failed(op.name, exc)
    return ok(result), 200


def execute(
    name: str,
    payload: object,
    caller: Caller | None,
    *,
    admin: bool = False,
    transport: str = "rest",
    auth_error: errors.IMError | None = None,
    address: str | None = None,
) -> tuple[dict[str, Any], int]:
    """Run one operation and translate its outcome into the envelope and an HTTP status."""
    try:
        op, params = prepare(
            name, payload, caller, admin=admin, transport=transport, auth_error=auth_error, address=address
        )
    except Exception as exc:
        return _failed(name, exc)
    return run(op, caller, params)
