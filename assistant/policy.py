"""Classification policy: which generator may see which sources' passages.

Every source is ``public``, ``internal`` (the default) or ``restricted``, set by an
admin (``sourcewise source add/update --classification``, the admin sources page).
``PolicySettings.generators`` maps each class to the generators allowed to see it. The
``Answerer`` applies it between retrieval and generation, for every door at once: a
passage the answering generator may not see is withheld from its context (the answer
says how many were, never which: the reader may read them, but this says nothing about
sources they may not); when every passage is withheld the answer is composed by
``extractive`` (no model: nothing leaves the process), which may always see what the
user may read. The catalog is read per question, so a reclassification applies to the
next one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from assistant.errors import ConfigError
from assistant.models import Passage
from assistant.settings import PolicySettings

CLASSIFICATIONS = ("public", "internal", "restricted")
DEFAULT_CLASSIFICATION = "internal"
EXTRACTIVE = "extractive"
SELF_HOSTED = "self-hosted"
IN_PROCESS = frozenset({"extractive", "llamacpp"})  # never send text anywhere
# A source nobody classified (the catalog does not know it) counts as the default, as
# existing sources did when classifications arrived (migration 0008).
UNKNOWN_CLASS = DEFAULT_CLASSIFICATION


def check_classification(value: str | None) -> str:
    """A classification as stored (``ConfigError`` naming the choices for anything else)."""
    name = (value or "").strip().lower()
    if name not in CLASSIFICATIONS:
        raise ConfigError(f"classification {value!r}: use one of {', '.join(CLASSIFICATIONS)} "
                          f"(default {DEFAULT_CLASSIFICATION})")
    return name


def source_classifications(db: object) -> dict[str, str]:
    """``{source name: classification}`` from the catalog (one query)."""
    from sqlalchemy import select

    from assistant.catalog.schema import SourceRow

    with db.session() as s:  # type: ignore[attr-defined]
        return {name: cls or DEFAULT_CLASSIFICATION
                for name, cls in s.execute(select(SourceRow.name, SourceRow.classification))}


@dataclass(frozen=True)
class Decision:
    """What a generator may see of the retrieved passages."""

    passages: tuple[Passage, ...]  # in retrieval order
    withheld: int  # passages left out of the generator's context


class ClassificationPolicy:
    """``PolicySettings`` applied to one generator's view of the retrieved passages."""

    def __init__(self, settings: PolicySettings, classifications: Callable[[], Mapping[str, str]], *,
                 base_url: str | None = None) -> None:
        self.settings = settings
        self.classifications = classifications
        self.base_url = base_url

    def names(self, generator: str) -> set[str]:
        """What the policy may call ``generator``: its own name, and ``self-hosted`` for
        an in-process model or an ``openai`` endpoint listed in ``self_hosted_urls``."""
        names = {generator}
        if generator in IN_PROCESS or (generator == "openai" and self._self_hosted_url()):
            names.add(SELF_HOSTED)
        return names

    def allows(self, generator: str, classification: str) -> bool:
        """Whether ``generator`` may see passages of ``classification`` (extractive: always)."""
        if generator == EXTRACTIVE:
            return True
        allowed = set(self.settings.generators.get(classification, ()))
        return "*" in allowed or bool(allowed & self.names(generator))

    def decide(self, passages: Sequence[Passage], generator: str) -> Decision:
        """The passages ``generator`` may see, and how many it may not."""
        passages = tuple(passages)
        if generator == EXTRACTIVE or not passages:
            return Decision(passages, 0)
        classes = self.classifications()
        kept = tuple(p for p in passages if self.allows(generator, classes.get(p.source, UNKNOWN_CLASS)))
        return Decision(kept, len(passages) - len(kept))

    def _self_hosted_url(self) -> bool:
        base = (self.base_url or "").strip().rstrip("/").lower()
        if not base:
            return False
        for url in self.settings.self_hosted_urls:
            prefix = url.strip().rstrip("/").lower()
            if prefix and (base == prefix or base.startswith(prefix + "/")):
                return True
        return False


def withheld_note(withheld: int, generator: str, *, composed: bool) -> str:
    """The sentence an answer ends with when the policy kept passages from its generator."""
    what = "source was" if withheld == 1 else "sources were"
    if composed:
        return (f"_{withheld} {what} found, but their classification does not allow the `{generator}` model "
                "to see them, so this answer was composed directly from the sources instead._")
    return f"_{withheld} more {what} found but withheld from the `{generator}` model by the classification policy._"
