"""Answer-cache hit rate of a catalog's interaction log, under the old key and the new one.

Replays every interaction row of a catalog (``catalog.db`` of a ``SOURCEWISE_HOME``, e.g.
the one ``bench/chat_load.py --keep`` leaves behind) in order through a simulated answer
cache (LRU of ``--cache-size`` entries, ``--ttl`` seconds by the rows' timestamps, only
clean answers stored, as ``assistant.answer.Answerer`` does) twice: keyed the old way
(whitespace collapsed, filters as given) and with ``assistant.answer_cache.cache_key``
(``normalise_question``: case of ordinary words, punctuation, filter order). Each row
keeps its own user (groups from the catalog's users), history, filters, index version,
generator and model, so users of different groups never share an entry in either run.

``--strip REGEX`` removes a part of each question (and of its conversation) first (default: chat_load's per-session
nonce ``ref-<tag>-<session>-<n>``, which makes every load question unique on purpose).
``--variants`` adds a second, synthetic replay in which each question is rewritten the way
people retype one (a capital first letter, the question mark dropped or doubled, spaces),
seeded; it is labelled as such in the output. Prints Markdown; asserts nothing.

    .venv/bin/python bench/cache_hits.py --catalog /tmp/sw-chat-load-XXXX/home/catalog.db [--variants]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answer_cache import cache_key  # noqa: E402

NONCE = r"\s*ref-[A-Za-z0-9]+-[A-Za-z0-9]+-\d+"


def old_key(*, question: str, history: Sequence[Mapping[str, str]], filters: Mapping[str, Any] | None,
            groups: Sequence[str] | None, index_version: str, generator: str, model: str | None,
            prompt_version: str) -> str:
    """``cache_key`` as it was before normalisation (kept here to compare against)."""
    payload = {
        "q": " ".join(question.split()), "h": [[m.get("role"), m.get("content")] for m in history],
        "f": filters or {}, "g": "*admin*" if groups is None else sorted(groups), "v": index_version,
        "gen": generator, "m": model, "p": prompt_version,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=list).encode()).hexdigest()


def rows(catalog: Path) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from assistant.catalog.db import Database
    from assistant.catalog.schema import InteractionRow
    from assistant.users import UserStore

    db = Database(f"sqlite:///{catalog}", run_migrations=False)
    try:
        users = UserStore(db)
        groups: dict[str, list[str] | None] = {}
        out = []
        with db.session() as s:
            found = list(s.scalars(select(InteractionRow).order_by(InteractionRow.id)))
        for r in found:
            if r.user_name not in groups:
                account = users.get(r.user_name)
                groups[r.user_name] = (account.user().access_groups() if account is not None
                                       else ["everyone", f"?{r.user_name}"])  # unknown: only itself
            out.append({"question": r.question or "", "history": list(r.history or []), "filters": r.filters or {},
                        "groups": groups[r.user_name], "index_version": r.index_version or "",
                        "generator": r.generator or "", "model": r.model, "prompt_version": r.prompt_version or "",
                        "clean": r.answer is not None and not r.error and not r.fallback_reason,
                        "at": r.created_at, "channel": r.channel})
        return out
    finally:
        db.close()


def replay(items: Iterable[dict[str, Any]], key: Callable[..., str], size: int, ttl_s: float) -> tuple[int, int]:
    """(hits, lookups) of an LRU answer cache fed these interactions in order."""
    cache: OrderedDict[str, datetime] = OrderedDict()
    hits = lookups = 0
    for it in items:
        k = key(question=it["question"], history=it["history"], filters=it["filters"], groups=it["groups"],
                index_version=it["index_version"], generator=it["generator"], model=it["model"],
                prompt_version=it["prompt_version"])
        lookups += 1
        stored = cache.get(k)
        if stored is not None and (it["at"] - stored).total_seconds() <= ttl_s:
            hits += 1
            cache.move_to_end(k)
            continue
        if it["clean"]:
            cache[k] = it["at"]
            cache.move_to_end(k)
            while len(cache) > size:
                cache.popitem(last=False)
    return hits, lookups


def retype(question: str, rng: random.Random) -> str:
    """The same question as someone might type it again (synthetic; never changes a word)."""
    q = question.strip()
    if rng.random() < 0.5:
        q = q[:1].upper() + q[1:] if q[:1].islower() else q[:1].lower() + q[1:]
    if rng.random() < 0.4:
        q = q.rstrip("?") if q.endswith("?") else q + "?"
    elif rng.random() < 0.2:
        q = q + "?"
    if rng.random() < 0.3:
        q = "  " + q.replace(" ", "  ", 1)
    return q


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--catalog", required=True, help="path of a catalog.db")
    p.add_argument("--strip", default=NONCE, help="regex removed from questions first ('' keeps them whole)")
    p.add_argument("--cache-size", type=int, default=256)
    p.add_argument("--ttl", type=float, default=3600.0)
    p.add_argument("--variants", action="store_true", help="also replay synthetic retyped variants")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    items = rows(Path(args.catalog))
    if args.strip:
        pattern = re.compile(args.strip)
        for it in items:  # the conversation carries the earlier questions' nonces too
            it["question"] = pattern.sub("", it["question"]).strip()
            it["history"] = [{**m, "content": pattern.sub("", str(m.get("content", ""))).strip()}
                             for m in it["history"]]
    print(f"### Answer-cache hit rate: {len(items)} interactions of `{args.catalog}`\n")
    print(f"cache {args.cache_size} entries, TTL {args.ttl:g} s; questions stripped of `{args.strip or '-'}`\n")
    print("| replay | lookups | hits, old key | hits, new key |")
    print("|---|---:|---:|---:|")
    runs = [("interaction log as recorded", items)]
    if args.variants:
        rng = random.Random(args.seed)
        runs.append(("synthetic: each question retyped (case, `?`, spaces)",
                     [it | {"question": retype(it["question"], rng)} for it in items]))
    for name, data in runs:
        old_hits, n = replay(data, old_key, args.cache_size, args.ttl)
        new_hits, _ = replay(data, cache_key, args.cache_size, args.ttl)
        pct = lambda h: f"{h} ({100 * h / n:.1f} %)" if n else "0"  # noqa: E731
        print(f"| {name} | {n} | {pct(old_hits)} | {pct(new_hits)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
