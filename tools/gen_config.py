"""Generate docs/configuration.md and each service's .env.example from the settings classes.

    uv run python tools/gen_config.py           # rewrite the files
    uv run python tools/gen_config.py --check   # exit 1 if a file is out of date (CI)

The settings classes are the single source of truth: names, meanings, defaults, examples and
required-ness all come from them. Every field must be placed in one group below, so a new
variable cannot be added without being documented.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from ori_backend.settings import BackendSettings
from ori_dialler.settings import DiallerSettings
from ori_operator.settings import OperatorSettings
from ori_worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Service:
    """One service whose environment is documented."""

    title: str
    folder: str
    settings: type[BaseSettings]
    intro: str
    groups: tuple[tuple[str, tuple[str, ...]], ...]


OTEL = (
    "otel_enabled",
    "otel_protocol",
    "otel_endpoint",
    "otel_service_name",
    "otel_api_key",
    "otel_headers",
)
SERVICES = (
    Service(
        "Backend",
        "images/backend",
        BackendSettings,
        "The control-plane API, on port 8080. Needs MongoDB and Redis reachable.",
        (
            ("Data", ("mongodb_uri", "mongodb_db", "redis_url", "qdrant_url", "qdrant_path")),
            ("Operator sessions", ("jwt_secret", "jwt_algorithm", "jwt_expire_minutes")),
            ("Fleet", ("voxcore_wss_base_url", "voxcore_secret", "fleet_urls", "fleet_pool")),
            (
                "Inbound carrier webhooks",
                ("twilio_auth_token", "livekit_api_key", "livekit_api_secret", "public_url"),
            ),
            ("Accounts and uploads", ("signup_enabled", "login_max_failures", "max_upload_mb")),
            (
                "Object storage (recording links)",
                (
                    "minio_endpoint",
                    "minio_access_key",
                    "minio_secret_key",
                    "minio_secure",
                    "minio_region",
                ),
            ),
            (
                "Knowledge-base embeddings",
                (
                    "embedding_provider",
                    "embedding_model",
                    "embedding_base_url",
                    "openai_api_key",
                    "voyage_api_key",
                ),
            ),
            ("Logging", ("log_level",)),
            ("Tracing (OpenTelemetry)", OTEL),
        ),
    ),
    Service(
        "Worker (voice fleet)",
        "images/worker",
        WorkerSettings,
        "One live call per worker process. Fetches each call's runtime config from the backend, "
        "uploads the recording to S3-compatible storage, and hands back one call result.",
        (
            ("Backend and dialler", ("voxbridge_config_url", "voxcore_secret")),
            (
                "Provider keys",
                (
                    "soniox_api_key",
                    "deepgram_api_key",
                    "openai_api_key",
                    "google_api_key",
                    "elevenlabs_api_key",
                    "sarvam_api_key",
                    "cartesia_api_key",
                ),
            ),
            (
                "Object storage (recordings)",
                (
                    "minio_endpoint",
                    "minio_access_key",
                    "minio_secret_key",
                    "minio_bucket",
                    "minio_secure",
                ),
            ),
            (
                "Call slots, audio, logging",
                ("max_concurrent_calls", "audio_sample_rate", "log_level"),
            ),
            (
                "Calls and results",
                (
                    "voxbridge_results_url",
                    "config_timeout_s",
                    "outbox_dir",
                    "outbox_flush_timeout_s",
                    "recordings_dir",
                    "tool_secrets_dir",
                    "require_call_token",
                    "static_runtime_config",
                ),
            ),
            (
                "Registration (Redis allocation)",
                ("redis_url", "worker_id", "fleetpool", "worker_address"),
            ),
            (
                "LiveKit (SIP and widget calls)",
                ("livekit_url", "livekit_api_key", "livekit_api_secret", "livekit_trunk_id"),
            ),
            (
                "Twilio (transfers and hang-ups of Twilio calls)",
                ("twilio_account_sid", "twilio_auth_token", "twilio_api_base_url"),
            ),
            ("Tracing (OpenTelemetry)", OTEL),
        ),
    ),
    Service(
        "Dialler",
        "images/dialler",
        DiallerSettings,
        "The campaign dialler: an asyncio loop with a small health server. Shares MongoDB with "
        "the backend and attaches answered calls to the fleet.",
        (
            (
                "Data, fleet and secret",
                ("mongodb_uri", "mongodb_db", "fleet_urls", "voxcore_secret"),
            ),
            (
                "LiveKit SIP",
                ("livekit_url", "livekit_api_key", "livekit_api_secret", "livekit_trunk_id"),
            ),
            (
                "Loop, health, staleness, metrics",
                (
                    "loop_interval_seconds",
                    "log_level",
                    "health_host",
                    "health_port",
                    "health_stale_seconds",
                    "stale_in_progress_timeout_minutes",
                    "metrics_persist_interval_seconds",
                ),
            ),
            (
                "Circuit breaker",
                (
                    "circuit_failure_threshold",
                    "circuit_cooldown_seconds",
                    "circuit_success_threshold",
                ),
            ),
        ),
    ),
    Service(
        "Operator",
        "operator",
        OperatorSettings,
        "The Kubernetes operator (kopf): reconciles Bot, Campaign and FleetPool resources. Runs "
        "in the cluster (ServiceAccount) or beside it (`KUBECONFIG`); see docs/kubernetes.md.",
        (
            (
                "Watching and peering",
                (
                    "watch_namespaces",
                    "operator_peering",
                    "operator_priority",
                    "operator_peering_lifetime_s",
                ),
            ),
            ("Fleet", ("redis_url", "reconcile_interval_s")),
            ("Backend sync", ("backend_url", "backend_token", "backend_resync_interval_s")),
            ("Metrics, health, logging", ("metrics_port", "health_port", "bind_host", "log_level")),
        ),
    ),
)

HEADER = """# Configuration

