"""Real voice notes and photos, made in the test: no fixture files, no encoder to install.

* `ogg_opus` builds an Ogg Opus stream (RFC 7845) as WhatsApp and Telegram send voice
  notes: an OpusHead and OpusTags page, then 20 ms packets. Each packet is a lone TOC
  byte (a CELT frame of zero bytes, which a decoder plays as silence), so no encoder is
  needed, yet the container, its granule positions and checksums are real: mutagen,
  Chromium and ffmpeg read its length.
* `wav` is a tone through the standard library's `wave`.
* `jpeg_with_gps` is a photo carrying EXIF with a GPS position, a camera name and a
  comment: what must never be stored.
"""

from __future__ import annotations

import io
import math
import struct
import wave

SAMPLE_RATE = 48_000
PRE_SKIP = 312
FRAME = 960  # 20 ms at 48 kHz
#: A GPS position near Cardiff, as EXIF degrees, minutes, seconds.
LATITUDE = (51.0, 28.0, 5.0)
LONGITUDE = (3.0, 10.0, 45.0)
CAMERA = "WithUsTestPhone 7"


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def _crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) ^ _TABLE[((crc >> 24) ^ byte) & 0xFF]) & 0xFFFFFFFF
    return crc


def _page(packets: list[bytes], granule: int, sequence: int, flags: int,
          serial: int = 0x57495448) -> bytes:
    lacing = bytearray()
    for packet in packets:
        size = len(packet)
        while size >= 255:
            lacing.append(255)
            size -= 255
        lacing.append(size)
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, sequence, 0,
                         len(lacing)) + bytes(lacing)
    page = header + b"".join(packets)
    crc = _crc(page)
    return page[:22] + struct.pack("<I", crc) + page[26:]


def ogg_opus(seconds: float = 1.0, vendor: bytes = b"WithUs tests") -> bytes:
    """An Ogg Opus voice note of about `seconds` of silence. `vendor` is written in its
    OpusTags: a test can make it unique and search for it on disk."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, PRE_SKIP, SAMPLE_RATE, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    pages = [_page([head], 0, 0, 0x02), _page([tags], 0, 1, 0x00)]
    count = max(1, round(seconds * SAMPLE_RATE / FRAME))
    toc = bytes([31 << 3])  # CELT-only, fullband, 20 ms, one frame (of zero bytes)
    granule, sequence, done = PRE_SKIP, 2, 0
    while done < count:
        batch = min(50, count - done)  # one page a second
        done += batch
        granule += batch * FRAME
        pages.append(_page([toc] * batch, granule, sequence, 0x04 if done == count else 0))
        sequence += 1
    return b"".join(pages)


def wav(seconds: float = 1.0, rate: int = 8000, pitch: float = 440.0) -> bytes:
    """A mono 16-bit tone as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * pitch * n / rate)))
            for n in range(int(seconds * rate)))
        writer.writeframes(frames)
    return out.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """A small photo whose EXIF holds a GPS position, a camera model and a comment."""
    from PIL import Image

    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x0110] = CAMERA  # Model
    exif[0x9286] = "taken at home"  # UserComment (stored as plain text here)
    exif[0x0112] = 1  # Orientation: upright
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: LATITUDE, 3: "W", 4: LONGITUDE})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png(size: tuple[int, int] = (20, 10)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", size, (10, 200, 90, 255)).save(out, "PNG")
    return out.getvalue()
