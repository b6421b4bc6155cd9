"""`gitops-promoter run` without --once is the service: it serves, promotes, and stops on SIGTERM.
Here its config comes from $GITOPS_PROMOTER_CONFIG (no --config)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.support.net import free_port
from tests.support.service import ROOT


def test_run_is_the_service_and_takes_its_config_from_the_environment(world):
    port = free_port()
    world.config.write_text(world.config.read_text() + f"server:\n  listen: 127.0.0.1:{port}\n")
    world.push.image(world.repo, "v1.1.0")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GITOPS_PROMOTER_CONFIG": str(world.config)}
    log = world.root / "service.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "gitops_promoter.cli", "run"], cwd=world.root, env=env,
                                stdin=subprocess.DEVNULL, stdout=fh, stderr=fh)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and world.log()[0] != "promote(dev): web v1.0.0 → v1.1.0":
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        assert world.log()[0] == "promote(dev): web v1.0.0 → v1.1.0", log.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)  # the status page
        assert page.status_code == 200 and page.text.startswith("<!doctype html>")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    assert code == 0, log.read_text()
