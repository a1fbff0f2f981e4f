"""detect-secrets' detectors, run in-process on a document's text.

We call each plugin's ``analyze_string`` directly: no baseline, no global settings, no
verification (``analyze_line`` may call a provider's API to verify a token; indexing
must never send a secret anywhere). The plugins yield secret *values*; every place a
value stands in the text is redacted. The high-entropy plugins are left out (they flag
commit hashes, UUIDs and base64 test data in ordinary code), and so is the private-key
plugin (it reports only the BEGIN line; ``secret_rules`` redacts the whole block).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from detect_secrets.filters.heuristic import (
    is_indirect_reference,
    is_not_alphanumeric_string,
    is_prefixed_with_dollar_sign,
    is_templated_secret,
)
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import DENYLIST_REGEX, QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, REGEX_BY_FILETYPE
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector
from detect_secrets.util.filetype import determine_file_type

from indexers.redaction.assignments import NOT_SECRET_PREFIXES, is_placeholder, is_secret_name, normalize
from indexers.redaction.spans import Span, hinted_lines, occurrences

# plugin class -> our rule name (the same names our own rules use, so counts add up)
PLUGINS: tuple[tuple[type[Any], str], ...] = (
    (AWSKeyDetector, "aws-access-key"),
    (ArtifactoryDetector, "artifactory-token"),
    (AzureStorageKeyDetector, "azure-key"),
    (BasicAuthDetector, "url-password"),
    (CloudantDetector, "cloudant-credentials"),
    (DiscordBotTokenDetector, "discord-token"),
    (GitHubTokenDetector, "github-token"),
    (GitLabTokenDetector, "gitlab-token"),
    (IbmCloudIamDetector, "ibm-cloud-key"),
    (IbmCosHmacDetector, "ibm-cos-hmac"),
    (JwtTokenDetector, "jwt"),
    (MailchimpDetector, "mailchimp-key"),
    (NpmDetector, "npm-token"),
    (OpenAIDetector, "openai-key"),
    (PypiTokenDetector, "pypi-token"),
    (SendGridDetector, "sendgrid-key"),
    (SlackDetector, "slack-token"),
    (SoftlayerDetector, "softlayer-credentials"),
    (SquareOAuthDetector, "square-oauth"),
    (StripeDetector, "stripe-key"),
    (TelegramBotTokenDetector, "telegram-token"),
    (TwilioKeyDetector, "twilio-key"),
)
# Cheap searches that must succeed before a slow plugin runs (their patterns start with a
# keyword alternation, so the engine tries them at every position of the text).
_GUARDS: dict[str, re.Pattern[str]] = {
    "artifactory-token": re.compile(r"AKC|AP[\dA-F]"),
    "cloudant-credentials": re.compile(r"(?i)cloudant|[0-9a-f]{64}|(?<![a-z])[a-z]{24}(?![a-z])"),
    "ibm-cloud-key": re.compile(r"[a-zA-Z0-9_\-]{44}"),
    "ibm-cos-hmac": re.compile(r"[a-f0-9]{32}"),
    "softlayer-credentials": re.compile(r"(?i)softlayer|[a-z0-9]{64}"),
    "mailchimp-key": re.compile(r"-us\d"),
    "npm-token": re.compile(r"_authToken"),
    "telegram-token": re.compile(r"\d{8,10}:"),
}
_STRIP = " \t\"'`=:,;()"
MAX_LINE = 2000
_LONG_LINE = re.compile(r"(?m)^[^\n]{%d,}$" % (MAX_LINE + 1))
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_KEYWORD_HINT = re.compile(DENYLIST_REGEX, re.IGNORECASE)
_NAME_BEFORE = re.compile(r"[\w.\-]*(?:" + DENYLIST_REGEX + r")[\w.\-]*", re.IGNORECASE)
# detect-secrets' keyword list takes any suffix (``secretName``, ``password_hash``);
# names ending like these hold names, references or settings, not secrets
_NOT_SECRET_SUFFIX = (
    "name", "ref", "type", "id", "ids", "file", "path", "dir", "length", "len", "size", "field", "label",
    "prompt", "policy", "env", "var", "header", "endpoint", "uri", "url", "version", "format", "min", "max",
    "count", "expiry", "expires", "ttl", "enabled", "required", "mode", "kind", "hint", "help", "description",
    "regex", "pattern", "provider", "manager", "store", "class", "hash", "hashed", "reset", "rotation",
)


@lru_cache(maxsize=1)
def _plugins() -> tuple[tuple[Any, str], ...]:
    return tuple((cls(), name) for cls, name in PLUGINS)


@lru_cache(maxsize=1)
def _keyword() -> KeywordDetector:
    return KeywordDetector()


def detect_secrets_spans(text: str, path: str) -> Iterator[Span]:
    """Spans of every value detect-secrets reports in ``text``.

    Its regexes backtrack badly on very long lines (``//.+/:_authToken`` over a line of
    slashes), so they read the text with lines over ``MAX_LINE`` blanked; our own rules,
    which are bounded, still read those lines."""
    short = _LONG_LINE.sub("", text) if len(text) > MAX_LINE else text
    for plugin, rule in _plugins():
        guard = _GUARDS.get(rule)
        if guard is not None and not guard.search(short):
            continue
        for raw in plugin.analyze_string(short):
            value = raw.strip(_STRIP)
            if len(value) < 8 or "\n" in value or "[REDACTED:" in value:
                continue
            if rule == "artifactory-token" and not any(c.isdigit() for c in value):
                continue  # its password pattern also matches words like APIKeyManager
            if rule == "url-password" and is_placeholder(value):
                continue
            for start, end in occurrences(text, value):
                yield Span(start, end, rule, priority=2)
    yield from _keyword_spans(text, path)


def _keyword_spans(text: str, path: str) -> Iterator[Span]:
    """The keyword plugin reads one line at a time and reports its first match."""
    groups = REGEX_BY_FILETYPE.get(determine_file_type(path), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
    detector = _keyword()
    for lo, hi in hinted_lines(text, _KEYWORD_HINT):
        line = text[lo:hi]
        if len(line) > MAX_LINE:
            continue
        for value in {raw.strip(" \t") for raw in detector.analyze_string(line, denylist_regex_to_group=groups)}:
            if _keyword_value_ok(value, line):
                for start, end in occurrences(line, value):
                    yield Span(lo + start, lo + end, "secret-assignment", priority=1)


def _keyword_value_ok(value: str, line: str) -> bool:
    if (not value or is_templated_secret(value) or is_prefixed_with_dollar_sign(value)
            or is_not_alphanumeric_string(value) or is_placeholder(value) or is_indirect_reference(line)):
        return False
    at = line.find(value)
    if _DOTTED.fullmatch(value) and (at <= 0 or line[at - 1] not in "\"'`"):
        return False  # ``password := cfg.Password``: a field, not a literal
    names = [m.group() for m in _NAME_BEFORE.finditer(line, 0, max(at, 0))]
    if not names:
        return True  # "value" == password: the name comes after
    name = normalize(names[-1].rsplit(".", 1)[-1])
    return is_secret_name(name) or not name.endswith(_NOT_SECRET_SUFFIX) and not name.startswith(NOT_SECRET_PREFIXES)
