"""Keep the server log useful under abuse: a malformed packet is one warning line, not a traceback."""

import logging


class MalformedPacketFilter(logging.Filter):
    """engineio logs a traceback whenever a client's packet cannot be decoded (bad JSON, nesting
    deeper than the parser allows, a bad binary attachment). Our own handlers catch and log their
    errors themselves, so such a record is always the client's fault: one line, no traceback, so a
    client cannot fill the disk or bury real errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "message handler error" and record.exc_info:
            kind = record.exc_info[0].__name__ if record.exc_info[0] else "error"
            record.msg, record.args = "dropped a malformed Socket.IO packet (%s)", (kind,)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def install() -> None:
    logger = logging.getLogger("engineio.server")
    if not any(isinstance(f, MalformedPacketFilter) for f in logger.filters):
        logger.addFilter(MalformedPacketFilter())
