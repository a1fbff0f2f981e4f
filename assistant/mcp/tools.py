"""The MCP tools without a transport: which tools a caller sees, and what a call returns.

Each tool translates its arguments and calls a service (``Retriever`` through
``SourceReader.search``, ``Answerer``, ``SourceReader``, ``FeedbackService``); the access
filter, redaction and audit rows live there (DESIGN rule 9), so this door gets the
chat's guarantees by construction. What is left here: bounds (``limit``, ``max_tokens``,
``per_page`` from ``McpSettings``), saying when a result was cut, and which tools a
caller may use (an anonymous caller cannot ``report_outdated``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from assistant.errors import ConfigError, SourcewiseError
from assistant.mcp import schemas as S
from assistant.models import Answer, User
from assistant.retrieval.query import QueryFilters
from assistant.settings import Settings

log = logging.getLogger("sourcewise.mcp")
CHANNEL = "mcp"
ANONYMOUS = "mcp:anonymous"  # ':' is not allowed in a user name, so no account can be this caller
CHARS_PER_TOKEN = 4
APOLOGY = "Sorry, something went wrong on the Sourcewise server; the error was logged."


@dataclass(frozen=True)
class Caller:
    """Who is calling: a user with their current groups, or the anonymous stdio caller."""

    user: User
    anonymous: bool = False


def anonymous_caller() -> Caller:
    """No token and no ``--user``: sources open to everyone only, never an implicit admin."""
    return Caller(User(ANONYMOUS, ()), anonymous=True)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    read_only: bool = True
    needs_account: bool = False

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema(mode="serialization")


TOOLS = (
    ToolSpec("search_code", "Search code and docs",
             "Ranked passages from the indexed repositories, docs and wikis you may read, each with a structured "
             "citation (source, commit, path, lines, symbol, age, owner, staleness, url). Cite them as "
             "`source@commit:path#Lx-Ly` and warn when a passage is old or stale. " + S.DATA_NOTE,
             S.SearchCodeIn, S.SearchCodeOut),
    ToolSpec("ask", "Ask Sourcewise",
             "A cited answer to a question about the code and docs, from Sourcewise's configured generator.",
             S.AskIn, S.AskOut),
    ToolSpec("get_source", "Read an indexed file",
             "The text of a file or a line range as indexed (secrets redacted), at the indexed commit. "
             + S.DATA_NOTE, S.GetSourceIn, S.GetSourceOut),
    ToolSpec("list_sources", "List sources", "The sources you may search, with the commit last indexed.",
             S.ListSourcesIn, S.ListSourcesOut),
    ToolSpec("find_definition", "Find a definition",
             "Where a function, class, constant, setting or option is defined in the indexed code.",
             S.FindDefinitionIn, S.FindDefinitionOut),
    ToolSpec("report_outdated", "Report an outdated file",
             "Flag a file as outdated for its owner (it lands in the owners' queue, like a flag in the chat).",
             S.ReportOutdatedIn, S.ReportOutdatedOut, read_only=False, needs_account=True),
)
BY_NAME = {t.name: t for t in TOOLS}


class ToolError(Exception):
    """A message for the calling model (``isError``); never internals."""


class McpTools:
    """The tools over a container's services; one instance per process, any number of callers."""

    def __init__(self, settings: Settings, *, retriever: Callable[[], Any], answerer: Callable[[], Any],
                 reader: Callable[[], Any], feedback: Callable[[], Any], clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.cfg = settings.mcp
        self._retriever, self._answerer, self._reader, self._feedback = retriever, answerer, reader, feedback
        self.clock = clock or (lambda: datetime.now(UTC))

    def tools_for(self, caller: Caller) -> list[ToolSpec]:
        """What ``tools/list`` shows this caller."""
        return [t for t in TOOLS if not (t.needs_account and caller.anonymous)]

    def call(self, name: str, arguments: dict[str, Any] | None, caller: Caller) -> dict[str, Any]:
        """Run a tool; the structured result, or ``ToolError`` with what to do instead."""
        spec = BY_NAME.get(name)
        if spec is None or spec not in self.tools_for(caller):
            raise ToolError(f"unknown tool {name!r}; tools/list shows the ones you can use")
        try:
            args = spec.input_model.model_validate(arguments or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()[:5])
            raise ToolError(f"invalid arguments for {name}: {problems}") from None
        try:
            out = getattr(self, f"_{name}")(args, caller.user)
        except SourcewiseError as exc:
            raise ToolError(str(exc)) from None
        except Exception:
            log.exception("MCP tool %s failed", name)
            raise ToolError(APOLOGY) from None
        return spec.output_model.model_validate(out).model_dump(mode="json")

    # -- tools -------------------------------------------------------------------------
    def _search_code(self, a: S.SearchCodeIn, user: User) -> dict[str, Any]:
        limit = a.limit or self.cfg.default_limit
        if limit > self.cfg.max_limit:
            raise ConfigError(f"limit is at most {self.cfg.max_limit} (SOURCEWISE_MCP__MAX_LIMIT), got {limit}")
        budget = self._budget(a.max_tokens)
        if len(a.query) > self.settings.generation.max_question_chars:  # the API's limit, before parsing
            raise ConfigError(f"the query is {len(a.query):,} characters; the limit is "
                              f"{self.settings.generation.max_question_chars:,}")
        filters = QueryFilters(repos=tuple(a.repos), paths=tuple(a.paths), langs=tuple(a.languages),
                               kinds=tuple(a.kinds))
        result = self._reader().search(self._retriever(), user, a.query, k=limit,
                                       filters=None if filters.is_empty() else filters, channel=CHANNEL)
        now = self.clock()
        passages: list[dict[str, Any]] = []
        left = budget * CHARS_PER_TOKEN
        omitted = 0
        for rank, p in enumerate(result.passages, 1):
            text, cut = p.text, False
            if len(text) > left:
                if passages:
                    omitted = len(result.passages) - len(passages)
                    break
                text, cut = text[:left], True  # the best passage alone is over budget: its start
            left -= len(text)
            passages.append({"rank": rank, "score": round(p.score, 6), "text": text, "text_truncated": cut,
                             "citation": S.citation_of(p, now)})
        f = result.filters
        return {"query": result.query,
                "filters": {"repos": list(f.repos), "paths": list(f.paths), "languages": list(f.langs),
                            "kinds": list(f.kinds)},
                "passages": passages, "truncated": bool(omitted) or any(p["text_truncated"] for p in passages),
                "omitted": omitted, "max_tokens": budget}

    def _ask(self, a: S.AskIn, user: User) -> dict[str, Any]:
        history = [m.model_dump() for m in a.conversation]
        answer: Answer = self._answerer().answer(a.question, history, user, channel=CHANNEL)
        now = self.clock()
        return {
            "text": answer.text,
            "citations": [{"n": c.n, **S.citation_of(c.passage, now)} for c in answer.citations],
            "supported": answer.supported, "stale_warnings": [S.one_line(w, 500) or "" for w in answer.stale_warnings],
            "generator": answer.generator, "model": answer.model, "fallback_reason": answer.fallback_reason,
            "cached": answer.cached, "interaction_id": answer.interaction_id,
        }

    def _get_source(self, a: S.GetSourceIn, user: User) -> dict[str, Any]:
        budget = self._budget(a.max_tokens)
        doc = self._reader().read(user, a.source, a.path, commit=a.commit, start_line=a.start_line,
                                  end_line=a.end_line, max_chars=budget * CHARS_PER_TOKEN, channel=CHANNEL)
        age = max(0.0, (self.clock() - doc.updated_at).total_seconds() / 86400)
        return {
            "citation": f"{doc.source}@{doc.commit[:12]}:{doc.path}#L{doc.start_line}-L{doc.end_line}",
            "source": doc.source, "commit": doc.commit, "path": doc.path, "kind": doc.kind,
            "language": S.identifier(doc.language), "updated_at": doc.updated_at, "age_days": round(age, 1),
            "owner": S.identifier(doc.owner), "status": doc.status, "stale_reason": S.one_line(doc.stale_reason),
            "url": doc.url, "start_line": doc.start_line, "end_line": doc.end_line, "last_line": doc.last_line,
            "text": doc.text, "missing_lines": [list(r) for r in doc.missing_lines], "truncated": doc.truncated,
        }

    def _list_sources(self, a: S.ListSourcesIn, user: User) -> dict[str, Any]:
        if a.per_page > self.cfg.max_per_page:
            raise ConfigError(f"per_page is at most {self.cfg.max_per_page}, got {a.per_page}")
        sources = self._reader().sources(user)
        start = (a.page - 1) * a.per_page
        shown = sources[start:start + a.per_page]
        return {"sources": [s.__dict__ for s in shown], "page": a.page, "per_page": a.per_page,
                "total": len(sources), "has_more": start + len(shown) < len(sources)}

    def _find_definition(self, a: S.FindDefinitionIn, user: User) -> dict[str, Any]:
        limit = self.cfg.max_definitions
        found = self._reader().definitions(user, a.name, limit=limit + 1)
        now = self.clock()
        return {"name": a.name, "truncated": len(found) > limit, "definitions": [{
            "name": d.name, "kind": d.kind, "text": d.signature, "source": d.source, "commit": d.commit,
            "path": d.path, "start_line": d.start_line, "end_line": d.end_line,
            "citation": f"{d.source}@{d.commit[:12]}:{d.path}#L{d.start_line}-L{d.end_line}",
            "updated_at": d.updated_at, "age_days": round(max(0.0, (now - d.updated_at).total_seconds() / 86400), 1),
            "owner": S.identifier(d.owner), "url": d.url} for d in found[:limit]]}

    def _report_outdated(self, a: S.ReportOutdatedIn, user: User) -> dict[str, Any]:
        flag_id = self._feedback().report_document(a.source, a.path, user, a.comment, "outdated")
        return {"flag_id": flag_id, "source": a.source, "path": a.path}

    def _budget(self, asked: int | None) -> int:
        budget = asked or self.cfg.default_max_tokens
        if budget > self.cfg.max_tokens_limit:
            raise ConfigError(f"max_tokens is at most {self.cfg.max_tokens_limit} "
                              f"(SOURCEWISE_MCP__MAX_TOKENS_LIMIT), got {budget}")
        return budget
