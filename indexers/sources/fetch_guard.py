"""Which clone URLs the server may fetch, and the environment git fetches them in.

A source's location is chosen by an admin in a web form, but the server is the one that
fetches it: without a guard, ``http://169.254.169.254/...`` (cloud metadata),
``http://127.0.0.1:6333`` (the Qdrant server), ``file:///`` (any repository on the
host), ``ext::sh -c ...`` (a command), ``ssh://-oProxyCommand=...`` or a URL starting
with ``-`` (an option to git) would all be fetched. ``check_url`` allows only the
configured schemes (https by default) and hosts, resolves the host and refuses
loopback, private, link-local, multicast, reserved and other non-global addresses
(IPv4, IPv6, IPv4-mapped and every numeric spelling ``inet_aton`` accepts) unless a
configured network allows them. ``git_env`` then makes git itself refuse other
transports and redirects, and pins http(s) connections to the addresses just checked,
so a DNS answer that changes between the check and the fetch is not followed. Every
clone and fetch calls both again: the check is not only made when a source is added.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from assistant.errors import SourceError

if TYPE_CHECKING:
    from assistant.settings import IndexingSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

SCHEMES = ("https", "http", "ssh", "git")
DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
_ALIASES = {"git+ssh": "ssh", "ssh+git": "ssh"}
_SCP = re.compile(r"^(?:(?P<user>[A-Za-z0-9._~-]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(?P<path>(?!//).*)$")
_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")  # git's <transport>::<address> (ext::, fd::)
_HOST = re.compile(r"^(?!-)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.(?!-)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$")
_NUMERIC = re.compile(r"^[0-9a-fx.]+$")


class FetchRefused(SourceError):
    """A clone URL the server must not fetch; the message says which setting would allow it."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (what git would connect to)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


@dataclass(frozen=True)
class FetchPolicy:
    """Allowed schemes and hosts, and the non-global networks that may still be reached."""

    schemes: frozenset[str] = frozenset({"https"})
    allow_hosts: tuple[str, ...] = ()
    deny_hosts: tuple[str, ...] = ()
    allow_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=resolve_host, compare=False)

    @classmethod
    def from_settings(cls, indexing: IndexingSettings, resolver: Resolver | None = None) -> FetchPolicy:
        return cls(
            schemes=frozenset(s.lower() for s in indexing.fetch_schemes),
            allow_hosts=tuple(h.lower().strip() for h in indexing.fetch_allow_hosts if h.strip()),
            deny_hosts=tuple(h.lower().strip() for h in indexing.fetch_deny_hosts if h.strip()),
            allow_networks=tuple(ipaddress.ip_network(n, strict=False) for n in indexing.fetch_allow_networks),
            resolver=resolver or resolve_host,
        )


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed ``check_url``, with the addresses git may connect to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def looks_like_url(location: str) -> bool:
    """Anything git would read as a remote rather than a local path (checked, not trusted)."""
    loc = location.strip()
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", loc) or _TRANSPORT.match(loc) or
                (_SCP.match(loc) and not loc.startswith(("/", ".", "~"))))


def check_url(url: str, policy: FetchPolicy) -> CheckedUrl:
    """The parsed URL if the policy allows fetching it; ``FetchRefused`` saying why not."""
    raw = redact_credentials(url)  # messages end up in logs, flash messages and the audit log
    if url.startswith("-"):
        raise FetchRefused(f"clone URL {raw!r} starts with '-', which git would read as an option")
    if not url or url != url.strip() or any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise FetchRefused(f"clone URL {raw!r} contains spaces or control characters")
    if _TRANSPORT.match(url):
        raise FetchRefused(f"clone URL {raw!r} uses git's <transport>::<address> syntax (ext::, fd::), which "
                           "runs a helper command: give an https:// URL")
    if "://" in url:
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise FetchRefused(f"clone URL {raw!r} is invalid: {exc}") from None
        scheme = _ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, netloc = netloc.rsplit("@", 1)
            if ":" in userinfo and scheme in ("http", "https"):
                raise FetchRefused("clone URL carries a password or token: it would be stored in the catalog and "
                                   "the audit log; configure a git credential helper for the server instead")
            if userinfo.startswith("-"):
                raise FetchRefused(f"clone URL {raw!r} has a user name starting with '-'")
        host, port = _split_host_port(netloc, raw)
    else:
        m = _SCP.match(url)
        if not m:
            raise FetchRefused(f"{raw!r} is not a clone URL git understands; give https://HOST/PATH")
        scheme, host, port = "ssh", m.group("host").strip("[]"), None
        if (m.group("user") or "").startswith("-"):
            raise FetchRefused(f"clone URL {raw!r} has a user name starting with '-'")
    if scheme == "file":
        raise FetchRefused("file:// URLs are not fetched: add a local repository by its path (the CLI, or the "
                           "pages under SOURCEWISE_INDEXING__ALLOWED_ROOTS)")
    if scheme not in policy.schemes:
        allowed = ", ".join(sorted(policy.schemes)) or "none"
        raise FetchRefused(f"{scheme}:// clone URLs are not allowed (allowed: {allowed}); "
                           "SOURCEWISE_INDEXING__FETCH_SCHEMES lists the schemes the server may use")
    host = host.lower().rstrip(".")
    if not host:
        raise FetchRefused(f"clone URL {raw!r} names no host")
    literal = _ip_literal(host)
    if literal is None and not _HOST.match(host):
        raise FetchRefused(f"clone URL host {host!r} is not a valid host name")
    if _matches(host, policy.deny_hosts):
        raise FetchRefused(f"host {host} is on SOURCEWISE_INDEXING__FETCH_DENY_HOSTS")
    if policy.allow_hosts and not _matches(host, policy.allow_hosts):
        raise FetchRefused(f"host {host} is not on SOURCEWISE_INDEXING__FETCH_ALLOW_HOSTS "
                           f"({', '.join(policy.allow_hosts)})")
    port = port or DEFAULT_PORTS[scheme]
    if literal is not None:
        addresses: Iterable[str] = [str(literal)]
    else:
        try:
            addresses = policy.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchRefused(f"cannot resolve host {host}: {exc}. Check the URL and the server's DNS") from None
        if not addresses:
            raise FetchRefused(f"cannot resolve host {host}: no addresses")
    checked = []
    for text in addresses:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
        why = refused_address(ip, policy.allow_networks)
        if why:
            shown = host if literal is not None else f"{host} ({ip})"
            raise FetchRefused(f"{shown} is a {why} address; the server does not fetch from loopback, private, "
                               "link-local or reserved networks unless SOURCEWISE_INDEXING__FETCH_ALLOW_NETWORKS "
                               "lists it")
        checked.append(str(ip))
    return CheckedUrl(url, scheme, host, port, tuple(checked))


