"""Dashboard accounts: who may sign in, with which role, and how.

One service for the command line (`withus users`) and the dashboard's Accounts page, so
both refuse the same things in the same words: an unknown email, a role that does not
exist, a password that is too short, and any change that would leave no organiser who can
sign in.

Sessions: every account has a session epoch. A session remembers the epoch it signed in
with, and the dashboard's login loader ends a session whose epoch is out of date. Disabling
an account, resetting its password, changing its role and signing out raise the epoch, so
the person's open sessions end at their next click; changing your own password ends your
other sessions, not this one.

Invitations: a one-time link valid for 48 hours (only a SHA-256 hash of its token is
stored), or a temporary password that must be changed at the first sign-in.

Two-factor sign-in: time-based one-time codes (TOTP, RFC 6238, as authenticator apps use).
The secret is encrypted with the contact vault's keys (`withus keys rotate` re-encrypts it
too); a code is accepted once only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from storage.models import ROLES, User
from storage.repositories.dashboard import DashboardRepository
from storage.vault import ContactVault

#: Argon2id with the library's defaults (RFC 9106's second recommended option).
PASSWORDS = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000
INVITE_LIFETIME = timedelta(hours=48)
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 254
#: The dashboard setting that makes two-factor sign-in compulsory.
REQUIRE_TWO_FACTOR = "require_two_factor"
#: A code is 6 digits that change every 30 seconds; the one before and after are accepted
#: too, for a phone clock a little out.
TOTP_STEP = 30
TOTP_DRIFT_STEPS = 1
ISSUER = "WithUs"


class AccountError(ValueError):
    """A change refused, with a message to show the person as it is."""


class PasswordTooShort(AccountError):
    pass


def hash_password(password: str) -> str:
    """An argon2id hash of `password`; refuses passwords shorter than 12 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(
            f"use at least {MIN_PASSWORD_LENGTH} characters (three random words work well)")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"use at most {MAX_PASSWORD_LENGTH} characters")
    return PASSWORDS.hash(password)


def check_password(password_hash: str, password: str) -> tuple[bool, str | None]:
    """(matches, a new hash if the stored one uses weaker settings than today's)."""
    try:
        PASSWORDS.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    if PASSWORDS.check_needs_rehash(password_hash):
        return True, PASSWORDS.hash(password)
    return True, None


