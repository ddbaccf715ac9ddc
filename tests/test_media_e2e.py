"""A voice note as an answer, end to end, over WhatsApp and Telegram (and MMS on SMS).

The person's messages go through the Flask webhooks as the providers send them; the
voice note is fetched afterwards by the media job through the real twilio and
python-telegram-bot clients from the fake providers (Twilio's MediaUrl with basic auth and
a redirect to its CDN; Telegram's getFile and download), stored encrypted, played back in
the dashboard by an organiser, refused to anyone signed out and after DELETE, and its
transcript reaches the export. The raw bytes must never appear on disk or in the database.
"""

from __future__ import annotations

import csv
import io
import secrets
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, MetaData, select

from bot.services.media_jobs import MediaJob, store_of
from storage.models import Answer, AuditEvent, MediaDeletion, MediaItem
from tests.browser.seed import add_user
from tests.media_samples import ogg_opus
from tests.test_dashboard import sign_in, token
from tests.webhook_harness import (
    CHAT,
    PERSON,
    SURVEY_CHANNELS,
    TELEGRAM_WARNINGS,
    Harness,
    fake_providers_fixture,
    open_runtime,
)

pytestmark = TELEGRAM_WARNINGS
fakes = fake_providers_fixture(SURVEY_CHANNELS)

WHATSAPP_PERSON = "+447700900124"
ORGANISER, REVIEWER = "org@example.org", "rev@example.org"
VOICE_NOTE_OFFER = "You can also send a voice note."
GOT_IT = "Thank you, we got your voice note."
TIME_FOR_ME = "How much time do you get for yourself?"
#: What a reviewer hears and types: the sister's number must be redacted.
HEARD = "I need a break now and then. My sister could help, ring her on 07700 900999."


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, fakes: object) -> Iterator[Harness]:
    # One person is enough to show their voice note here (the threshold is a setting).
    with open_runtime(engine, tmp_path, fakes, min_cell=1) as runtime:  # type: ignore[arg-type]
        add_user(runtime, ORGANISER, "organiser")
        add_user(runtime, REVIEWER, "reviewer")
        yield Harness(runtime, fakes)  # type: ignore[arg-type]


# -- the person's side ----------------------------------------------------------------------


def whatsapp(h: Harness, body: str, button: str = "", **extra: str) -> None:
    if button:
        extra |= {"ButtonText": body, "ButtonPayload": button}
    h.send_whatsapp(body, WHATSAPP_PERSON, **extra)


def carers_on_whatsapp(h: Harness) -> None:
    """Up to the question that takes a voice note ("What support is missing?")."""
    whatsapp(h, "carers")
    whatsapp(h, "English", button="lang:en")
    whatsapp(h, "Yes, I agree", button="consent:yes")
    whatsapp(h, "1")  # hours
    whatsapp(h, "1 2")  # what helps


def voice_on_whatsapp(h: Harness, data: bytes, content_type: str = "audio/ogg") -> None:
    url = h.twilio.add_media(data, content_type)
    whatsapp(h, "", MessageType="audio", **h.twilio.media_form([(url, content_type)]))


def carers_on_telegram(h: Harness) -> None:
    h.send_telegram("/start carers")
    h.press_button("lang:en")
    h.press_button("consent:yes")
    h.press_button("hours=under_20")
    h.send_telegram("1 2")


def voice_update(update_id: int, file_id: str, size: int, chat: int = CHAT) -> dict[str, object]:
    """A Telegram voice note, as Telegram posts it."""
    return {"update_id": update_id, "message": {
        "message_id": update_id % 10_000, "date": 1795428000,
        "from": {"id": chat, "is_bot": False, "first_name": "Sam"},
        "chat": {"id": chat, "first_name": "Sam", "type": "private"},
        "voice": {"file_id": file_id, "file_unique_id": file_id[-8:], "duration": 2,
                  "mime_type": "audio/ogg", "file_size": size},
    }}


def voice_on_telegram(h: Harness, data: bytes) -> None:
    file_id = h.telegram.add_file(data, f"voice/file_{secrets.token_hex(3)}.oga")
    response = h.post_telegram(voice_update(h._update_id(), file_id, len(data)))
    assert response.status_code == 200
    h.deliver()


def fetch(h: Harness) -> None:
    """What the scheduler does every few seconds: the media job, then the sender."""
    MediaJob(h.runtime).run_once()
    h.deliver()


# -- looking for the bytes ----------------------------------------------------------------------


def found_on_disk(folder: Path, needle: bytes) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()]


