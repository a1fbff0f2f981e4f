"""Looking for planted secrets (or any 12-character piece of one) in what was stored or said."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import MetaData, create_engine, select

from tests.security.secret_corpus import Planted, Secret

WINDOW = 12


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a payload, row or JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(k)
            yield from strings_in(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from strings_in(v)


def catalog_strings(url: str) -> Iterator[tuple[str, str]]:
    """(table.column, text) for every value of every table of the catalog."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    try:
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(select(table)):
                    for column, value in row._mapping.items():
                        for text in strings_in(value):
                            yield f"{table.name}.{column}", text
    finally:
        engine.dispose()


def find_leaks(planted: Planted, texts: Iterable[tuple[str, str]]) -> list[str]:
    """``kind in where`` for each secret whose value, or any 12-character window of it,
    stands in one of ``texts`` (never the secret itself, so a failure prints nothing secret)."""
    windows: dict[str, Secret] = {}
    for secret in planted.secrets:
        v = secret.value
        for i in range(max(1, len(v) - WINDOW + 1)):
            windows.setdefault(v[i : i + WINDOW], secret)
    found: set[str] = set()
    for where, text in texts:
        if len(text) < WINDOW:
            continue
        grams = {text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1)}
        for gram in grams & windows.keys():
            s = windows[gram]
            found.add(f"{s.kind} (planted in {s.path}) in {where}")
    return sorted(found)
