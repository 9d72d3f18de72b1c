"""Uploaded pictures and files: typed from their content, served only to who may see them, held to a
quota per uploader, and deleted once no message carries them (after a grace period to send them in)."""

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, UnidentifiedImageError
from sqlalchemy import delete, exists, func, select

from .. import errors
from ..models import MessageFile, UploadedFile, User, utcnow
from . import conversations
from .context import Context, Settings

URL_PREFIX = "/api/files/"
URL_PATTERN = re.compile(r"^/api/files/([0-9a-f]{32})$")
PICTURE_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}
# Leading bytes of common non-picture types; anything else is served as application/octet-stream.
SIGNATURES = [
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"\x1aE\xdf\xa3", "video/webm"),
]
MAX_PIXELS = 100_000_000
ORPHANS_PER_SWEEP = 500


def upload_dir(settings: Settings) -> Path:
    path = settings.upload_dir
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


def _stored_bytes(ctx: Context, user_id: str) -> int:
    return ctx.session.execute(
        select(func.coalesce(func.sum(UploadedFile.size), 0)).where(UploadedFile.uploader_id == user_id)
    ).scalar_one()


def upload_room(ctx: Context, user_id: str) -> int:
    """The bytes the uploader may still store: IM_UPLOAD_QUOTA_BYTES less what they store now (read in
    a transaction of its own, ended before the bytes come in)."""
    room = ctx.settings.upload_quota_bytes - _stored_bytes(ctx, user_id)
    if room <= 0:
        raise errors.UploadQuotaExceeded(data={"quota": ctx.settings.upload_quota_bytes})
    return int(room)


@dataclass(frozen=True)
class Received:
    """An uploaded file's bytes, stored under a new file id, not yet recorded."""

    file_id: str
    path: Path
    size: int


