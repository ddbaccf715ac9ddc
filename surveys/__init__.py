"""The pure survey core: model, loader, parsing and the conversation engine.

No web, database or provider imports, and no clock: see the import-linter contract.
"""
