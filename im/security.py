"""HTTP response headers that keep the web client safe even if a bug lets markup through, and CORS."""

from flask import current_app, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


CORS_ALLOW_HEADERS = "Content-Type, token, Authorization"
CORS_MAX_AGE = "600"


def origin_allowed(origin: str, allowed) -> bool:
    """Same origin always; others only when listed in IM_CORS_ORIGINS (None: same origin only)."""
    if origin.rstrip("/") == request.host_url.rstrip("/"):
        return True
    if allowed == "*":
        return True
    return bool(allowed) and origin.rstrip("/") in allowed


def add_cors_headers(response):
    """Let listed browser origins read /api/ answers (the Socket.IO server checks the same list).

    Without these headers a browser on another origin cannot read an answer or send the token header;
    credentials are never allowed, as the API authenticates with a header, not a cookie.
    """
    origin = request.headers.get("Origin")
    if not origin or not request.path.startswith("/api/"):
        return response
    if origin_allowed(origin, current_app.config.get("IM_CORS_ORIGINS")):
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    response.vary.add("Origin")
    return response
