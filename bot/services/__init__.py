"""The application services: what WithUs does, called alike by the CLI, the web workers,
the scheduler and the tests. No HTTP or terminal here (an import-linter contract says so).
"""
