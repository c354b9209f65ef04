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


# --- Metrics across workers (config/operations/exporter.py) ----------------------------------
# Each worker writes its counters to files in PROMETHEUS_MULTIPROC_DIR and any worker's /metrics
# adds them all up. The folder must exist before a worker imports prometheus_client, and be
# emptied at each start: a fresh one per server is made unless the environment names one.
# prometheus_client goes multiprocess when the variable exists at all: an empty one (a blank line
# of an env file) would scatter its files in the working folder, so it is dropped.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "x"):
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]
if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-gunicorn-")


def on_starting(server) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):  # counts of an earlier run would be added to this one's
            if name.endswith(".db"):
                os.remove(os.path.join(folder, name))


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
