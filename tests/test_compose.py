"""docker-compose.yml deploys without losing or leaking keys (issue 22). Docker does not
run on these machines, so the file is parsed and each property checked; the checks
are shown to fail on a file that lacks the property."""

from __future__ import annotations

import copy
import fnmatch
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN)$")
# files that must never reach an image, and a pattern of .dockerignore that keeps each out
NEVER_IN_IMAGE = (".ledger-master.key", ".ledger-jwt.key", ".ledger-signing.key",
                  ".ledger-pseudonym.key", ".ledger-master.key.tmp", "ledger.db",
                  "ledger.db-wal", "ledger.db-journal", ".ledger-witness.jsonl", "secrets/x",
                  ".venv/bin/python")  # fmt: skip
ONE_SHOT = {"keys"}  # runs once before the others: nothing to check the health of


def load() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def ignored_patterns() -> list[str]:
    text = (ROOT / ".dockerignore").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern.removeprefix("**/"))
               for pattern in patterns for prefix in prefixes)  # fmt: skip


def _volume_of(path: str, service: dict[str, Any]) -> str | None:
    for mount in service.get("volumes", []):
        source, _, target = str(mount).partition(":")
        if path.startswith(target.split(":")[0].rstrip("/") + "/"):
            return source
    return None


def problems(compose: dict[str, Any], patterns: list[str]) -> list[str]:
    found = []
    services, volumes = compose["services"], compose.get("volumes") or {}
    for name, service in services.items():
        if name not in ONE_SHOT and not service.get("healthcheck", {}).get("test"):
            found.append(f"{name}: no healthcheck")
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                found.append(f"{name}: {key} is a key passed as a plain environment value")
            if key.endswith("_KEY_FILE") and _volume_of(str(value), service) not in volumes:
                found.append(f"{name}: {key}={value} is not on a named volume")
    for name, data_dir in (("postgres", "/var/lib/postgresql/data"), ("kafka", None)):
        service = services.get(name, {})
        wanted = data_dir or service.get("environment", {}).get("KAFKA_LOG_DIRS", "/missing")
        if _volume_of(wanted + "/x", service) not in volumes:
            found.append(f"{name}: {wanted} is not on a named volume")
    found += _kafka_problems(services.get("kafka", {}))
    postgres = services.get("postgres", {}).get("environment", {})
    if postgres.get("POSTGRES_HOST_AUTH_METHOD", "trust") == "trust":
        found.append("postgres: trust authentication lets anyone on the network in")
    if "POSTGRES_PASSWORD_FILE" not in postgres:
        found.append("postgres: no password file")
    found += [f".dockerignore lets {path} into the image"
              for path in NEVER_IN_IMAGE if not _ignored(path, patterns)]  # fmt: skip
    return found


def _kafka_problems(kafka: dict[str, Any]) -> list[str]:
    env = kafka.get("environment", {})
    advertised = str(env.get("KAFKA_ADVERTISED_LISTENERS", ""))
    found = []
    if "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP" not in env:
        found.append("kafka: no listener security protocol map")
    if "127.0.0.1:" not in advertised and "localhost:" not in advertised:
        found.append("kafka: no listener that consumers on the host can resolve")
    if "kafka:9092" not in advertised:
        found.append("kafka: no listener for the compose network")
    return found


def test_the_compose_file_has_every_property() -> None:
    assert problems(load(), ignored_patterns()) == []


def test_every_ledger_service_shares_the_key_volume_and_the_keys_come_first() -> None:
    services = load()["services"]
    ledger = [n for n, s in services.items() if s.get("image", "").startswith("reintegration")]
    assert set(ledger) == {"keys", "api", "feed", "worker", "scheduler"}
    for name in ledger:
        assert _volume_of("/run/ledger-keys/master.key", services[name]) == "ledger-keys", name
        if name != "keys":
            assert services[name]["depends_on"]["keys"] == {
                "condition": "service_completed_successfully"}, name  # fmt: skip
    assert services["keys"]["command"] == ["keys", "init"]
    assert services["scheduler"]["command"][0] == "schedule"
    assert "/ready" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("feed", "worker", "scheduler"):
        assert "--heartbeat" in services[name]["healthcheck"]["test"], name


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda c, _: c["services"]["feed"].pop("healthcheck"), "feed: no healthcheck"),
        (lambda c, _: c["services"]["api"]["environment"].update(LEDGER_JWT_KEY="s3cret"),
         "api: LEDGER_JWT_KEY is a key passed as a plain environment value"),
        (lambda c, _: c["services"]["postgres"].update(volumes=[]),
         "postgres: /var/lib/postgresql/data is not on a named volume"),
        (lambda c, _: c["services"]["kafka"].pop("volumes"),
         "kafka: /var/lib/kafka/data is not on a named volume"),
        (lambda c, _: c["services"]["api"].update(volumes=[]),
         "api: LEDGER_MASTER_KEY_FILE=/run/ledger-keys/master.key is not on a named volume"),
        (lambda c, _: c["services"]["kafka"]["environment"].update(
            KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://kafka:9092"),
         "kafka: no listener that consumers on the host can resolve"),
        (lambda _, p: p.remove(".ledger-*.key"), ".dockerignore lets .ledger-master.key in"),
        (lambda _, p: p.remove("*.db"), ".dockerignore lets ledger.db into the image"),
    ],
)
def test_the_checks_find_what_is_missing(break_it: Any, expected: str) -> None:
    # without the broad *.key, which would hide the removal of the narrow pattern
    compose, patterns = copy.deepcopy(load()), [p for p in ignored_patterns() if p != "*.key"]
    break_it(compose, patterns)
    assert any(p.startswith(expected) for p in problems(compose, patterns)), problems(
        compose, patterns
    )


def test_the_image_copies_no_key_or_database() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.findall(r"^COPY\s+(.+?)\s+\S+$", dockerfile, flags=re.M)
    assert copied, "the Dockerfile copies nothing?"
    assert all(" . " not in f" {c} " for c in copied), "COPY . . would take local state along"


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no docker compose plugin on this machine (the parsed checks above still ran)",
)
def test_docker_compose_config_accepts_it() -> None:
    subprocess.run(["docker", "compose", "config", "--quiet"], cwd=ROOT, check=True)
