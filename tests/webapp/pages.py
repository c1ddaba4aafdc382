"""Helpers of the page tests: a signed-in browser client, and what a strict CSP would block in HTML."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django.test import Client


class InlineCodeFinder(HTMLParser):
    """Collects everything a Content-Security-Policy without 'unsafe-inline' would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name in names:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> inline event handler")
            if name == "style":
                self.problems.append(f"<{tag} style=...> inline style attribute")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.in_inline_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self.in_inline_script:
            self.problems.append("inline <script>")
            self.in_inline_script = False


def inline_code(html: str) -> list[str]:
    """What in ``html`` needs 'unsafe-inline'."""
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def signed_in(user: Any) -> Client:
    """A browser-like client with a session for ``user``."""
    client = Client()
    client.force_login(user)
    return client
