"""`withus keys generate` and `withus keys rotate`: the contact vault's keys."""

from __future__ import annotations

import click

from bot.cli.common import runtime as build_runtime


@click.group()
def keys() -> None:
    """Manage the contact vault's encryption keys."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key (put it first in WITHUS_VAULT_KEYS)."""
    from storage.vault import generate_key

    click.echo(generate_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every vault entry, safeguarding flag, voice note, photo and two-factor
    sign-in secret under the newest key; older keys can then be dropped. The database's
    part is one transaction."""
    from bot.services.media_jobs import rotate as rotate_media
    from storage.errors import VaultDecryptionError
    from storage.repositories.dashboard import DashboardRepository
    from storage.repositories.safeguarding import SafeguardingRepository
    from storage.uow import UnitOfWork

    runtime = build_runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            count = uow.vault.rotate_all()
            flags = SafeguardingRepository(uow.session, uow.contact_vault).rotate_all()
            secrets = DashboardRepository(uow.session).rotate_two_factor(
                uow.contact_vault.rotate)
            uow.commit()
        files = rotate_media(runtime)
    except VaultDecryptionError:
        raise click.ClickException(
            "vault entries could not be rotated: they cannot be decrypted with "
            "WITHUS_VAULT_KEYS. Keep the old key "
            "in the list (after the new one) until `withus keys rotate` has finished."
        ) from None
    finally:
        runtime.close()
    click.echo(f"re-encrypted {count} vault entries, {flags} safeguarding flags and {files} "
               "voice notes and photos under the newest key")
    if secrets:
        click.echo(f"re-encrypted {secrets} two-factor sign-in secrets")


COMMANDS: list[click.Command] = [keys]
