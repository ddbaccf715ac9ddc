"""Public HTTP: the app factory (app.py), provider webhooks, the web simulator, health."""
