"""`python -m bot.cli`: the `withus` command."""

from bot.cli import main

main()
