"""The embedded default generator: answers composed from the sources themselves, no model.

It has to be useful on its own (most installs start here and it is the fallback when an
LLM fails), so it does what a colleague pasting links would do: one lead sentence naming
the best match, the few code lines or sentences that mention what was asked (with real
line numbers), a citation on each, and a plain "nothing relevant" when nothing matches.
Everything is deterministic, so its answers can be cached and tested exactly.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from assistant.generation.base import Generation, Message
from assistant.generation.text import (
    compounds,
    exact_identifiers,
    line_terms,
    matched_terms,
    terms,
    text_terms,
)
from assistant.models import Passage

EXTRACTIVE_VERSION = "extractive-v1"  # stored as the prompt version of extractive answers

MAX_SOURCES = 3          # passages shown in detail
MAX_CODE_LINES = 12      # lines per code excerpt
MAX_SENTENCES = 2        # sentences per prose passage
MAX_RELATED = 4          # further relevant passages listed by name
MIN_COVERAGE = 0.5       # share of the question's (weighted) terms a passage must mention

_DEF = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:pub(?:\(\w+\))?\s+)?(?:async\s+)?(?:static\s+)?"
    r"(?:(?:def|class|func|fn|function|interface|struct|enum|trait|impl|module|type)\s+"
    r"|(?:public|private|protected|internal)\s"
    r"|(?!(?:if|for|while|switch|catch|return|else|elif|with)\b)[A-Za-z_$][\w$]*\s*\([^)]*\)\s*\{)"  # JS/TS methods
)
_DOC_FENCE = re.compile(r"(```|~~~)([\w+-]*)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"'(\[*])")
_LANG_BY_EXT = {".py": "python", ".js": "javascript", ".ts": "typescript", ".tsx": "tsx", ".go": "go",
                ".java": "java", ".rs": "rust", ".c": "c", ".h": "c", ".cpp": "cpp", ".cs": "csharp",
                ".rb": "ruby", ".php": "php", ".kt": "kotlin", ".sh": "sh", ".yaml": "yaml",
                ".yml": "yaml", ".toml": "toml", ".json": "json", ".sql": "sql"}


@dataclass(frozen=True)
class _Query:
    terms: dict[str, float]  # stemmed term -> weight
    idents: list[str]  # identifiers typed as code, matched exactly
    pairs: list[tuple[str, str, str]]  # compounds ("rollback") standing for two terms


@dataclass(frozen=True)
class _Pick:
    n: int
    passage: Passage
    score: float
    coverage: float


class ExtractiveGenerator:
    """Composes an answer from passage text; ``[n]`` numbers follow the passage order."""

    name = "extractive"
    model: str | None = None

    def generate(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> Generation:
        return Generation(compose(question, passages), {})

    def stream(self, question: str, passages: Sequence[Passage], history: Sequence[Message] = ()) -> Iterator[str]:
        """Yield the composed answer block by block (it is cheap; streaming keeps one code path)."""
        text = compose(question, passages)
        for piece in re.split(r"(?<=\n\n)", text):
            if piece:
                yield piece


def compose(question: str, passages: Sequence[Passage]) -> str:
    q = _Query(terms(question), exact_identifiers(question), compounds(question))
    if not passages:
        return _nothing(question, ())
    picks = [_score(n, p, q) for n, p in enumerate(passages, 1)]
    if q.terms:
        relevant = [p for p in picks if p.coverage >= MIN_COVERAGE or p.score >= 4]
    else:  # nothing to match on ("how does it work?"): trust the retriever's order
        relevant = picks[:MAX_SOURCES]
    if not relevant:
        return _nothing(question, passages)
    shown, related = relevant[:MAX_SOURCES], relevant[MAX_SOURCES : MAX_SOURCES + MAX_RELATED]
    blocks = [_lead(shown, q)]
    for pick in shown:
        block = _excerpt(pick, q, skip_lead=pick is shown[0])
        if block:
            blocks.append(block)
    if related:
        blocks.append("Also relevant: " + ", ".join(f"`{_name(p.passage)}` [{p.n}]" for p in related) + ".")
    return "\n\n".join(blocks)


def _nothing(question: str, passages: Sequence[Passage]) -> str:
    q = question.strip().replace("\n", " ")
    q = q if len(q) <= 120 else q[:117] + "..."
    text = f"I found nothing in the indexed sources that answers “{q}”."
    if passages:
        names = ", ".join(f"`{_name(p)}`" for p in passages[:3])
        text += f" The closest matches ({names}) do not mention what you asked about."
    return text + (
        " Try naming a function, file, setting or error message, or check what is indexed with `sourcewise status`."
    )


def _name(p: Passage) -> str:
    return p.path


def _line_score(line: str, q: _Query) -> float:
    hit = matched_terms(line_terms(line), q.terms, q.pairs)
    score = sum(q.terms[t] for t in hit)
    score += sum(3.0 for ident in q.idents if ident in line)
    if score and _DEF.match(line):
        score += 1.0
    return score


def _score(n: int, p: Passage, q: _Query) -> _Pick:
    head = " ".join(x for x in (p.path, p.symbol or "", p.title or "") if x)
    hit = matched_terms(line_terms(head) | text_terms(p.text), q.terms, q.pairs)
    coverage = sum(q.terms[t] for t in hit) / (sum(q.terms.values()) or 1.0)
    best = max((_line_score(line, q) for line in p.text.splitlines()), default=0.0)
    best += sum(3.0 for ident in q.idents if ident in head)
    return _Pick(n, p, best, coverage)


def _is_code(p: Passage) -> bool:
    return p.kind == "code"


def _lead(shown: Sequence[_Pick], q: _Query) -> str:
    top = shown[0]
    p = top.passage
    if _is_code(p):
        lines = p.text.splitlines()
        defined = _definition_of(q.idents, lines)
        scores = [_line_score(line, q) for line in lines]
        start, _ = _window(lines, scores, defined[1] if defined else None) if lines else (0, 0)
        fn = _def_name(lines[start]) if lines else None
        symbol = p.symbol
        if fn and symbol and symbol.split(".")[-1] != fn:
            symbol = f"{symbol}.{fn}"
        symbol = symbol or fn
        what = f"`{symbol}` in `{p.path}`" if symbol else f"`{p.path}` (lines {p.start_line}–{p.end_line})"
        lead = f"The most relevant code is {what} [{top.n}]."
        if defined is not None:
            ident, i = defined
            lead = f"`{ident}` is defined in `{p.path}` at line {p.start_line + i} [{top.n}]."
    else:
        sentence = _best_sentences(p, q, 1)
        lead = _cite(sentence[0], top.n) if sentence else f"`{p.path}` covers this [{top.n}]."
        if sentence and p.title:
            lead = f"From “{p.title}” in `{p.path}`: {lead}"
        elif sentence:
            lead = f"From `{p.path}`: {lead}"
    others = [x for x in shown[1:] if x.passage.path != p.path]
    others = list({x.passage.path: x for x in reversed(others)}.values())[::-1]  # first per file
    if others:
        lead += " See also " + " and ".join(f"`{_name(x.passage)}` [{x.n}]" for x in others) + "."
    return lead


def _excerpt(pick: _Pick, q: _Query, *, skip_lead: bool) -> str:
    p = pick.passage
    if _is_code(p):
        return _code_excerpt(pick, q)
    sentences = _best_sentences(p, q, MAX_SENTENCES + (1 if skip_lead else 0))
    if skip_lead:
        sentences = sentences[1:]
    parts = [f"- {_cite(s, pick.n)}" for s in sentences]
    code = _doc_code_block(p, q)
    if code:
        parts.append(f"`{p.path}` [{pick.n}]:\n{code}")
    return "\n".join(parts)


def _cite(sentence: str, n: int) -> str:
    """Put the marker before the closing punctuation: "... backoff [2]." reads naturally."""
    s = sentence.rstrip()
    if s and s[-1] in ".!?:;":
        return f"{s[:-1]} [{n}]{s[-1]}"
    return f"{s} [{n}]"


def _fence(code: str, lang: str) -> str:
    ticks = "````" if "```" in code else "```"
    return f"{ticks}{lang}\n{code}\n{ticks}"


def _lang(p: Passage) -> str:
    if p.language:
        return p.language.lower().replace("c_sharp", "csharp").replace("_", "")
    return _LANG_BY_EXT.get(PurePosixPath(p.path).suffix.lower(), "")


def _code_excerpt(pick: _Pick, q: _Query) -> str:
    p = pick.passage
    lines = p.text.splitlines()
    if not lines:
        return ""
    scores = [_line_score(line, q) for line in lines]
    defined = _definition_of(q.idents, lines)
    start, end = _window(lines, scores, defined[1] if defined else None)
    snippet = textwrap.dedent("\n".join(lines[start:end])).strip("\n")
    first, last = p.start_line + start, p.start_line + end - 1
    where = f"line {first}" if first == last else f"lines {first}–{last}"
    return f"`{p.path}` {where} [{pick.n}]:\n{_fence(snippet, _lang(p))}"


def _window(lines: Sequence[str], scores: Sequence[float], anchor: int | None = None) -> tuple[int, int]:
    """Up to ``MAX_CODE_LINES`` lines around the best-matching line.

    A match inside a function starts at its definition and shows a few lines of body; a
    bare statement (``RETRY_LIMIT = 5``) stops at the next blank line after the last
    strong match, so a constant is shown as a constant, not with the class below it.
    """
    if len(lines) <= MAX_CODE_LINES:
        return 0, len(lines)
    best = anchor if anchor is not None else max(range(len(lines)), key=lambda i: (scores[i], -i))
    start = max(0, best - 1)
    for i in range(best, max(-1, best - 6), -1):  # the definition the best line is in
        if _DEF.match(lines[i]):
            start = i
            break
    limit = min(len(lines), start + MAX_CODE_LINES)
    strong = [i for i in range(start, limit) if scores[i] >= 0.5 * scores[best] > 0] or [best]
    if anchor is not None:  # the definition asked about: show it, not its uses
        strong = [anchor]
    end = min(limit, max(strong) + 4)
    if _DEF.match(lines[start]):
        end = max(end, min(limit, start + 6))
        if anchor is not None:  # the whole definition, up to the line budget
            end = _block_end(lines, start, limit)
    else:
        end = next((i for i in range(max(strong) + 1, end) if not lines[i].strip()), end)
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    while start < end - 1 and not lines[start].strip():
        start += 1
    return start, end


def _block_end(lines: Sequence[str], start: int, limit: int) -> int:
    """Where the block opened at ``start`` ends: the next non-blank line indented no deeper."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    for i in range(start + 1, limit):
        text = lines[i]
        if text.strip() and len(text) - len(text.lstrip()) <= indent and not text.strip().startswith((")", "}", "]")):
            return i
    return limit


