"""Source administration shared by the CLI and the admin pages: validate, change, audit.

Every action names its actor and lands in the audit log, whether a person clicked it in
``/admin`` or a script ran ``sourcewise source ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.catalog.schema import SourceRow
from assistant.errors import ConfigError, SourcewiseError
from assistant.models import is_source_name
from indexers.sources.factory import detect_wiki_format
from indexers.sources.fetch_guard import redact_credentials
from indexers.sources.git import is_clone_url
from indexers.sources.locations import Door, validate_location

KINDS = ("git", "docs", "wiki")


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not is_source_name(name):
        raise ConfigError(f"source name {name!r}: use letters, digits, '-', '_' or '.'")
    return name


def add_source(container: Any, name: str, kind: str, location: str, *, actor: str, ref: str | None = None,
               groups: Sequence[str] = (), include: Sequence[str] = (), exclude: Sequence[str] = (),
               browse_url: str | None = None, door: Door = "web",
               redact_pii: bool | None = None) -> SourceRow:
    """Register a source after checking that it can work and may be read; index it separately.

    ``door``: ``"cli"`` for the local admin (any readable path), ``"web"`` (the default,
    for every remote door) only under ``indexing.allowed_roots``. Clone URLs pass the
    fetch guard and ``git ls-remote``; local repos must open and resolve ``ref``. Nothing
    reaches the catalog when a check fails (the refusal is audited as ``source.refused``).
    ``redact_pii``: redact personal data from its text (``None``: the settings default).
    """
    name = check_name(name)
    location = (location or "").strip()
    if kind not in KINDS:
        raise ConfigError(f"a source is one of {', '.join(KINDS)}, not {kind!r}")
    if not location:
        raise ConfigError("give the source's location (a path or clone URL)")
    ref = (ref or "").strip() or None
    if ref and kind == "docs":
        raise ConfigError("a ref applies to git sources only")
    if any(r.name == name for r in container.catalog.list_sources()):
        raise ConfigError(f"a source named {name!r} exists; pick another name or `sourcewise source remove {name}`")
    options: dict[str, Any] = {"include": list(include), "exclude": list(exclude), "added_via": door}
    if browse_url:
        options["browse_url"] = browse_url
    if redact_pii is not None:
        options["redact_pii"] = bool(redact_pii)
    fmt = None
    if kind == "wiki":
        fmt = options["format"] = "git" if is_clone_url(location) else detect_wiki_format(location)
    try:
        location = validate_location(container.settings, kind, location, ref, door=door, wiki_format=fmt)
    except SourcewiseError as exc:  # a refused location is worth knowing about (probing for SSRF)
        container.audit.record(actor, "source.refused", name, {
            "kind": kind, "location": redact_credentials(location), "ref": ref, "via": door,
            "reason": str(exc)[:500]})
        raise
    container.catalog.add_source(name, kind, location, ref=ref, access_groups=list(groups), options=options)
    container.audit.record(actor, "source.add", name, {"kind": kind, "location": location, "ref": ref,
                                                        "groups": list(groups), "via": door,
                                                        "redact_pii": redact_pii})
    return container.catalog.get_source(name)


def update_source(container: Any, name: str, *, actor: str, ref: str | None = None,
                  groups: Sequence[str] | None = None, redact_pii: bool | None = None) -> SourceRow:
    """Change a source's ref, access groups or personal-data redaction (a re-index
    applies them; changing ``redact_pii`` re-processes every document of the source)."""
    row = container.catalog.get_source(name)
    fields: dict[str, Any] = {}
    if ref is not None:
        if row.kind != "git" and (row.options or {}).get("format") != "git":
            raise ConfigError(f"{name} is a {row.kind} source; a ref applies to git sources")
        fields["ref"] = ref
    if groups is not None:
        fields["access_groups"] = list(groups)
    if redact_pii is not None:
        fields["options"] = {**(row.options or {}), "redact_pii": bool(redact_pii)}
    if not fields:
        raise ConfigError("nothing to change: give a ref, groups or --redact-pii/--no-redact-pii")
    container.catalog.update_source(row.id, **fields)
    audit = {k: v for k, v in fields.items() if k != "options"}
    if redact_pii is not None:
        audit["redact_pii"] = bool(redact_pii)
    container.audit.record(actor, "source.update", name, audit)
    return container.catalog.get_source(name)


def set_paused(container: Any, name: str, paused: bool, *, actor: str) -> SourceRow:
    """Paused sources keep their index as it is: index runs skip or refuse them."""
    row = container.catalog.get_source(name)
    container.catalog.update_source(row.id, status="paused" if paused else "active")
    container.audit.record(actor, "source.pause" if paused else "source.resume", name)
    return container.catalog.get_source(name)


def remove_source(container: Any, name: str, *, actor: str) -> None:
    """Purge a source's points and catalog rows (flags and feedback keep their text)."""
    row = container.catalog.get_source(name)
    with container.index_lock:
        container.store.delete_source(name)
        container.store.flush()
        container.catalog.remove_source(row.id)
    container.audit.record(actor, "source.remove", name, {"kind": row.kind, "location": row.location})
