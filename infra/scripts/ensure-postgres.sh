#!/usr/bin/env bash
# Make sure the PostgreSQL the tests use (127.0.0.1:5432, user postgres) answers.
# Starts the local Debian cluster when it is installed but stopped; otherwise says how to get one.
set -u
host=${PGHOST:-127.0.0.1}; port=${PGPORT:-5432}
ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null || python3 - "$host" "$port" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
}
if ready; then echo "postgres: ready at $host:$port"; exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "postgres: starting local cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do ready && { echo "postgres: ready at $host:$port"; exit 0; }; sleep 1; done
fi
echo "postgres: not reachable at $host:$port." >&2
echo "  Start one with 'docker compose up -d postgres' or install PostgreSQL locally." >&2
echo "  (Without CI set, PostgreSQL tests are skipped; with CI set they fail.)" >&2
exit 0