def _definition_of(idents: Sequence[str], lines: Sequence[str]) -> tuple[str, int] | None:
    """The first identifier asked about that this code defines (``X = ...``, ``def X``), with its line."""
    for ident in idents:
        leaf = re.escape(ident.split(".")[-1])
        pattern = re.compile(
            rf"^\s*(?:(?:export|const|let|var|final|static|public|private|pub|async)\s+)*"
            rf"(?:(?:def|class|func|fn|function|struct|interface|enum|type|trait)\s+{leaf}\b|{leaf}\s*(?::[^=]*)?=[^=])"
        )
        for i, line in enumerate(lines):
            if pattern.match(line):
                return ident, i
    return None


def _def_name(line: str) -> str | None:
    m = re.search(
        r"\b(?:def|class|func|fn|function|struct|interface|enum|trait)\s+(?:\([^)]{0,200}\)\s*)?([A-Za-z_]\w*)", line
    )  # a bounded receiver: an unclosed "(" no longer rescans the line from every keyword
    return m.group(1) if m else None


def _sentences(text: str) -> list[str]:
    """Prose sentences and list items, without headings, code blocks or markup noise."""
    out: list[str] = []
    in_code = False
    para: list[str] = []

    def flush() -> None:
        if para:
            out.extend(s.strip() for s in _SENTENCE_END.split(" ".join(para)) if len(s.strip()) > 3)
            para.clear()

    lines = text.splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter: metadata, not prose
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), 0)
        lines = lines[end + 1 :] if end else lines
    for raw in lines:
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            flush()
            in_code = not in_code
            continue
        if in_code:
            continue
        if not line or line.startswith(("#", "|", "---", "===", "<!--")):
            flush()
            continue
        if re.match(r"^([-*+]|\d+[.)])\s+", line):
            flush()
            out.append(re.sub(r"^([-*+]|\d+[.)])\s+", "", line))
            continue
        para.append(line)
    flush()
    return out


