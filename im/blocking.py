"""Run CPU-heavy calls (password hashing) off the event loop so one login never stalls the others."""

import sys
from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

T = TypeVar("T")
Args = TypeVarTuple("Args")


def run_blocking(fn: Callable[[*Args], T], *args: *Args) -> T:
    """Call fn(*args) in the async mode's native thread pool when one is active."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("socket"):
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None and eventlet_patcher.is_monkey_patched("socket"):
        from eventlet import tpool

        return tpool.execute(fn, *args)
    return fn(*args)
