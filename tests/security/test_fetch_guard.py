"""Promise 7: the server fetches only allowed schemes and hosts, never loopback, private,
link-local or reserved addresses (however spelled) unless configured, and git itself
refuses other transports, redirects and a changed DNS answer.

No test here sends traffic anywhere but 127.0.0.1: refusals happen before any
connection, and host names go through an injected resolver (the real one only for
``localhost``)."""

from __future__ import annotations

import ipaddress
import subprocess
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from indexers.sources.fetch_guard import (
    FetchPolicy,
    FetchRefused,
    check_url,
    git_env,
    looks_like_url,
    refused_address,
    resolve_host,
)
from indexers.sources.git import GitSource, is_clone_url
from tests.fixtures.githttp import LOOPBACK_POLICY, GitHttpServer
from tests.fixtures.gitrepo import make_sample_repo

PUBLIC = "93.184.216.34"  # never contacted: the resolver below only answers, nothing connects
ALL_SCHEMES = frozenset({"https", "http", "ssh", "git"})


class Resolver:
    """Stands in for DNS; records what was asked so tests can show nothing was resolved."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return self.answers[host]


def policy(resolver: Resolver | None = None, **kw: Any) -> FetchPolicy:
    return FetchPolicy(**({"schemes": ALL_SCHEMES} | kw), resolver=resolver or Resolver())


ADDRESS_FORMS = {
    "http://127.0.0.1/r.git": "loopback",
    "http://127.1/r.git": "loopback",
    "http://2130706433/r.git": "loopback",  # decimal
    "http://0x7f000001/r.git": "loopback",  # hex
    "http://0x7f.0.0.1/r.git": "loopback",
    "http://0177.0.0.1/r.git": "loopback",  # octal
    "http://017700000001/r.git": "loopback",
    "https://localhost./r.git": "loopback",  # via the real resolver, see below
    "http://[::1]/r.git": "loopback",
    "http://[::ffff:127.0.0.1]/r.git": "loopback",  # IPv4-mapped
    "http://[::ffff:7f00:1]/r.git": "loopback",
    "http://[2002:7f00:1::1]/r.git": "loopback",  # 6to4 around 127.0.0.1
    "http://169.254.169.254/latest/meta-data/": "link-local",  # cloud metadata
    "http://[fe80::1%25eth0]/r.git": "link-local",
    "http://[::ffff:169.254.169.254]/": "link-local",
    "http://10.0.0.5/r.git": "private",
    "http://172.16.3.4/r.git": "private",
    "http://192.168.1.1/r.git": "private",
    "http://[fc00::1]/r.git": "private",
    "http://[64:ff9b::a00:1]/r.git": "private",  # NAT64 around 10.0.0.1
    "http://100.64.0.1/r.git": "non-global",  # carrier-grade NAT
    "http://0.0.0.0/r.git": "unspecified",
    "http://[::]/r.git": "unspecified",
    "http://224.0.0.1/r.git": "multicast",
    "http://[ff02::1]/r.git": "multicast",
    "http://240.0.0.1/r.git": "reserved",
    "git://10.1.1.1/r.git": "private",
    "ssh://git@192.168.0.10/r.git": "private",
    "git@10.9.9.9:org/r.git": "private",
}


@pytest.mark.parametrize("url,why", [(u, w) for u, w in ADDRESS_FORMS.items() if "localhost" not in u])
def test_numeric_hosts_in_every_spelling_are_refused_without_resolving(url: str, why: str) -> None:
    resolver = Resolver()
    with pytest.raises(FetchRefused, match=f"is a {why} address"):
        check_url(url, policy(resolver))
    assert resolver.asked == []  # decided from the URL alone: nothing resolved, nothing connected


def test_the_real_resolver_on_localhost() -> None:
    assert "127.0.0.1" in resolve_host("localhost", 443) or "::1" in resolve_host("localhost", 443)
    for url in ("https://localhost/r.git", "https://localhost./r.git", "https://LOCALHOST:8443/r.git"):
        with pytest.raises(FetchRefused, match=r"localhost \((127\.0\.0\.1|::1)\) is a loopback address"):
            check_url(url, FetchPolicy())


@pytest.mark.parametrize("answers,why", [
    (["10.1.2.3"], "private"),
    (["127.0.0.53"], "loopback"),
    (["169.254.169.254"], "link-local"),
    (["::1"], "loopback"),
    ([PUBLIC, "192.168.7.7"], "private"),  # one bad answer among good ones is enough
    (["::ffff:10.0.0.1"], "private"),
])
def test_host_names_that_resolve_inside_are_refused(answers: list[str], why: str) -> None:
    resolver = Resolver({"git.corp.example": answers})
    with pytest.raises(FetchRefused, match=f"git.corp.example .* is a {why} address"):
        check_url("https://git.corp.example/org/r.git", policy(resolver))


BAD_FORMS = {
    "file:///srv/secret.git": "file:// URLs are not fetched",
    "file://localhost/etc": "file:// URLs are not fetched",
    "ext::sh -c touch% /tmp/pwned": "spaces or control characters",
    "ext::sh": "transport>::<address> syntax",
    "fd::17": "transport>::<address> syntax",
    "--upload-pack=touch /tmp/pwned": "starts with '-'",
    "-uecho@host:repo": "starts with '-'",
    "ssh://-oProxyCommand=touch%20%2Ftmp%2Fpwned/r.git": "not a valid host name",
    "ssh://git@-oProxyCommand=x/r.git": "not a valid host name",
    "ssh://-oProxyCommand=x@host/r.git": "user name starting with '-'",
    "https://user:ghp_secret@github.com/org/r.git": "password or token",
    "https://git hub.com/r.git": "spaces or control characters",
    "https://github.com/r.git\n": "spaces or control characters",
    "https://github.com\x00.evil/r.git": "spaces or control characters",
    "gopher://github.com/r.git": "gopher:// clone URLs are not allowed",
    "ftp://github.com/r.git": "ftp:// clone URLs are not allowed",
    "https:///r.git": "names no host",
    "https://github.com:99999/r.git": "invalid port",
    "https://github.com:22x/r.git": "invalid port",
    "https://[::1/r.git": "invalid",
    "https://exa_mple..com/r.git": "not a valid host name",
}


@pytest.mark.parametrize("url,message", BAD_FORMS.items())
def test_dangerous_url_forms_are_refused(url: str, message: str) -> None:
    resolver = Resolver({"github.com": [PUBLIC], "host": [PUBLIC]})
    with pytest.raises(FetchRefused, match=message.replace("(", r"\(").replace("+", r"\+")):
        check_url(url, policy(resolver))
    assert resolver.asked == []


def test_only_https_by_default() -> None:
    resolver = Resolver({"github.com": [PUBLIC]})
    default = FetchPolicy(resolver=resolver)
    assert check_url("https://github.com/org/r.git", default).addresses == (PUBLIC,)
    for url in ("http://github.com/org/r.git", "ssh://git@github.com/org/r.git", "git@github.com:org/r.git",
                "git://github.com/org/r.git", "git+ssh://git@github.com/org/r.git"):
        with pytest.raises(FetchRefused, match="clone URLs are not allowed.*FETCH_SCHEMES"):
            check_url(url, default)
    ssh = FetchPolicy(schemes=frozenset({"https", "ssh"}), resolver=resolver)
    checked = check_url("git@github.com:org/r.git", ssh)
    assert (checked.scheme, checked.host, checked.port) == ("ssh", "github.com", 22)


def test_host_allow_and_deny_lists() -> None:
    resolver = Resolver({"github.com": [PUBLIC], "gitlab.corp.example": [PUBLIC], "evil.example": [PUBLIC],
                         "corp.example": [PUBLIC]})
    allow = policy(resolver, allow_hosts=("github.com", "*.corp.example"))
    assert check_url("https://github.com/a.git", allow).host == "github.com"
    assert check_url("https://GitLab.Corp.Example./a.git", allow).host == "gitlab.corp.example"
    for url in ("https://evil.example/a.git", "https://corp.example/a.git", "https://github.com.evil.example/a"):
        with pytest.raises(FetchRefused, match="not on SOURCEWISE_INDEXING__FETCH_ALLOW_HOSTS"):
            check_url(url, allow)
    deny = policy(resolver, deny_hosts=(".corp.example",))
    with pytest.raises(FetchRefused, match="on SOURCEWISE_INDEXING__FETCH_DENY_HOSTS"):
        check_url("https://gitlab.corp.example/a.git", deny)


def test_configured_networks_may_be_reached() -> None:
    resolver = Resolver({"git.corp.example": ["10.1.2.3"]})
    internal = policy(resolver, allow_networks=(ipaddress.ip_network("10.1.2.0/24"),))
    assert check_url("https://git.corp.example/r.git", internal).addresses == ("10.1.2.3",)
    with pytest.raises(FetchRefused, match="private"):
        check_url("https://10.1.3.1/r.git", internal)  # only that network
    assert refused_address(ipaddress.ip_address("::ffff:10.1.2.9"), internal.allow_networks) is None
    assert refused_address(ipaddress.ip_address(PUBLIC)) is None


def test_unresolvable_hosts_are_refused_with_the_reason() -> None:
    with pytest.raises(FetchRefused, match="cannot resolve host nowhere.example: .*Name or service not known"):
        check_url("https://nowhere.example/r.git", policy(Resolver()))


def test_what_counts_as_a_url() -> None:
    for url in ("https://h/r", "ext::sh", "git@h:r.git", "h:r.git", "file:///x", "fd::3"):
        assert looks_like_url(url) and is_clone_url(url), url
    for path in ("/srv/repo", "./repo", "~/repo", "/srv/a:b"):
        assert not looks_like_url(path), path


def test_git_env_allows_one_transport_no_redirect_and_pins_the_address() -> None:
    checked = check_url("https://git.corp.example:8443/r.git",
                        policy(Resolver({"git.corp.example": [PUBLIC, "2606:4700::1"]})))
    env = git_env(checked)
    assert env["GIT_ALLOW_PROTOCOL"] == "https" and env["GIT_PROTOCOL_FROM_USER"] == "0"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    pairs = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert pairs == {"protocol.allow": "never", "protocol.https.allow": "always", "http.followRedirects": "false",
                     "http.curloptResolve": f"git.corp.example:8443:{PUBLIC},[2606:4700::1]"}


@pytest.mark.parametrize("remote", ["ext::sh -c touch% {marker}", "file://{repo}", "{repo}"])
def test_git_itself_refuses_other_transports_under_that_environment(tmp_path: Path, remote: str) -> None:
    """Defence in depth: even a URL that got past the guard cannot use another transport."""
    repo = make_sample_repo(tmp_path / "repo")
    marker = tmp_path / "pwned"
    env = git_env(check_url("https://github.com/r.git", policy(Resolver({"github.com": [PUBLIC]}))))
    proc = subprocess.run(["git", "ls-remote", remote.format(marker=marker, repo=repo.path)],
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env}, capture_output=True, text=True)
    assert proc.returncode != 0 and "not allowed" in proc.stderr, proc.stderr
    assert not marker.exists()


class _Redirect(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(302)
        self.send_header("Location", self.path.replace("/moved/", "/", 1))
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_redirects_are_not_followed(tmp_path: Path) -> None:
    """A remote that answers with a redirect (to an internal address, another scheme) fails."""
    import threading

    redirect = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=redirect.serve_forever, daemon=True).start()
    try:
        src = GitSource("app", f"http://127.0.0.1:{redirect.server_address[1]}/moved/repo.git",
                        mirror_dir=tmp_path / "mirror.git", fetch_policy=LOOPBACK_POLICY)
        with pytest.raises(Exception, match="cannot clone.*returned error: 302"):  # not followed
            list(src.scan())
    finally:
        redirect.shutdown()
        redirect.server_close()


def test_git_connects_to_the_checked_address_not_a_new_dns_answer(tmp_path: Path) -> None:
    """The name ``repo.invalid`` exists only in the guard's resolver: git reaches the server
    through the pinned address, so a DNS answer that changed after the check is not used."""
    repo = make_sample_repo(tmp_path / "repo")
    with GitHttpServer(tmp_path / "served") as server:
        server.publish(repo.path)
        pinned = FetchPolicy(schemes=frozenset({"http"}), allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
                             resolver=Resolver({"repo.invalid": ["127.0.0.1"]}))
        src = GitSource("app", f"http://repo.invalid:{server.port}/repo.git", mirror_dir=tmp_path / "m.git",
                        fetch_policy=pinned)
        assert any(getattr(d, "path", None) == "payments/retry.py" for d in src.scan())
        refused = GitSource("app", f"http://repo.invalid:{server.port}/repo.git", mirror_dir=tmp_path / "m2.git",
                            fetch_policy=FetchPolicy(schemes=frozenset({"http"}),
                                                     resolver=Resolver({"repo.invalid": ["127.0.0.1"]})))
        with pytest.raises(FetchRefused, match="loopback"):
            list(refused.scan())


def test_every_fetch_checks_again_and_repoints_the_mirror(tmp_path: Path) -> None:
    """A mirror made while a URL was allowed is not fetched once the policy refuses it, and a
    mirror whose origin was changed on disk is pointed back at the catalog's URL."""
    import git

    repo = make_sample_repo(tmp_path / "repo")
    with GitHttpServer(tmp_path / "served") as server:
        url = server.publish(repo.path)
        mirror = tmp_path / "mirror.git"
        list(GitSource("app", url, mirror_dir=mirror, fetch_policy=LOOPBACK_POLICY).scan())
        with pytest.raises(FetchRefused, match="http:// clone URLs are not allowed"):
            list(GitSource("app", url, mirror_dir=mirror, fetch_policy=FetchPolicy()).scan())
        git.Repo(mirror).git.remote("set-url", "origin", "ext::sh -c false")
        list(GitSource("app", url, mirror_dir=mirror, fetch_policy=LOOPBACK_POLICY).scan())
        assert git.Repo(mirror).remotes.origin.url == url


def test_credentials_never_reach_a_message() -> None:
    from indexers.sources.fetch_guard import redact_credentials

    assert redact_credentials("https://bob:ghp_s3cret@github.com/x.git") == "https://bob:***@github.com/x.git"
    assert redact_credentials("git@github.com:x.git") == "git@github.com:x.git"
    with pytest.raises(FetchRefused) as refused:
        check_url("https://bob:ghp_s3cret@github.com/x .git", policy(Resolver({"github.com": [PUBLIC]})))
    assert "ghp_s3cret" not in str(refused.value)
