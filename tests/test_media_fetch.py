"""Voice notes and photos that cannot be kept, and photos that can (without their EXIF).

Through the webhooks, the real clients and the fake providers, as in test_media_e2e. For
each bad input the issue names (too big, the wrong type, a MediaUrl off Twilio's hosts, a
fetch that times out, a damaged OGG or JPEG, a Telegram file id that fails): a clear
record on the voice note, a kind message asking again, nothing in the media store, and
no error page.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine, select

from bot.services.media_jobs import MediaJob, store_of
from storage.models import Answer, MediaItem
from surveys.loader import library_path
from tests.browser.seed import add_user
from tests.helpers import load_library
from tests.media_samples import CAMERA, jpeg_with_gps, ogg_opus
from tests.test_dashboard import sign_in
from tests.test_media_e2e import fetch, voice_update
from tests.webhook_harness import (
    SURVEY_CHANNELS,
    TELEGRAM_WARNINGS,
    Harness,
    fake_providers_fixture,
    open_runtime,
)

pytestmark = TELEGRAM_WARNINGS
fakes = fake_providers_fixture(SURVEY_CHANNELS)

PERSON = "+447700900125"
MAX_BYTES = 4000
GARDEN = """\
id: garden
version: 1
language: en
title: The garden
intro: Hello from WithUs. One question about the garden at your care home. Reply STOP to stop.
consent: >-
  We keep your answers private. A voice note or photo is kept encrypted. Only the
  organisers and reviewers see it. We delete it after a year, or if you reply DELETE.
  Do you agree to take part?
thank_you: Thank you.
ask_quote_permission: false
offer_share_back: false
questions:
  - id: garden
    type: free_text
    text: What is the garden like?
    accepts: [text, audio, image]