def receive(settings: Settings, stream: BinaryIO, room: int) -> Received:
    """Store an uploaded stream (at most IM_UPLOAD_MAX_BYTES and `room`) under a new file id; nothing
    is kept on a refusal. No transaction is open meanwhile: the bytes may take long to arrive."""
    limit = settings.upload_max_bytes
    file_id = secrets.token_hex(16)
    path = upload_dir(settings) / file_id
    size = 0
    try:
        with open(path, "wb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise errors.PayloadTooLarge(f"file larger than {limit} bytes")
                if size > room:
                    raise errors.UploadQuotaExceeded(data={"quota": settings.upload_quota_bytes})
                out.write(chunk)
        if size == 0:
            raise errors.UploadInvalid("empty file")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(file_id, path, size)


def record_upload(ctx: Context, user_id: str, received: Received, filename: str | None) -> dict[str, Any]:
    """Record received bytes as the user's upload and describe it; the caller removes the bytes if
    this or its transaction fails."""
    mime, is_picture, width, height = _sniff(received.path)
    # Counted again with the new row written, under the uploader's row lock (PostgreSQL) or the
    # write lock (SQLite): concurrent uploads of one user cannot pass the quota together.
    ctx.session.execute(select(User.user_id).where(User.user_id == user_id).with_for_update())
    record = UploadedFile(
        file_id=received.file_id,
        uploader_id=user_id,
        name=clean_name(filename),
        size=received.size,
        mime_type=mime,
        is_picture=is_picture,
        width=width,
        height=height,
    )
    ctx.session.add(record)
    ctx.session.flush()
    if _stored_bytes(ctx, user_id) > ctx.settings.upload_quota_bytes:
        raise errors.UploadQuotaExceeded(data={"quota": ctx.settings.upload_quota_bytes})
    return describe(record)


def describe(upload: UploadedFile) -> dict[str, Any]:
    """What a picture or file message carries about its upload."""
    info: dict[str, Any] = {
        "url": URL_PREFIX + upload.file_id,
        "name": upload.name,
        "size": upload.size,
        "mime_type": upload.mime_type,
    }
    if upload.is_picture:
        info.update(width=upload.width, height=upload.height)
    return info


def from_url(ctx: Context, url: object, *, for_message: bool = False) -> UploadedFile | None:
    """The upload behind a url. `for_message`: share-locked until commit (PostgreSQL), so that the
    orphan sweep, which skips locked rows, never deletes a file a message is taking just then."""
    match = URL_PATTERN.match(url) if isinstance(url, str) else None
    if not match:
        return None
    if for_message:
        return ctx.session.scalar(
            select(UploadedFile).where(UploadedFile.file_id == match.group(1)).with_for_update(read=True)
        )
    return ctx.session.get(UploadedFile, match.group(1))


def may_access(ctx: Context, user_id: str, upload: UploadedFile) -> bool:
    """The uploader, and whoever may read a message that carries the file."""
    if upload.uploader_id == user_id:
        return True
    links = ctx.session.execute(
        select(MessageFile.conversation_id, MessageFile.seq).where(MessageFile.file_id == upload.file_id)
    ).all()
    for conversation_id, seq in links:
        try:
            r = conversations.readable(ctx, user_id, conversation_id)
        except errors.ConversationNotFound:
            continue
        if r.min_seq <= seq <= r.max_seq:
            return True
    return False


def file_for(ctx: Context, user_id: str, file_id: str) -> tuple[Path, UploadedFile]:
    """The stored file to serve to user_id; FileNotFound also when they may not see it."""
    upload = ctx.session.get(UploadedFile, file_id) if re.fullmatch(r"[0-9a-f]{32}", file_id) else None
    if upload is None or not may_access(ctx, user_id, upload):
        raise errors.FileNotFound()
    path = upload_dir(ctx.settings) / upload.file_id
    if not path.exists():
        raise errors.FileNotFound()
    return path, upload


def unlink_message(ctx: Context, conversation_id: str, seq: int) -> list[str]:
    """Forget which files a (revoked) message carried; returns the ids no message carries any more."""
    file_ids = list(
        ctx.session.scalars(
            select(MessageFile.file_id).where(MessageFile.conversation_id == conversation_id, MessageFile.seq == seq)
        )
    )
    if not file_ids:
        return []
    ctx.session.execute(
        delete(MessageFile).where(MessageFile.conversation_id == conversation_id, MessageFile.seq == seq)
    )
    still_used = set(ctx.session.scalars(select(MessageFile.file_id).where(MessageFile.file_id.in_(file_ids))))
    orphans = [f for f in file_ids if f not in still_used]
    if orphans:
        ctx.session.execute(delete(UploadedFile).where(UploadedFile.file_id.in_(orphans)))
    return orphans


def remove_files(settings: Settings, file_ids: list[str]) -> None:
    """Delete stored bytes (after the commit that forgot them)."""
    for file_id in file_ids:
        (upload_dir(settings) / file_id).unlink(missing_ok=True)


def delete_orphans(ctx: Context, grace_seconds: int | None = None) -> list[str]:
    """Delete uploads older than the grace period that no message carries: rows, then (after the
    commit) their bytes.

    A message deleted for one user still carries its files for the others; a revoked one no longer
    does (unlink_message); a forwarded copy carries them on its own.
    """
    grace = ctx.settings.upload_orphan_seconds if grace_seconds is None else grace_seconds
    unreferenced = ~exists().where(MessageFile.file_id == UploadedFile.file_id)
    candidates = list(
        ctx.session.scalars(
            select(UploadedFile.file_id)
            .where(UploadedFile.created_at < utcnow() - timedelta(seconds=grace), unreferenced)
            .order_by(UploadedFile.created_at)
            .limit(ORPHANS_PER_SWEEP)
            .with_for_update(skip_locked=True)
        )
    )
    if not candidates:
        return []
    # Checked again in a statement of its own, the rows now locked: a message that took one of them
    # while the first read ran has committed its link by now, and keeps the file.
    gone = list(
        ctx.session.scalars(
            delete(UploadedFile)
            .where(UploadedFile.file_id.in_(candidates), unreferenced)
            .returning(UploadedFile.file_id)
        )
    )
    settings = ctx.settings
    ctx.outbox.after_commit(lambda: remove_files(settings, gone))
    return gone
