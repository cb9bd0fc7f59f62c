"""Production entry point: ``gunicorn wsgi:app``."""

from postpurchase import create_app
from postpurchase.web.warmup import freeze_warm_objects, warm_up

app = create_app()
warm_up(app)  # each worker compiles its pages before its first visitor, not during
freeze_warm_objects()  # ... and its collector no longer walks them every full pass