"""
QUESTION = "What is the garden like?"
SORRY_VOICE = ("Sorry, your voice note didn't reach us, so we haven't kept it. Please send it "
               "again, or answer in words.")
SORRY_PHOTO = ("Sorry, your photo didn't reach us, so we haven't kept it. Please send it "
               "again, or answer in words.")


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, fakes: object) -> Iterator[Harness]:
    surveys = tmp_path / "surveys"
    surveys.mkdir()
    for path in library_path().glob("*.yaml"):
        shutil.copy(path, surveys)
    (surveys / "garden.yaml").write_text(GARDEN, encoding="utf-8")
    extra = {"WITHUS_MEDIA_MAX_BYTES": str(MAX_BYTES), "WITHUS_MEDIA_FETCH_TIMEOUT": "1",
             "WITHUS_MEDIA_MAX_ATTEMPTS": "2"}
    with open_runtime(engine, tmp_path, fakes,  # type: ignore[arg-type]
                      lambda rt: load_library(rt, surveys), min_cell=1, extra=extra) as runtime:
        add_user(runtime, "org@example.org", "organiser")
        yield Harness(runtime, fakes)  # type: ignore[arg-type]


def to_the_question(h: Harness) -> None:
    h.send_whatsapp("garden", PERSON)
    h.send_whatsapp("Yes, I agree", PERSON, ButtonText="Yes, I agree",
                    ButtonPayload="consent:yes")
    assert h.twilio.messages[-1]["Body"] == (
        QUESTION + "\nYou can also send a voice note or a photo.")
    h.forget_replies()


def send(h: Harness, url: str, content_type: str) -> None:
    h.send_whatsapp("", PERSON, **h.twilio.media_form([(url, content_type)]))


def only_item(h: Harness) -> MediaItem:
    with h.runtime.sessions() as session:
        return session.scalars(select(MediaItem)).one()


def assert_not_kept(h: Harness, tmp_path: Path, problem: str, sorry: str = SORRY_VOICE) -> None:
    item = only_item(h)
    assert (item.status, item.problem) == ("failed", problem)
    assert item.storage_key is None and item.sha256 is None and item.source is None
    assert list(store_of(h.runtime).list_keys()) == []
    media_folder = tmp_path / "media"
    assert not media_folder.exists() or [p for p in media_folder.rglob("*") if p.is_file()] == []
    with h.runtime.sessions() as session:  # the record of what they sent stays, no words
        kinds = session.scalars(select(Answer.kind).where(Answer.question_id == "garden"))
        assert list(kinds) == ["media"]
    bodies = [m.get("Body") for m in h.twilio.messages]
    assert bodies[-2:] == [sorry, QUESTION + "\nYou can also send a voice note or a photo."]
    client = h.app.test_client()
    sign_in(client, "org@example.org")
    page = client.get("/dashboard/surveys/garden/voice")
    assert page.status_code == 200
    assert "Not kept:" in page.get_data(as_text=True)


def damaged_jpeg() -> bytes:
    return jpeg_with_gps((200, 200))[:400]


@pytest.mark.parametrize(("name", "data", "content_type", "problem", "sorry"), [
    ("too big", ogg_opus(60.0), "audio/ogg", "too_large", SORRY_VOICE),
    ("a PDF said to be a voice note", b"%PDF-1.4\n" + b"0" * 500, "audio/ogg", "wrong_type",
     SORRY_VOICE),
    ("a voice note said to be a photo", ogg_opus(1.0), "image/jpeg", "wrong_type", SORRY_PHOTO),
    ("a damaged OGG", b"OggS\x00\x02" + bytes(range(256)) * 2, "audio/ogg", "corrupt",
     SORRY_VOICE),
    ("a damaged JPEG", damaged_jpeg(), "image/jpeg", "corrupt", SORRY_PHOTO),
])
def test_bad_media_is_recorded_and_asked_again(harness: Harness, tmp_path: Path, name: str,
                                               data: bytes, content_type: str, problem: str,
                                               sorry: str) -> None:
    to_the_question(harness)
    assert len(ogg_opus(60.0)) > MAX_BYTES  # the first case really is too big
    send(harness, harness.twilio.add_media(data, content_type), content_type)
    fetch(harness)
    assert_not_kept(harness, tmp_path, problem, sorry)


def test_a_media_url_off_twilios_hosts_is_never_fetched(harness: Harness,
                                                        tmp_path: Path) -> None:
    to_the_question(harness)
    send(harness, "https://media.example.org/2010-04-01/Accounts/x/Media/ME1", "audio/ogg")
    fetch(harness)
    assert harness.twilio.media_requests == []
    assert_not_kept(harness, tmp_path, "foreign_host")


def test_a_fetch_that_times_out_is_retried_then_given_up(harness: Harness,
                                                          tmp_path: Path) -> None:
    to_the_question(harness)
    send(harness, harness.twilio.add_media(ogg_opus(1.0), "audio/ogg", delay=1.5), "audio/ogg")
    fetch(harness)
    item = only_item(harness)
    assert (item.status, item.attempts, item.problem) == ("pending", 1, None)
    assert item.last_error == "twilio media fetch timed out"
    assert len(harness.twilio.messages) == 2  # no apology yet: it may still work
    harness.runtime.clock.advance(minutes=5)  # type: ignore[attr-defined]
    fetch(harness)
    assert_not_kept(harness, tmp_path, "timeout")


def test_a_telegram_file_id_that_fails(harness: Harness, tmp_path: Path) -> None:
    harness.send_telegram("/start garden")
    harness.press_button("consent:yes")
    response = harness.post_telegram(voice_update(harness._update_id(), "AwACAgQAAxkBAAInope",
                                                  500))
    assert response.status_code == 200
    harness.deliver()
    fetch(harness)
    item = only_item(harness)
    assert (item.status, item.problem) == ("failed", "refused")
    assert list(store_of(harness.runtime).list_keys()) == []
    texts = [m["text"] for m in harness.telegram.messages]
    assert texts[-2:] == [SORRY_VOICE, QUESTION + "\nYou can also send a voice note or a photo."]


def test_a_photo_is_kept_without_its_exif_or_gps(harness: Harness) -> None:
    to_the_question(harness)
    photo = jpeg_with_gps((120, 80))
    assert CAMERA.encode() in photo and Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)
    send(harness, harness.twilio.add_media(photo, "image/jpeg"), "image/jpeg")
    assert harness.twilio.messages[0]["Body"] == "Thank you, we got your photo."
    MediaJob(harness.runtime).run_once()
    item = only_item(harness)
    assert (item.status, item.kind, item.content_type) == ("stored", "image", "image/jpeg")
    kept = harness.runtime.vault.unseal(store_of(harness.runtime).get(item.storage_key or ""))
    image = Image.open(io.BytesIO(kept))
    assert image.size == (120, 80)
    assert dict(image.getexif()) == {} and "exif" not in image.info
    assert CAMERA.encode() not in kept and b"taken at home" not in kept
    client = harness.app.test_client()
    sign_in(client, "org@example.org")
    shown = client.get(f"/dashboard/media/{item.id}")
    assert (shown.status_code, shown.mimetype) == (200, "image/jpeg")
    assert shown.get_data() == kept


def test_media_a_question_does_not_take_gets_the_kind_words(harness: Harness) -> None:
    """A document (or a photo to a voice-only question) is not an answer: nothing fetched."""
    to_the_question(harness)
    url = harness.twilio.add_media(b"%PDF-1.4", "application/pdf")
    send(harness, url, "application/pdf")
    fetch(harness)
    with harness.runtime.sessions() as session:
        assert session.scalars(select(MediaItem)).all() == []
    assert harness.twilio.media_requests == []
    assert harness.twilio.messages[0]["Body"].startswith(
        "Thank you for the file. We can't use files here")


def test_a_media_reference_that_cannot_be_stored_is_refused_at_the_webhook(
        harness: Harness) -> None:
    """Not a 500 deep in the transaction (which a provider retries forever): a clear 400."""
    harness.send_telegram("/start garden")
    update = voice_update(harness._update_id(), "FILEID", 10)
    body = json.dumps(update).replace('"FILEID"', '"bad\\ud800id"').encode()
    assert harness.post_telegram(body).status_code == 400
    form = harness.twilio.inbound_form(f"whatsapp:{PERSON}", to=SURVEY_CHANNELS.whatsapp_from,
                                       MessageSid="SM" + "5" * 32,
                                       **harness.twilio.media_form([("https://api.twilio.com/"
                                                                     + "x" * 3000, "audio/ogg")]))
    assert harness.post_twilio("/webhooks/twilio/whatsapp", form).status_code == 400
    with harness.runtime.sessions() as session:
        assert session.scalars(select(MediaItem)).all() == []
