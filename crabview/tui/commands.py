"""Command palette provider: the actions table, sessions, and search across sessions.

Hits are ``rich.text.Text`` objects, never strings: Textual parses a str
prompt (and ``Matcher.highlight`` parses its candidate) as markup, so a
session title ``[@click=app.quit]x`` would be a live action. The fuzzy
match is computed here and drawn with ``safe_ui.highlighted_hit_text``.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..render.safe import one_line
from .actions import ACTIONS, key_label
from .safe_ui import highlighted_hit_text

if TYPE_CHECKING:  # pragma: no cover
    from .app import CrabviewApp


class CrabviewCommands(Provider):
    @property
    def _app(self) -> "CrabviewApp":
        return self.app  # type: ignore[return-value]

    def _commands(self):
        """(visible text, callback, help); help is a constant (Textual parses it as markup)."""
        app = self._app
        for a in ACTIONS:
            yield f"{a.help} ({key_label(a)})", partial(app.run_action, a.action), a.label
        for slug in sorted(app.summaries):
            meta = app.summaries[slug].meta
            title = one_line(meta.title, 40) if meta is not None and meta.title else "(untitled)"
            yield f"Open session {title} · {one_line(slug, 40)}", partial(app.select_session, slug), "session"

    async def discover(self) -> Hits:
        for text, cb, help in self._commands():
            if help != "session":
                yield DiscoveryHit(highlighted_hit_text(text, ()), cb, text=text, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        fuzzy = matcher.fuzzy_search
        for text, cb, help in self._commands():
            score, offsets = fuzzy.match(matcher.query, text)
            if score > 0:
                yield Hit(score, highlighted_hit_text(text, offsets), cb, text=text, help=help)
        q = query.strip()
        if len(q) >= 2:
            label = f"Search all sessions for “{one_line(q, 40)}”"
            yield Hit(0.5, highlighted_hit_text(label, ()), partial(self._app.search_all, q), text=label, help="every step summary of every session")
