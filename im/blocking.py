"""Run CPU-heavy calls (password hashing) off the event loop so one login never stalls the others."""

import sys


def run_blocking(fn, *args):
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
