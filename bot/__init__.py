"""The WithUs application, in four rooms: cli, web, dashboard and services
(docs/architecture.md).
"""
