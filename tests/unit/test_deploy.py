"""The deployment files in deploy/ agree with the code they run.

Settings, commands, routes, ports and Prometheus series named by the Dockerfile, compose,
Kubernetes, nginx, alert rules and the Grafana dashboard are checked against Postroom itself:
its Settings schema, its CLI, its HTTP apps (the API and the operations app of smtp and worker,
started on SQLite) and its metrics registry. The healthchecks run against a real
``postroom worker --ops-port`` process.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families
from pydantic import AliasChoices, ValidationError
from starlette.routing import WebSocketRoute
from tests.services import free_port
from typer.testing import CliRunner

from postroom import cli, config
from postroom.api.http import ROUTERS, create_app, create_ops_app
from postroom.app import Postroom
from postroom.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
NGINX = DEPLOY / "nginx" / "postroom.conf"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "postroom.json"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"

# Variables .env.example holds for compose's own interpolation, not for Postroom.
COMPOSE_ONLY = {
    "POSTGRES_PASSWORD",
    "POSTGRES_USER",
    "POSTGRES_DB",
    "POSTROOM_IMAGE",
    "POSTROOM_WORKERS",
    "HTTP_PUBLISH",
    "HTTPS_PUBLISH",
    "SMTP_PUBLISH",
}
# Environment the image sets for Python and pip; POSTROOM_CONFIG names the settings file.
IMAGE_ONLY = {
    "PATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}
PLACEHOLDER = "REPLACE_ME"
PROBE_PATHS = ("/health", "/ready", "/metrics")
# Which HTTP app each long-running command serves /health, /ready and /metrics from (see cli.py):
# the API (serve, api) on API_PORT, the operations app (smtp, worker) on POSTROOM_OPS_PORT.
HTTP_APPS = {"serve": "api", "api": "api", "smtp": "ops", "worker": "ops"}
PORT_VARIABLES = {"api": "API_PORT", "ops": "POSTROOM_OPS_PORT"}


# ---- reading the files ----------------------------------------------------------------------
def setting_names() -> set[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(name.upper())
    return names


def env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            values[key.strip()] = value.strip()
    return values


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def postroom_services() -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose()["services"].items() if svc.get("command", [""])[0] == "postroom"}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (``$$`` is a literal ``$``)."""

    def value(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    text = re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", value, text.replace("$$", "\0"))
    return text.replace("\0", "$")


def k8s_objects() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    objects: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        objects.extend(doc for doc in yaml.safe_load_all((K8S / resource).read_text()) if doc)
    return objects


def k8s_secret_template() -> dict[str, Any]:
    secret: dict[str, Any] = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    return secret


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in k8s_objects() if obj["kind"] == kind]


def pod_specs() -> dict[str, dict[str, Any]]:
    specs = {obj["metadata"]["name"]: obj["spec"]["template"]["spec"] for obj in of_kind("Deployment")}
    specs.update({obj["metadata"]["name"]: obj["spec"]["template"]["spec"] for obj in of_kind("Job")})
    return specs


def image_environment() -> dict[str, str]:
    """The Postroom settings the image's ENV gives every container."""
    final = [i for i in dockerfile() if i.stage == max(i.stage for i in dockerfile())]
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(i.args for i in final if i.keyword == "ENV")))
    return {name: value for name, value in env.items() if name in setting_names()}


def compose_containers() -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each long-running Postroom service -> its command and the settings its container gets."""
    env = _filled(env_file(ENV_EXAMPLE))
    containers = {}
    for name, service in postroom_services().items():
        if service["command"][1] in HTTP_APPS:
            own = {k: interpolate(str(v), env) for k, v in service["environment"].items()}
            containers[name] = (service["command"], {**image_environment(), **env, **own})
    return containers


def k8s_containers() -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Each Deployment -> its container and the settings it gets (image, ConfigMap, Secret, then its own env)."""
    configmap = next(obj for obj in of_kind("ConfigMap") if obj["metadata"]["name"] == "postroom-config")
    shared = {**image_environment(), **configmap["data"], **_filled(k8s_secret_template()["stringData"])}
    containers = {}
    for deployment in of_kind("Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        own = {var["name"]: str(var["value"]) for var in container.get("env", [])}
        containers[deployment["metadata"]["name"]] = (container, {**shared, **own})
    return containers


def served(argv: list[str], settings: Settings) -> tuple[str, int] | None:
    """The HTTP app (``api`` or ``ops``) the process ``argv`` answers /health, /ready and /metrics from,
    and its port, as cli.py starts it; None when it serves none (smtp and worker without an ops port)."""
    app = HTTP_APPS.get(argv[1])
    if app is None:
        return None
    flag = "--http-port" if app == "api" else "--ops-port"
    port = int(argv[argv.index(flag) + 1]) if flag in argv else settings.api_port if app == "api" else settings.ops_port
    return (app, port) if port else None


def relabel(labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus's ``replace`` and ``keep`` relabelling (None: the target is dropped)."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule.get("source_labels", []))
        match = re.fullmatch(str(rule.get("regex", "(.*)")), value)
        action = rule.get("action", "replace")
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                template = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", str(rule.get("replacement", "$1")))
                labels[rule["target_label"]] = match.expand(template)
        else:
            raise AssertionError(f"relabel action {action} is not simulated here")
    return labels


def scrape_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    args: str


def dockerfile() -> list[Instruction]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    instructions: list[Instruction] = []
    stage = -1
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        stage += keyword.upper() == "FROM"
        instructions.append(Instruction(stage, keyword.upper(), args.strip()))
    return instructions


def nginx_locations() -> dict[str, str]:
    """``location`` path -> the text of its block."""
    text = NGINX.read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"location\s+(?:=\s*)?(\S+)\s*\{([^}]*)\}", text)}


