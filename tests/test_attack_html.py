"""The HTML export's class attributes carry the daemon's verdict (CSS
draws unparsable steps red, not-replayed ones dimmed, compacts as
boundaries). A role is store text: it must not add classes, or a replayed
message could be drawn as skipped, an entry as a compact."""

from __future__ import annotations

import re
from pathlib import Path

from crabview.demo import DaemonWriter
from crabview.render.html import session_html
from crabview.store import models as m
from crabview.store.session import load_session

VERDICT_CLASSES = {"kind-unparsable", "kind-unreadable", "kind-compact", "kind-legacy_compact", "kind-event", "compact", "not-replayed"}


def test_a_role_cannot_add_classes(tmp_path: Path) -> None:
    w = DaemonWriter(tmp_path / "root")
    slug = w.create_session("a", "b")
    for role in ("user not-replayed kind-unparsable", "x\tcompact", "y\ncompact", 'z" class="not-replayed', "role-user\u00a0compact"):
        w.append(slug, m.HistoryEntry(message=m.Message(role, [m.TextBlock("replayed text")])))
    s = load_session(w.sessions_dir / slug)
    page = session_html(s)
    for cls in re.findall(r'<section class="([^"]*)"', page):
        tokens = set(cls.split())
        assert not tokens & VERDICT_CLASSES, cls  # every one of these entries is replayed
        assert "kind-entry" in tokens, cls