<!-- Generated by `make generate` (tools/gen_config.py) from the settings classes. Do not edit. -->

Each Python service reads its settings once at start-up, from the process environment and then
from a `.env` file in its working directory (the environment wins). Every service ships a
`.env.example` beside its code: copy it to `.env` and fill it in. A service started without a
required variable, or with a malformed one, exits at once with status 78 and names each
offending variable.

The variables that wire the services together:

| Variable | Set in | Points at | What breaks if wrong |
|---|---|---|---|
| `VOXBRIDGE_CONFIG_URL` | worker | the backend's `/api/v1/config` | workers cannot fetch runtime config; every call fails to start |
| `FLEET_URLS` | dialler | the fleet's base URLs (JSON array) | the dialler cannot attach answered calls |
| `VOXCORE_SECRET` | dialler, worker (and optionally backend) | the same secret everywhere | the fleet rejects the dialler's `/attach` |
| `MONGODB_DB` | backend, dialler | the same database | the dialler paces against an empty or foreign campaign set |
| `MAX_CONCURRENT_CALLS` | worker | 1 per worker in production | a worker takes a second call it cannot serve |

"Required" is **yes** when the service refuses to start without the variable, or names the
condition under which it is needed. Secrets are marked; never commit a real `.env`.
"""


def env_name(field: str) -> str:
    """The environment variable for a settings field."""
    return field.upper()


def is_secret(info: FieldInfo) -> bool:
    """Whether the field holds a secret (a ``SecretStr``, possibly optional)."""
    return "SecretStr" in repr(info.annotation)


def required_text(info: FieldInfo) -> str:
    """'yes', 'no', or the condition under which the variable is needed."""
    if info.is_required():
        return "yes"
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    condition = extra.get("required_when")
    return f"if {condition}" if condition else "no"


def default_text(info: FieldInfo) -> str:
    """The default as it would be written in a .env file ('' when there is none)."""
    if info.is_required() or info.default is None:
        return ""
    value: Any = info.default
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def example_text(info: FieldInfo) -> str:
    """The first example value, or the default."""
    if info.examples:
        return str(info.examples[0])
    return default_text(info)


def ordered_fields(service: Service) -> list[tuple[str, list[str]]]:
    """The service's groups, checked to cover every settings field exactly once."""
    fields = set(service.settings.model_fields)
    placed = [name for _, names in service.groups for name in names]
    problems = []
    if missing := fields - set(placed):
        problems.append(f"not placed in a group: {sorted(missing)}")
    if unknown := set(placed) - fields:
        problems.append(f"not settings fields: {sorted(unknown)}")
    if len(placed) != len(set(placed)):
        problems.append("a field is placed twice")
    if problems:
        raise SystemExit(f"{service.title}: " + "; ".join(problems))
    return [(title, list(names)) for title, names in service.groups]


def markdown(service: Service) -> str:
    """The configuration.md section for one service."""
    count = len(service.settings.model_fields)
    lines = [
        f"## {service.title} (`{service.folder}`)",
        "",
        f"{service.intro} {count} variables.",
        "",
    ]
    for title, names in ordered_fields(service):
        lines += [
            f"### {title}",
            "",
            "| Variable | Meaning | Default | Example | Required |",
            "|---|---|---|---|---|",
        ]
        for name in names:
            info = service.settings.model_fields[name]
            meaning = (info.description or "").replace("|", "\\|")
            if is_secret(info):
                meaning += " *(secret)*"
            default = default_text(info)
            example = example_text(info) if info.examples else ""
            lines.append(
                f"| `{env_name(name)}` | {meaning} | {f'`{default}`' if default else ''} | "
                f"{f'`{example}`' if example else ''} | {required_text(info)} |"
            )
        lines.append("")
    return "\n".join(lines)


def env_example(service: Service) -> str:
    """The .env.example for one service."""
    lines = [
        f"# {service.title}: copy to .env and fill in.",
        "# Generated by `make generate` from the settings class; see docs/configuration.md.",
        "",
    ]
    for title, names in ordered_fields(service):
        lines.append(f"# --- {title}")
        for name in names:
            info = service.settings.model_fields[name]
            note = (
                "required" if info.is_required() else required_text(info).replace("no", "optional")
            )
            lines.append(f"# {info.description} ({note})")
            value = "" if is_secret(info) and not info.is_required() else example_text(info)
            lines.append(f"{env_name(name)}={value}")
        lines.append("")
    return "\n".join(lines)


def outputs() -> dict[Path, str]:
    """Every generated file and its content."""
    docs = HEADER + "\n" + "\n".join(markdown(s) for s in SERVICES)
    files = {ROOT / "docs/configuration.md": docs.rstrip() + "\n" + CONSOLE_NOTE}
    for service in SERVICES:
        files[ROOT / service.folder / ".env.example"] = env_example(service)
    return files


CONSOLE_NOTE = """
## Console (build-time)

The console's `VITE_*` variables are read by Vite at build time and baked into the static
bundle, so they are public: never put a secret in one. They are documented with the console.
"""


def main() -> int:
    """Write the generated files, or with --check report which are stale."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    args = parser.parse_args()
    stale = []
    for path, content in outputs().items():
        current = path.read_text() if path.exists() else ""
        if current == content:
            continue
        if args.check:
            stale.append(path)
            diff = difflib.unified_diff(
                current.splitlines(), content.splitlines(), str(path), "generated", lineterm="", n=1
            )
            print("\n".join(list(diff)[:40]), file=sys.stderr)
        else:
            path.write_text(content)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
        print(f"out of date: {names}; run `make generate`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
