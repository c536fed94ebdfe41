"""Throughput of a list of 100 measurements, against the naive FastAPI + ORM version of it.

Starts ``cellstore serve --workers 2`` on a fresh database (PostgreSQL, then
SQLite), creates a tenant, a cell instance and 100 properties measurements
through the API, and runs ``wrk -t2 -c32 -d10s --latency`` against
``GET /cell_instances/{id}/cell_measurements?limit=100``; then the same against
``bench/baselines.py:naive_list`` (sync endpoint, sync SQLAlchemy session, ORM
objects, pydantic ``response_model``) over the same database and table, under
uvicorn with 2 workers and the same settings. Target: at least twice the naive
version's requests per second. About a minute:

    .venv/bin/python bench/list_measurements.py [--backend postgresql|sqlite|both]
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack

import _server as bench

MIN_RATIO = 2.0
COUNT = 100
LIST = "/cell_instances/{id}/cell_measurements?limit=100"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_common_arguments(parser)
    args = parser.parse_args()
    rows = [["server", "database", "requests/s", "p99 ms", "errors", "vs naive", "target"]]
    all_passed = True
    for backend in bench.backends(args.backend):
        with ExitStack() as stack:
            server = stack.enter_context(bench.cellstore(stack, backend, args.postgres_url))
            with server.http() as http:
                instance_id = bench.create_instance(server, http)
                bench.create_measurements(server, http, instance_id, COUNT)
            naive_url = bench.baseline(stack, "naive_list", server.sync_database_url)
            path = LIST.format(id=instance_id)
            for url in (server.url + path, naive_url + path):
                bench.check_answer(url, server.api_key)
            ours = bench.wrk(server.url + path, server.api_key, args.duration, args.connections)
            naive = bench.wrk(naive_url + path, server.api_key, args.duration, args.connections)
        ratio = ours.requests_per_second / naive.requests_per_second
        passed = ratio >= MIN_RATIO and ours.errors == 0
        all_passed &= passed
        target = f"{bench.verdict(passed)} (>= {MIN_RATIO:.0f}x)"
        rows.append(["cellstore list", backend, *bench.figures(ours), f"{ratio:.1f}x", target])
        rows.append(["naive FastAPI+ORM", backend, *bench.figures(naive), "1.0x", ""])
    run = f"wrk -t2 -c{args.connections} -d{args.duration}, {bench.WORKERS} workers each"
    print(f"GET {LIST}  ({COUNT} measurements; {run})")
    print(bench.table(rows))
    print(bench.load_note())
    raise SystemExit(0 if all_passed else 1)


if __name__ == "__main__":
    main()
