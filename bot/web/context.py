"""The runtime of the app handling the current request, for the public blueprints.

The factory (`bot.web.app`) puts the runtime in `app.extensions["withus"]`; blueprints read
it from there, the Flask-Login way, and never import the factory's module.
"""

from __future__ import annotations

from flask import current_app

from bot.services.runtime import Runtime

#: The key under `app.extensions` that holds the runtime.
EXTENSION = "withus"


def current_runtime() -> Runtime:
    """The runtime of the app handling the current request."""
    runtime: Runtime = current_app.extensions[EXTENSION]
    return runtime