def found_in_database(engine: Engine, needle: bytes) -> list[str]:
    """Every table and column, read back as bytes or text, searched for the needle."""
    metadata = MetaData()
    metadata.reflect(engine)
    text = needle.decode("latin-1")
    found = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if isinstance(value, bytes | memoryview):
                        if needle in bytes(value):
                            found.append(f"{table.name}.{column}")
                    elif value is not None and text in str(value):
                        found.append(f"{table.name}.{column}")
    return found


def assert_nowhere(h: Harness, engine: Engine, folder: Path, needle: bytes) -> None:
    assert found_on_disk(folder, needle) == []
    assert found_in_database(engine, needle) == []


# -- the dashboard's side ---------------------------------------------------------------------


def signed_in(h: Harness, email: str) -> FlaskClient:
    client = h.app.test_client()
    assert sign_in(client, email).status_code == 302
    return client


def only_item(h: Harness) -> MediaItem:
    with h.runtime.sessions() as session:
        return session.scalars(select(MediaItem)).one()


def export_csv(client: FlaskClient, survey_id: str) -> list[dict[str, str]]:
    csrf = token(client, f"/dashboard/surveys/{survey_id}")
    reply = client.post(f"/dashboard/surveys/{survey_id}/export", data={
        "csrf_token": csrf, "format": "csv", "ids": "random", "reason": "test",
        "responses": "Download responses"})
    assert reply.status_code == 200
    return list(csv.DictReader(io.StringIO(reply.get_data(as_text=True).lstrip("\ufeff"))))


def save_transcript(client: FlaskClient, survey_id: str, media_id: int, text: str) -> None:
    csrf = token(client, f"/dashboard/surveys/{survey_id}/voice")
    reply = client.post(f"/dashboard/media/{media_id}/transcript",
                        data={"csrf_token": csrf, "text": text})
    assert reply.status_code == 302


def played(client: FlaskClient, media_id: int) -> tuple[int, bytes, str]:
    reply = client.get(f"/dashboard/media/{media_id}")
    return reply.status_code, reply.get_data(), reply.headers.get("Cache-Control", "")


def check_review(h: Harness, media_id: int, original: bytes) -> None:
    """Played back to an organiser, byte for byte; refused when signed out; transcribed
    by a reviewer, redacted, and in the export with the media reference."""
    organiser = signed_in(h, ORGANISER)
    status, body, cache = played(organiser, media_id)
    assert (status, cache) == (200, "no-store")
    assert body == original
    page = organiser.get("/dashboard/surveys/carers/voice").get_data(as_text=True)
    assert f'src="/dashboard/media/{media_id}"' in page and "<audio" in page
    with h.runtime.sessions() as session:
        played_events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "play_media")).all()
    assert [e.detail["media"] for e in played_events] == [f"media-{media_id}"]

    anonymous = h.app.test_client()
    status, body, _cache = played(anonymous, media_id)
    assert status == 302 and original not in body  # to the sign-in page

    save_transcript(signed_in(h, REVIEWER), "carers", media_id, HEARD)
    rows = export_csv(organiser, "carers")
    missing = next(key for key in rows[0] if key.endswith("[missing]"))
    assert rows[0][missing].startswith("I need a break now and then. My sister could help")
    assert "900999" not in rows[0][missing]  # redacted like any free text
    assert rows[0][missing + " voice note or photo"] == f"media-{media_id} (voice note)"
    with h.runtime.sessions() as session:
        words = session.scalars(select(Answer.value).where(Answer.kind == "value",
                                                           Answer.question_id == "missing"))
        assert [w for w in words if "900999" in str(w)] == []


def check_archive(h: Harness, media_id: int, original: bytes) -> None:
    """Only an organiser, with a reason, gets the recordings: audited."""
    path = "/dashboard/surveys/carers/voice/archive"
    reviewer = signed_in(h, REVIEWER)
    csrf = token(reviewer, "/dashboard/surveys/carers/voice")
    assert reviewer.post(path, data={"csrf_token": csrf, "reason": "x"}).status_code == 403
    organiser = signed_in(h, ORGANISER)
    csrf = token(organiser, "/dashboard/surveys/carers/voice")
    assert organiser.post(path, data={"csrf_token": csrf, "reason": ""}).status_code == 302
    reply = organiser.post(path, data={"csrf_token": csrf, "reason": "for the group's report"})
    assert (reply.status_code, reply.mimetype) == (200, "application/zip")
    with zipfile.ZipFile(io.BytesIO(reply.get_data())) as archive:
        assert archive.read(f"media-{media_id}.ogg") == original
        index = archive.read("index.csv").decode("utf-8-sig")
    assert f"media-{media_id}" in index and "I need a break now and then" in index
    with h.runtime.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "media_archive"))
        assert [(e.reason, e.detail) for e in events] == [("for the group's report",
                                                           {"files": 1})]


