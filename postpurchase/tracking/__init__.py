"""See DESIGN.md: the tracking feature."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Connect this feature's signals, blueprints and CLI commands."""
