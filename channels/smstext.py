"""SMS cost arithmetic for the channels: a re-export of `surveys.sms`.

The GSM-7 / UCS-2 rules live in the pure survey core so that `withus surveys lint` can
count segments exactly as the SMS channel sends them, without the core importing a
channel. Channels keep importing from here; the public names are unchanged.
"""

from __future__ import annotations

from surveys.sms import (
    _PLAIN,
    _TABLE,
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_PART,
    GSM7_SINGLE,
    UCS2_PART,
    UCS2_SINGLE,
    Encoding,
    encoding,
    segments,
    septets,
    to_gsm,
    ucs2_culprits,
    utf16_length,
)

__all__ = [
    "GSM7_BASIC", "GSM7_EXTENSION", "GSM7_PART", "GSM7_SINGLE", "UCS2_PART", "UCS2_SINGLE",
    "Encoding", "_PLAIN", "_TABLE", "encoding", "segments", "septets", "to_gsm",
    "ucs2_culprits", "utf16_length",
]
