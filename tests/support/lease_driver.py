"""One LeaseElector in a process of its own, for the multi-process leader election tests.

    python tests/support/lease_driver.py --kubeconfig PATH --identity ID [--namespace NS --name NAME
        --lease-duration S --renew-deadline S --retry-period S]

The ApiClient comes from the kubeconfig the way the service builds it (`kube.api_client_for`). Prints one
JSON line per change of `state()`, `{"t": <time.monotonic()>, "identity": ..., "state": ...}`
(CLOCK_MONOTONIC is system-wide on Linux, so the parent can compare instants across processes),
sampling every 5 ms. SIGTERM stops it with a release; SIGKILL is a crash.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gitops_promoter.adapters.kube import api_client_for  # noqa: E402
from gitops_promoter.adapters.lease import LeaseElector  # noqa: E402
from gitops_promoter.config.schema import ClusterConfig, LeaderElectionConfig, SecretRef  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--identity", required=True)
    parser.add_argument("--namespace", default="promoter")
    parser.add_argument("--name", default="gitops-promoter")
    parser.add_argument("--lease-duration", type=float, default=1.5)
    parser.add_argument("--renew-deadline", type=float, default=1.0)
    parser.add_argument("--retry-period", type=float, default=0.2)
    args = parser.parse_args()

    def emit(state: str) -> None:
        print(json.dumps({"t": time.monotonic(), "identity": args.identity, "state": state}), flush=True)

    cluster = ClusterConfig("dev", kubeconfig=SecretRef("file", args.kubeconfig, "lease_driver --kubeconfig"))
    config = LeaderElectionConfig(cluster="dev", namespace=args.namespace, name=args.name,
                                  lease_duration=args.lease_duration, renew_deadline=args.renew_deadline,
                                  retry_period=args.retry_period)
    elector = LeaseElector(config, api_client_for(cluster), identity=args.identity)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    emit("started")
    elector.start()
    last = None
    while not done.wait(0.005):
        state = elector.state()
        if state != last:
            emit(state)
            last = state
    elector.stop(release=True)
    emit("stopped")


if __name__ == "__main__":
    main()
