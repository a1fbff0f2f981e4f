"""Source administration shared by the CLI and the admin pages: validate, change, audit.

Every action names its actor and lands in the audit log, whether a person clicked it in
``/admin`` or a script ran ``sourcewise source ...``.

Access changes apply to the next query: new access groups are written into the source's
points at once (as an owner's deprecation is), and a removal purges the points, the
catalog rows and the stored snippets of answers that quoted the source
(``assistant.retention``). A source is public only when someone says so: an empty
group list is refused, ``everyone`` is the explicit public choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assistant.access import effective_groups
from assistant.catalog.schema import SourceRow
from assistant.errors import ConfigError, SourcewiseError, StoreError
from assistant.models import PUBLIC_GROUP, is_source_name
from assistant.policy import DEFAULT_CLASSIFICATION, check_classification
from assistant.retention import purge_source
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


def check_groups(groups: Sequence[str]) -> list[str]:
    """Who may read a source, said explicitly: named groups, or ``everyone`` alone (public).

    An empty list is refused: a blank field must never open a source to everyone."""
    names = sorted({g.strip() for g in groups if g and g.strip()})
    if not names:
        raise ConfigError(
            f"say who may read the source: access groups (e.g. eng,payments), or {PUBLIC_GROUP} to make it "
            "public; an empty group list is refused so that a blank field never opens a source to everyone")
    if PUBLIC_GROUP in names and len(names) > 1:
        raise ConfigError(f"{PUBLIC_GROUP} makes the source public, so other groups add nothing: give either "
                          f"{PUBLIC_GROUP} or the groups that may read it")
    bad = [g for g in names if len(g) > 200 or any(c in g for c in ",\n\r\t")]
    if bad:
        raise ConfigError(f"invalid group name(s) {bad}: at most 200 characters, no commas or line breaks")
    return names


def add_source(container: Any, name: str, kind: str, location: str, *, actor: str, ref: str | None = None,
               groups: Sequence[str] | None = None, include: Sequence[str] = (), exclude: Sequence[str] = (),
               browse_url: str | None = None, door: Door = "web",
               redact_pii: bool | None = None, classification: str | None = None) -> SourceRow:
    """Register a source after checking that it can work and may be read; index it separately.

    ``door``: ``"cli"`` for the local admin (any readable path), ``"web"`` (the default,
    for every remote door) only under ``indexing.allowed_roots``. Clone URLs pass the
    fetch guard and ``git ls-remote``; local repos must open and resolve ``ref``. Nothing
    reaches the catalog when a check fails (the refusal is audited as ``source.refused``).
    ``redact_pii``: redact personal data from its text (``None``: the settings default).
    ``groups=None`` (not given at all, on the command line) is public, stored as
    ``everyone`` and said so; a given but empty list is refused (``check_groups``).
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
    groups = [PUBLIC_GROUP] if groups is None else check_groups(groups)
    classification = check_classification(classification or DEFAULT_CLASSIFICATION)
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
    container.catalog.add_source(name, kind, location, ref=ref, access_groups=list(groups), options=options,
                                 classification=classification)
    container.audit.record(actor, "source.add", name, {"kind": kind, "location": location, "ref": ref,
                                                        "groups": list(groups), "via": door,
                                                        "redact_pii": redact_pii, "classification": classification})
    return container.catalog.get_source(name)


def update_source(container: Any, name: str, *, actor: str, ref: str | None = None,
                  groups: Sequence[str] | None = None, redact_pii: bool | None = None,
                  classification: str | None = None) -> SourceRow:
    """Change a source's ref (a re-index applies it), personal-data redaction (a re-index
    re-processes every document), access groups or classification (both apply to the next
    query: the new groups are written into its points now)."""
    row = container.catalog.get_source(name)
    fields: dict[str, Any] = {}
    if ref is not None:
        if row.kind != "git" and (row.options or {}).get("format") != "git":
            raise ConfigError(f"{name} is a {row.kind} source; a ref applies to git sources")
        ref = ref.strip()
        if ref:  # checked now, like at `source add`: git's own reason, not a failed run later
            validate_location(container.settings, row.kind, row.location, ref, door="cli",
                              wiki_format=(row.options or {}).get("format"))
        fields["ref"] = ref or None
    if groups is not None:
        fields["access_groups"] = check_groups(groups)
    if classification is not None:
        fields["classification"] = check_classification(classification)
    if redact_pii is not None:
        fields["options"] = {**(row.options or {}), "redact_pii": bool(redact_pii)}
    if not fields:
        raise ConfigError("nothing to change: give a ref, groups, a classification or --redact-pii/--no-redact-pii")
    if "access_groups" in fields:
        _apply_groups(container, row, fields)
    else:
        container.catalog.update_source(row.id, **fields)
    audit = {k: v for k, v in fields.items() if k != "options"}
    if redact_pii is not None:
        audit["redact_pii"] = bool(redact_pii)
    container.audit.record(actor, "source.update", name, audit)
    return container.catalog.get_source(name)


def _apply_groups(container: Any, row: SourceRow, fields: dict[str, Any]) -> None:
    """Catalog first, then every point's ``access_groups``, with no index run in between.

    Should the point write fail, the catalog already holds the new groups, so the next
    index run rewrites the payloads (their meta hash includes the groups)."""
    with container.index_lock:
        store = _open_store(container, row.name)
        container.catalog.update_source(row.id, **fields)
        try:
            store.set_source_payload(row.name, {"access_groups": effective_groups(fields["access_groups"])})
            store.flush()
        except Exception as exc:
            raise StoreError(
                f"{row.name}: the new access groups are saved, but writing them into the index failed "
                f"({type(exc).__name__}: {exc}); run `sourcewise index {row.name}` to apply them") from exc


def _open_store(container: Any, name: str) -> Any:
    """The store, opened before anything changes (the embedded one admits one process)."""
    try:
        return container.store
    except Exception as exc:
        raise StoreError(
            f"cannot open the index to apply {name}'s new access groups ({type(exc).__name__}: {exc}); "
            "nothing was changed. If `sourcewise serve` is running, change them on its admin page") from exc


def set_paused(container: Any, name: str, paused: bool, *, actor: str) -> SourceRow:
    """Paused sources keep their index as it is: index runs skip or refuse them."""
    row = container.catalog.get_source(name)
    container.catalog.update_source(row.id, status="paused" if paused else "active")
    container.audit.record(actor, "source.pause" if paused else "source.resume", name)
    return container.catalog.get_source(name)


def remove_source(container: Any, name: str, *, actor: str) -> None:
    """Purge a source's points, catalog rows and stored snippets (``assistant.retention``);
    flags and feedback keep their text, and only admins see them once the source is gone."""
    row = container.catalog.get_source(name)
    with container.index_lock:
        container.store.delete_source(name)
        container.store.flush()
        container.catalog.remove_source(row.id)
        purged = purge_source(container.db, name)
    container.audit.record(actor, "source.remove", name, {"kind": row.kind, "location": row.location,
                                                           "purged_answers": purged.interactions,
                                                           "purged_chat_elements": purged.chat_elements})
