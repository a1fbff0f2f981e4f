"""A repository full of secrets, made fresh for each test run.

Every secret is random and built from pieces at run time (so no live-looking secret is
committed, and scanners and push protection have nothing to flag); the files around
them are the realistic places secrets leak into: settings modules, compose files, CI
workflows, runbooks, test fixtures, dot-files. ``Planted`` records what a test must
never find again, anywhere it could be stored or answered.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.fixtures.gitrepo import GitRepo

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
B64 = string.ascii_letters + string.digits + "+/"
URLSAFE = string.ascii_letters + string.digits + "-_"
HEX = "0123456789abcdef"


@dataclass(frozen=True)
class Secret:
    kind: str
    path: str
    value: str


@dataclass
class Planted:
    seed: int
    secrets: list[Secret] = field(default_factory=list)
    skipped_paths: dict[str, str] = field(default_factory=dict)  # path -> path rule expected
    files: dict[str, str] = field(default_factory=dict)  # path -> text as committed

    def kinds(self) -> set[str]:
        return {s.kind for s in self.secrets}


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def s(self, n: int, alphabet: str = ALNUM) -> str:
        # at least one digit and one letter, so no rule can call it a word
        while True:
            out = "".join(self.rnd.choice(alphabet) for _ in range(n))
            if n < 8 or (any(c.isdigit() for c in out) and any(c.isalpha() for c in out)):
                return out

    def password(self, n: int = 18) -> str:
        return self.s(n - 2) + self.rnd.choice("!*") + self.rnd.choice(string.digits)

    def pem_body(self, lines: int = 20) -> list[str]:
        first = "MII" + "EowIBAAKCAQEA" + self.s(48, B64)
        return [first] + [self.s(64, B64) for _ in range(lines - 2)] + [self.s(40, B64) + "=="]

    def jwt(self) -> str:
        def enc(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = enc(json.dumps({"sub": self.s(12), "role": "admin", "iat": 1700000000}).encode())
        return f"{head}.{body}.{enc(self.rnd.randbytes(32))}"


def build_secret_repo(path: Path, seed: int) -> tuple[GitRepo, Planted]:
    g = _Gen(seed)
    planted = Planted(seed)
    repo = GitRepo(path)

    def put(rel: str, text: str, *secrets: tuple[str, str]) -> None:
        repo.write(rel, text)
        planted.files[rel] = text
        for kind, value in secrets:
            assert value in text, (kind, rel)
            planted.secrets.append(Secret(kind, rel, value))

    aws_id, aws_key = "AK" + "IA" + g.s(16, UPPER), g.s(40, B64)
    db_pw = g.password()
    django = "django-" + "insecure-" + g.s(40, ALNUM + "!@#%^&*-_=+")
    twilio = g.s(32, HEX)
    put("config/settings.py", f'''"""Service settings (do not commit real values!)."""

import os

DEBUG = False
AWS_ACCESS_KEY_ID = "{aws_id}"
AWS_SECRET_ACCESS_KEY = "{aws_key}"
DATABASES = {{"default": {{"NAME": "orders", "USER": "orders", "PASSWORD": "{db_pw}"}}}}
SECRET_KEY = '{django}'
TWILIO_AUTH_TOKEN = "{twilio}"
password = os.environ.get("DB_PASSWORD") or get_password()
token_type = "bearer"
CACHE_TTL = 300
''', ("aws-access-key", aws_id), ("aws-secret-key", aws_key), ("password", db_pw),
        ("django-secret-key", django), ("twilio-token", twilio))

    k8s_pw, k8s_token = g.password(), g.s(32)
    stripe_env = g.s(40, URLSAFE)
    put("deploy/k8s.yaml", f'''apiVersion: v1
kind: Secret
metadata:
  name: payments-db
type: Opaque
data:
  DB_PASSWORD: {base64.b64encode(k8s_pw.encode()).decode()}
stringData:
  API_TOKEN: {k8s_token}
---
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: payments
          env:
            - name: STRIPE_WEBHOOK_SECRET
              value: "{stripe_env}"
            - name: LOG_LEVEL
              value: info
''', ("k8s-base64-password", base64.b64encode(k8s_pw.encode()).decode()), ("k8s-token", k8s_token),
        ("k8s-env-secret", stripe_env))

    hook = f"T{g.s(8, UPPER)}/B{g.s(10, UPPER)}/{g.s(24)}"
    put("README.md", f'''# Payments service

Charges cards and retries failed payments.

## Alerts

Deploy notifications go to Slack through
https://hooks.slack.com/services/{hook}

## Running

Run `make run` and open http://localhost:8000.
''', ("slack-webhook", hook))

    ssh_body = g.pem_body(12)
    runbook_pw = g.password(16)
    bearer = g.s(40)
    basic = base64.b64encode(f"ops:{g.password(14)}".encode()).decode()
    ssh_block = "\n".join(["-----BEGIN OPENSSH " + "PRIVATE KEY-----", *ssh_body, "-----END OPENSSH " + "PRIVATE KEY-----"])
    put("docs/runbook.md", f'''---
title: Payments runbook
owner: "@payments-team"
---
# Payments runbook

## Break-glass access

If the bastion is down, use this deploy key (rotate it afterwards!):

```
{ssh_block}
```

The root password is `{runbook_pw}` until the vault is back.

## Calling the admin API

```sh
curl -H "Authorization: Bearer {bearer}" https://payments.internal/admin/retry
curl -H "Authorization: Basic {basic}" https://payments.internal/health
```
''', *(("openssh-private-key", line) for line in ssh_body), ("prose-password", runbook_pw),
        ("bearer-token", bearer), ("basic-auth", basic))

    pg_pw = g.s(18, ALNUM + "!*")
    put("docker-compose.yml", f'''services:
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: orders
      POSTGRES_PASSWORD: {pg_pw}
  app:
    build: .
    environment:
      DATABASE_URL: postgres://orders:{pg_pw}@db:5432/orders
    depends_on: [db]
''', ("compose-password", pg_pw))

    jwt = g.jwt()
    put("tests/fixtures/auth.py", f'''"""Tokens for the auth tests."""

ADMIN_TOKEN = "{jwt}"


def auth_header(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {{"Authorization": f"Bearer {{token}}"}}
''', ("jwt", jwt))

    stripe = "sk_" + "live_" + g.s(24)
    put("billing/stripe_client.py", f'''import stripe

stripe.api_key = "{stripe}"


def charge(amount_cents: int, card_token: str) -> str:
    """Charge a card; returns the charge id."""
    return stripe.Charge.create(amount=amount_cents, currency="eur", source=card_token).id
''', ("stripe-key", stripe))

    gh = "gh" + "p_" + g.s(36)
    put(".github/workflows/release.yml", f'''name: release
on: {{push: {{tags: ["v*"]}}}}
jobs:
  release:
    runs-on: ubuntu-latest
    env:
      GITHUB_TOKEN: {gh}
    steps:
      - uses: actions/checkout@v4
      - run: make release
''', ("github-token", gh))

    gl = "glp" + "at-" + g.s(20, URLSAFE)
    put(".gitlab-ci.yml", f'''deploy:
  script:
    - curl --header "PRIVATE-TOKEN: {gl}" https://gitlab.example.com/api/v4/projects
''', ("gitlab-token", gl))

    openai_key = "sk-" + "proj-" + g.s(48, URLSAFE)
    anthropic_key = "sk-" + "ant-api03-" + g.s(80, URLSAFE)
    put("ai/client.py", f'''from openai import OpenAI
import anthropic

client = OpenAI(api_key="{openai_key}")
claude = anthropic.Anthropic(api_key="{anthropic_key}")


def summarize(text: str) -> str:
    return client.responses.create(model="gpt-4.1", input=text).output_text
''', ("openai-key", openai_key), ("anthropic-key", anthropic_key))

    maps = "AI" + "za" + g.s(35, URLSAFE)
    put("web/maps.js", f'''const MAPS_KEY = "{maps}";

export function loadMaps() {{
  const s = document.createElement("script");
  s.src = `https://maps.googleapis.com/maps/api/js?key=${{MAPS_KEY}}`;
  document.head.appendChild(s);
}}
''', ("google-api-key", maps))

    account_key = g.s(86, B64) + "=="
    sql_pw = g.s(20, ALNUM + "!*#")
    sas = g.s(43, B64) + "%3D"
    put("config/appsettings.json", json.dumps({
        "Storage": {"ConnectionString": "DefaultEndpointsProtocol=https;AccountName=acmepay;"
                    f"AccountKey={account_key};EndpointSuffix=core.windows.net"},
        "ConnectionStrings": {"Orders": "Server=tcp:orders.database.windows.net,1433;Database=orders;"
                              f"User ID=orders_app;Password={sql_pw};Encrypt=True;"},
        "Exports": {"Url": f"https://acmepay.blob.core.windows.net/exports?sv=2022-11-02&ss=b&sig={sas}"},
    }, indent=2) + "\n", ("azure-storage-key", account_key), ("sql-password", sql_pw), ("azure-sas", sas))

    sa_body = g.pem_body(8)
    sa_key = "-----BEGIN " + "PRIVATE KEY-----\\n" + "\\n".join(sa_body) + "\\n-----END " + "PRIVATE KEY-----\\n"
    put("config/gcp-key.json", '{\n  "type": "service_account",\n  "project_id": "acme-payments",\n'
        f'  "private_key": "{sa_key}",\n  "client_email": "exporter@acme-payments.iam.gserviceaccount.com"\n}}\n',
        *(("service-account-key", line) for line in sa_body))

    gocspx = "GOC" + "SPX-" + g.s(28, URLSAFE)
    sendgrid = "S" + "G." + g.s(22, URLSAFE) + "." + g.s(43, URLSAFE)
    put("notify/mailer.py", f'''GOOGLE_CLIENT_ID = "1234567890-abc.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET = "{gocspx}"
SENDGRID = SendGridAPIClient("{sendgrid}")
''', ("google-oauth-secret", gocspx), ("sendgrid-key", sendgrid))

    discord = g.rnd.choice("MN") + g.s(23, ALNUM) + "." + g.s(6, ALNUM) + "." + g.s(27, ALNUM)
    telegram = "".join(g.rnd.choice(string.digits) for _ in range(9)) + ":" + g.s(35, URLSAFE)
    mailchimp = g.s(32, HEX) + "-us12"
    put("bots/chat.py", f'''import discord
from telegram import Bot

bot = discord.Client(intents=discord.Intents.default())
tg = Bot("{telegram}")
MAILCHIMP = ("{mailchimp}")

if __name__ == "__main__":
    bot.run("{discord}")
''', ("discord-token", discord), ("telegram-token", telegram), ("mailchimp-key", mailchimp))

    heroku = str(uuid.UUID(int=g.rnd.getrandbits(128)))
    npm = "np" + "m_" + g.s(36)
    put("scripts/deploy.sh", f'''#!/bin/sh
set -e
export HEROKU_API_KEY={heroku}
echo "//registry.npmjs.org/:_authToken={npm}" > ~/.npmrc
git push heroku main
''', ("heroku-api-key", heroku), ("npm-token", npm))

    wp_pw = g.password(22)
    put("wordpress/wp-config.php", f'''<?php
define( 'DB_NAME', 'blog' );
define( 'DB_USER', 'blog' );
define( 'DB_PASSWORD', '{wp_pw}' );
''', ("wordpress-password", wp_pw))

    mvn_pw = g.password(20)
    put("ci/maven-settings.xml", f'''<settings>
  <servers>
    <server>
      <id>acme-releases</id>
      <username>deployer</username>
      <password>{mvn_pw}</password>
    </server>
  </servers>
</settings>
''', ("maven-password", mvn_pw))

    example_stripe = "sk_" + "test_" + g.s(24)
    put(".env.example", f'''# Copy to .env and fill in
DATABASE_URL=postgres://orders:${{DB_PASSWORD}}@localhost:5432/orders
STRIPE_SECRET_KEY={example_stripe}
SLACK_WEBHOOK_URL=
''', ("stripe-test-key", example_stripe))

    ordinary = '''"""Retrying failed payments."""

RETRY_LIMIT = 5


def retry_failed_payment(payment_id: str, attempt: int = 0) -> bool:
    """Retry capturing a failed payment until RETRY_LIMIT attempts."""
    return attempt < RETRY_LIMIT
'''
    put("payments/retry.py", ordinary)

    # -- files skipped by path: never read, whatever is in them -------------------------
    env_pw, env_stripe = g.password(), "sk_" + "live_" + g.s(24)
    put(".env", f"DB_PASSWORD={env_pw}\nSTRIPE_SECRET_KEY={env_stripe}\n", ("env-password", env_pw),
        ("env-stripe", env_stripe))
    rsa_body = g.pem_body(25)
    put("deploy/id_rsa", "-----BEGIN RSA " + "PRIVATE KEY-----\n" + "\n".join(rsa_body)
        + "\n-----END RSA " + "PRIVATE KEY-----\n", *(("id-rsa", line) for line in rsa_body))
    cred_id, cred_key = "AK" + "IA" + g.s(16, UPPER), g.s(40, B64)
    put(".aws/credentials", f"[default]\naws_access_key_id = {cred_id}\naws_secret_access_key = {cred_key}\n",
        ("aws-credentials-id", cred_id), ("aws-credentials-key", cred_key))
    netrc_pw = g.s(30)
    put(".netrc", f"machine api.acme.dev\n  login deploy\n  password {netrc_pw}\n", ("netrc-password", netrc_pw))
    kube = g.s(60)
    put("ops/.kube/config", f"apiVersion: v1\nusers:\n- name: admin\n  user:\n    token: {kube}\n",
        ("kube-token", kube))
    tf_pw = g.password()
    put("infra/terraform.tfstate", json.dumps({"resources": [{"instances": [{"attributes": {"password": tf_pw}}]}]}),
        ("tfstate-password", tf_pw))
    npmrc = "np" + "m_" + g.s(36)
    put(".npmrc", f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={npmrc}\n",
        ("npmrc-token", npmrc))
    pypi = "pypi-" + "AgEIcHlwaS5vcmc" + g.s(80, URLSAFE)
    put(".pypirc", f"[pypi]\nusername = __token__\npassword = {pypi}\n", ("pypirc-token", pypi))
    gitcred = "gh" + "p_" + g.s(36)
    put(".git-credentials", f"https://bot:{gitcred}@github.com\n", ("git-credentials", gitcred))
    put("certs/server.key", "-----BEGIN EC " + "PRIVATE KEY-----\n" + g.s(64, B64) + "\n-----END EC "
        + "PRIVATE KEY-----\n")
    planted.skipped_paths = {
        ".env": "env-file", "deploy/id_rsa": "private-key", ".aws/credentials": "cloud-credentials",
        ".netrc": "netrc", "ops/.kube/config": "kubeconfig", "infra/terraform.tfstate": "terraform-state",
        ".npmrc": "package-credentials", ".pypirc": "package-credentials", ".git-credentials": "git-credentials",
        "certs/server.key": "private-key",
    }
    repo.commit("payments service", "2024-05-02T10:00:00+00:00")
    return repo, planted
