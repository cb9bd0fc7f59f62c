"""gunicorn settings for containers: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

With ``PROMETHEUS_MULTIPROC_DIR`` set (an empty folder per server), the worker processes of one
server write their metrics there and ``/metrics`` adds them up; a worker that exits is marked dead
so its gauges stop counting.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
# gunicorn's sync worker, but woken alone for each connection (postpurchase/web/serving.py).
worker_class = "postpurchase.web.serving.SyncWorker"
accesslog = "-"


def child_exit(server, worker):  # gunicorn's hook signature
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