def check_erased(h: Harness, engine: Engine, folder: Path, media_id: int, needle: bytes,
                 delete: Callable[[], None]) -> None:
    """After DELETE (and the media job): no record, no file, refused in the dashboard."""
    store = store_of(h.runtime)
    assert len(list(store.list_keys())) == 1
    delete()
    fetch(h)
    assert list(store.list_keys()) == []
    with h.runtime.sessions() as session:
        assert session.scalars(select(MediaItem)).all() == []
        assert session.scalars(select(MediaDeletion)).all() == []
    status, _body, _cache = played(signed_in(h, ORGANISER), media_id)
    assert status == 404
    assert_nowhere(h, engine, folder, needle)


# -- the journeys ---------------------------------------------------------------------------


def test_whatsapp_voice_note(harness: Harness, engine: Engine, tmp_path: Path) -> None:
    marker = b"voice-" + secrets.token_hex(8).encode()
    note = ogg_opus(2.5, vendor=marker)
    carers_on_whatsapp(harness)
    asked = harness.twilio.messages[-1]["Body"]
    assert asked.startswith("What support is missing for you right now?")
    assert VOICE_NOTE_OFFER in asked  # WhatsApp carries voice notes: the prompt says so
    harness.forget_replies()

    voice_on_whatsapp(harness, note)
    bodies = [m.get("Body", "") for m in harness.twilio.messages]
    assert bodies[0] == GOT_IT and bodies[1].startswith(TIME_FOR_ME)
    item = only_item(harness)
    assert (item.status, item.storage_key) == ("pending", None)  # fetched after the webhook
    assert harness.twilio.media_requests == []

    fetch(harness)
    item = only_item(harness)
    assert (item.status, item.kind, item.content_type) == ("stored", "audio", "audio/ogg")
    assert item.size_bytes == len(note) and item.duration_ms == 2500
    assert item.source is None  # the MediaUrl is forgotten once stored
    api, cdn = harness.twilio.media_requests
    assert "/Media/" in api[0] and api[1] is True  # our basic auth, to Twilio's API only
    assert cdn[0].startswith("/media-cdn/") and cdn[1] is False  # the redirect: no auth
    assert harness.runtime.vault.unseal(store_of(harness.runtime).get(item.storage_key)) == note
    assert_nowhere(harness, engine, tmp_path, marker)

    check_review(harness, item.id, note)
    check_archive(harness, item.id, note)

    def delete() -> None:
        whatsapp(harness, "DELETE")
        whatsapp(harness, "Yes, delete", button="delete:yes")

    check_erased(harness, engine, tmp_path, item.id, marker, delete)


def test_telegram_voice_note(harness: Harness, engine: Engine, tmp_path: Path) -> None:
    marker = b"voice-" + secrets.token_hex(8).encode()
    note = ogg_opus(1.0, vendor=marker)
    carers_on_telegram(harness)
    assert VOICE_NOTE_OFFER in harness.telegram.messages[-1]["text"]

    voice_on_telegram(harness, note)
    assert harness.telegram.messages[-2]["text"] == GOT_IT
    fetch(harness)
    assert [c["file_id"] for c in harness.telegram.calls("getFile")] != []
    item = only_item(harness)
    assert (item.status, item.duration_ms) == ("stored", 1000)
    assert_nowhere(harness, engine, tmp_path, marker)

    check_review(harness, item.id, note)

    def delete() -> None:
        harness.send_telegram("DELETE")
        harness.press_button("delete:yes")

    check_erased(harness, engine, tmp_path, item.id, marker, delete)


def test_sms_never_offers_a_voice_note_but_takes_an_mms(harness: Harness) -> None:
    for text in ("carers", "1", "1", "1", "1 2"):
        harness.send_sms(text, PERSON)
    asked = harness.twilio.messages[-1]["Body"]
    assert asked.startswith("What support is missing") and "voice note" not in asked
    note = ogg_opus(1.0)
    url = harness.twilio.add_media(note, "audio/ogg")
    harness.send_sms("", PERSON, **harness.twilio.media_form([(url, "audio/ogg")]))
    fetch(harness)
    assert only_item(harness).status == "stored"  # where Twilio delivers MMS, the same way
