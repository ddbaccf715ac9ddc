"""The media store (a folder, or an S3 bucket on a local S3 server), key rotation, retention
and erasure by an organiser: the encrypted files go where the records go.

The S3 store is tested against moto's server mode (`moto[server]` from PyPI), started on
127.0.0.1 by the test: boto3 speaks real HTTP to it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, select

from bot.services.media_jobs import MediaJob, rotate, store_of
from bot.services.privacy import erase_participant
from bot.services.retention import purge
from bot.services.runtime import Runtime
from storage.media import LocalMediaStore, MediaMissing, MediaStore, S3MediaStore, new_key
from storage.models import Answer, MediaItem
from storage.uow import UnitOfWork
from storage.vault import ContactVault
from tests.media_samples import ogg_opus
from tests.test_media_e2e import (
    carers_on_whatsapp,
    found_in_database,
    found_on_disk,
    voice_on_whatsapp,
)
from tests.webhook_harness import (
    SURVEY_CHANNELS,
    TELEGRAM_WARNINGS,
    Harness,
    fake_providers_fixture,
    open_runtime,
)

pytestmark = TELEGRAM_WARNINGS
fakes = fake_providers_fixture(SURVEY_CHANNELS)
BUCKET = "withus-media-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_store(s3_endpoint: str) -> S3MediaStore:
    bucket = f"{BUCKET}-{secrets.token_hex(4)}"
    store = S3MediaStore.connect(bucket, endpoint_url=s3_endpoint, region="eu-west-2",
                                 access_key="testing", secret_key="testing")
    store.client.create_bucket(Bucket=bucket,
                               CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MediaStore:
    if request.param == "local":
        return LocalMediaStore(tmp_path / "media")
    s3: MediaStore = request.getfixturevalue("s3_store")
    return s3


def test_a_store_keeps_replaces_lists_and_deletes(store: MediaStore) -> None:
    first, second = new_key(), new_key()
    store.put(first, b"one")
    store.put(second, b"two")
    store.put(first, b"one again")
    assert store.get(first) == b"one again"
    assert sorted(store.list_keys()) == sorted([first, second])
    store.delete(first)
    store.delete(first)  # already gone: nothing happens
    with pytest.raises(MediaMissing):
        store.get(first)
    assert list(store.list_keys()) == [second]
    for bad in ("../secrets.json", "A" * 32, ""):
        with pytest.raises(ValueError):
            store.put(bad, b"x")


def test_the_local_store_leaves_no_partial_file(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path / "media")
    key = new_key()
    store.put(key, b"x" * 1000)
    files = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [key]
    assert files[0].stat().st_mode & 0o077 == 0  # this user only


# -- with a runtime ---------------------------------------------------------------------------


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, fakes: object,
            request: pytest.FixtureRequest) -> Iterator[Harness]:
    extra: dict[str, str] = {}
    if getattr(request, "param", "local") == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"{BUCKET}-{secrets.token_hex(4)}"
        extra = {"WITHUS_MEDIA_STORE": "s3", "WITHUS_MEDIA_S3_BUCKET": bucket,
                 "WITHUS_MEDIA_S3_ENDPOINT_URL": endpoint, "WITHUS_MEDIA_S3_REGION": "eu-west-2",
                 "WITHUS_MEDIA_S3_ACCESS_KEY_ID": "testing",
                 "WITHUS_MEDIA_S3_SECRET_ACCESS_KEY": "testing"}
    with open_runtime(engine, tmp_path, fakes, min_cell=1,  # type: ignore[arg-type]
                      extra=extra) as runtime:
        store = store_of(runtime)
        if isinstance(store, S3MediaStore):
            store.client.create_bucket(Bucket=store.bucket, CreateBucketConfiguration={
                "LocationConstraint": "eu-west-2"})
        yield Harness(runtime, fakes)  # type: ignore[arg-type]


def voice_note_stored(h: Harness, marker: bytes) -> MediaItem:
    carers_on_whatsapp(h)
    voice_on_whatsapp(h, ogg_opus(1.5, vendor=marker))
    MediaJob(h.runtime).run_once()
    with h.runtime.sessions() as session:
        item = session.scalars(select(MediaItem)).one()
    assert item.status == "stored"
    return item


@pytest.mark.parametrize("harness", ["local", "s3"], indirect=True)
def test_rotation_re_encrypts_files_under_the_new_key(harness: Harness) -> None:
    item = voice_note_stored(harness, b"rotate-me")
    store = store_of(harness.runtime)
    old = harness.runtime.vault
    new_key_text = Fernet.generate_key().decode()
    harness.runtime.vault = ContactVault([new_key_text, *harness.runtime.settings.vault_keys])
    assert rotate(harness.runtime) == 1
    sealed = store.get(item.storage_key or "")
    assert ContactVault([new_key_text]).unseal(sealed) == ogg_opus(1.5, vendor=b"rotate-me")
    with pytest.raises(Exception, match="could not be decrypted"):
        old.unseal(sealed)  # the old key alone no longer opens it


@pytest.mark.parametrize("harness", ["local", "s3"], indirect=True)
def test_retention_deletes_the_file_and_keeps_the_transcript(harness: Harness,
                                                             tmp_path: Path) -> None:
    item = voice_note_stored(harness, b"retain-me")
    runtime: Runtime = harness.runtime
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        from bot.services.media import save_transcript

        save_transcript(uow, runtime.service.redactor, item.id, "More help at night.", None,
                        runtime.clock())
        uow.commit()
    runtime.clock.advance(days=364)  # type: ignore[attr-defined]
    assert purge(runtime, runtime.clock())["media_files"] == 0
    runtime.clock.advance(days=2)  # type: ignore[attr-defined]
    assert purge(runtime, runtime.clock())["media_files"] == 1
    assert list(store_of(runtime).list_keys()) == []
    with runtime.sessions() as session:
        kept = session.get(MediaItem, item.id)
        assert kept is not None
        assert (kept.status, kept.storage_key, kept.sha256) == ("expired", None, None)
        assert kept.transcript == "More help at night."
        words = session.scalars(select(Answer.value).where(Answer.kind == "value",
                                                           Answer.question_id == "missing"))
        assert list(words) == ["More help at night."]
    assert found_on_disk(tmp_path, b"retain-me") == []


@pytest.mark.parametrize("harness", ["local", "s3"], indirect=True)
def test_an_organiser_erasure_removes_files_and_records(harness: Harness, engine: Engine,
                                                        tmp_path: Path) -> None:
    item = voice_note_stored(harness, b"erase-me")
    runtime = harness.runtime
    store = store_of(runtime)
    sealed = store.get(item.storage_key or "")
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        erase_participant(uow, item.participant_id, runtime.clock(), "organiser",
                          reason="asked by phone")
        uow.commit()
    MediaJob(runtime).delete_queued()
    assert list(store.list_keys()) == []
    with runtime.sessions() as session:
        assert session.scalars(select(MediaItem)).all() == []
    assert found_on_disk(tmp_path, b"erase-me") == []
    assert found_on_disk(tmp_path, sealed[:40]) == []  # not even the encrypted file
    assert found_in_database(engine, b"erase-me") == []


def test_orphaned_files_are_deleted(harness: Harness) -> None:
    item = voice_note_stored(harness, b"keep-me")
    store = store_of(harness.runtime)
    stray = new_key()
    store.put(stray, b"left by a crash between writing and recording")
    assert MediaJob(harness.runtime).delete_orphans() == 1
    assert list(store.list_keys()) == [item.storage_key]


def test_a_database_failure_after_writing_leaves_no_file(harness: Harness,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    carers_on_whatsapp(harness)
    voice_on_whatsapp(harness, ogg_opus(1.0))
    job = MediaJob(harness.runtime)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("storage.repositories.media.MediaRepository.mark_stored", broken)
    with pytest.raises(RuntimeError):
        job.run_once()
    assert list(store_of(harness.runtime).list_keys()) == []
    monkeypatch.undo()
    harness.runtime.clock.advance(minutes=11)  # type: ignore[attr-defined]
    job.run_once()  # the stuck claim is put back and fetched again
    with harness.runtime.sessions() as session:
        assert session.scalars(select(MediaItem.status)).one() == "stored"



def test_media_settings_refuse_what_cannot_work(tmp_path: Path) -> None:
    from bot.services.config import ConfigError
    from bot.services.media import MediaSettings
    from tests.helpers import settings_for

    def settings(**extra: str) -> MediaSettings:
        return MediaSettings.from_settings(settings_for("sqlite://", tmp_path, extra=extra))

    assert settings().path == tmp_path / "media" and settings().transcribe == "off"
    for bad, message in ((dict(WITHUS_MEDIA_STORE="s3"), "needs WITHUS_MEDIA_S3_BUCKET"),
                         (dict(WITHUS_MEDIA_STORE="ftp"), "'local' or 's3'"),
                         (dict(WITHUS_TRANSCRIBE="whisper"), "no speech-to-text engine"),
                         (dict(WITHUS_MEDIA_MAX_BYTES="0"), "at least 1")):
        with pytest.raises(ConfigError, match=message):
            settings(**bad)
