"""What an operator reads: Prometheus metrics after real requests, and a served ledger's
log, one JSON object per line, with a request id and no token or employee id."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from infra.kafka import KafkaSettings
from services.application.importer import import_lines, numbered
from services.application.ledger import Ledger
from services.tools.simulate import simulate
from tests.api_support import ADMIN, api, auth, event, report
from tests.processes import Process, Server, environment, token
from tests.tansu import Broker


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _samples(family: Any, name: str, **labels: str) -> list[float]:
    return [s.value for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]  # fmt: skip


def test_metrics_after_a_few_requests(tmp_path: Path, broker: Broker) -> None:
    with api(f"sqlite:///{tmp_path / 'ledger.db'}") as client:
        case_id = report(client).json()["case_id"]
        refused = event(client, case_id, "ProblemAnalysisCompleted", "2026-08-01")  # before day 1
        assert refused.status_code == 422
        assert client.get(f"/cases/{case_id}", headers=ADMIN).status_code == 200
        ndjson = {**ADMIN, "Content-Type": "application/x-ndjson"}
        bad = client.post("/events:import", content='{"not": "a line"}\n', headers=ndjson)
        assert bad.status_code == 422
        lines = [json.dumps(line) for line in simulate(2, seed=4)]
        good = client.post("/events:import", content="\n".join(lines), headers=ndjson)
        assert good.status_code == 200, good.text
        assert client.get("/metrics", headers=auth("case_manager")).status_code == 403
        scraped = client.get("/metrics", headers=ADMIN)
        ctx = client.app.state.ctx  # type: ignore[attr-defined]
        ctx.catch_up()  # the follower's step
        feed = ctx.runtime.feed(KafkaSettings(bootstrap=broker.bootstrap, topic="obs-cases"))
        feed.publish()
        feed.close()
        caught_up = _families(client.get("/metrics", headers=ADMIN).text)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    found = _families(scraped.text)

    latency = found["ledger_http_request_duration_seconds"]
    assert latency.type == "histogram"
    created = _samples(latency, "ledger_http_request_duration_seconds_count",
                       route="/cases", method="POST", status="201")  # fmt: skip
    assert created == [1.0]
    total = _samples(latency, "ledger_http_request_duration_seconds_sum",
                     route="/cases/{case_id}", method="GET")  # fmt: skip
    assert len(total) == 1  # the route template, not the path
    assert 0 < total[0] < 30
    assert case_id not in scraped.text

    commands = found["ledger_commands"]
    assert _samples(commands, "ledger_commands_total", route="/cases", outcome="stored") == [1.0]
    assert _samples(commands, "ledger_commands_total", route="/cases/{case_id}/events",
                    outcome="refused") == [1.0]  # fmt: skip
    for outcome in ("refused", "stored"):
        assert _samples(commands, "ledger_commands_total", route="/events:import",
                        outcome=outcome) == [1.0]

    lag = {s.labels["read_model"]: s.value for s in found["ledger_projection_lag"].samples}
    assert {"case_state", "deadlines", "statistics"} <= set(lag)
    assert set(lag.values()) == {1.0 + len(lines)}  # the follower is off in this test
    after = {s.labels["read_model"]: s.value for s in caught_up["ledger_projection_lag"].samples}
    assert set(after.values()) == {0.0}
    assert _samples(found["ledger_log_head"], "ledger_log_head") == [1.0 + len(lines)]
    assert {s.value for s in found["ledger_set_aside_events"].samples} == {0.0}
    assert _samples(found["ledger_import_progress_lines"], "ledger_import_progress_lines",
                    stage="done") == [len(lines)]  # fmt: skip
    topic = {"topic": "obs-cases"}
    published = _samples(caught_up["ledger_feed_position"], "ledger_feed_position", **topic)
    assert published == [1.0 + len(lines)]
    assert _samples(caught_up["ledger_feed_lag"], "ledger_feed_lag", **topic) == [0.0]


def test_a_served_request_logs_json_with_its_id_and_no_secret(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'ledger.db'}")
    log = tmp_path / "serve.log"
    server = Server(env, log).start()
    secret = token(env, "case_manager")
    try:
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=server.base, timeout=10) as client:
            made = client.post("/cases", headers={**headers, "X-Request-ID": "trace-42"}, json={
                "employee_id": "EMP-SECRET-77", "employer_id": "ER1",
                "first_sick_day": "2026-11-02"})  # fmt: skip
            assert made.status_code == 201, made.text
            assert made.headers["x-request-id"] == "trace-42"
            client.get(f"/cases/{made.json()['case_id']}?employee=EMP-SECRET-77", headers=headers)
            client.get("/cases/not-a-uuid", headers={"Authorization": "Bearer forged.token.x"})
            assert len(client.get("/health").headers["x-request-id"]) == 32
    finally:
        server.stop()
    lines = [text for text in log.read_text().splitlines() if text.strip()]
    # stdout (the sign-in link) shares the file: everything else is the log
    logged = [json.loads(text) for text in lines if text.startswith("{")]
    assert len(logged) == len([t for t in lines if not t.startswith(("ledger:", "  "))])
    requests = [line for line in logged if line["message"] == "request"]
    assert len(requests) >= 4
    for line in requests:
        assert {"time", "level", "logger", "request_id", "method", "route", "status",
                "ms"} <= set(line)  # fmt: skip
    first = next(r for r in requests if r["request_id"] == "trace-42")
    assert (first["route"], first["status"], first["role"]) == ("/cases", 201, "case_manager")
    everything = log.read_text()
    for secret_text in (secret, "EMP-SECRET-77", "forged.token.x"):
        assert secret_text not in everything


def test_the_feed_logs_json_and_no_kafka_chatter(tmp_path: Path, broker: Broker) -> None:
    """The feed used to write about 2,400 kafka-python INFO lines in 80 s."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = environment(url, LEDGER_KAFKA_BOOTSTRAP=broker.bootstrap,
                      LEDGER_FEED_TOPIC="quiet-cases", LEDGER_PSEUDONYM_KEY="k" * 32)  # fmt: skip
    with Ledger(url) as ledger:
        import_lines(ledger, numbered([json.dumps(line) for line in simulate(5, seed=6)]))
    log = tmp_path / "feed.log"
    feed = Process(["feed", "--follow"], env, log).start()
    try:
        time.sleep(6)  # connect, publish, a few idle polls
    finally:
        feed.stop()
    logged = [json.loads(t) for t in log.read_text().splitlines() if t.startswith("{")]
    assert not [line for line in logged if line["logger"].startswith("kafka")
                and line["level"] == "INFO"]  # fmt: skip
    others = [t for t in log.read_text().splitlines() if t.strip() and not t.startswith("{")]
    assert others == [f"feeding quiet-cases at {broker.bootstrap}; Ctrl-C stops"]
