"""Command palette provider: the actions table, sessions, and search across sessions."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..render.safe import one_line
from .actions import ACTIONS, key_label

if TYPE_CHECKING:  # pragma: no cover
    from .app import CrabviewApp


class CrabviewCommands(Provider):
    @property
    def _app(self) -> "CrabviewApp":
        return self.app  # type: ignore[return-value]

    def _commands(self):
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
                yield DiscoveryHit(text, cb, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, cb, help in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), cb, help=help)
        q = query.strip()
        if len(q) >= 2:
            label = f"Search all sessions for “{one_line(q, 40)}”"
            yield Hit(0.5, label, partial(self._app.search_all, q), text=label, help="every step summary of every session")
