"""Production entry point: ``gunicorn wsgi:app``."""

from postpurchase import create_app
from postpurchase.web.warmup import ready_to_serve

app = create_app()
ready_to_serve(app)  # each worker compiles its pages before its first visitor, not during
