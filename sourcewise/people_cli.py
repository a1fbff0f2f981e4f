"""CLI equivalents of the admin and owner pages: users, feedback review, the owners'
queue, digests and the audit log (for automation; the CLI acts as an admin)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from assistant.errors import ConfigError
from assistant.models import split_doc_id
from assistant.users import Account
from sourcewise.context import cli_actor, open_container
from sourcewise.options import parse_groups

user_app = typer.Typer(no_args_is_help=True, help="Users who sign in to the chat and pages.")
feedback_app = typer.Typer(no_args_is_help=True, help="Review thumbs-down and flags; promote them to eval cases.")
owners_app = typer.Typer(no_args_is_help=True, help="The doc owners' queue and its actions.")
console = Console()
err = Console(stderr=True)


def cli_account() -> Account:
    """The local CLI acts as an admin, named after the OS user in the audit log."""
    return Account(cli_actor(), None, (), True, (), False, False)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


# -- users -------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    name: str,
    groups: Annotated[str | None, typer.Option("--groups", help="Access groups, comma-separated.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="May administer and see every source.")] = False,
    aliases: Annotated[str | None, typer.Option("--aliases", help="Owner handles (@gh-name, e-mail), comma-separated.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    no_password: Annotated[bool, typer.Option("--no-password", help="SSO/OAuth user: no password login.")] = False,
) -> None:
    """Create a user (asks for a password unless --no-password)."""
    password = None if no_password else _password(password_stdin)
    with open_container() as c:
        acct = c.users.create(name, password=password, groups=parse_groups(groups), is_admin=admin,
                              aliases=parse_groups(aliases))
        c.audit.record(cli_account().name, "user.add", name, {"groups": list(acct.groups), "admin": admin})
    console.print(f"added user {name} ({'admin' if admin else ', '.join(acct.groups) or 'public sources only'})")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List users."""
    with open_container() as c:
        users = c.users.list()
    if as_json:
        print(_dump([asdict(u) for u in users]))
        return
    for u in users:
        flags = ", ".join(x for x in ("admin" if u.is_admin else "", "disabled" if u.disabled else "",
                                      "password" if u.has_password else "sso") if x)
        console.print(f"{u.name}\t{','.join(u.groups) or '-'}\t{','.join(u.aliases) or '-'}\t{flags}")


@user_app.command("set")
def user_set(
    name: str,
    groups: Annotated[str | None, typer.Option("--groups", help="Replace the access groups.")] = None,
    aliases: Annotated[str | None, typer.Option("--aliases", help="Replace the owner handles.")] = None,
    admin: Annotated[bool | None, typer.Option("--admin/--no-admin", help="Grant or revoke admin.")] = None,
    password: Annotated[bool, typer.Option("--password", help="Set a new password (prompted).")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="New password from stdin.")] = False,
    disable: Annotated[bool | None, typer.Option("--disable/--enable", help="Block or allow sign-in.")] = None,
    end_sessions: Annotated[bool, typer.Option("--end-sessions", help="Sign them out everywhere now.")] = False,
) -> None:
    """Change a user's groups, handles, admin flag, password or sign-in.

    A new password and --disable also end the user's chat and page sessions; disabling
    stops their API tokens too.
    """
    changes: dict[str, Any] = {}
    with open_container() as c:
        c.users.require(name)
        if groups is not None:
            changes["groups"] = list(c.users.set_groups(name, parse_groups(groups)).groups)
        if aliases is not None:
            changes["aliases"] = list(c.users.set_aliases(name, parse_groups(aliases)).aliases)
        if admin is not None:
            changes["admin"] = c.users.set_admin(name, admin).is_admin
        if password or password_stdin:
            c.users.set_password(name, _password(password_stdin))
            changes["password"] = "changed"
        if disable is not None:
            changes["disabled"] = (c.users.disable(name) if disable else c.users.enable(name)).disabled
        if end_sessions:
            c.users.bump_sessions(name)
            changes["sessions"] = "ended"
        if not changes:
            raise ConfigError("nothing to change: give --groups, --aliases, --admin, --password, --disable "
                              "or --end-sessions")
        c.audit.record(cli_account().name, "user.update", name, changes)
    console.print(f"updated {name}: {', '.join(changes)}")


