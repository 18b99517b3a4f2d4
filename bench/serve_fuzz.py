"""Bad input against the OpenAPI spec: schemathesis generates requests for every operation and
the server must never answer 5xx.

    .venv/bin/python bench/serve_fuzz.py                       # writes bench/results/serve_fuzz.json
    .venv/bin/python bench/serve_fuzz.py --max-examples 20     # a quick look

Starts ``shopml serve`` on 127.0.0.1 over a tiny simulated shop (EASE + CLV models, search),
then runs ``schemathesis run`` (phases: examples, coverage, fuzzing; valid and invalid data)
with the API key, so write and admin endpoints are exercised too. The gate is the
``not_a_server_error`` check; the response-schema, content-type and status-code conformance
checks are reported beside it. The server's own request counters by status (``/metrics``)
confirm the count of 5xx independently of the fuzzer. Needs ``schemathesis`` in the venv
(``.venv/bin/pip install schemathesis``). Not a test.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_common import API_KEY, Server, build_shop, machine  # noqa: E402

from shopml.data.synth import SimConfig  # noqa: E402

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance"


def status_counts(base: str) -> dict[str, int]:
    """Responses by status class from the server's own counters."""
    text = httpx.get(base + "/metrics", timeout=10).text
    out: Counter = Counter()
    for _route, status, n in re.findall(
        r'shopml_requests_total\{method="\w+",pid="\d+",route="([^"]+)",status="(\d+)"\} (\S+)',
        text,
    ):
        out[status] += int(float(n))
    return dict(sorted(out.items()))


def server_errors(base: str) -> dict[str, int]:
    text = httpx.get(base + "/metrics", timeout=10).text
    out: Counter = Counter()
    for method, route, status, n in re.findall(
        r'shopml_requests_total\{method="(\w+)",pid="\d+",route="([^"]+)",status="(5\d\d)"\} (\S+)',
        text,
    ):
        out[f"{method} {route} {status}"] += int(float(n))
    return dict(out)


def junit_failures(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            for f in case.findall(kind):
                text = (f.get("message") or "") + "\n" + (f.text or "")
                out.append(
                    {"operation": case.get("name"), "kind": kind, "message": text.strip()[:1500]}
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--max-examples", type=int, default=100, help="test cases per operation and phase"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seconds", type=int, default=900, help="wall-clock bound of the fuzz run")
    ap.add_argument("--out", type=Path, default=Path("bench/results/serve_fuzz.json"))
    args = ap.parse_args()
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if exe is None:
        sys.exit("schemathesis is not installed in this venv: .venv/bin/pip install schemathesis")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    cfg = SimConfig(n_users=300, n_items=60, days=30, seed=1, session_rate=0.3)
    with tempfile.TemporaryDirectory() as tmp:
        ws, reg = build_shop(Path(tmp), cfg, "ease", {"l2": 10.0})
        server = Server(ws, reg, workers=1)
        server.start()
        junit = Path(tmp) / "junit.xml"
        cmd = [
            exe, "run", f"{server.base}/openapi.json", "--checks", CHECKS,
            "--header", f"X-API-Key: {API_KEY}", "--max-examples", str(args.max_examples),
            "--phases", "examples,coverage,fuzzing", "--mode", "all", "--seed", str(args.seed),
            "--workers", "1", "--request-timeout", "30", "--no-color", "--output-truncate", "true",
            "--report", "junit", "--report-junit-path", str(junit), "--suppress-health-check", "all",
            "--generation-database", "none",
        ]  # fmt: skip
        t0 = time.perf_counter()
        try:
            # in the temporary folder: schemathesis keeps a crash cache in its working directory
            run = subprocess.run(
                cmd, capture_output=True, text=True, timeout=args.max_seconds, cwd=tmp
            )
            output, code = run.stdout + run.stderr, run.returncode
        except subprocess.TimeoutExpired as exc:
            output, code = (
                (exc.stdout or b"").decode()
                if isinstance(exc.stdout, bytes)
                else (exc.stdout or ""),
                -1,
            )
        seconds = time.perf_counter() - t0
        statuses = status_counts(server.base)
        fivexx = server_errors(server.base)
        failures = junit_failures(junit)
        server.stop()
        log_tail = server.log_path.read_text(errors="replace")[-3000:] if fivexx else ""
    by_check: Counter = Counter()
    for f in failures:  # each failure lists its checks as "- ST103 Undocumented status code"
        for title in re.findall(r"^- (.+)$", f["message"], flags=re.M):
            by_check[title.strip()] += 1
    summary = [
        ln
        for ln in output.splitlines()
        if re.search(r"(passed|failed|Operations|Test cases|checks|errors?)", ln)
    ][-25:]
    result = {
        "harness": "bench/serve_fuzz.py",
        "machine": machine(),
        "tool": version,
        "command": " ".join(c if API_KEY not in c else "X-API-Key: <key>" for c in cmd[1:]),
        "seconds": round(seconds, 1),
        "exit_code": code,
        "server_responses_by_status": statuses,
        "server_5xx": fivexx,
        "no_5xx": not fivexx and not any("server error" in c.lower() for c in by_check),
        "failures_by_check": dict(by_check),
        "failures": failures[:50],
        "schemathesis_summary": summary,
        "server_log_tail_if_5xx": log_tail,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("\n".join(summary))
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "seconds",
                    "server_responses_by_status",
                    "server_5xx",
                    "no_5xx",
                    "failures_by_check",
                )
            },
            indent=2,
        )
    )
    if not result["no_5xx"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