def _best_sentences(p: Passage, q: _Query, k: int) -> list[str]:
    sents = _sentences(p.text)
    scored = [
        (_line_score(s, q) / (1 + len(s.split()) / 60) * (0.8 if s.rstrip().endswith(":") else 1.0), i, s)
        for i, s in enumerate(sents)
    ]
    top = sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))
    chosen = [s for score, _, s in top[:k] if score >= 0.5 * top[0][0]]
    if not chosen and sents and not q.terms:
        chosen = sents[:k]
    return [_trim(s) for s in chosen]


def _trim(sentence: str, limit: int = 300) -> str:
    s = sentence.rstrip()
    return s if len(s) <= limit else s[: limit - 3].rstrip() + "..."


def _doc_code_block(p: Passage, q: _Query) -> str:
    """A fenced block inside a doc (a command, a config snippet) that mentions the question.

    Line by line, in linear time: a fence line opens a block that the next line starting
    with the same fence closes (whitespace-only lines before it are not part of it). The
    regex this replaces (``^\\s*```...^\\s*\\1``) let ``\\s*`` run across blank lines from
    every line start, which is quadratic in a run of blank lines."""
    lines = p.text.split("\n")
    i = 0
    while i < len(lines) - 1:
        opener = _DOC_FENCE.fullmatch(lines[i].lstrip())
        if opener is None:
            i += 1
            continue
        fence = opener.group(1)
        close = next((k for k in range(i + 1, len(lines)) if lines[k].lstrip().startswith(fence)), None)
        if close is None:
            i += 1
            continue
        body = lines[i + 1 : close]
        while body and not body[-1].strip():
            body.pop()
        if any(_line_score(line, q) > 0 for line in "\n".join(body).splitlines()):
            kept = "\n".join("\n".join(body).splitlines()[:MAX_CODE_LINES])
            return _fence(kept, opener.group(2) or "")
        i = close + 1
    return ""
