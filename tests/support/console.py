"""The operator console as a real process on a seeded store, and a headless Chromium for it.

Chromium and its driver are Debian's (``chromium``, ``chromium-driver``; ``.ci/run``
installs them when missing); tests that need them skip with the reason where they are
absent and fail under CI.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest
import sqlalchemy as sa

from central_projector.record.tables import events
from kopsync.devnats import free_port
from support import province as P

PASSWORDS = {"siti": "rahasia-sekali-62", "budi": "rahasia-sekali-64"}
REGIONS = {"siti": "62", "budi": "64"}
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@dataclass
class Console:
    url: str
    db_url: str
    proc: subprocess.Popen[bytes]
    log: Path


def kopsync(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kopsync", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def wait_http(
    url: str, timeout_s: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


@contextlib.contextmanager
def running_console(tmp: Path) -> Iterator[Console]:
    """A seeded store with operators siti (62) and budi (64), served by `central console`."""
    db_url = f"sqlite:///{tmp / 'central.db'}"
    P.seed(db_url)
    for op, region in REGIONS.items():
        kopsync("central", "operator", "add", op, "--name", op.capitalize(), "--region", region,
                "--password-file", "-", "--db", db_url, stdin=PASSWORDS[op] + "\n")  # fmt: skip
    secret = tmp / "console.key"
    secret.write_text(os.urandom(32).hex())
    port = free_port()
    log = tmp / "console.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kopsync", "central", "console", "--db", db_url,
             "--listen", f"127.0.0.1:{port}", "--secret-file", str(secret)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    console = Console(f"http://127.0.0.1:{port}", db_url, proc, log)
    try:
        wait_http(f"{console.url}/healthz", proc=proc)
        yield console
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def session(console: Console, operator: str) -> tuple[httpx.Client, str]:
    """An HTTP client logged in as ``operator``, and the CSRF token its forms carry."""
    client = httpx.Client(base_url=console.url, follow_redirects=False, timeout=30)
    page = client.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    r = client.post("/login", data={"csrf": token.group(1), "operator_id": operator,
                                    "password": PASSWORDS[operator], "next": "/"})  # fmt: skip
    assert r.status_code == 303
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/replay").text)
    assert token is not None
    return client, token.group(1)


def decisions(db_url: str, conflict_id: str) -> list[dict[str, Any]]:
    """The payloads of the ConflictResolved events recorded for ``conflict_id``."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(events.c.envelope).where(
                    events.c.type == "ConflictResolved", events.c.aggregate_id == conflict_id
                )
            ).all()
    finally:
        engine.dispose()
    return [msgpack.unpackb(r[0], raw=False)["payload"] for r in rows]


def chromium_or_skip() -> None:
    if shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER):
        return
    message = "Debian's chromium and chromium-driver are not installed (apt-get install -y ...)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def browser() -> object:
    """A headless Chromium driven by Selenium (no download: the Debian binaries)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # no usage report leaves the machine
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,1000"):  # fmt: skip
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
