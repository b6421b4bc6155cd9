"""What a pass loads: a dev-only config never imports the code-host or cluster clients (PyGithub,
kubernetes) nor the database layer when no journal is needed (issue 11: a `run --once` bump is
mostly imports otherwise), nor ruamel.yaml."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.net import free_port
from tests.support.world import ROOT, config_text, deploy_remote

HEAVY = ("github", "kubernetes", "sqlalchemy", "prometheus_api_client", "pandas", "ruamel")
# ruamel.yaml: the config and deployment files are read with libyaml; ruamel.yaml only loads analysis templates


def _loaded_after(config, *argv):
    code = ("import json, sys\n"
            "from gitops_promoter.cli import main\n"
            f"rc = main({list(argv)!r} + ['--config', {str(config)!r}])\n"
            "loaded = {m.split('.')[0] for m in sys.modules}\n"
            f"print(json.dumps({{'rc': rc, 'heavy': sorted(loaded & set({HEAVY!r}))}}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_dev_only_pass_loads_no_code_host_cluster_or_database_client(tmp_path):
    image = "127.0.0.1:1/shop/web"
    remote = deploy_remote(tmp_path, image=image)
    config = tmp_path / "promoter.yaml"
    port = free_port()  # nothing listens: the registry is down, the pass still runs every stage
    config.write_text(config_text(remote=remote, image=f"127.0.0.1:{port}/shop/web",
                                  registry_host=f"127.0.0.1:{port}", registry_url=f"http://127.0.0.1:{port}"))
    assert _loaded_after(config, "run", "--once")["heavy"] == []
    # `status` shows the journal's recent actions: the database layer, but still no client.
    assert _loaded_after(config, "status")["heavy"] in ([], ["sqlalchemy"])
