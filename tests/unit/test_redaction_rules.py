"""The redaction rules one by one: each fires on its format and removes the whole secret,
private keys go block by block, lines stay where they were, ordinary code stays as it
is, and redacting twice changes nothing. Secrets are built from pieces at run time."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from indexers.chunking.languages import detect_language
from indexers.redaction import Redactor
from indexers.redaction.paths import SecretPaths

RND = random.Random(17)
ROOT = Path(__file__).resolve().parents[2]


def rs(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    """Random, from ``alphabet``, with a letter and a digit so no rule takes it for a word."""
    out = "".join(RND.choice(alphabet) for _ in range(n - 2))
    return out + RND.choice([c for c in alphabet if c.isalpha()]) + RND.choice(string.digits)


def digits(n: int) -> str:
    return "".join(RND.choice(string.digits) for _ in range(n))


B64 = string.ascii_letters + string.digits + "+/"
URLSAFE = string.ascii_letters + string.digits + "-_"
HEX = "0123456789abcdef"


def redact(text: str, path: str = "x.txt", pii: bool = False) -> str:
    return Redactor().redact(text, path=path, language=detect_language(path), pii=pii).text


# (expected rule, file path, line template with {s}, the secret)
CASES = [
    ("aws-access-key", "a.py", 'key_id = "{s}"', "AK" + "IA" + rs(16, string.ascii_uppercase + string.digits)),
    ("aws-secret-key", "creds.ini", "aws_secret_access_key = {s}", rs(40, B64)),
    ("aws-secret-key", "a.json", '{{"SecretAccessKey": "{s}"}}', rs(40, B64)),
    ("github-token", "ci.yml", "  token: {s}", "gh" + "p_" + rs(36)),
    ("github-token", "notes.md", "use {s} for the bot", "github_" + "pat_" + rs(22) + "_" + rs(59)),
    ("gitlab-token", "ci.sh", 'curl -H "PRIVATE-TOKEN: {s}" https://x', "glp" + "at-" + rs(20, URLSAFE)),
    ("slack-token", "a.js", 'const slack = new WebClient("{s}");', "xo" + "xb-" + digits(11) + "-"
     + digits(13) + "-" + rs(24)),
    ("slack-webhook", "README.md", "posts to https://hooks.slack.com/services/{s}",
     "T" + rs(8, string.ascii_uppercase) + "/B" + rs(10, string.ascii_uppercase) + "/" + rs(24)),
    ("stripe-key", "pay.rb", 'Stripe.api_key = "{s}"', "sk_" + "live_" + rs(24)),
    ("stripe-key", ".env.example", "STRIPE_WEBHOOK={s}", "wh" + "sec_" + rs(32)),
    ("google-api-key", "maps.ts", "const k = `{s}`;", "AI" + "za" + rs(35, URLSAFE)),
    ("google-oauth", "oauth.py", 'flow = Flow(client_secret="{s}")', "GOC" + "SPX-" + rs(28, URLSAFE)),
    ("openai-key", "bot.py", 'OpenAI(api_key="{s}")', "sk-" + "proj-" + rs(48, URLSAFE)),
    ("openai-key", "notes.txt", "legacy key {s}", "sk-" + rs(48)),
    ("anthropic-key", "claude.py", 'Anthropic(api_key="{s}")', "sk-" + "ant-api03-" + rs(80, URLSAFE)),
    ("jwt", "test_auth.py", 'TOKEN = "{s}"', "eyJ" + rs(20, URLSAFE) + ".eyJ" + rs(40, URLSAFE) + "." + rs(43, URLSAFE)),
    ("npm-token", "publish.md", "//registry.npmjs.org/:_authToken={s}", "np" + "m_" + rs(36)),
    ("pypi-token", "upload.sh", "twine upload -p {s} dist/*", "pypi-" + "AgEIcHlwaS5vcmc" + rs(70, URLSAFE)),
    ("sendgrid-key", "mail.go", 'sg := sendgrid.NewSendClient("{s}")', "S" + "G." + rs(22, URLSAFE) + "." + rs(43, URLSAFE)),
    ("azure-key", "app.config", 'value="DefaultEndpointsProtocol=https;AccountName=a;AccountKey={s};"', rs(86, B64) + "=="),
    ("azure-sas", "export.py", 'URL = "https://a.blob.core.windows.net/c?sv=2022&sig={s}"', rs(44, B64)),
    ("connection-string-password", "db.cs", 'var cs = "Server=db;User ID=app;Password={s};";', rs(18)),
    ("url-password", "compose.yml", "  DATABASE_URL: postgres://orders:{s}@db:5432/orders", rs(18)),
    ("url-password", "setup.md", "clone https://deploy:{s}@git.example.com/x.git", rs(20)),
    ("basic-auth", "api.md", 'curl -H "Authorization: Basic {s}" https://x', rs(24, B64) + "=="),
    ("basic-auth", "api.sh", "curl -u admin:{s} https://x", rs(16)),
    ("bearer-token", "api.md", 'curl -H "Authorization: Bearer {s}" https://x', rs(40)),
    ("secret-assignment", "settings.py", 'DB_PASSWORD = "{s}"', rs(14)),
    ("secret-assignment", "settings.py", "SECRET_KEY = '{s}'", "django-" + "insecure-" + rs(40)),
    ("secret-assignment", "db.py", 'conn = connect(host=h, password="{s}", user=u)', rs(12)),
    ("secret-assignment", "config.yaml", "  api_token: {s}", rs(32)),
    ("secret-assignment", "app.ini", "password = {s}", rs(12)),
    ("secret-assignment", "deploy.sh", "export HEROKU_API_KEY={s}", "0f4b6c2e-" + rs(4, HEX) + "-4a1b-9c3d-" + rs(12, HEX)),
    ("secret-assignment", "wp-config.php", "define( 'DB_PASSWORD', '{s}' );", rs(22)),
    ("secret-assignment", "settings.xml", "<password>{s}</password>", rs(20)),
    ("secret-assignment", "task.json", '{{"name": "DB_PASSWORD", "value": "{s}"}}', rs(16)),
    ("secret-assignment", "runbook.md", "The root password is `{s}` for now.", rs(14)),
    ("secret-assignment", "Main.java", 'String apiKey = "{s}";', rs(32)),
    ("discord-token", "bot.py", 'client.run("{s}")', "M" + rs(23) + "." + rs(6) + "." + rs(27)),
    ("telegram-token", "bot.py", 'Bot("{s}")', digits(9) + ":" + rs(35, URLSAFE)),
    ("mailchimp-key", "mc.py", 'MailChimp("{s}")', rs(32, HEX) + "-us12"),
]


@pytest.mark.parametrize("rule,path,template,secret", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_each_rule_fires_and_removes_the_whole_secret(rule: str, path: str, template: str, secret: str) -> None:
    text = "first line\n" + template.format(s=secret) + "\nlast line\n"
    result = Redactor().redact(text, path=path, language=detect_language(path))
    assert secret not in result.text
    assert f"[REDACTED:{rule}]" in result.text, result.text
    assert result.text.count("\n") == text.count("\n")
    assert result.text.startswith("first line\n") and result.text.endswith("\nlast line\n")
    assert [h.line for h in result.hits] == [2] * len(result.hits) and result.hits
    assert all(secret[:8] not in str(row) for row in result.rows())  # rows name rules, never values


def test_every_line_of_a_private_key_block_goes_and_counts_once() -> None:
    body = [rs(64, B64) for _ in range(6)] + [rs(30, B64) + "=="]
    text = "\n".join(["# Deploy", "", "Use this key:", "", "    -----BEGIN RSA " + "PRIVATE KEY-----",
                      *("    " + line for line in body), "    -----END RSA " + "PRIVATE KEY-----", "",
                      "Then rotate it."])
    result = Redactor().redact(text, path="runbook.md", language="markdown")
    lines = result.text.split("\n")
    assert len(lines) == len(text.split("\n"))
    assert lines[:4] == ["# Deploy", "", "Use this key:", ""] and lines[-2:] == ["", "Then rotate it."]
    assert lines[4:13] == ["    [REDACTED:private-key]"] * 9  # BEGIN, 7 body lines, END
    assert "PRIVATE KEY" not in result.text and not any(b[:12] in result.text for b in body)
    assert result.counts() == {"private-key": 1} and result.rows()[0]["lines"] == [5]


@pytest.mark.parametrize("shape", ["json-escaped", "no-end", "openssh-in-yaml", "pgp"])
def test_private_keys_in_other_shapes(shape: str) -> None:
    body = [rs(64, B64) for _ in range(4)]
    if shape == "json-escaped":
        text = ('{"type": "service_account", "private_key": "-----BEGIN ' + 'PRIVATE KEY-----\\n'
                + "\\n".join(body) + '\\n-----END ' + 'PRIVATE KEY-----\\n", "project_id": "p"}\n')
    elif shape == "no-end":  # truncated paste: the base64 run after BEGIN goes, prose after it stays
        text = "-----BEGIN EC " + "PRIVATE KEY-----\n" + "\n".join(body) + "\nthe end of the note\n"
    elif shape == "openssh-in-yaml":
        text = "ssh_key: |\n  -----BEGIN OPENSSH " + "PRIVATE KEY-----\n" + "\n".join("  " + b for b in body) \
            + "\n  -----END OPENSSH " + "PRIVATE KEY-----\nuser: deploy\n"
    else:
        text = "-----BEGIN PGP " + "PRIVATE KEY BLOCK-----\n\n" + "\n".join(body) + "\n=" + rs(4) \
            + "\n-----END PGP " + "PRIVATE KEY BLOCK-----\n"
    out = redact(text, "x.json" if shape == "json-escaped" else "x.yaml")
    assert out.count("\n") == text.count("\n")
    assert not any(b[:12] in out for b in body), out
    assert "[REDACTED:private-key]" in out
    if shape == "json-escaped":
        assert out == '{"type": "service_account", "private_key": "[REDACTED:private-key]", "project_id": "p"}\n'
    if shape == "no-end":
        assert out.endswith("the end of the note\n")
    if shape == "openssh-in-yaml":
        assert out.startswith("ssh_key: |\n") and out.endswith("user: deploy\n")


ORDINARY = [
    ("app.py", "password = get_password()"),
    ("app.py", 'token_type = "bearer"'),
    ("app.py", "password_hash = bcrypt.hashpw(password, bcrypt.gensalt())"),
    ("app.py", 'api_key = os.environ["API_KEY"]'),
    ("app.py", "def login(user: str, password: str) -> bool:"),
    ("app.py", "    if not password:"),
    ("app.py", 'headers = {"Authorization": f"Bearer {token}"}'),
    ("app.py", 'DB_PASSWORD = "${DB_PASSWORD}"'),
    ("app.py", 'PASSWORD_ENV = "APP_DB_PASSWORD"'),
    ("app.py", "secret: SecretStr | None = None"),
    ("app.py", 'commit = "3f2a9c1e4b5d6f7a8b9c0d1e2f3a4b5c6d7e8f90"'),
    ("app.py", 'request_id = "550e8400-e29b-41d4-a716-446655440000"'),
    ("app.py", 'CACHE_KEY = "users"'),
    ("app.py", 'API_KEY_HEADER = "X-Api-Key"'),
    ("app.py", 'url = "postgres://orders@localhost:5432/orders"'),
    ("app.py", 'example = "postgres://user:${DB_PASSWORD}@db/orders"'),
    ("app.js", 'fetch(url, {credentials: "same-origin"})'),
    ("app.go", "\tpassword := cfg.Password"),
    ("k8s.yaml", "        secretName: payments-db"),
    ("k8s.yaml", "    password: ${POSTGRES_PASSWORD}"),
    ("k8s.yaml", '    password: ""'),
    ("k8s.yaml", "    token: true"),
    ("values.yaml", "  existingSecret: payments-db"),
    ("README.md", "The password must be at least 12 characters long."),
    ("README.md", "Set `PASSWORD` in the environment; the token is valid for 5 minutes."),
    ("README.md", "Password: ask the on-call engineer."),
    ("README.md", "Authentication uses basic auth or a bearer token."),
    ("README.md", "See https://github.com/org/repo/blob/main/docs/api.md#tokens for tokens."),
    (".env.example", "DB_PASSWORD=<your password>"),
    (".env.example", "STRIPE_SECRET_KEY=sk_test_..."),
    ("notes.txt", "Build 2024-05-01 12:30:45, version 1.2.3, port 5432, PID 31337."),
]


@pytest.mark.parametrize("path,line", ORDINARY, ids=[line[:40] for _, line in ORDINARY])
def test_ordinary_code_and_prose_stay_as_they_are(path: str, line: str) -> None:
    assert redact(line + "\n", path) == line + "\n"


def test_our_own_source_has_nothing_to_redact() -> None:
    """Code nobody planted secrets in: this repository's application packages."""
    redactor = Redactor()
    hits = []
    for package in ("assistant", "indexers", "ui", "eval", "bench"):
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix not in {".py", ".html", ".yaml", ".md"} or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(ROOT).as_posix()
            result = redactor.redact(path.read_text(), path=rel, language=detect_language(rel))
            hits += [f"{rel}:{h.line} {h.rule}" for h in result.hits]
    assert hits == []


