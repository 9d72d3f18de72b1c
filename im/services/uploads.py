"""Uploaded pictures and files: typed from their content, served only to who may see them."""
import re
import secrets
import unicodedata
from pathlib import Path

from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import delete, select

from .. import errors
from ..extensions import db
from ..models import MessageFile, UploadedFile
from . import conversations

URL_PREFIX = "/api/files/"
URL_PATTERN = re.compile(r"^/api/files/([0-9a-f]{32})$")
PICTURE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp",
                   "BMP": "image/bmp"}
# Leading bytes of common non-picture types; anything else is served as application/octet-stream.
SIGNATURES = [(b"%PDF-", "application/pdf"), (b"PK\x03\x04", "application/zip"),
              (b"\x1f\x8b", "application/gzip"), (b"ID3", "audio/mpeg"), (b"OggS", "audio/ogg"),
              (b"\x1aE\xdf\xa3", "video/webm")]
MAX_PIXELS = 100_000_000


def upload_dir() -> Path:
    configured = current_app.config.get("IM_UPLOAD_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean_name(name: str | None) -> str:
    """A display/download name: no directories, no control characters, at most 255 characters."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return name[:255] or "file"


def _sniff(path: Path) -> tuple[str, bool, int | None, int | None]:
    """(mime type, is picture, width, height) from the file's bytes, never from its name."""
    try:
        with Image.open(path) as img:
            if img.format in PICTURE_FORMATS and img.width * img.height <= MAX_PIXELS:
                img.verify()
                return PICTURE_FORMATS[img.format], True, img.width, img.height
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        pass
    with open(path, "rb") as fh:
        head = fh.read(16)
    for signature, mime in SIGNATURES:
        if head.startswith(signature):
            return mime, False, None, None
    return "application/octet-stream", False, None, None


def save_upload(user_id: str, stream, filename: str | None) -> dict:
    """Store an uploaded stream (at most IM_UPLOAD_MAX_BYTES) and describe it."""
    limit = current_app.config["IM_UPLOAD_MAX_BYTES"]
    file_id = secrets.token_hex(16)
    path = upload_dir() / file_id
    size = 0
    try:
        with open(path, "wb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise errors.PayloadTooLarge(f"file larger than {limit} bytes")
                out.write(chunk)
        if size == 0:
            raise errors.UploadInvalid("empty file")
        mime, is_picture, width, height = _sniff(path)
        record = UploadedFile(file_id=file_id, uploader_id=user_id, name=clean_name(filename), size=size,
                              mime_type=mime, is_picture=is_picture, width=width, height=height)
        db.session.add(record)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return describe(record)


def describe(upload: UploadedFile) -> dict:
    """What a picture or file message carries about its upload."""
    info = {"url": URL_PREFIX + upload.file_id, "name": upload.name, "size": upload.size,
            "mime_type": upload.mime_type}
    if upload.is_picture:
        info.update(width=upload.width, height=upload.height)
    return info


def from_url(url) -> UploadedFile | None:
    match = URL_PATTERN.match(url) if isinstance(url, str) else None
    return db.session.get(UploadedFile, match.group(1)) if match else None


def may_access(user_id: str, upload: UploadedFile) -> bool:
    """The uploader, and whoever may read a message that carries the file."""
    if upload.uploader_id == user_id:
        return True
    links = db.session.execute(select(MessageFile.conversation_id, MessageFile.seq)
                               .where(MessageFile.file_id == upload.file_id)).all()
    for conversation_id, seq in links:
        try:
            r = conversations.readable(user_id, conversation_id)
        except errors.ConversationNotFound:
            continue
        if r.min_seq <= seq <= r.max_seq:
            return True
    return False


def file_for(user_id: str, file_id: str) -> tuple[Path, UploadedFile]:
    """The stored file to serve to user_id; FileNotFound also when they may not see it."""
    upload = db.session.get(UploadedFile, file_id) if re.fullmatch(r"[0-9a-f]{32}", file_id) else None
    if upload is None or not may_access(user_id, upload):
        raise errors.FileNotFound()
    path = upload_dir() / upload.file_id
    if not path.exists():
        raise errors.FileNotFound()
    return path, upload


def unlink_message(conversation_id: str, seq: int) -> list[str]:
    """Forget which files a (revoked) message carried; returns the ids no message carries any more."""
    file_ids = list(db.session.scalars(select(MessageFile.file_id).where(
        MessageFile.conversation_id == conversation_id, MessageFile.seq == seq)))
    if not file_ids:
        return []
    db.session.execute(delete(MessageFile).where(MessageFile.conversation_id == conversation_id,
                                                 MessageFile.seq == seq))
    still_used = set(db.session.scalars(select(MessageFile.file_id).where(MessageFile.file_id.in_(file_ids))))
    orphans = [f for f in file_ids if f not in still_used]
    if orphans:
        db.session.execute(delete(UploadedFile).where(UploadedFile.file_id.in_(orphans)))
    return orphans


def remove_files(file_ids: list[str]) -> None:
    """Delete stored bytes (after the commit that forgot them)."""
    for file_id in file_ids:
        (upload_dir() / file_id).unlink(missing_ok=True)
