"""Persistence for WithUs: schema, migrations, pseudonyms, the contact vault, repositories.

Nothing here knows about Flask, channels or the bot; the service layer talks to the
database only through `storage.uow.UnitOfWork`.
"""