# -- feedback ----------------------------------------------------------------------------
@feedback_app.command("list")
def feedback_list(
    include_up: Annotated[bool, typer.Option("--up", help="Include thumbs-up (regression candidates).")] = False,
    pending: Annotated[bool, typer.Option("--pending", help="Only items not yet promoted.")] = False,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Thumbs-down and flags with the question behind them, newest first."""
    with open_container() as c:
        items = c.feedback.review(limit, include_up=include_up, pending=pending)
    if as_json:
        print(_dump([asdict(i) for i in items]))
        return
    for i in items:
        what = f"{i.label}{'/' + i.reason if i.reason else ''}"
        console.print(f"{i.kind} {i.id}\t{what}\t{i.user}\t{i.status}\t{(i.question or '')[:70]!r}"
                      + (f"\t{i.path}" if i.path else ""), highlight=False)
    if not items:
        console.print("nothing to review")


@feedback_app.command("promote")
def feedback_promote(
    kind: Annotated[str, typer.Argument(help="feedback or flag")],
    item_id: int,
    gold: Annotated[list[str], typer.Option("--gold", help="Gold source path, [SOURCE:]PATH (repeatable).")],
    set_name: Annotated[str, typer.Option("--set", help="Eval set name.")] = "feedback",
    must_include: Annotated[list[str] | None, typer.Option("--must-include", help="A fact the answer must contain.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
) -> None:
    """Turn a thumbs-down (or up) or a flag into an eval case with the given gold sources."""
    golds = []
    for g in gold:
        source, path = split_doc_id(g)
        golds.append({"path": path, **({"source": source} if source else {})})
    with open_container() as c:
        case = c.feedback.promote(kind, item_id, golds, cli_account(), set_name=set_name,
                                  must_include=must_include or (), tags=tag or ())
    console.print(f"eval case {case} added to set {set_name!r}")


# -- owners ------------------------------------------------------------------------------
@owners_app.command("queue")
def owners_queue(
    owner: Annotated[str | None, typer.Option("--owner", help="Whose queue (default: every open flag).")] = None,
    user: Annotated[str | None, typer.Option(
        "--user", help="Show the queue exactly as this signed-in user sees it (their groups decide).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Flagged documents per owner, most-cited first."""
    with open_container() as c:
        if user is not None:
            items = c.owners.queue(c.users.require(user), owner=owner)
        else:
            items = c.owners.queue(cli_account(), owner=owner) if owner else c.owners.queue_all(cli_account())
    if as_json:
        print(_dump([asdict(i) for i in items]))
        return
    for i in items:
        console.print(f"{i.doc_id}\towner {i.owner or '-'}\t{len(i.flags)} flag(s)\tcited {i.citations_recent}x",
                      highlight=False)
        for f in i.flags:
            console.print(f"  flag {f.id} {f.kind} by {f.user}: {f.comment or ''}", highlight=False)
    if not items:
        console.print("no open flags")


@owners_app.command("fix")
def owners_fix(doc_id: str, note: Annotated[str | None, typer.Option("--note")] = None) -> None:
    """Re-index the document's source now and close its open flags."""
    from indexers.runner import index_source

    with open_container(write=True) as c:
        closed = c.owners.mark_fixed(doc_id, cli_account(), lambda name: index_source(c, name), note)
    console.print(f"re-indexed; closed {closed} flag(s) on {doc_id}")


@owners_app.command("dismiss")
def owners_dismiss(flag_id: int, note: Annotated[str, typer.Option("--note", help="Why it is not a problem.")]) -> None:
    """Close one flag as not a problem."""
    with open_container() as c:
        c.owners.dismiss(flag_id, cli_account(), note)
    console.print(f"dismissed flag {flag_id}")


@owners_app.command("deprecate")
def owners_deprecate(
    doc_id: str,
    note: Annotated[str | None, typer.Option("--note")] = None,
    restore: Annotated[bool, typer.Option("--restore", help="Undo: include it in retrieval again.")] = False,
) -> None:
    """Exclude a document from retrieval (kept in the catalog), or --restore it."""
    with open_container(write=True) as c:
        c.owners.deprecate(doc_id, cli_account(), note, deprecated=not restore)
    console.print(f"{'restored' if restore else 'deprecated'} {doc_id}")


@owners_app.command("reassign")
def owners_reassign(doc_id: str, owner: str) -> None:
    """Hand a document and its open flags to another owner (they are notified)."""
    with open_container(write=True) as c:
        c.owners.reassign(doc_id, cli_account(), owner)
    console.print(f"{doc_id} now owned by {owner}")


@owners_app.command("digest")
def owners_digest() -> None:
    """Send the daily digest (run it from cron at SOURCEWISE_UI__DIGEST_HOUR) and retry failed sends."""
    with open_container() as c:
        if not c.settings.ui.webhook_url:
            raise ConfigError("no webhook configured: set SOURCEWISE_UI__WEBHOOK_URL")
        sent = c.notifier.send_digest()
        retried = c.notifier.retry_failed()
    console.print(f"digest sent to {len(sent)} owner(s) ({sum(sent.values())} flag(s)); {retried} retried")


audit_app = typer.Typer(help="The audit log: list it, verify its hash chain, export it.")


@audit_app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    action: Annotated[str | None, typer.Option("--action", help="One action, or a prefix ending in '.' "
                                                                "(question.).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The audit log: who did what, newest first (`audit verify`, `audit export` below)."""
    if ctx.invoked_subcommand is not None:
        return
    with open_container() as c:
        entries = c.audit.entries(limit, actor=actor, action=action)
    if as_json:
        print(_dump([e.as_json() for e in entries]))
        return
    for e in entries:
        console.print(f"{e.at:%Y-%m-%d %H:%M:%S}\t{e.actor}\t{e.action}\t{e.target}\t{json.dumps(e.details)}",
                      highlight=False)


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path | None, typer.Option("--file", help="Check an `audit export` file instead of the "
                                                             "catalog.")] = None,
    anchor: Annotated[str | None, typer.Option("--anchor", help="ID:HASH of a row kept outside the catalog "
                                                                "(an earlier export's last line) that must "
                                                                "still be in the chain.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Walk the hash chain; exit 1 naming the first edited, deleted, inserted or reordered row."""
    from assistant.audit import check_anchor, verify_file

    if file is not None:
        if anchor:
            raise ConfigError("--anchor checks the catalog; give it without --file")
        if not file.is_file():
            raise ConfigError(f"{file} is not a file: give the path `sourcewise audit export --jsonl` wrote")
        report = verify_file(file)
    else:
        with open_container() as c:
            report = c.audit.verify()
            if anchor:
                report = check_anchor(report, c.audit, anchor)
    if as_json:
        print(_dump(asdict(report)))
    else:
        (console if report.ok else err).print(report.summary(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    jsonl: Annotated[str, typer.Option("--jsonl", help="Write JSON lines to this file ('-': stdout).")] = "-",
) -> None:
    """Every row, oldest first, with prev_hash and hash; keep a copy elsewhere as an anchor."""
    with open_container() as c:
        if jsonl == "-":
            n = c.audit.export(sys.stdout)
            sys.stdout.flush()
        else:
            with open(jsonl, "w", encoding="utf-8") as out:
                n = c.audit.export(out)
        head = c.audit.head()
    last = f"{head.last_id}:{head.last_hash}" if head else "-"
    err.print(f"exported {n} audit row(s); anchor (last row) {last}", highlight=False)


def register(parent: typer.Typer) -> None:
    parent.add_typer(user_app, name="user")
    parent.add_typer(feedback_app, name="feedback")
    parent.add_typer(owners_app, name="owners")
    parent.add_typer(audit_app, name="audit")
