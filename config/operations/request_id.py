"""One id per request, in every log line the request causes, including its Celery tasks' lines.

The id comes from the `X-Request-ID` header when a proxy or client sent a sane one (so one id
follows a request through the load balancer, this app and its tasks), else a new one. It lives
in a context variable: the logging filter reads it, the response echoes it, and the Celery
signals carry it in the task message's headers and set it again in the worker while the task runs.
"""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from celery import signals
from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# What a client may choose: short, and nothing that could forge a log line or a header.
ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{8,128}")
# The name of the Celery message header (and task.request attribute) that carries it.
TASK_HEADER = "request_id"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE: everything after it, health probes included, logs with the id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(HEADER, "")
        value = offered if ACCEPTED.fullmatch(offered) else new_request_id()
        request.request_id = value
        # Not reset on the way out: Django logs the response ("Not Found: ...") after the
        # middleware returned; request_finished clears it once the response is closed.
        request_id.set(value)
        response = self.get_response(request)
        response[HEADER] = value
        return response


def _clear(**_kwargs) -> None:
    request_id.set(None)


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id` attribute ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get() or "-"
        return True


def _on_publish(headers: dict | None = None, **_kwargs) -> None:
    # Protocol 2: custom headers travel beside the task's own and come back as attributes of
    # task.request in the worker. A task queued outside any request (beat) carries none.
    value = request_id.get()
    if value is not None and headers is not None:
        headers.setdefault(TASK_HEADER, value)


_task_tokens: dict[str, object] = {}


def _on_prerun(task_id: str | None = None, task=None, **_kwargs) -> None:
    value = getattr(task.request, TASK_HEADER, None) if task is not None else None
    if value is None and task is not None and task.request.is_eager:
        return  # eager: the task runs inside the request, whose id is already set
    _task_tokens[task_id] = request_id.set(value)


def _on_postrun(task_id: str | None = None, **_kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id.reset(token)


def connect_request_signals() -> None:
    request_started.connect(_clear, dispatch_uid="ops-request-id")
    request_finished.connect(_clear, dispatch_uid="ops-request-id")


def connect_celery_signals() -> None:
    signals.before_task_publish.connect(_on_publish, weak=False, dispatch_uid="ops-request-id")
    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="ops-request-id")
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="ops-request-id")
