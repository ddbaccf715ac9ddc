"""Voice notes and photos as answers: settings, checking and cleaning, and their records.

The path of a voice note:

1. The webhook answers at once. In the message's transaction the engine takes the voice
   note as the answer (`surveys.media`), and `queue` records a `MediaItem` holding the
   provider's reference, encrypted with the vault key: the fetch job.
2. The media job (bot/services/media_jobs.py, run by the scheduler) claims it, fetches
   it through the channel (Twilio's MediaUrl with basic auth; Telegram's getFile), checks
   it here (`clean`: size, an allowed type by its bytes, not corrupt; photos re-encoded
   without EXIF or GPS), encrypts it with the vault's keys and writes it to the media
   store. The database gets only the key, type, size, duration and a hash.
3. Reviewers play it in the dashboard and type what they hear (`save_transcript`): the
   transcript is redacted like any free text and becomes the question's words, so
   figures, themes, quotes and exports use it.
4. DELETE, `withus participants erase` and retention remove the records and queue the
   files for deletion (`forget_participant`, `expire`); the media job deletes them.

Nothing here imports the runtime, so the runtime can build the store from here.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.services.config import ConfigError, Settings
from bot.services.transcription import transcriber_for
from channels.base import InboundMessage, MediaRef
from storage.media import LocalMediaStore, MediaStore, S3MediaStore
from storage.models import Answer
from storage.repositories.media import TRANSCRIPT_LABEL, MediaRepository
from storage.uow import UnitOfWork
from storage.vault import ContactVault
from surveys.conversation import AnswerGiven, Record
from surveys.media import media_kind
from surveys.redaction import Redactor

#: 16 MB: the most WhatsApp (through Twilio) delivers; Telegram bots may fetch 20 MB.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
#: Photos bigger than this many pixels are refused (a "decompression bomb" guard).
MAX_PIXELS = 50_000_000

#: What may be stored, by what the bytes are (not what the sender says they are).
ALLOWED: Mapping[str, frozenset[str]] = {
    "audio": frozenset({"audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/wav"}),
    "image": frozenset({"image/jpeg", "image/png", "image/webp"}),
}
#: Other names providers use for the same types.
_ALIASES = {"audio/opus": "audio/ogg", "audio/x-wav": "audio/wav", "audio/wave": "audio/wav",
            "audio/mp3": "audio/mpeg", "audio/x-m4a": "audio/mp4", "audio/m4a": "audio/mp4",
            "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg",
            "application/ogg": "audio/ogg", "video/ogg": "audio/ogg"}
#: What each problem code means, for the dashboard and `withus media status`.
PROBLEMS = {
    "too_large": "bigger than the size limit",
    "wrong_type": "not a voice note or photo we can keep",
    "foreign_host": "its address was not the provider's",
    "timeout": "the provider took too long",
    "corrupt": "the file was damaged and could not be read",
    "not_found": "the provider no longer had it",
    "refused": "the provider refused to hand it over",
    "unavailable": "the provider could not be reached",
    "gave_up": "still failing after several tries",
}
EXTENSIONS = {"audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/aac": "aac",
              "audio/wav": "wav", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


# --- Settings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MediaSettings:
    """Where voice notes and photos are stored, and the limits on fetching them.

    From the environment (and `Settings.extra`, which tests use); docs/privacy.md and
    docs/operations.md list the names.
    """

    store: str = "local"  # "local" or "s3"
    path: Path = Path("instance/media")
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_prefix: str = "media/"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    max_bytes: int = DEFAULT_MAX_BYTES
    fetch_timeout: float = 30.0
    max_attempts: int = 6
    #: Automatic transcription: "off" (the default and, for now, the only engine; see
    #: bot/services/transcription.py).
    transcribe: str = "off"

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaSettings:
        env = {**os.environ, **settings.extra}
        store = env.get("WITHUS_MEDIA_STORE", "local").strip().lower() or "local"
        if store not in ("local", "s3"):
            raise ConfigError("WITHUS_MEDIA_STORE must be 'local' or 's3'.")
        bucket = env.get("WITHUS_MEDIA_S3_BUCKET", "").strip()
        if store == "s3" and not bucket:
            raise ConfigError("WITHUS_MEDIA_STORE=s3 needs WITHUS_MEDIA_S3_BUCKET.")
        path = env.get("WITHUS_MEDIA_PATH", "").strip()
        transcribe = env.get("WITHUS_TRANSCRIBE", "off").strip().lower() or "off"
        transcriber_for(transcribe)  # an engine that does not exist stops startup
        return cls(
            store=store,
            path=Path(path) if path else settings.instance_path / "media",
            s3_bucket=bucket,
            s3_endpoint_url=env.get("WITHUS_MEDIA_S3_ENDPOINT_URL", "").strip(),
            s3_region=env.get("WITHUS_MEDIA_S3_REGION", "").strip(),
            s3_prefix=env.get("WITHUS_MEDIA_S3_PREFIX", "media/"),
            s3_access_key=env.get("WITHUS_MEDIA_S3_ACCESS_KEY_ID", ""),
            s3_secret_key=env.get("WITHUS_MEDIA_S3_SECRET_ACCESS_KEY", ""),
            max_bytes=_positive(env, "WITHUS_MEDIA_MAX_BYTES", DEFAULT_MAX_BYTES),
            fetch_timeout=float(_positive(env, "WITHUS_MEDIA_FETCH_TIMEOUT", 30)),
            max_attempts=_positive(env, "WITHUS_MEDIA_MAX_ATTEMPTS", 6),
            transcribe=transcribe,
        )


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number.") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1.")
    return value


def build_store(config: MediaSettings) -> MediaStore:
    """The configured store: a folder under the instance folder, or an S3 bucket."""
    if config.store == "s3":
        return S3MediaStore.connect(
            config.s3_bucket, endpoint_url=config.s3_endpoint_url, region=config.s3_region,
            prefix=config.s3_prefix, access_key=config.s3_access_key,
            secret_key=config.s3_secret_key, timeout=config.fetch_timeout)
    return LocalMediaStore(config.path)


# --- Checking and cleaning -----------------------------------------------------------------


class MediaProblem(ValueError):
    """The bytes cannot be kept: `problem` is one of PROBLEMS' codes."""

    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


