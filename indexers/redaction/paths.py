"""Files that hold credentials by their nature are never read: matched by path alone.

A ``.env``, an ``id_rsa`` or a ``terraform.tfstate`` is a secret as a whole, so scanning
its lines and indexing the rest would still index the shape of the secret store. These
rules skip the file; the pipeline reports it as a per-item failure ``secret-path`` with
the rule that matched. Patterns are gitignore-style globs matched case-insensitively
against the source-relative path (``id_rsa`` matches at any depth).

Some files hold credentials only sometimes (``.npmrc`` with an ``_authToken``):
``CONDITIONAL`` names them with the line that gives them away, checked once the text is
read.

``.env.example``, ``.env.sample``, ``.env.template`` and ``.env.dist`` are allowed by
default: they document which variables exist, usually with placeholders, and their
text is still scanned and redacted like any other file's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pathspec

# rule -> globs. Order matters only for the name reported when two rules match.
DEFAULT_RULES: dict[str, tuple[str, ...]] = {
    "env-file": (".env", ".env.*", "*.env", ".envrc", ".flaskenv"),
    "private-key": (
        "id_rsa", "id_rsa_*", "id_dsa", "id_dsa_*", "id_ecdsa", "id_ecdsa_*", "id_ed25519", "id_ed25519_*",
        "*_rsa", "*_ed25519", "!*.pub", "*.pem", "*.key", "*.ppk", "*.p8", "secring.*",
    ),
    "keystore": ("*.p12", "*.pfx", "*.jks", "*.keystore", "*.bks", "*.jceks", "*.keytab"),
    "cloud-credentials": (
        "**/.aws/credentials", "**/.aws/cli/cache/**", ".azure/", "**/.config/gcloud/**",
        "application_default_credentials.json", "*service-account*.json", "*service_account*.json",
        "client_secret*.json", "credentials.json", "**/.oci/config", "**/.config/doctl/**",
        ".s3cfg", ".boto", "credentials.tfrc.json", ".terraformrc", ".vault-token",
    ),
    "netrc": (".netrc", "_netrc"),
    "pgpass": (".pgpass", ".my.cnf", ".mylogin.cnf"),
    "git-credentials": (".git-credentials", ".gitcredentials"),
    "htpasswd": (".htpasswd", "*.htpasswd"),
    "kubeconfig": ("**/.kube/config", "kubeconfig", "kubeconfig.*", "*.kubeconfig", "kubeconfig-*"),
    "terraform-state": ("*.tfstate", "*.tfstate.*", "*.tfstate.backup"),
    "docker-credentials": ("**/.docker/config.json", ".dockercfg"),
    "package-credentials": ("**/.gem/credentials", "**/.composer/auth.json", "auth.json.secret"),
    "vpn-config": ("*.ovpn",),
    "password-store": ("*.kdbx", "*.kdb"),
}

DEFAULT_ALLOW: tuple[str, ...] = (
    ".env.example", ".env.sample", ".env.template", ".env.dist", "*.env.example", "*.env.sample",
    "*.env.template", "*.env.dist",
)

# Files that hold a credential only when one of these lines is in them.
CONDITIONAL: dict[str, tuple[pathspec.GitIgnoreSpec, re.Pattern[str]]] = {
    "package-credentials": (
        pathspec.GitIgnoreSpec.from_lines([".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", "pip.conf", "pip.ini",
                                           ".condarc", "settings.xml", ".gemrc", "nuget.config"]),
        re.compile(r"(?im)(_auth(token)?\s*[=:]|_password\s*[=:]|npmAuthToken\s*:|^\s*password\s*[=:]\s*\S"
                   r"|<password>\s*[^<\s]|cleartextpassword|ClearTextPassword|://[^/\s:@]+:[^/\s@]+@)"),
    ),
}


class SecretPaths:
    """Decides which paths are never indexed: default rules, extra globs, allowed globs."""

    def __init__(self, skip: Sequence[str] = (), allow: Sequence[str] = ()) -> None:
        self._rules = [(name, pathspec.GitIgnoreSpec.from_lines([g.lower() for g in globs]))
                       for name, globs in DEFAULT_RULES.items()]
        if skip:
            self._rules.append(("custom", pathspec.GitIgnoreSpec.from_lines([g.lower() for g in skip])))
        self._allow = pathspec.GitIgnoreSpec.from_lines([g.lower() for g in (*DEFAULT_ALLOW, *allow)])

    def rule_for(self, path: str) -> str | None:
        """The rule that keeps ``path`` out of the index, or ``None``."""
        low = path.lower()
        if self._allow.match_file(low):
            return None
        for name, spec in self._rules:
            if spec.match_file(low):
                return name
        return None

    def rule_for_text(self, path: str, text: str) -> str | None:
        """For files that hold credentials only sometimes: the rule, once the text shows one."""
        low = path.lower()
        if self._allow.match_file(low):
            return None
        for name, (spec, marker) in CONDITIONAL.items():
            if spec.match_file(low) and marker.search(text):
                return name
        return None
