"""What an operator watches: a request log line per request and Prometheus metrics.

Every request gets an id (``X-Request-ID``: the caller's, when it is a plain token of
up to 64 characters, else a new one), returned in the response and put on every log
line written while it runs, with the caller's role once the token is read. The line
names the route template, never the path: paths hold case ids and query strings.

``GET /metrics`` (an admin's token, as Prometheus sends it with ``authorization``):
request latency by route, commands by outcome, import progress, and, read when
scraped, the lag of every read model, the feed's position and lag, and the events set
aside.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.application import read_models
from services.bootstrap import RequestScope, current_request

if TYPE_CHECKING:
    from services.api.context import ApiContext

log = logging.getLogger("ledger.request")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# the routes that record events, and what their answers mean
COMMAND_ROUTES = {"/cases", "/cases/{case_id}/events", "/events:import", "/ui/report",
                  "/ui/cases/{case_id}/record"}  # fmt: skip
OUTCOMES = {200: "replayed", 201: "stored", 409: "conflict", 412: "stale", 422: "refused"}
PAGE_OUTCOMES = {303: "stored", 409: "stale", 422: "refused", 401: "rejected", 403: "rejected"}


def outcome_of(route: str, status: int) -> str:
    if route == "/events:import" and status == 200:  # an import answers 200 when stored
        return "stored"
    if route.startswith("/ui/"):  # a form answers with a redirect when stored
        return PAGE_OUTCOMES.get(status, "error" if status >= 500 else "rejected")
    return OUTCOMES.get(status, "error" if status >= 500 else "rejected")


class Metrics:
    """The metrics of one server, in a registry of its own."""

    def __init__(self, ctx: ApiContext) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "ledger_http_request_duration_seconds", "Time to answer a request, by route",
            ["method", "route", "status"], registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.commands = Counter(
            "ledger_commands", "Commands answered, by route and outcome",
            ["route", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.import_lines = Gauge(
            "ledger_import_progress_lines", "Lines of the running import, by stage",
            ["stage"], registry=self.registry,
        )  # fmt: skip
        self.import_total = Gauge(
            "ledger_import_total_lines", "Lines in the running import (0: none running)",
            registry=self.registry,
        )  # fmt: skip
        self.registry.register(StoreCollector(ctx))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).observe(seconds)
        if method == "POST" and route in COMMAND_ROUTES:
            self.commands.labels(route, outcome_of(route, status)).inc()

    def import_progress(self, stage: str, done: int, total: int) -> None:
        self.import_lines.labels(stage).set(done)
        self.import_total.set(total)


class StoreCollector(Collector):
    """Lag and positions, read from the store when Prometheus scrapes."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        runner = self.ctx.runner
        head = runner.head()
        yield GaugeMetricFamily("ledger_log_head", "Last notification id of the log", head)
        lag = GaugeMetricFamily("ledger_projection_lag", "Notifications a read model is behind",
                                labels=["read_model"])  # fmt: skip
        for name, behind in read_models.behind(self.ctx.store, runner, head).items():
            lag.add_metric([name], behind)
        yield lag
        held = GaugeMetricFamily("ledger_set_aside_events", "Events a read model set aside",
                                 labels=["read_model"])  # fmt: skip
        for name, rows in runner.set_aside().items():
            held.add_metric([name], len(rows))
        yield held
        yield from self._group_commit()
        yield from self._feed(head)

    def _group_commit(self) -> Iterator[Any]:
        group = getattr(self.ctx.ledger.recorder, "group", None)  # None: turned off
        if group is None:
            return
        yield CounterMetricFamily("ledger_group_commits", "Transactions shared by several "
                                  "commands' appends", group.groups)  # fmt: skip
        yield CounterMetricFamily("ledger_group_committed_appends", "Appends written in a "
                                  "shared transaction", group.grouped)  # fmt: skip

    def _feed(self, head: int) -> Iterator[Any]:
        position = GaugeMetricFamily("ledger_feed_position", "Last notification id published",
                                     labels=["topic"])  # fmt: skip
        lag = GaugeMetricFamily("ledger_feed_lag", "Notifications not yet published",
                                labels=["topic"])  # fmt: skip
        for topic, at in self.ctx.runtime.feed_positions().items():
            position.add_metric([topic], at)
            lag.add_metric([topic], head - at)
        yield position
        yield lag


class RequestLog:
    """ASGI middleware: the request id, the log line and the latency of every request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request = RequestScope(given if REQUEST_ID.match(given) else uuid4().hex)
        token = current_request.set(request)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request.request_id.encode())]  # fmt: skip
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, seconds)
            fields = {"method": scope["method"], "route": route, "status": status,
                      "ms": round(seconds * 1000, 2)}  # fmt: skip
            log.info("request", extra=fields)
            current_request.reset(token)
