"""Throughput of the polling endpoint, against a bare FastAPI endpoint under the same uvicorn.

The client polls ``GET /cell_measurements/{id}`` every two seconds per upload.
This starts ``cellstore serve --workers 2`` on a fresh database (PostgreSQL,
then SQLite), creates a tenant and a measurement, and runs
``wrk -t2 -c32 -d10s --latency`` against the poll as the client sends it, then
against a FastAPI endpoint returning a constant (``bench/baselines.py:bare``,
uvicorn with 2 workers and the same settings). Target: at least 35% of the
bare endpoint's requests per second, with p99 under 50 ms. About a minute:

    .venv/bin/python bench/polling.py [--backend postgresql|sqlite|both]
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack

import _server as bench

MIN_RATIO = 0.35
MAX_P99_MS = 50.0
POLL = "/cell_measurements/{id}?include_steps=false&include_time_series=false"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_common_arguments(parser)
    args = parser.parse_args()
    rows = [["server", "database", "requests/s", "p99 ms", "errors", "of bare", "target"]]
    all_passed = True
    with ExitStack() as stack:
        bare_url = bench.baseline(stack, "bare") + POLL.format(id="x")
        for backend in bench.backends(args.backend):
            with ExitStack() as servers:  # each cellstore stops before the next starts
                server = servers.enter_context(bench.cellstore(servers, backend, args.postgres_url))
                with server.http() as http:
                    instance_id = bench.create_instance(server, http)
                    (measurement_id,) = bench.create_measurements(server, http, instance_id, 1)
                url = server.url + POLL.format(id=measurement_id)
                bench.check_answer(url, server.api_key)
                # Side by side: the bare endpoint is measured right after, on the same machine state.
                ours = bench.wrk(url, server.api_key, args.duration, args.connections)
                bare = bench.wrk(bare_url, "unused", args.duration, args.connections)
            ratio = ours.requests_per_second / bare.requests_per_second
            passed = ratio >= MIN_RATIO and ours.p99_ms < MAX_P99_MS and ours.errors == 0
            all_passed &= passed
            target = f"{bench.verdict(passed)} (>= {MIN_RATIO:.0%}, p99 < {MAX_P99_MS:.0f} ms)"
            rows.append(["cellstore poll", backend, *bench.figures(ours), f"{ratio:.0%}", target])
            rows.append(["bare FastAPI", f"(next to {backend})", *bench.figures(bare), "100%", ""])
    print(f"GET {POLL}  (wrk -t2 -c{args.connections} -d{args.duration}, {bench.WORKERS} workers each)")
    print(bench.table(rows))
    print(bench.load_note())
    raise SystemExit(0 if all_passed else 1)


if __name__ == "__main__":
    main()
