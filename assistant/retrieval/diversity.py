"""Turning ranked chunks into a useful top k, and into a file ranking.

A generator given five overlapping chunks of one file (or the same README vendored in
three places) wastes its context; a developer wants the answer's sources to span the
files that matter. Neither a near-duplicate test nor a per-file quota is a Qdrant query,
so both run here, identically for every store, over an over-fetched candidate list.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.models import Passage, split_doc_id
from assistant.retrieval.identifiers import file_role

SHINGLE = 3
_WORD = re.compile(r"\w+")


def file_key(p: Passage) -> str:
    """``source:path``, the unit of file-level metrics and of the per-file cap."""
    return f"{p.source}:{p.path}"


def shingles(text: str, size: int = SHINGLE) -> frozenset[tuple[str, ...]]:
    """Word n-grams of a text (lowercased); texts shorter than n give one shingle."""
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) <= size:
        return frozenset({tuple(words)})
    return frozenset(zip(*(words[i:] for i in range(size))))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass
class _Seen:
    shingles: list[frozenset]
    texts: set[str]
    # Each candidate's shingles, computed once (a held-back passage is tested twice and a
    # chosen one remembered): ``id(passage)`` -> shingles.
    cache: dict[int, frozenset]

    def shingles_of(self, p: Passage) -> frozenset:
        mine = self.cache.get(id(p))
        if mine is None:
            mine = self.cache[id(p)] = shingles(p.text)
        return mine


def diversify(
    ranked: Sequence[Passage], k: int, *, per_file: int = 2, duplicate_similarity: float = 0.9
) -> list[Passage]:
    """The top ``k`` of ``ranked`` (best first) without near-duplicates, at most
    ``per_file`` passages per file while other files still have candidates.

    A passage whose word-shingle Jaccard similarity to an already chosen one reaches
    ``duplicate_similarity`` is dropped. Passages over the per-file cap are held back and
    fill the remaining slots, best first, only when no other file is left.
    """
    chosen: list[Passage] = []
    held: list[Passage] = []
    seen = _Seen([], set(), {})
    per: dict[str, int] = defaultdict(int)
    for p in ranked:
        if len(chosen) >= k:
            break
        if _is_duplicate(p, seen, duplicate_similarity):
            continue
        if per[file_key(p)] >= per_file:
            held.append(p)
            continue
        _remember(p, seen)
        per[file_key(p)] += 1
        chosen.append(p)
    for p in held:
        if len(chosen) >= k:
            break
        if not _is_duplicate(p, seen, duplicate_similarity):
            _remember(p, seen)
            chosen.append(p)
    if held:  # keep best-first order after filling
        order = {id(p): i for i, p in enumerate(ranked)}
        chosen.sort(key=lambda p: order[id(p)])
    return chosen


def _is_duplicate(p: Passage, seen: _Seen, threshold: float) -> bool:
    norm = " ".join(p.text.split()).lower()
    if norm in seen.texts:
        return True
    if threshold >= 1.0:
        return False
    mine = seen.shingles_of(p)
    return any(jaccard(mine, other) >= threshold for other in seen.shingles)


def _remember(p: Passage, seen: _Seen) -> None:
    seen.texts.add(" ".join(p.text.split()).lower())
    seen.shingles.append(seen.shingles_of(p))


def rank_files(
    ranked: Sequence[tuple[str, float]], *, decay: float = 0.3, limit: int | None = None
) -> list[tuple[str, float]]:
    """File ranking from ``(file key, chunk score)`` pairs: a file scores its best chunk
    plus ``decay`` x its second, ``decay**2`` x its third... so a file with several
    relevant chunks edges out one with a single chunk of equal score, while one long file
    cannot win on volume alone. Ties keep first-seen order."""
    per: dict[str, list[float]] = defaultdict(list)
    for key, score in ranked:
        per[key].append(score)
    scored = []
    for key, scores in per.items():
        scores.sort(reverse=True)
        scored.append((key, sum(s * decay**i for i, s in enumerate(scores))))
    first = {key: i for i, key in enumerate(per)}
    scored.sort(key=lambda item: (-item[1], first[item[0]]))
    return scored[:limit] if limit is not None else scored


def lexical_file_scores(ranked: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """File ranking from lexical ``(file key, chunk score)`` pairs (raw BM25 x priors): a
    file scores its best chunk + its second / 2 + its third / 3... A long module that
    matches the words in many places (a framework's central file) adds up; a file that
    matches them once, or a test that repeats them, does not outweigh it. Best first."""
    per: dict[str, list[float]] = defaultdict(list)
    for key, score in ranked:
        per[key].append(score)
    scored = [(key, sum(s / (i + 1) for i, s in enumerate(sorted(v, reverse=True)))) for key, v in per.items()]
    first = {key: i for i, key in enumerate(per)}
    scored.sort(key=lambda item: (-item[1], first[item[0]]))
    return scored


def fuse_rankings(rankings: Sequence[tuple[Sequence[str], float]], k: float) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion of file rankings, each ``(keys best first, weight)``: a file
    scores the sum of ``weight / (k + rank)``. Ties keep the first ranking's order."""
    score: dict[str, float] = defaultdict(float)
    order: dict[str, int] = {}
    for keys, weight in rankings:
        for rank, key in enumerate(keys, 1):
            score[key] += weight / (k + rank)
            order.setdefault(key, len(order))
    return sorted(score.items(), key=lambda item: (-item[1], order[item[0]]))


def cap_families(ranked: Sequence[tuple[str, float]], cap: int) -> list[tuple[str, float]]:
    """A file ranking (``source:path`` keys, best first) where test (or example) files
    that share a file name with ``cap`` better-ranked test (example) files of their source
    go after all the others, in their order.

    A fixture tree repeats one small file per case (``tests/roots/test-*/conf.py``); a
    question that quotes such a file matches every copy, and four copies in the top five
    push out the module that reads it. ``cap`` 0 returns the ranking unchanged."""
    if cap <= 0:
        return list(ranked)
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    kept: list[tuple[str, float]] = []
    later: list[tuple[str, float]] = []
    for item in ranked:
        source, path = split_doc_id(item[0])
        role = file_role(path)
        if role not in ("test", "example"):
            kept.append(item)
            continue
        family = (source, role, path.rsplit("/", 1)[-1])
        seen[family] += 1
        (kept if seen[family] <= cap else later).append(item)
    return kept + later