def test_redacting_twice_changes_nothing() -> None:
    redactor = Redactor()
    for rule, path, template, secret in CASES:
        once = redactor.redact(template.format(s=secret) + "\n", path=path, language=detect_language(path), pii=True)
        twice = redactor.redact(once.text, path=path, language=detect_language(path), pii=True)
        assert twice.text == once.text and twice.hits == (), (rule, once.text)


def test_a_value_found_once_is_redacted_everywhere_in_the_document() -> None:
    pw = rs(16)
    text = f"DATABASE_URL=postgres://app:{pw}@db/app\n# if that fails, log in with {pw} by hand\n"
    out = redact(text, "deploy.sh")
    assert pw not in out and out.count("[REDACTED:url-password]") == 2


def test_scanning_can_be_turned_off_and_the_key_says_so() -> None:
    secret = "gh" + "p_" + rs(36)
    off = Redactor(scan=False)
    assert off.redact(f"t = '{secret}'\n", path="a.py", language="python").text == f"t = '{secret}'\n"
    assert len({Redactor().key(False), Redactor().key(True), off.key(False)}) == 3


def test_personal_data_only_when_asked() -> None:
    text = ("Contact jane.doe@example.org or +44 20 7946 0958, (555) 123-4567.\n"
            "SSN 123-45-6789, NI AB 12 34 56 C, IBAN GB82 WEST 1234 5698 7654 32, card 4111 1111 1111 1111.\n"
            "Not an IBAN: GB00 WEST 1234 5698 7654 32; not a card: 4111 1111 1111 1112; version 1.2.3.\n")
    assert redact(text, "tickets.md") == text
    out = Redactor().redact(text, path="tickets.md", language="markdown", pii=True)
    assert out.counts() == {"email": 1, "phone": 2, "us-ssn": 1, "uk-nino": 1, "iban": 1, "card-number": 1}
    assert out.text.split("\n")[2] == text.split("\n")[2]
    assert {r["kind"] for r in out.rows()} == {"pii"}
    assert Redactor(pii_default=True).pii_for({}) and not Redactor(pii_default=True).pii_for({"redact_pii": False})


