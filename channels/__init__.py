"""Messaging channels: Telegram, SMS and WhatsApp behind one small interface (base.py)."""