def temporary_password() -> str:
    """Four groups of four letters and digits, easy to read out: about 80 bits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to mistake
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def normal_email(email: str) -> str:
    """The email as stored (lower case), or AccountError when it is not an address."""
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL.match(email):
        raise AccountError(f"'{email[:80]}' does not look like an email address")
    return email


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"'{role[:40]}' is not a role: use one of {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class Invite:
    """A new one-time link: the token is shown once and never stored."""

    email: str
    token: str
    expires_at: datetime


class Accounts:
    """Account changes on one database session; the caller commits.

    `actor_id` is the signed-in organiser making the change (None from the command line),
    `via` says where it came from in the audit log.
    """

    def __init__(self, session: Session, now: datetime, *, actor_id: int | None = None,
                 via: str = "command line", vault: ContactVault | None = None) -> None:
        self.repo = DashboardRepository(session)
        self.now = now
        self.actor_id = actor_id
        self.via = via
        self.vault = vault

    # --- looking up ------------------------------------------------------------------

    def find(self, email: str) -> User:
        user = self.repo.user_by_email(email) if len(email) <= MAX_EMAIL_LENGTH else None
        if user is None:
            raise AccountError(f"there is no account for {email.strip().lower()[:80]} "
                               "(see `withus users list`)")
        return user

    def get(self, user_id: int) -> User:
        user = self.repo.user(user_id)
        if user is None:
            raise AccountError("there is no such account")
        return user

    def _audit(self, what: str, user: User, **detail: object) -> None:
        self.repo.audit(self.actor_id, what, user.email, self.now,
                        detail={"via": self.via, **detail})

    def keep_an_organiser(self, user: User, *, disable: bool = False,
                           role: str | None = None) -> None:
        """AccountError if disabling `user` or giving it `role` leaves no organiser."""
        loses = user.role == "organiser" and user.disabled_at is None and (
            disable or (role is not None and role != "organiser"))
        if loses and self.repo.active_organisers() <= 1:
            raise AccountError(f"{user.email} is the last organiser who can sign in; add or "
                               "enable another organiser first")

    # --- creating ----------------------------------------------------------------------

    def _new(self, email: str, role: str, password_hash: str) -> User:
        email = normal_email(email)
        check_role(role)
        if self.repo.user_by_email(email) is not None:
            raise AccountError(f"there is already an account for {email}")
        return self.repo.add_user(email, password_hash, role, self.now)

    def add(self, email: str, role: str, password: str) -> User:
        """An account with a password its owner chose."""
        normal_email(email)
        check_role(role)
        user = self._new(email, role, hash_password(password))
        self._audit("added account", user, role=role)
        return user

    def add_with_temporary_password(self, email: str, role: str) -> tuple[User, str]:
        """An account with a printed temporary password, changed at the first sign-in."""
        password = temporary_password()
        user = self._new(email, role, hash_password(password))
        self.repo.update_user(user.id, must_change_password=True)
        self._audit("added account", user, role=role, how="temporary password")
        return user, password

    def invite(self, email: str, role: str) -> Invite:
        """An account whose owner chooses a password through a one-time link (48 hours).
        Until then no password signs in to it."""
        user = self._new(email, role, hash_password(secrets.token_urlsafe(32)))
        self._audit("invited", user, role=role)
        return self._link(user)

    def _link(self, user: User) -> Invite:
        token = secrets.token_urlsafe(32)
        expires = self.now + INVITE_LIFETIME
        self.repo.add_invite(user.id, token_hash(token), self.now, expires)
        return Invite(user.email, token, expires)

    # --- changing ----------------------------------------------------------------------

    def disable(self, email: str) -> User:
        """Stop the account signing in and end its open sessions now."""
        user = self.find(email)
        self.keep_an_organiser(user, disable=True)
        self.repo.update_user(user.id, disabled_at=user.disabled_at or self.now)
        self.repo.end_sessions(user.id)
        self._audit("disabled", user)
        return user

    def enable(self, email: str) -> User:
        user = self.find(email)
        self.repo.update_user(user.id, disabled_at=None)
        self._audit("enabled", user)
        return user

    def set_role(self, email: str, role: str) -> User:
        check_role(role)
        user = self.find(email)
        self.keep_an_organiser(user, role=role)
        self.repo.update_user(user.id, role=role)
        self.repo.end_sessions(user.id)
        self._audit("changed role of", user, role=role)
        return user

    def reset_password(self, email: str, password: str | None = None) -> tuple[User, str]:
        """A new password for someone else's account; all their sessions end.

        With `password` None a temporary one is made, to be changed at the next sign-in;
        it is returned to be given to the person."""
        user = self.find(email)
        temporary = password is None
        new = temporary_password() if password is None else password
        self.repo.update_user(user.id, password_hash=hash_password(new),
                              must_change_password=temporary)
        self.repo.end_sessions(user.id)
        self._audit("reset the password of", user,
                    **({"how": "temporary password"} if temporary else {}))
        return user, new

    def new_link(self, email: str) -> Invite:
        """A new one-time link for an account (an invite not used in time, a forgotten
        password). The old password keeps working until the link is used."""
        user = self.find(email)
        if user.disabled_at is not None:
            raise AccountError(f"{user.email} is disabled; enable the account first")
        self._audit("sent a sign-in link to", user)
        return self._link(user)

    def change_own_password(self, user_id: int, current: str, new: str) -> int:
        """Change your own password; returns the new session epoch, so that the session
        making the change carries on while every other one ends. AccountError when
        `current` is wrong or `new` too short."""
        user = self.get(user_id)
        ok, _ = check_password(user.password_hash, current)
        if not ok:
            raise AccountError("Your current password is not right.")
        if new == current:
            raise AccountError("Choose a password different from the one you have now.")
        self.repo.update_user(user.id, password_hash=hash_password(new),
                              must_change_password=False)
        self._audit("changed own password", user)
        return self.repo.end_sessions(user.id)

    # --- invite links ------------------------------------------------------------------

    def invited(self, token: str) -> User | None:
        """The account a link is for, or None when the link is unknown, used or expired."""
        if not token or len(token) > 200:
            return None
        invite = self.repo.invite(token_hash(token))
        if invite is None or invite.used_at is not None or invite.expires_at <= self.now:
            return None
        user = self.repo.user(invite.user_id)
        if user is None or user.disabled_at is not None:
            return None
        return user

    def accept(self, token: str, password: str) -> User:
        """Set the password through a link; the link then stops working."""
        user = self.invited(token)
        if user is None:
            raise AccountError("This link has expired or has already been used. Ask an "
                               "organiser for a new one.")
        password_hash = hash_password(password)
        invite = self.repo.invite(token_hash(token))
        if invite is None or not self.repo.use_invite(invite.id, self.now):
            raise AccountError("This link has already been used.")
        self.repo.update_user(user.id, password_hash=password_hash,
                              must_change_password=False)
        self.repo.end_sessions(user.id)
        self.actor_id = user.id
        self._audit("chose a password", user, how="invite link")
        return user

    # --- two-factor sign-in ------------------------------------------------------------

    def two_factor_required(self) -> bool:
        return bool(self.repo.setting(REQUIRE_TWO_FACTOR, False))

    def require_two_factor(self, required: bool) -> None:
        self.repo.set_setting(REQUIRE_TWO_FACTOR, bool(required), self.now)
        self.repo.audit(self.actor_id, "two-factor for everyone",
                        "on" if required else "off", self.now, detail={"via": self.via})

    def _vault(self) -> ContactVault:
        if self.vault is None:
            raise RuntimeError("two-factor needs the vault to encrypt its secrets")
        return self.vault

    def start_two_factor(self, user_id: int) -> str:
        """A new secret for the account, kept encrypted until confirmed with a code.
        Returns the secret, to show once."""
        user = self.get(user_id)
        if user.totp_enabled_at is not None:
            raise AccountError("Two-factor sign-in is already on.")
        secret = pyotp.random_base32()
        self.repo.update_user(user.id, totp_secret=self._vault().encrypt(secret),
                              totp_last_step=None)
        return secret

    def pending_secret(self, user_id: int) -> str | None:
        """The secret being set up (not yet confirmed), to show again until it is."""
        user = self.get(user_id)
        if user.totp_enabled_at is not None or user.totp_secret is None:
            return None
        return self._vault().decrypt(user.totp_secret)

    def check_code(self, user_id: int, code: str) -> bool:
        """Whether `code` is the account's current code (or its neighbour's), not used
        before. A right code is remembered, so it cannot be used twice."""
        user = self.get(user_id)
        code = re.sub(r"\s", "", code or "")
        if user.totp_secret is None or not re.fullmatch(r"\d{6}", code):
            return False
        totp = pyotp.TOTP(self._vault().decrypt(user.totp_secret), interval=TOTP_STEP)
        now_step = int(self.now.timestamp()) // TOTP_STEP
        for step in range(now_step - TOTP_DRIFT_STEPS, now_step + TOTP_DRIFT_STEPS + 1):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                continue
            if hmac.compare_digest(totp.at(step * TOTP_STEP), code):
                self.repo.update_user(user.id, totp_last_step=step)
                return True
        return False

    def confirm_two_factor(self, user_id: int, code: str) -> bool:
        """Turn two-factor on once the person shows a code from their app."""
        user = self.get(user_id)
        if user.totp_enabled_at is not None or user.totp_secret is None:
            return False
        if not self.check_code(user_id, code):
            return False
        self.repo.update_user(user.id, totp_enabled_at=self.now)
        self._audit("turned on two-factor", user)
        return True

    def remove_two_factor(self, user_id: int) -> User:
        """Turn two-factor off (the person's own choice, or an organiser helping someone
        who lost their phone). Their next sign-in sets it up again if it is required."""
        user = self.get(user_id)
        self.repo.update_user(user.id, totp_secret=None, totp_enabled_at=None,
                              totp_last_step=None)
        self._audit("turned off two-factor", user)
        return user

    @staticmethod
    def provisioning_uri(secret: str, email: str) -> str:
        return pyotp.TOTP(secret, interval=TOTP_STEP).provisioning_uri(
            name=email, issuer_name=ISSUER)
