"""Content negotiation and JSON parsing for the diary's API: DRF's own answers, found with less work
for what a phone sends on every request. Set in the settings' REST_FRAMEWORK (this module is
imported while DRF builds its views, so it imports no view code)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.utils import json

JSON = "application/json"


class JSONFirstNegotiation(DefaultContentNegotiation):
    """DRF's content negotiation, answered at once for what every phone sends (a JSON body; no
    Accept header, ``*/*`` or JSON): DRF's own answer then, without parsing the headers into media
    types. Anything else goes to DRF's negotiation."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        parsers = list(parsers)
        if request.content_type == JSON:
            for parser in parsers:
                if parser.media_type == JSON:
                    return parser
        return super().select_parser(request, parsers)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        accept = request.META.get("HTTP_ACCEPT")
        if (
            format_suffix is None
            and accept in (None, "*/*", JSON)
            and renderers
            and renderers[0].media_type == JSON
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], JSON
        result: tuple[BaseRenderer, str] = super().select_renderer(
            request, renderers, format_suffix
        )
        return result


class JSONBodyParser(JSONParser):
    """DRF's JSON parser, decoding a UTF-8 body in one go instead of through a stream reader
    (other charsets go DRF's way). The same data, and the same 400 for a malformed body."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        if encoding.lower() not in ("utf-8", "utf8"):
            return super().parse(stream, media_type, parser_context)
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(stream.read().decode("utf-8"), parse_constant=parse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
