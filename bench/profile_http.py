"""Profile ``ledger serve`` while wrk appends events (``make profile``): py-spy samples the
server process, and the functions that hold most of its samples are printed, so that
what bounds the command path is named by a profile, not guessed.

Samples only the thread holding the GIL (``--gil``): on two cores, what holds the GIL is
what bounds the server. Writes ``bench/out/profile-http.txt`` (raw stacks) and prints
the top functions by the share of samples that pass through them.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import ROOT, drop, fresh_url
from bench.http_bench import KEY, _free_port, wrk_appends

PY_SPY = str(Path(sys.executable).parent / "py-spy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--follower", default="process", choices=["thread", "process"])
    args = parser.parse_args()
    workdir = ROOT / "bench" / "out"
    workdir.mkdir(parents=True, exist_ok=True)
    kind = "sqlite" if args.database_url == "sqlite" else "postgres"
    url = fresh_url(args.database_url.split("?")[0], kind, workdir)
    out = workdir / "profile-http.txt"
    port = _free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_JWT_KEY": KEY}
    spy = subprocess.Popen(
        [PY_SPY, "record", "--gil", "-f", "raw", "-r", "100", "-o", str(out), "--",
         sys.executable, "-m", "services.cli", "serve", "--port", str(port),
         "--follower", args.follower],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base)
        result = wrk_appends(base, 8, args.seconds, workdir)
        print(f"wrk: {result['rate']:,.0f} appends/s, p50 {result['p50']:.1f} ms, "
              f"p99 {result['p99']:.1f} ms ({kind}, follower {args.follower})")  # fmt: skip
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy stops the server and writes its samples
        spy.wait(timeout=60)
        drop(url)
    print(summary(out))


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError("ledger serve did not start under py-spy")


APPEND = "append_event recording.py"  # the command path of POST /cases/{id}/events


def summary(raw: Path, top: int = 35) -> str:
    """Of the samples in the append path (the cases opened first are left out), the
    functions most of them pass through, with their share."""
    through: Counter[str] = Counter()
    total = appends = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        frames = {frame.split(" (")[0] + _file(frame) for frame in stack.split(";")}
        if APPEND not in frames:
            continue
        appends += int(count)
        for frame in frames:
            through[frame] += int(count)
    rows = [f"{100 * n / appends:5.1f} %  {name}" for name, n in through.most_common(top)]
    return (f"{total:,} samples holding the GIL; {appends:,} in the append path, of which:\n"
            + "\n".join(rows))  # fmt: skip


def _file(frame: str) -> str:
    if "(" not in frame:
        return ""
    return " " + frame.split("(", 1)[1].split(":")[0].rsplit("/", 1)[-1]


if __name__ == "__main__":
    main()
