"""Which hosts an answer may link to, and the one filter every answer passes.

The allowlist is ``generation.link_hosts`` plus the host of ``ui.public_url`` (the app's
own pages) plus the hosts of the indexed sources' browse URLs (a citation's "open in
browser" goes there). Those URLs come from source configuration an admin wrote
(``--browse-url``, a git remote, a wiki's base URL), never from document text, so a
document cannot add a host by mentioning it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from assistant.generation.citations import CitationCheck, CitationFilter
from assistant.generation.sanitize import LinkHosts, MarkupFilter, url_host
from assistant.models import Passage


def configured_hosts(settings: Any) -> list[str]:
    """``generation.link_hosts`` and ``ui.public_url``'s host."""
    hosts = list(getattr(settings.generation, "link_hosts", ()) or ())
    public = url_host(getattr(settings.ui, "public_url", None))
    if public:
        hosts.append(public)
    return hosts


class IndexedHosts:
    """Hosts of the indexed sources' document URLs, re-read when the index changes."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self._version: str | None = None
        self._hosts: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def get(self, index_version: str | None) -> frozenset[str]:
        with self._lock:
            if index_version is not None and index_version == self._version:
                return self._hosts
        hosts = self._read()
        with self._lock:
            self._version, self._hosts = index_version, hosts
        return hosts

    def _read(self) -> frozenset[str]:
        """One document URL per source (a source's URLs share a template, so a host)."""
        from assistant.catalog.schema import DocumentRow, SourceRow

        found: set[str] = set()
        try:
            with self.db.session() as s:
                for source_id in s.scalars(select(SourceRow.id)):
                    url = s.scalar(select(DocumentRow.url).where(DocumentRow.source_id == source_id,
                                                                 DocumentRow.url.is_not(None)).limit(1))
                    host = url_host(url)
                    if host:
                        found.add(host)
        except Exception:  # noqa: BLE001 - no catalog (tests, a broken db): fewer links kept, never more
            return frozenset()
        return frozenset(found)


def answer_hosts(configured: Iterable[str], indexed: Iterable[str], passages: Sequence[Passage]) -> LinkHosts:
    """The allowlist for one answer: configured + indexed + the cited passages' own URLs."""
    hosts = [*configured, *indexed]
    hosts += [h for h in (url_host(p.url) for p in passages) if h]
    return LinkHosts(hosts)


class OutputFilter:
    """Citations checked (``CitationFilter``), then markup neutralised (``MarkupFilter``):
    the one pipeline every answer's text goes through, streamed or whole."""

    def __init__(self, n_passages: int, hosts: LinkHosts | Iterable[str] = ()) -> None:
        self.citations = CitationFilter(n_passages)
        self.markup = MarkupFilter(hosts)

    @property
    def used(self) -> tuple[int, ...]:
        return self.citations.used

    @property
    def removed(self) -> int:
        return self.citations.removed

    def feed(self, delta: str) -> str:
        return self.markup.feed(self.citations.feed(delta))

    def flush(self) -> str:
        return self.markup.feed(self.citations.flush()) + self.markup.flush()

    def close(self) -> str:
        return self.markup.feed(self.citations.close()) + self.markup.close()


def check_output(text: str, n_passages: int, hosts: LinkHosts | Iterable[str] = ()) -> CitationCheck:
    """``check_citations`` plus the markup filter, on a whole text (feeding it in one piece)."""
    f = OutputFilter(n_passages, hosts)
    cleaned = f.feed(text) + f.flush()
    return CitationCheck(cleaned, f.used, f.removed)
