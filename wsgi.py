"""The WSGI entry point for gunicorn (threading mode): ``gunicorn ... wsgi:app``.

It does what ``app.py`` does before serving: check the database and Redis,
migrate, start the background task. A problem is one line, ``error: ...``, and
the worker exits with status 3, which gunicorn takes as "the worker cannot
boot": it stops instead of starting the worker again and again.
"""

from payments.boot import StartError, refuse, serve_app

try:
    app = serve_app()
except StartError as exc:
    refuse(exc, status=3)  # gunicorn's WORKER_BOOT_ERROR