@dataclass(frozen=True)
class Cleaned:
    data: bytes
    content_type: str
    duration_ms: int | None

    def __repr__(self) -> str:
        return f"Cleaned(bytes={len(self.data)}, content_type={self.content_type!r})"


def normal_type(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def sniff(data: bytes) -> str:
    """The content type the bytes themselves show, or "" when unknown."""
    head = data[:16]
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # Frame sync: layer bits 00 are AAC (ADTS), anything else MPEG audio.
        return "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"
    return ""


def clean(kind: str, data: bytes, claims: Sequence[str], max_bytes: int) -> Cleaned:
    """Check fetched bytes and make them safe to keep, or raise `MediaProblem`.

    * at most `max_bytes`;
    * the type the bytes show must be allowed for `kind`, and so must every type the
      provider claimed (in the webhook, in the download's Content-Type);
    * audio must parse (mutagen) and have a length; photos must decode (Pillow), and are
      re-encoded from their pixels, turned upright, so EXIF (GPS included), XMP,
      comments and colour profiles are left behind. Faces are not looked at.
    """
    if len(data) > max_bytes:
        raise MediaProblem("too_large", "larger than the limit")
    allowed = ALLOWED.get(kind, frozenset())
    actual = sniff(data)
    said = [normal_type(c) for c in claims if c]
    if actual not in allowed or any(c not in allowed for c in said):
        raise MediaProblem("wrong_type", f"not an allowed {kind} type")
    if kind == "audio":
        return Cleaned(data, actual, _audio_length(data))
    return _clean_image(data, actual)


def _audio_length(data: bytes) -> int:
    import mutagen

    try:
        found = mutagen.File(io.BytesIO(data))
        length = float(found.info.length) if found is not None else 0.0
    except Exception:  # mutagen raises many kinds on damaged files
        raise MediaProblem("corrupt", "the audio could not be read") from None
    if not length > 0:
        raise MediaProblem("corrupt", "the audio has no length")
    return round(length * 1000)


def _clean_image(data: bytes, content_type: str) -> Cleaned:
    from PIL import Image, ImageOps

    formats = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
    fmt = formats[content_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
                probe.verify()  # truncated or damaged files fail here
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise MediaProblem("too_large", "too many pixels")
                upright = ImageOps.exif_transpose(image)
                upright.load()
    except MediaProblem:
        raise
    except Exception:  # Pillow raises many kinds on damaged files
        raise MediaProblem("corrupt", "the photo could not be read") from None
    if upright.mode not in ("RGB", "RGBA", "L"):
        upright = upright.convert("RGBA" if fmt != "JPEG" else "RGB")
    if fmt == "JPEG" and upright.mode == "RGBA":
        upright = upright.convert("RGB")
    # A fresh image from the raw pixels: no info, EXIF, XMP or profile comes along.
    pixels = Image.frombytes(upright.mode, upright.size, upright.tobytes())
    out = io.BytesIO()
    pixels.save(out, fmt, **({"quality": 90} if fmt != "PNG" else {}))
    return Cleaned(out.getvalue(), content_type, None)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- Records ---------------------------------------------------------------------------------


def accepted_media(records: list[Record]) -> list[AnswerGiven]:
    """The voice notes and photos the engine took as answers in this step."""
    return [r for r in records if isinstance(r, AnswerGiven) and r.kind == "media"
            and isinstance(r.value, dict) and r.value.get("accepted")]


def queue(uow: UnitOfWork, vault: ContactVault, pid: str, message: InboundMessage,
          answers: list[AnswerGiven], response_id: int | None, now: datetime) -> list[int]:
    """In the message's transaction: a fetch job for each attachment the engine took as an
    answer, its provider reference encrypted. Nothing is fetched here."""
    if response_id is None or not answers:
        return []
    repo = MediaRepository(uow.session)
    ids = []
    for answer in answers:
        answer_id = repo.answer_id(response_id, answer.question_id)
        if answer_id is None:
            continue
        kind = str(answer.value["media"])
        for ref in _matching(message.media, kind):
            source = vault.encrypt(ref.source)
            ids.append(repo.add(pid, answer_id, answer.survey_id, answer.question_id,
                                message.channel, kind, source, ref.content_type, now))
    return ids


def _matching(refs: tuple[MediaRef, ...], kind: str) -> list[MediaRef]:
    """The attachments of this kind (a Twilio message may carry several)."""
    return [ref for ref in refs if media_kind(ref.kind) == kind]


def save_transcript(uow: UnitOfWork, redactor: Redactor, media_id: int, text: str,
                    user_id: int | None, now: datetime) -> str:
    """Store what a reviewer heard, redacted; it becomes the question's words.

    The answer's typed words, if the person also wrote some, are left as they are: the
    transcript is then kept with the voice note only. Returns the redacted text.
    """
    repo = MediaRepository(uow.session)
    item = repo.get(media_id)
    if item is None:
        raise LookupError("no such voice note")
    redacted = redactor.redact(" ".join(text.split())) if text.strip() else ""
    repo.set_transcript(media_id, redacted, user_id, now)
    answer = uow.session.get(Answer, item.answer_id)
    if answer is None:
        return redacted
    typed = next((a for a in uow.answers.for_response(answer.response_id)
                  if a.question_id == item.question_id and a.kind == "value"
                  and a.label != TRANSCRIPT_LABEL), None)
    if typed is not None:
        return redacted
    words = "\n\n".join(repo.transcripts_for_answer(item.answer_id))
    if words:
        uow.answers.record(answer.response_id, item.participant_id, item.survey_id,
                           item.question_id, "value", words, TRANSCRIPT_LABEL,
                           answer.survey_version, now, free=True)
    else:
        repo.remove_transcript_answer(answer.response_id, item.question_id)
    return redacted


def forget_participant(uow: UnitOfWork, pid: str, now: datetime) -> int:
    """Before an erasure: queue the person's files for deletion from the store."""
    return MediaRepository(uow.session).forget_participant(pid, now)


def expire(uow: UnitOfWork, retention: Mapping[str, int], now: datetime) -> int:
    """Retention: each survey's voice notes and photos older than its retention period."""
    repo = MediaRepository(uow.session)
    return sum(repo.expire(survey_id, now - timedelta(days=days), now)
               for survey_id, days in retention.items())