def redact_credentials(location: str) -> str:
    """``https://user:secret@host/...`` -> ``https://user:***@host/...``: safe to log or audit."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*):[^/@\s]*@", r"\1:***@", location)


def refused_address(ip: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why ``ip`` may not be fetched from (``None``: it may). Embedded IPv4 counts too."""
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:  # the IPv4 address inside decides (mapped, 6to4, Teredo, NAT64)
            return refused_address(embedded, allowed)
    for attr, name in (("is_loopback", "loopback"), ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_unspecified", "unspecified"), ("is_reserved", "reserved"), ("is_private", "private")):
        if getattr(ip, attr):
            return name
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if not ip.is_global:
        return "non-global"
    return None


def git_env(checked: CheckedUrl) -> dict[str, str]:
    """Environment variables (added to the process's) for ``git clone/fetch/ls-remote`` of
    ``checked``: only its scheme, no redirects, no prompts, http(s) pinned to the checked
    addresses."""
    env: dict[str, str] = {}
    protocols = {"https": "https", "http": "http", "ssh": "ssh", "git": "git"}[checked.scheme]
    env.update({"GIT_ALLOW_PROTOCOL": protocols, "GIT_PROTOCOL_FROM_USER": "0", "GIT_TERMINAL_PROMPT": "0"})
    config = [("protocol.allow", "never"), (f"protocol.{checked.scheme}.allow", "always"),
              ("http.followRedirects", "false")]
    if checked.scheme in ("http", "https"):
        pinned = ",".join(f"[{a}]" if ":" in a else a for a in checked.addresses)
        config.append(("http.curloptResolve", f"{checked.host}:{checked.port}:{pinned}"))
    start = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)  # keep the deployment's own
    for i, (key, value) in enumerate(config, start):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(start + len(config))
    return env


def _split_host_port(netloc: str, raw: str) -> tuple[str, int | None]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise FetchRefused(f"clone URL {raw!r} has an unterminated IPv6 address")
        host, rest = netloc[1:end], netloc[end + 1:]
    else:
        host, _, port_text = netloc.partition(":")
        rest = f":{port_text}" if port_text else ""
    if rest and not re.fullmatch(r":\d{1,5}", rest):
        raise FetchRefused(f"clone URL {raw!r} has an invalid port")
    port = int(rest[1:]) if rest else None
    if port is not None and not 0 < port < 65536:
        raise FetchRefused(f"clone URL {raw!r} has an invalid port")
    if "%" in host:
        host = host.split("%", 1)[0]  # an IPv6 zone: the address alone decides
    return host, port


def _ip_literal(host: str) -> IPAddress | None:
    """The address a host spelled as a number means: ``[::1]``, ``127.1``, ``2130706433``,
    ``0x7f.0.0.1``, ``0177.0.0.1`` (every form the C resolver accepts)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC.match(host) and any(ch.isdigit() for ch in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _matches(host: str, patterns: Sequence[str]) -> bool:
    """``example.com`` matches itself; ``*.example.com`` and ``.example.com`` its subdomains."""
    for p in patterns:
        if p.startswith(("*.", ".")):
            suffix = p[1:] if p.startswith(".") else p[1:]
            if host.endswith(suffix):
                return True
        elif host == p:
            return True
    return False
