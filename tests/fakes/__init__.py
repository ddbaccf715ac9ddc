"""Local stand-ins for the Telegram Bot API and the Twilio REST API.

They are real HTTP servers on 127.0.0.1, so the channels are tested through the real
client libraries (python-telegram-bot, twilio) exactly as in production, minus the network.
"""

from .telegram_api import FakeTelegramAPI
from .twilio_api import FakeTwilioAPI

__all__ = ["FakeTelegramAPI", "FakeTwilioAPI"]
