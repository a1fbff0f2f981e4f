"""Form input for source administration, handed to ``indexers.admin`` (shared with the CLI).

``indexers.admin`` validates, changes and audits; this module only turns form fields
into its arguments and refuses what only makes sense on a command line (a relative
path, which would resolve against the server's working directory).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from assistant.catalog.schema import SourceRow
    from assistant.container import Container


def parse_list(value: str | None) -> list[str]:
    """``"eng, sre,eng"`` -> ``["eng", "sre"]`` (commas or newlines; trimmed, unique, sorted)."""
    return sorted({g.strip() for g in re.split(r"[,\n]", value or "") if g.strip()})


def parse_globs(value: str | None) -> list[str]:
    """Globs one per line or comma-separated, order kept."""
    out: list[str] = []
    for g in re.split(r"[,\n]", value or ""):
        g = g.strip()
        if g and g not in out:
            out.append(g)
    return out


def form_groups(groups: str, public: bool) -> list[str]:
    """The access groups a form asks for: the listed groups, or ``everyone`` when "public" is
    ticked (a blank field with "public" unticked is refused by ``indexers.admin``)."""
    from assistant.models import PUBLIC_GROUP

    return [*parse_list(groups), *([PUBLIC_GROUP] if public else [])]


def add_from_form(
    container: Container, *, actor: str, name: str, kind: str, location: str, ref: str = "",
    groups: str = "", include: str = "", exclude: str = "", browse_url: str = "",
    public: bool = False, classification: str = "",
) -> SourceRow:
    """Register (and audit) a source from the admin form; index it separately."""
    from indexers.admin import add_source
    from indexers.sources.git import is_clone_url

    location = location.strip()
    if location and not is_clone_url(location) and not location.startswith(("/", "~")):
        raise ConfigError(f"{location}: give an absolute path on the server, or a clone URL")
    return add_source(container, name, kind, location, actor=actor, ref=ref or None,
                      groups=form_groups(groups, public), include=parse_globs(include), exclude=parse_globs(exclude),
                      browse_url=browse_url.strip() or None, classification=classification or None)