SECRET_PATHS = {
    ".env": "env-file", "services/api/.env.production": "env-file", "prod.env": "env-file",
    "deploy/id_rsa": "private-key", "home/.ssh/id_ed25519": "private-key", "certs/tls.pem": "private-key",
    "certs/server.KEY": "private-key", "keys/app.p12": "keystore", "android/release.jks": "keystore",
    "java/app.keystore": "keystore", "win/cert.pfx": "keystore", ".aws/credentials": "cloud-credentials",
    "home/.azure/accessTokens.json": "cloud-credentials",
    "gcloud/application_default_credentials.json": "cloud-credentials",
    "ops/exporter-service-account.json": "cloud-credentials", ".netrc": "netrc", ".pgpass": "pgpass",
    ".git-credentials": "git-credentials", "web/.htpasswd": "htpasswd", "ops/.kube/config": "kubeconfig",
    "kubeconfig.yaml": "kubeconfig", "infra/terraform.tfstate": "terraform-state",
    "infra/terraform.tfstate.backup": "terraform-state", ".docker/config.json": "docker-credentials",
}
NOT_SECRET_PATHS = [".env.example", "config/.env.sample", ".env.template", "src/env.py", "docs/keys.md",
                    "deploy/id_rsa.pub", "src/keyboard.py", "docs/credentials.md", "kube/deployment.yaml",
                    "terraform/main.tf", ".npmrc", "src/environment.ts"]


