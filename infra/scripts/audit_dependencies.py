"""`make audit`: known vulnerabilities in the installed dependencies (pip-audit).

Fails when a dependency has a known vulnerability. When the vulnerability service
cannot be reached, or a package is not on the index it asks, says so loudly and
does not fail: the install itself comes from local mirrors and must keep working
offline. The summary says how many packages could actually be checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def main() -> int:
    audit = Path(sys.executable).parent / "pip-audit"
    done = subprocess.run(
        [str(audit), "--format", "json", "--progress-spinner", "off", "--skip-editable"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"audit: pip-audit could not run ({done.stderr.strip()[-300:]}); NOT CHECKED")
        return 0
    code, lines = judge(report)
    print("\n".join(lines))
    return code


def judge(report: dict[str, Any]) -> tuple[int, list[str]]:
    """The exit code and what to print for a pip-audit JSON report."""
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    lines = [
        f"audit: {d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}"
        for d in vulnerable
    ]
    checked = len(dependencies) - len(skipped)
    lines.append(
        f"audit: {checked} of {len(dependencies)} packages checked against the vulnerability "
        f"database, {len(vulnerable)} vulnerable; {len(skipped)} not on the index pip-audit "
        "asks (not checked)"
    )
    return (1 if vulnerable else 0), lines


if __name__ == "__main__":
    raise SystemExit(main())
