"""Production entry point: ``gunicorn wsgi:app``."""

from postpurchase import create_app

app = create_app()