def test_secret_paths_by_default() -> None:
    paths = SecretPaths()
    assert {p: paths.rule_for(p) for p in SECRET_PATHS} == SECRET_PATHS
    assert [p for p in NOT_SECRET_PATHS if paths.rule_for(p)] == []


def test_secret_paths_settings_add_and_allow() -> None:
    paths = Redactor(skip_paths=["*.secret", "vault/**"], allow_paths=["test/fixtures/*.pem"]).paths
    assert paths.rule_for("a/b.secret") == "custom" and paths.rule_for("vault/x/y.md") == "custom"
    assert paths.rule_for("test/fixtures/public.pem") is None and paths.rule_for("certs/x.pem") == "private-key"


def test_package_config_files_are_skipped_once_they_hold_a_credential() -> None:
    paths = SecretPaths()
    token = "np" + "m_" + rs(36)
    assert paths.rule_for_text(".npmrc", "registry=https://registry.npmjs.org/\n") is None
    assert paths.rule_for_text(".npmrc", f"//registry.npmjs.org/:_authToken={token}\n") == "package-credentials"
    assert paths.rule_for_text(".pypirc", "[pypi]\nusername = __token__\npassword = x" + rs(10)) == "package-credentials"
    assert paths.rule_for_text("pip.conf", "[global]\nindex-url = https://u:p4ss@pypi.corp/simple\n") \
        == "package-credentials"
    assert paths.rule_for_text("docs/npmrc.md", f"_authToken={token}") is None


