"""Blueprints: health, the web simulator, provider webhooks (and later the dashboard)."""