def nginx_seconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([smhd]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def size_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * 1024 ** {"": 0, "k": 1, "m": 2, "g": 3}[unit.lower()]


# ---- PromQL: which series an expression reads ---------------------------------------------
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


@dataclass(frozen=True)
class Selector:
    metric: str
    labels: frozenset[str]


def promql_selectors(expr: str) -> tuple[list[Selector], set[str]]:
    """The series an expression selects (with the labels it matches on) and the labels it groups by."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables such as $__rate_interval
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery windows
    grouped = {label.strip() for group in GROUPING.findall(expr) for label in group.split(",") if label.strip()}
    expr = GROUPING.sub(" ", expr)
    selectors = []
    for match in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)\s*(?:\{([^}]*)\})?", expr):
        name, matchers = match.group(1), match.group(2)
        if name in PROMQL_KEYWORDS or (matchers is None and expr[match.end() :].lstrip().startswith("(")):
            continue
        labels = frozenset(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers or ""))
        selectors.append(Selector(name, labels))
    return selectors, grouped


def alert_expressions() -> dict[str, str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}


def dashboard_panels() -> Iterator[dict[str, Any]]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in panels:
            yield panel
            yield from walk(panel.get("panels", []))

    yield from walk(json.loads(DASHBOARD.read_text())["panels"])


def dashboard_expressions() -> dict[str, str]:
    return {
        f"{panel['title']} / {target['refId']}": target["expr"]
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    }


# ---- Postroom itself, on SQLite -----------------------------------------------------------
@dataclass(frozen=True)
class Running:
    apps: dict[str, dict[str, httpx.Response]]  # "api" or "ops" -> path -> its answer
    series: dict[str, frozenset[str]]  # every sample name Prometheus can see -> its label names

    @property
    def responses(self) -> dict[str, httpx.Response]:
        return self.apps["api"]


async def _start_and_scrape(storage: Path) -> dict[str, dict[str, httpx.Response]]:
    settings = load_settings(storage_dir=storage, database_url=f"sqlite:///{storage / 'postroom.db'}")
    postroom = Postroom(settings)
    await postroom.start(smtp=False, workers=False)
    try:
        # Probes and scrapers send no credentials: these must answer even with auth required.
        apps = {"api": create_app(postroom, auth_required=True), "ops": create_ops_app(postroom)}
        scraped = {}
        for name, app in apps.items():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://postroom") as client:
                scraped[name] = {path: await client.get(path) for path in PROBE_PATHS}
        return scraped
    finally:
        await postroom.stop()


def _label_names() -> dict[str, frozenset[str]]:
    # A labelled metric with no children yet shows no labels in /metrics; its wrapper knows them.
    return {
        collector._name: frozenset(collector._labelnames)
        for collector in list(REGISTRY._collector_to_names)
        if isinstance(collector, MetricWrapperBase)
    }


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Running:
    storage = tmp_path_factory.mktemp("postroom")
    with ThreadPoolExecutor(max_workers=1) as pool:
        apps = pool.submit(asyncio.run, _start_and_scrape(storage)).result()
    labels = _label_names()
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    series: dict[str, frozenset[str]] = {}
    for family in text_string_to_metric_families(apps["api"]["/metrics"].text):
        names = [family.name + s for s in suffixes.get(family.type, ("",))]
        extra = frozenset({"le"}) if family.type == "histogram" else frozenset()
        for name in names:
            series[name] = labels.get(family.name, frozenset()) | (extra if name.endswith("_bucket") else frozenset())
    return Running(apps, series)


def check_promql(name: str, expr: str, series: dict[str, frozenset[str]]) -> list[str]:
    problems = []
    selectors, grouped = promql_selectors(expr)
    if not selectors:
        problems.append(f"{name}: reads no series")
    target_labels = {"job", "instance", "pod", "namespace", "component"}
    known = set(target_labels)
    for selector in selectors:
        if selector.metric == "up":  # Prometheus's own per-target series
            labels: frozenset[str] = frozenset()
        elif selector.metric not in series:
            problems.append(f"{name}: {selector.metric} is not a series Postroom exports")
            continue
        else:
            labels = series[selector.metric]
        known |= labels
        if unknown := selector.labels - labels - target_labels:
            problems.append(f"{name}: {selector.metric} has no label {sorted(unknown)}")
    if unknown := grouped - known:
        problems.append(f"{name}: groups by {sorted(unknown)}, which none of its series has")
    return problems


# ---- YAML and JSON parse -------------------------------------------------------------------
def test_every_yaml_and_json_file_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
    assert {f.name for f in files} >= {"docker-compose.yml", "alerts.yml", "prometheus.yml", "kustomization.yaml"}
    for path in files:
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        assert documents and all(isinstance(doc, dict) for doc in documents), path
    assert json.loads(DASHBOARD.read_text())["panels"]


# ---- metrics ------------------------------------------------------------------------------
def test_the_promql_reader_finds_series_labels_and_groupings() -> None:
    selectors, grouped = promql_selectors(
        'sum by (code) (rate(postroom_smtp_replies_total{code=~"4..", command!="x"}[5m])) / 1e-9 '
        "and histogram_quantile(0.99, sum by (le) (rate(email_send_seconds_bucket[$__rate_interval]))) "
        "or vector(0) > up"
    )
    assert selectors == [
        Selector("postroom_smtp_replies_total", frozenset({"code", "command"})),
        Selector("email_send_seconds_bucket", frozenset()),
        Selector("up", frozenset()),
    ]
    assert grouped == {"code", "le"}


def test_the_registry_check_rejects_names_postroom_does_not_export(running: Running) -> None:
    assert check_promql("x", "rate(emails_sent[5m])", running.series) == [
        "x: emails_sent is not a series Postroom exports"
    ]
    assert check_promql("x", 'rate(emails_failed_total{status="failed"}[5m])', running.series) == [
        "x: emails_failed_total has no label ['status']"
    ]
    assert check_promql("x", "sum by (tenant) (email_queue_size)", running.series) == [
        "x: groups by ['tenant'], which none of its series has"
    ]


def test_alert_rules_use_only_series_postroom_exports(running: Running) -> None:
    expressions = alert_expressions()
    assert len(expressions) >= 5
    problems = [p for name, expr in expressions.items() for p in check_promql(name, expr, running.series)]
    assert problems == []
    read = {s.metric for expr in expressions.values() for s in promql_selectors(expr)[0]}
    assert {"up", "email_queue_size", "emails_failed_total", "postroom_smtp_replies_total"} <= read
    assert "postroom_ingest_seconds_bucket" in read


def test_alert_rules_have_a_severity_and_a_summary() -> None:
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    assert len({rule["alert"] for rule in rules}) == len(rules)


def test_the_dashboard_uses_only_series_postroom_exports(running: Running) -> None:
    expressions = dashboard_expressions()
    problems = [p for name, expr in expressions.items() for p in check_promql(name, expr, running.series)]
    assert problems == []
    read = {s.metric for expr in expressions.values() for s in promql_selectors(expr)[0]}
    exported = {name for name in running.series if name.startswith(("postroom_", "email"))}
    # Every Postroom series someone operates by is on the dashboard (the _created twins aside).
    unused = {n for n in exported - read if not n.endswith(("_created", "_sum", "_count"))}
    assert unused == set()


def test_the_dashboard_panels_have_unique_ids_and_use_the_datasource_variable() -> None:
    panels = list(dashboard_panels())
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


# ---- settings -----------------------------------------------------------------------------
def test_env_example_names_only_settings_and_compose_variables() -> None:
    names = set(env_file(ENV_EXAMPLE))
    assert names - setting_names() <= COMPOSE_ONLY
    interpolated = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    assert interpolated >= COMPOSE_ONLY, "a compose-only variable compose never reads"
    assert interpolated <= names, "compose reads a variable .env.example does not show"


def test_env_example_holds_placeholders_not_secrets() -> None:
    values = env_file(ENV_EXAMPLE)
    for name in ("POSTGRES_PASSWORD", "JWT_SECRET", "POSTROOM_SECRET_KEYS"):
        assert values[name] == PLACEHOLDER, name
    for name, value in values.items():
        if re.search(r"SECRET|PASSWORD|TOKEN|API_KEY", name):
            assert value in ("", PLACEHOLDER), name


def test_compose_and_k8s_pass_only_real_settings() -> None:
    known = setting_names()
    for name, service in postroom_services().items():
        assert set(service["environment"]) <= known, name
    configmap = next(obj for obj in of_kind("ConfigMap") if obj["metadata"]["name"] == "postroom-config")
    assert set(configmap["data"]) <= known
    assert set(k8s_secret_template()["stringData"]) <= known
    image_env = set(re.findall(r"(\w+)=", " ".join(i.args for i in dockerfile() if i.keyword == "ENV")))
    assert image_env and image_env - known <= IMAGE_ONLY | {"POSTROOM_CONFIG"}
    assert 'os.environ.get("POSTROOM_CONFIG")' in Path(config.__file__).read_text(), "the settings file variable"


def _filled(values: dict[str, str]) -> dict[str, str]:
    return {k: v.replace(PLACEHOLDER, secrets.token_hex(32)) for k, v in values.items()}


def _settings_from(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in setting_names() | {field.upper() for field in Settings.model_fields}:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_compose_environment_makes_a_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _filled(env_file(ENV_EXAMPLE))
    for name, service in postroom_services().items():
        container = {**env, **{k: interpolate(str(v), env) for k, v in service["environment"].items()}}
        settings = _settings_from(container, monkeypatch)
        assert settings.is_production and settings.auth_is_required(settings.api_host), name
        assert settings.resolved_database_url.startswith("postgresql+asyncpg://postroom:"), name
        assert settings.redis_url and settings.public_url.startswith("https://"), name
        assert (settings.api_host, settings.smtp_bind) == ("0.0.0.0", "0.0.0.0"), name
        assert str(settings.storage_dir) == "/data" and settings.json_logs, name
        assert settings.encryption_secrets == [env["POSTROOM_SECRET_KEYS"]], name


def test_the_env_example_as_shipped_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        _settings_from({**env_file(ENV_EXAMPLE), "POSTROOM_ENV": "production"}, monkeypatch)


def test_compose_refuses_to_start_without_a_database_password() -> None:
    env = _filled(env_file(ENV_EXAMPLE))
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(COMPOSE.read_text(), env)


def test_the_k8s_configuration_makes_a_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    configmap = next(obj for obj in of_kind("ConfigMap") if obj["metadata"]["name"] == "postroom-config")
    settings = _settings_from({**configmap["data"], **_filled(k8s_secret_template()["stringData"])}, monkeypatch)
    assert settings.is_production and settings.auth_is_required(settings.api_host)
    assert settings.resolved_database_url.startswith("postgresql+asyncpg://")
    assert (settings.api_host, settings.smtp_bind, str(settings.storage_dir)) == ("0.0.0.0", "0.0.0.0", "/data")
    assert settings.redis_url and settings.public_url.startswith("https://")
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        _settings_from({**configmap["data"], **k8s_secret_template()["stringData"]}, monkeypatch)


# ---- commands -----------------------------------------------------------------------------
def cli_accepts(argv: list[str]) -> bool:
    """Whether ``postroom`` parses ``argv`` (an unknown command or option fails) without running it."""
    assert argv[0] == "postroom", argv
    result = CliRunner().invoke(cli.app, [*argv[1:], "--help"])
    assert result.exit_code in (0, 2), result.output
    return result.exit_code == 0


def test_the_cli_check_rejects_commands_and_options_postroom_lacks() -> None:
    assert cli_accepts(["postroom", "api", "--host", "0.0.0.0"])
    assert not cli_accepts(["postroom", "scheduler"])
    assert not cli_accepts(["postroom", "worker", "--concurrency", "4"])


def test_every_command_the_deployments_run_exists() -> None:
    compose_commands = [service["command"] for service in postroom_services().values()]
    k8s_commands = [c["command"] + c.get("args", []) for spec in pod_specs().values() for c in spec["containers"]]
    image_command = json.loads(next(i.args for i in dockerfile() if i.keyword == "CMD"))
    for argv in [*compose_commands, *k8s_commands, image_command]:
        assert cli_accepts(argv), argv
    assert sorted(argv[1] for argv in compose_commands) == ["api", "migrate", "smtp", "worker"]
    assert sorted(argv[1] for argv in k8s_commands) == ["api", "migrate", "smtp", "worker"]
    assert image_command == ["postroom", "serve"]


# ---- HTTP routes, probes and ports --------------------------------------------------------
def route_paths() -> dict[str, bool]:
    """Path -> whether it is a WebSocket route, for every route the HTTP app serves."""
    return {route.path: isinstance(route, WebSocketRoute) for router in ROUTERS for route in router.routes}


def test_health_ready_and_metrics_answer_without_credentials(running: Running) -> None:
    assert running.responses["/health"].json()["status"] == "healthy"
    assert running.responses["/ready"].json()["status"] == "ready"
    assert running.responses["/metrics"].status_code == 200
    assert "email_queue_size" in running.responses["/metrics"].text


def test_probes_and_healthchecks_call_paths_that_answer_200(running: Running) -> None:
    ok = {path for path, response in running.responses.items() if response.status_code == 200}
    probes = [
        probe["httpGet"]["path"]
        for spec in pod_specs().values()
        for container in spec["containers"]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe")
        if "httpGet" in (probe := container.get(kind, {}))
    ]
    assert set(probes) == {"/health", "/ready"}
    healthchecks = [json.loads(i.args.split("CMD", 1)[1]) for i in dockerfile() if i.keyword == "HEALTHCHECK"]
    healthchecks += [s["healthcheck"]["test"] for s in postroom_services().values() if "test" in s["healthcheck"]]
    urls = [path for test in healthchecks for path in re.findall(r"http://127\.0\.0\.1:[^/]+(/\w+)", " ".join(test))]
    assert urls and set(urls) <= ok and set(probes) <= ok


def test_every_api_smtp_and_worker_container_serves_health_and_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    found = {
        f"compose {name}": served(argv, _settings_from(env, monkeypatch))
        for name, (argv, env) in compose_containers().items()
    }
    for name, (container, env) in k8s_containers().items():
        found[f"k8s {name}"] = served(
            container["command"] + container.get("args", []), _settings_from(env, monkeypatch)
        )
    processes = ["api", "smtp", "worker"]
    assert sorted(found) == [f"compose {p}" for p in processes] + [f"k8s postroom-{p}" for p in processes]
    assert [name for name, http in found.items() if http is None] == [], "no /health, /ready or /metrics"
    assert {name: http[0] for name, http in found.items() if http} == {
        name: "api" if name.endswith("api") else "ops" for name in found
    }
    assert len({http[1] for http in found.values() if http and http[0] == "ops"}) == 1, "one operations port"


def test_only_smtp_and_worker_are_given_an_operations_port() -> None:
    # serve and api ignore it: set anywhere shared, it would name a port nothing listens on.
    configmap = next(obj for obj in of_kind("ConfigMap") if obj["metadata"]["name"] == "postroom-config")
    shared = [env_file(ENV_EXAMPLE), configmap["data"], image_environment(), compose()["x-postroom-environment"]]
    assert [names for names in shared if "POSTROOM_OPS_PORT" in names] == []
    assert "POSTROOM_OPS_PORT" not in postroom_services()["api"]["environment"]
    assert "env" not in k8s_containers()["postroom-api"][0]


def test_k8s_probes_and_scrape_annotations_use_the_port_each_process_serves(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    templates = {d["metadata"]["name"]: d["spec"]["template"]["metadata"] for d in of_kind("Deployment")}
    for name, (container, env) in k8s_containers().items():
        http = served(container["command"] + container.get("args", []), _settings_from(env, monkeypatch))
        assert http, name
        app, port = http
        answers = running.apps[app]
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert port in named.values(), f"{name}: no containerPort {port}"
        for kind, path in (("startupProbe", "/health"), ("readinessProbe", "/ready"), ("livenessProbe", "/health")):
            probe = container[kind]["httpGet"]
            assert probe["path"] == path and answers[path].status_code == 200, (name, kind)
            assert named.get(probe["port"], probe["port"]) == port, (name, kind)
        annotations = templates[name]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert int(annotations["prometheus.io/port"]) == port, name
        metrics = answers[annotations["prometheus.io/path"]]
        assert metrics.status_code == 200 and "postroom_smtp_replies_total" in metrics.text, name


def test_prometheus_scrapes_each_kubernetes_pod_once_where_it_serves_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    job = scrape_jobs()["postroom-kubernetes"]
    assert [sd["role"] for sd in job["kubernetes_sd_configs"]] == ["pod"]

    def meta(prefix: str, values: dict[str, str]) -> dict[str, str]:
        return {prefix + re.sub(r"\W", "_", key): value for key, value in values.items()}

    templates = {d["metadata"]["name"]: d["spec"]["template"]["metadata"] for d in of_kind("Deployment")}
    scraped = set()
    for name, (container, env) in k8s_containers().items():
        http = served(container["command"] + container.get("args", []), _settings_from(env, monkeypatch))
        assert http, name
        template = templates[name]
        # Kubernetes discovery yields one target per container port, addressed at that port.
        for port in container["ports"]:
            discovered = {
                "__address__": f"10.0.0.7:{port['containerPort']}",
                "__metrics_path__": job.get("metrics_path", "/metrics"),
                "__meta_kubernetes_namespace": "mail",
                "__meta_kubernetes_pod_name": f"{name}-0",
                "__meta_kubernetes_pod_ip": "10.0.0.7",
                "__meta_kubernetes_pod_container_port_name": port["name"],
                **meta("__meta_kubernetes_pod_label_", template["labels"]),
                **meta("__meta_kubernetes_pod_annotation_", template.get("annotations", {})),
            }
            target = relabel(discovered, job["relabel_configs"])
            assert target, f"{name}: not scraped"
            assert (target["__address__"], target["__metrics_path__"]) == (f"10.0.0.7:{http[1]}", "/metrics"), name
            scraped.add((target["__address__"], target["pod"], target["component"]))
    assert sorted(component for _, _, component in scraped) == ["api", "smtp", "worker"], "one target a pod"
    other = {"__address__": "10.0.0.9:5432", "__meta_kubernetes_pod_label_app_kubernetes_io_name": "postgres"}
    assert relabel(other, job["relabel_configs"]) is None


def test_prometheus_scrapes_every_compose_process_where_it_serves_metrics(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = scrape_jobs()["postroom"]
    targets = {name: sd["port"] for sd in job["dns_sd_configs"] for name in sd["names"]}
    expected = {}
    for name, (argv, env) in compose_containers().items():
        http = served(argv, _settings_from(env, monkeypatch))
        assert http, name
        expected[name] = http[1]
        assert running.apps[http[0]][job["metrics_path"]].status_code == 200, name
        discovered = {"__address__": f"172.18.0.5:{targets.get(name)}", "__meta_dns_name": name}
        assert relabel(discovered, job.get("relabel_configs", [])) == {**discovered, "component": name}
    assert targets == expected


def test_ports_agree_with_the_settings_and_with_each_other() -> None:
    defaults = Settings.model_fields
    api_port, smtp_port = defaults["api_port"].default, defaults["smtp_port"].default
    expose = next(i.args for i in dockerfile() if i.keyword == "EXPOSE").split()
    assert sorted(map(int, expose)) == sorted([api_port, smtp_port])
    configmap = next(obj for obj in of_kind("ConfigMap") if obj["metadata"]["name"] == "postroom-config")
    assert (int(configmap["data"]["API_PORT"]), int(configmap["data"]["SMTP_PORT"])) == (api_port, smtp_port)
    ports = {c["name"]: c.get("ports", []) for spec in pod_specs().values() for c in spec["containers"]}
    assert [p["containerPort"] for p in ports["api"]] == [api_port]
    ops_port = int(compose()["services"]["worker"]["environment"]["POSTROOM_OPS_PORT"])
    assert ops_port not in (api_port, smtp_port)
    assert [p["containerPort"] for p in ports["smtp"]] == [smtp_port, ops_port]
    assert [p["containerPort"] for p in ports["worker"]] == [ops_port]
    assert f"server api:{api_port};" in NGINX.read_text()
    assert compose()["services"]["api"]["expose"] == [str(api_port)]
    assert compose()["services"]["smtp"]["ports"][0].endswith(f":{smtp_port}")
    assert compose()["services"]["smtp"]["expose"] == compose()["services"]["worker"]["expose"] == [str(ops_port)]


def test_services_ingress_hpa_and_budgets_point_at_real_workloads() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    for deployment in deployments.values():
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= template_labels.items()

    def selected(selector: dict[str, str]) -> list[dict[str, Any]]:
        pods = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]
        return [d for d, labels in zip(deployments.values(), pods, strict=True) if selector.items() <= labels.items()]

    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    for service in services.values():
        (deployment,) = selected(service["spec"]["selector"])
        container_ports = {p["name"] for c in deployment["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports
    for budget in of_kind("PodDisruptionBudget"):
        assert len(selected(budget["spec"]["selector"]["matchLabels"])) == 1, budget["metadata"]["name"]
    (hpa,) = of_kind("HorizontalPodAutoscaler")
    target = deployments[hpa["spec"]["scaleTargetRef"]["name"]]
    assert target["metadata"]["name"] == "postroom-worker"
    (worker,) = target["spec"]["template"]["spec"]["containers"]
    assert worker["resources"]["requests"]["cpu"], "CPU utilisation needs a CPU request"
    (ingress,) = of_kind("Ingress")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            port_names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in port_names


def service_link_variables() -> dict[str, str]:
    """The variables Kubernetes puts into every pod for each Service, unless service links are off."""
    variables = {}
    for service in of_kind("Service"):
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        port = service["spec"]["ports"][0]["port"]
        variables[f"{prefix}_SERVICE_HOST"] = "10.0.0.1"
        variables[f"{prefix}_SERVICE_PORT"] = str(port)
        variables[f"{prefix}_PORT"] = f"tcp://10.0.0.1:{port}"
        variables[f"{prefix}_PORT_{port}_TCP"] = f"tcp://10.0.0.1:{port}"
    return variables


def test_service_links_are_off_where_they_would_read_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    links = service_link_variables()
    assert links.keys() & setting_names() == {"POSTROOM_SMTP_PORT", "POSTROOM_API_PORT"}
    configmap = next(obj for obj in of_kind("ConfigMap") if obj["metadata"]["name"] == "postroom-config")
    without_ports = {k: v for k, v in configmap["data"].items() if k not in ("API_PORT", "SMTP_PORT")}
    with pytest.raises(ValidationError, match=re.escape("tcp://10.0.0.1:1025")):
        _settings_from({**without_ports, **links, **_filled(k8s_secret_template()["stringData"])}, monkeypatch)
    for name, spec in pod_specs().items():
        assert spec["enableServiceLinks"] is False, name


def test_pods_use_the_config_secret_and_volume_that_exist() -> None:
    configmaps = {c["metadata"]["name"] for c in of_kind("ConfigMap")}
    claims = {c["metadata"]["name"] for c in of_kind("PersistentVolumeClaim")}
    secret = k8s_secret_template()["metadata"]["name"]
    for name, spec in pod_specs().items():
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            refs = container["envFrom"]
            assert {r["configMapRef"]["name"] for r in refs if "configMapRef" in r} <= configmaps, name
            assert {r["secretRef"]["name"] for r in refs if "secretRef" in r} == {secret}, name
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            assert "/data" in mounts, name
        if name != "postroom-migrate":
            assert spec["volumes"][0]["persistentVolumeClaim"]["claimName"] in claims, name
    (claim,) = of_kind("PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"], "api, smtp and worker pods share the blob segments"


# ---- healthchecks, run against a real operations port -------------------------------------
@pytest.fixture(scope="module")
def ops_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A ``postroom worker --ops-port`` process on SQLite, answering /health on the returned port."""
    data = tmp_path_factory.mktemp("worker")
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if k not in setting_names() and k != "POSTROOM_CONFIG"}
    command = [sys.executable, "-m", "postroom", "worker", "--ops-port", str(port), "--data", str(data)]
    command += ["--database-url", f"sqlite:///{data / 'postroom.db'}"]
    process = subprocess.Popen(
        command, env={**clean, "POSTROOM_ENV": "test"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while httpx_status(f"http://127.0.0.1:{port}/health") != 200:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "no /health on the operations port within 60 s"
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def httpx_status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None


def run_healthcheck(test: list[str], env: dict[str, str]) -> int:
    """Runs a Docker/compose healthcheck (``CMD python -c ...``) here, in a container's environment."""
    argv = test[1:] if test[0] == "CMD" else test
    assert argv[0] == "python", test
    clean = {k: v for k, v in os.environ.items() if k not in setting_names() and k != "POSTROOM_CONFIG"}
    return subprocess.run([sys.executable, *argv[1:]], env={**clean, **env}, capture_output=True, timeout=30).returncode


def test_compose_healthchecks_pass_only_on_the_port_their_process_serves(
    ops_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = str(free_port())
    for name, (_, env) in compose_containers().items():
        http = served(postroom_services()[name]["command"], _settings_from(env, monkeypatch))
        assert http, name
        variable = PORT_VARIABLES[http[0]]
        assert int(env[variable]) == http[1], name
        test = [interpolate(arg, env) for arg in postroom_services()[name]["healthcheck"]["test"]]
        # Every port setting points nowhere but the one this process serves on: the check must read that one.
        nowhere = {**env, **{port_variable: closed for port_variable in ("API_PORT", "SMTP_PORT", "POSTROOM_OPS_PORT")}}
        assert run_healthcheck(test, {**nowhere, variable: str(ops_port)}) == 0, name
        assert run_healthcheck(test, nowhere) != 0, name


def test_the_image_healthcheck_passes_on_the_api_port_or_the_operations_port(ops_port: int) -> None:
    (check,) = [json.loads(i.args.split("CMD", 1)[1]) for i in dockerfile() if i.keyword == "HEALTHCHECK"]
    closed = str(free_port())
    image = image_environment()
    assert run_healthcheck(check, {**image, "API_PORT": str(ops_port)}) == 0, "serve, api"
    assert run_healthcheck(check, {**image, "API_PORT": closed, "POSTROOM_OPS_PORT": str(ops_port)}) == 0, "smtp"
    assert run_healthcheck(check, {**image, "API_PORT": closed}) != 0, "a worker without an operations port"
    assert run_healthcheck(check, {**image, "API_PORT": closed, "POSTROOM_OPS_PORT": "0"}) != 0


# ---- nginx and the ingress ----------------------------------------------------------------
def test_nginx_streams_the_live_events_unbuffered(running: Running) -> None:
    locations = nginx_locations()
    routes = route_paths()
    websockets = {path for path, is_ws in routes.items() if is_ws}
    assert websockets, "the app has a WebSocket route"
    for path in websockets:
        block = locations[path]
        assert "proxy_set_header Upgrade $http_upgrade;" in block
        assert "proxy_set_header Connection $connection_upgrade;" in block
    sse = "/api/v1/events/stream"
    assert sse in routes and not routes[sse]
    for path in (sse, *websockets):
        block = locations[path]
        assert "proxy_buffering off;" in block, path
        assert nginx_seconds(re.search(r"proxy_read_timeout\s+(\w+);", block).group(1)) >= 3600, path  # type: ignore[union-attr]
    assert "proxy_http_version 1.1;" in NGINX.read_text()


def test_body_size_limits_match_the_largest_accepted_message() -> None:
    limit = Settings.model_fields["smtp_max_message_bytes"].default
    nginx = re.search(r"client_max_body_size\s+(\w+);", NGINX.read_text())
    assert nginx and size_bytes(nginx.group(1)) == limit
    (ingress,) = of_kind("Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert size_bytes(annotations["nginx.ingress.kubernetes.io/proxy-body-size"]) == limit
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600


def test_nginx_serves_tls_and_keeps_metrics_private() -> None:
    text = NGINX.read_text()
    assert re.search(r"listen 443 ssl;", text) and "ssl_certificate_key" in text
    assert "return 404;" in nginx_locations()["/metrics"]
    assert "return 301 https://$host$request_uri;" in text


# ---- the image ----------------------------------------------------------------------------
def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (a pattern on a folder covers its files)."""
    parts = Path(path).parts
    ignored = False
    for line in (REPO / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            pattern = pattern[3:]
            candidates = ["/".join(parts[j : i + 1]) for i in range(len(parts)) for j in range(i + 1)]
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            ignored = not negate
    return ignored


def test_dockerfile_copies_paths_that_exist_and_reach_the_build() -> None:
    copies = [i for i in dockerfile() if i.keyword == "COPY" and "--from=" not in i.args]
    sources = [s for i in copies for s in i.args.split()[:-1] if not s.startswith("--")]
    assert {"web/package.json", "web/package-lock.json", "pyproject.toml", "README.md", "src/"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source
        assert not dockerignored(source.rstrip("/")), f"{source} is excluded by .dockerignore"
    for heavy in (".venv", "web/node_modules", "postroom-data", ".git"):
        assert dockerignored(heavy), heavy
    readme = re.search(r'^readme\s*=\s*"([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert readme and readme.group(1) in sources, "pip needs the readme pyproject.toml names"


def test_the_web_ui_is_built_as_the_scripts_build_it_and_lands_in_the_package() -> None:
    steps = [i for i in dockerfile() if i.stage == 0]
    runs = " ".join(i.args for i in steps if i.keyword == "RUN")
    assert "npm ci" in runs and "npm run build" in runs
    assert "npm ci" in (script := (REPO / "scripts" / "web.sh").read_text()) and "npm run build" in script
    assert "build" in json.loads((REPO / "web" / "package.json").read_text())["scripts"]
    out_dir = re.search(r'outDir:\s*"([^"]+)"', (REPO / "web" / "vite.config.ts").read_text())
    workdir = next(i.args for i in steps if i.keyword == "WORKDIR")
    built = os.path.normpath(f"{workdir}/{out_dir.group(1)}") if out_dir else ""
    copy = next(i for i in dockerfile() if i.keyword == "COPY" and "--from=web" in i.args)
    assert copy.args.split()[1].rstrip("/") == built
    assert copy.args.split()[2].rstrip("/").endswith("src/postroom/web_dist")
    assert "web_dist/*" in (REPO / "pyproject.toml").read_text()


def test_the_image_runs_as_a_user_with_a_data_volume() -> None:
    final = [i for i in dockerfile() if i.stage == max(i.stage for i in dockerfile())]
    user = next(i.args for i in final if i.keyword == "USER")
    assert user.split(":")[0] not in ("0", "root")
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(i.args for i in final if i.keyword == "ENV")))
    assert json.loads(next(i.args for i in final if i.keyword == "VOLUME")) == [env["STORAGE_DIR"]]
    assert env["POSTROOM_CONFIG"].startswith(env["STORAGE_DIR"] + "/")
    assert env["API_HOST"] == env["SMTP_BIND"] == "0.0.0.0"
    assert json.loads(next(i.args for i in final if i.keyword == "ENTRYPOINT")) == ["postroom-entrypoint"]


# ---- the entrypoint -----------------------------------------------------------------------
def entrypoint(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in setting_names() and k != "POSTROOM_CONFIG"}
    clean["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}"
    command = ["sh", str(DEPLOY / "docker-entrypoint.sh"), "sh", "-c", "echo ran:$JWT_SECRET"]
    return subprocess.run(command, env={**clean, **env}, capture_output=True, text=True, check=True, cwd=tmp_path)


def test_the_entrypoint_gives_a_new_container_a_lasting_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "data" / "postroom.env"
    first = entrypoint(tmp_path, POSTROOM_CONFIG=str(config))
    assert first.stdout.strip() == "ran:", "the secret is read from the file, not exported"
    assert config.stat().st_mode & 0o777 == 0o600
    secret = env_file(config)["JWT_SECRET"]
    assert len(secret) >= 32
    entrypoint(tmp_path, POSTROOM_CONFIG=str(config))
    assert env_file(config)["JWT_SECRET"] == secret
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("POSTROOM_JWT_SECRET", raising=False)
    assert Settings(_env_file=config).jwt_secret == secret  # type: ignore[call-arg]


@pytest.mark.parametrize("env", [{"POSTROOM_ENV": "production"}, {"JWT_SECRET": "given"}, {"APP_ENV": "prod"}])
def test_the_entrypoint_never_invents_a_secret_for_production_or_over_a_given_one(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = tmp_path / "postroom.env"
    assert entrypoint(tmp_path, POSTROOM_CONFIG=str(config), **env).stdout.startswith("ran:")
    assert not config.exists()


# ---- documentation ------------------------------------------------------------------------
def test_the_deployment_guide_covers_every_file_and_is_linked() -> None:
    guide = (REPO / "docs" / "deployment.md").read_text()
    local = [line for line in (DEPLOY / ".gitignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ".env" in local and "nginx/certs/" in local, "copies holding secrets stay out of git"

    def kept(path: Path) -> bool:
        relative = path.relative_to(DEPLOY).as_posix()
        return not any(relative == p or (p.endswith("/") and relative.startswith(p)) for p in local)

    files = [p.relative_to(REPO).as_posix() for p in DEPLOY.rglob("*") if p.is_file() and kept(p)]
    assert [f for f in files if f not in guide] == []
    assert "docs/deployment.md" in (REPO / "README.md").read_text()
