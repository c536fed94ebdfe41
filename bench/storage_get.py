"""Loopback GET throughput of a 100 MB object from the local storage backend.

Starts ``cellstore serve`` on a free port with a temporary data directory,
uploads one object through a signed PUT URL, then times full GETs of it
through a signed GET URL, and the same file served by Starlette's
``FileResponse`` under the same uvicorn as a baseline. Prints MB/s (10^6 bytes
per second), best of a few runs. Takes a few seconds:

    .venv/bin/python bench/storage_get.py [--size-mb 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from cellstore.core.settings import Settings
from cellstore.storage.factory import create_store

BASELINE_APP = """
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route

path, port = sys.argv[1], int(sys.argv[2])
app = Starlette(routes=[Route("/file", lambda request: FileResponse(path))])
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def timed_get(url: str, expected: int) -> float:
    """Seconds to read the whole body, reading into one reused buffer so the client costs little."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    buffer = memoryview(bytearray(8 * 1024 * 1024))
    started = time.perf_counter()
    connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
    response = connection.getresponse()
    assert response.status == 200, response.status
    received = 0
    while count := response.readinto(buffer):
        received += count
    elapsed = time.perf_counter() - started
    connection.close()
    assert received == expected, (received, expected)
    return elapsed


def best_rate(url: str, size: int, runs: int) -> float:
    timed_get(url, size)  # warm the page cache and the connection path
    return size / min(timed_get(url, size) for _ in range(runs)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = args.size_mb * 1_000_000
    data_dir = Path(tempfile.mkdtemp(prefix="cellstore-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELLSTORE_")}
    env["CELLSTORE_DATA_DIR"] = str(data_dir)
    try:
        port = free_port()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "cellstore.cli", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        base_url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base_url}/healthz", processes[-1])
        store = create_store(Settings(data_dir=data_dir))
        key = "bench/object.bin"
        payload = os.urandom(size)
        started = time.perf_counter()
        upload_url = store.upload_target(key, "object.bin", base_url).signed_url
        put = requests.put(upload_url, data=payload, timeout=60)
        put_rate = size / (time.perf_counter() - started) / 1e6
        put.raise_for_status()
        del payload

        baseline_port = free_port()
        with store.reading(key) as path:
            processes.append(
                subprocess.Popen([sys.executable, "-c", BASELINE_APP, str(path), str(baseline_port)], env=env)
            )
            baseline_url = f"http://127.0.0.1:{baseline_port}/file"
            wait_until_up(baseline_url.replace("/file", "/"), processes[-1])
            cellstore = best_rate(store.download_url(key, base_url), size, args.runs)
            baseline = best_rate(baseline_url, size, args.runs)
        print(f"object: {size / 1e6:.0f} MB, best of {args.runs} GETs over loopback")
        print(f"cellstore /storage GET:        {cellstore:8.0f} MB/s")
        print(f"Starlette FileResponse (64 KiB): {baseline:6.0f} MB/s")
        print(f"cellstore /storage PUT (once):  {put_rate:7.0f} MB/s")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
