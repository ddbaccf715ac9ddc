"""Where the encrypted bytes of voice notes and photos live: a folder, or an S3 bucket.

A store keeps opaque blobs under random keys. It never sees a plain voice note: the
caller (bot/services/media.py) encrypts with the vault's keys before `put` and decrypts
after `get`, so a copied bucket or disk holds nothing readable, and `withus keys rotate`
re-encrypts them with the contact vault. The database holds the key, type, size,
duration and hash; nothing else about a file is written anywhere.

* `LocalMediaStore`: files under the instance folder (the default), written to a
  temporary file and renamed, so a crash never leaves half a file under a real key.
* `S3MediaStore`: any S3-compatible bucket (AWS, MinIO, Ceph, ...) through boto3, which
  writes an object whole or not at all.
"""

from __future__ import annotations

import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Keys are 32 hex digits from `new_key`; anything else is refused, so a key can never
#: walk out of the store's folder.
_KEY = re.compile(r"^[0-9a-f]{32}$")


class MediaMissing(LookupError):
    """No file under that key (deleted, or never written)."""


def new_key() -> str:
    """A random name for a new file: it says nothing about the person or the answer."""
    return secrets.token_hex(16)


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError("not a media store key")
    return key


class MediaStore(ABC):
    """Opaque (already encrypted) blobs by key."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write `data` under `key` whole, replacing what was there."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under `key`; `MediaMissing` if there are none."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key`; nothing happens if it is already gone."""

    @abstractmethod
    def list_keys(self) -> Iterator[str]:
        """Every key in the store (for rotation and for finding orphans)."""

    def describe(self) -> str:
        """Where the files are, for `withus media status`."""
        return type(self).__name__


class LocalMediaStore(MediaStore):
    """Files under `root`, two hex digits of fan-out, readable by this user only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise MediaMissing(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_keys(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if _KEY.match(path.name):
                        yield path.name

    def describe(self) -> str:
        return f"folder {self.root}"


class S3MediaStore(MediaStore):
    """Objects `prefix + key` in an S3-compatible bucket (boto3's S3 client)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "media/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def connect(cls, bucket: str, *, endpoint_url: str = "", region: str = "",
                prefix: str = "media/", access_key: str = "", secret_key: str = "",
                timeout: float = 30.0) -> S3MediaStore:
        """A store on `bucket`. Credentials, when not given, come from boto3's usual chain
        (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role)."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            config=Config(connect_timeout=timeout, read_timeout=timeout,
                          retries={"max_attempts": 3, "mode": "standard"}),
        )
        return cls(client, bucket, prefix)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + _checked(key), Body=data,
                               ContentType="application/octet-stream")

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self.prefix + _checked(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise MediaMissing(key) from None
            raise
        data: bytes = found["Body"].read()
        return data

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + _checked(key))

    def list_keys(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                key = str(item["Key"])[len(self.prefix):]
                if _KEY.match(key):
                    yield key

    def describe(self) -> str:
        return f"bucket {self.bucket} ({self.prefix}*)"