HOSTILE = {  # a document built to make a backtracking regex take quadratic time
    "slashes-after-authToken": "_authToken\n" + "/" * 100_000 + "\n",
    "one-long-word": "key " + "a" * 100_000 + "\n",
    "spaces-after-a-key": "password: " + " " * 100_000 + "x\n",
    "open-brackets": "password" + "[" * 100_000 + "\n",
    "email-like": "x@" + "a." * 50_000 + "\n" + "a" * 100_000 + "\n",
    "begin-without-end": "-----BEGIN RSA " + "PRIVATE KEY-----\n" + "/" * 100_000 + "x\n",
    "many-begins": "-----BEGIN RSA " + "PRIVATE KEY-----" * 3_000 + "\n",
    "scheme-chain": "a://" * 25_000 + "\n",
    "assignment-chain": "password=" * 11_000 + "\n",
    "unclosed-quote": 'password = "' + "\\" * 100_000 + "\n",
    "semicolon-passwords": ";password=" * 10_000 + "\n",
    "unclosed-xml": "<password>" + "a" * 100_000 + "\n",
}


@pytest.mark.timeout(300)  # a hang guard, not a timing: quadratic regexes take hours on these
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_documents_are_redacted_in_linear_time(name: str) -> None:
    import time

    text = HOSTILE[name]
    started = time.perf_counter()
    result = Redactor().redact(text, path="hostile.md", language="markdown", pii=True)
    print(f"{name}: {len(text)} chars in {time.perf_counter() - started:.2f} s")
    assert result.text.count("\n") == text.count("\n")


def test_a_classification_can_ask_for_personal_data_redaction() -> None:
    from assistant.settings import SecretsSettings

    redactor = Redactor.from_settings(SecretsSettings(pii_classifications="restricted"))
    assert redactor.pii_for({}, "restricted") and not redactor.pii_for({}, "internal")
    assert not redactor.pii_for({"redact_pii": False}, "restricted")  # the source's own choice wins
    assert redactor.pii_for({"redact_pii": True}, "public")
    with pytest.raises(ValueError, match="public, internal or restricted"):
        SecretsSettings(pii_classifications=["secret"])
