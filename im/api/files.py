"""Uploads: POST /api/upload (multipart, larger limit than other requests) and GET /api/files/<id>."""

from flask import Blueprint, current_app, jsonify, request, send_file

from .. import errors, ratelimit
from ..extensions import db
from ..operations import runner
from ..services import auth, uploads

bp = Blueprint("files", __name__, url_prefix="/api")
MULTIPART_OVERHEAD = 64 * 1024


def _caller_id() -> str:
    """The user behind the `token` header, `Authorization: Bearer`, or (for links) `?token=`."""
    from . import request_token

    with runner.reading() as ctx:
        return auth.resolve_token(ctx, request_token(request.args.get("token"))).user_id


@bp.errorhandler(errors.IMError)
def _im_error(exc: errors.IMError):
    db.session.rollback()
    return jsonify(exc.envelope()), exc.http_status


@bp.post("/upload")
def upload():
    """Store the multipart field `file`; answers {url, name, size, mime_type[, width, height]}."""
    user_id = _caller_id()
    ratelimit.hit("upload_user", user_id)  # before a byte of the body is read
    # Uploads may be far larger than the 1 MiB every other request is held to.
    request.max_content_length = current_app.config["IM_UPLOAD_MAX_BYTES"] + MULTIPART_OVERHEAD
    file = request.files.get("file")
    if file is None:
        raise errors.UploadInvalid("multipart field 'file' is required")
    try:
        with runner.reading() as ctx:
            room = uploads.upload_room(ctx, user_id)
        received = uploads.receive(ctx.settings, file.stream, room)
    finally:
        file.close()  # a large upload is spooled to a temporary file: release it now
    try:
        with runner.transaction() as ctx:
            data = uploads.record_upload(ctx, user_id, received, file.filename)
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    return jsonify({"errCode": 0, "errMsg": "", "data": data})


@bp.get("/files/<file_id>")
def download(file_id: str):
    """The file, as an attachment, to the uploader and to whoever may see a message carrying it."""
    caller_id = _caller_id()
    with runner.reading() as ctx:
        path, record = uploads.file_for(ctx, caller_id, file_id)
        mime_type, name = record.mime_type, record.name
    return send_file(path, mimetype=mime_type, as_attachment=True, download_name=name, max_age=0)
