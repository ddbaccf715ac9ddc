"""What people call the channels and languages, in the dashboard, previews and drafts
(which all speak English): one list, so a page and its export never name them apart."""

from __future__ import annotations

CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram",
                 "web": "Web simulator", "console": "Terminal"}
LANGUAGE_NAMES = {"en": "English", "cy": "Welsh"}


def channel_name(channel: str) -> str:
    """A channel's name ("WhatsApp"), or its code where it has none."""
    return CHANNEL_NAMES.get(channel, channel)


def language_name(language: str) -> str:
    """A language's name in English ("Welsh"), or its code where it has none."""
    return LANGUAGE_NAMES.get(language, language)
