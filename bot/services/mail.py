"""Email through an SMTP server named by one URL (WITHUS_SMTP_URL): safeguarding alerts.

    smtp://user:password@mail.example.org:587?from=withus@example.org
    smtps://user:password@mail.example.org:465?from=withus@example.org
    smtp://127.0.0.1:25?from=withus@example.org&starttls=no

`smtp://` uses STARTTLS (required) unless `starttls=no` is given (only sensible for a
relay on the same machine); `smtps://` is TLS from the start. The password is never in a
log line, an error or a repr.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

#: Seconds to wait for the SMTP server before giving up (the next run tries again).
TIMEOUT = 15.0


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender: str
    security: str = "starttls"  # "starttls", "tls" or "none"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = TIMEOUT

    @classmethod
    def from_url(cls, url: str) -> Mailer:
        """ValueError (without the password) when the URL cannot be used."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise ValueError("is not a valid URL (smtp://user:password@host:587?from=...)"
                             ) from None
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must start smtp:// or smtps:// and name the server")
        query = parse_qs(parts.query)
        sender = (query.get("from") or [""])[0].strip()
        if "@" not in sender:
            raise ValueError("needs ?from=address@example.org: who the alerts come from")
        if parts.scheme == "smtps":
            security = "tls"
        elif (query.get("starttls") or ["yes"])[0].lower() in ("no", "false", "0", "off"):
            security = "none"
        else:
            security = "starttls"
        return cls(host=parts.hostname, port=port or (465 if security == "tls" else 587),
                   sender=sender, security=security,
                   username=unquote(parts.username or ""), password=unquote(parts.password or ""))

    def send(self, to: Sequence[str], subject: str, body: str) -> None:
        """Send one plain-text email to `to`. OSError (smtplib's errors are OSErrors) when it
        could not be sent."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        message.set_content(body)
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.security == "tls":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.security == "starttls":
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message)
