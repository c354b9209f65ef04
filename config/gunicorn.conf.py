"""Gunicorn settings of every deployment, from the environment (`gunicorn -c <this file>`).

The worker timeout sits above the database's statement and lock timeouts, so a slow query ends
as the application's own JSON 503, never as gunicorn killing the worker mid-answer.
"""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = _int("GUNICORN_WORKERS", 4)
threads = _int("GUNICORN_THREADS", 1)
# Above DATABASE_STATEMENT_TIMEOUT (the longest a request's query may run) with room to answer.
timeout = _int("GUNICORN_TIMEOUT", 30)
# The settings' default (config/settings/base.py); read here without loading Django.
statement_timeout = float(os.environ.get("DATABASE_STATEMENT_TIMEOUT", 10.0))
if timeout <= statement_timeout:
    raise RuntimeError(
        f"GUNICORN_TIMEOUT ({timeout} s) must be above DATABASE_STATEMENT_TIMEOUT "
        f"({statement_timeout} s): otherwise gunicorn kills a worker waiting on the database "
        "and the client gets its HTML 500 instead of the API's 503."
    )
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
wsgi_app = "config.wsgi:application"
