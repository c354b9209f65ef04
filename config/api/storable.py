"""Hostile input stops at the door: text PostgreSQL cannot store, bodies nested or sized to
exhaust the parser, and error answers that echo such input.

PostgreSQL's text types cannot hold NUL (psycopg raises before the query is sent), and a lone
UTF-16 surrogate ("\\ud800" in JSON) is not UTF-8 at all, so either would reach the database as a
500. They are refused once, for every input: `StrictJSONParser` for API bodies, and
`StorableTextMiddleware` for the path, query string, form data, cookies and headers of every
request (pages, admin and API alike).
"""

import json
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from rest_framework import renderers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The same rule as an OpenAPI (ECMA-262) pattern, for the schema's free-text fields.
STORABLE_TEXT_PATTERN = r"^[^\u0000\uD800-\uDFFF]*$"
UNSTORABLE_MESSAGE = "Text may not contain NUL characters or lone UTF-16 surrogates."
MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 1024 * 1024


def is_unstorable(text: str) -> bool:
    return UNSTORABLE.search(text) is not None


def _check(document) -> None:
    """Walks the parsed document without recursion: depth, keys and strings."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if is_unstorable(value):
                raise ParseError(UNSTORABLE_MESSAGE)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ParseError(f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep.")
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for key, item in items:
                if key is not None and is_unstorable(key):
                    raise ParseError(UNSTORABLE_MESSAGE)
                stack.append((item, depth + 1))


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, answering 400 (parse_error) instead of a 500 for a body too large,
    nested deeper than MAX_JSON_DEPTH, or carrying text PostgreSQL cannot store."""

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return super().parse(stream, media_type, parser_context)
        body = stream.read(MAX_JSON_BYTES + 1)
        if len(body) > MAX_JSON_BYTES:
            raise ParseError(f"The body may be at most {MAX_JSON_BYTES} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(f"The body is not valid {encoding}.") from error
        try:
            document = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as error:
            raise ParseError(f"JSON may be nested at most {MAX_JSON_DEPTH} levels deep.") from error
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from error
        _check(document)
        return document


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class TolerantJSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, which cannot fail on an answer that echoes bad input: a lone
    surrogate (not encodable as UTF-8) is written as its \\u escape instead."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True  # a fresh renderer per response: nothing else sees this
            return super().render(data, accepted_media_type, renderer_context)


class StorableTextMiddleware:
    """Answers 400 to a request whose path, query string, form data, cookies or headers hold a
    NUL or a lone surrogate, before any view (or the session store) passes it to PostgreSQL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._unstorable(request):
            if request.path_info.startswith("/api/"):
                # Late: config.api.errors imports DRF, whose settings import this module.
                from config.api.errors import error_body

                return JsonResponse(error_body("parse_error", UNSTORABLE_MESSAGE), status=400)
            return HttpResponseBadRequest(UNSTORABLE_MESSAGE)
        return self.get_response(request)

    @staticmethod
    def _unstorable(request: HttpRequest) -> bool:
        texts = [request.path_info]
        for data in (request.GET, request.COOKIES):
            for key, values in data.lists() if hasattr(data, "lists") else data.items():
                texts += [key, *(values if isinstance(values, list) else [values])]
        texts += [
            value
            for name, value in request.META.items()
            if name.startswith("HTTP_") and isinstance(value, str)
        ]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            try:
                form = request.POST
            except MultiPartParserError:
                return True  # not a form the views could read either
            for key, values in form.lists():
                texts += [key, *values]
        return any(is_unstorable(text) for text in texts)
