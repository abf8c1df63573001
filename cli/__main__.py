"""`python -m cli`: the same command as `dgm-assistant`."""

from cli import app

app()
