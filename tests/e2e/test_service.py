"""The service end to end on real parts: Debian's docker-registry notifying it, a real git
remote, the real CLI as a process. A push becomes a dev commit through the webhook; SIGTERM stops
it cleanly; a second process waits for the workdir lock and names its holder; a lost journal
loses no decision; secrets never reach the logs."""

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.gitremote import HumanClone, git, remote_file, remote_log
from tests.support.net import eventually, free_port
from tests.support.postgres import postgres_fixture  # noqa: F401 - the session's `postgres` fixture
from tests.support.registry import Pusher, RegistryServer
from tests.support.service import ServiceProcess
from tests.support.world import ROLLOUT, config_text, deploy_remote

SECRET = "hook-s3cret-7f3a9c"
GIT_TOKEN = "git-t0ken-99d1e2"


@pytest.fixture
def world(tmp_path, unique):
    port = free_port()
    registry = RegistryServer(notify=(f"http://127.0.0.1:{port}/hooks/registry", SECRET)).start()
    image = f"{registry.host}/{unique}/web"
    remote = deploy_remote(tmp_path, image=image)
    text = config_text(registry_host=registry.host, registry_url=registry.url, remote=remote, image=image)
    text = text.replace("    branch: main\n", "    branch: main\n    credentials: {token: env:GIT_TOKEN}\n", 1)
    text += ("  poll_interval: 1s\n  journal: journal.sqlite\n  lock_timeout: 1s\n"
             f"server:\n  listen: 127.0.0.1:{port}\n  registry_webhook_secret: env:PROMOTER_HOOK_SECRET\n")
    config = tmp_path / "promoter.yaml"
    config.write_text(text)
    push = Pusher(registry.url)
    push.image(f"{unique}/web", "v1.0.0")
    service = ServiceProcess(config, port=port, secret=SECRET, log=tmp_path / "service.log",
                             env={"GIT_TOKEN": GIT_TOKEN}, log_level="debug")
    yield {"service": service, "push": lambda tag: push.image(f"{unique}/web", tag), "remote": remote,
           "config": config, "root": tmp_path, "image": image}
    if service.running:
        service.kill()
    registry.stop()




def test_a_push_notified_by_the_registry_is_committed_and_sigterm_stops_cleanly(world):
    service = world["service"]
    service.start()
    time.sleep(1.2)  # the first poll has seen v1.0.0: what comes next is new
    world["push"]("v1.1.0")
    assert eventually(lambda: "web:v1.1.0" in remote_file(world["remote"], ROLLOUT), timeout=10)
    metrics = httpx.get(f"{service.url}/metrics").text
    assert 'gitops_promoter_actions_total{app="web",env="dev",result="bumped"} 1.0' in metrics
    assert "gitops_promoter_tag_to_commit_seconds_count 1.0" in metrics
    assert 'gitops_promoter_webhooks_total{code="202",source="registry"}' in metrics
    took = service.stop()
    assert took < 10
    log = world["root"].joinpath("service.log").read_text()
    assert SECRET not in log and GIT_TOKEN not in log
    assert "web/dev: bumped v1.0.0 → v1.1.0" in log
    # The lock is free again and the clone is sound: a cron run beside it works.
    once = subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "run", "--once", "--config",
                           str(world["config"])], cwd=world["root"], capture_output=True, text=True, timeout=60,
                          env=service.env)
    assert once.returncode == 0, once.stderr
    assert once.stdout.splitlines()[0].startswith("web/dev: unchanged: already at v1.1.0")


def test_json_logs_carry_app_env_tag_and_action(world):
    service = world["service"]
    service.env["GITOPS_PROMOTER_LOG_FORMAT"] = "json"
    service.start()
    world["push"]("v1.1.0")
    assert eventually(lambda: "web:v1.1.0" in remote_file(world["remote"], ROLLOUT), timeout=10)
    service.stop()
    lines = [json.loads(line) for line in world["root"].joinpath("service.log").read_text().splitlines()
             if line.startswith("{")]
    bumped = [line for line in lines if line.get("action") == "bumped"]
    assert bumped and bumped[0]["app"] == "web" and bumped[0]["env"] == "dev" and bumped[0]["tag"] == "v1.1.0"


def test_a_second_process_waits_for_the_lock_then_names_the_holder(world):
    service = world["service"]
    service.start()
    once = subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "run", "--once", "--config",
                           str(world["config"])], cwd=world["root"], capture_output=True, text=True, timeout=60,
                          env=service.env)
    assert once.returncode == 1
    assert f"is in use by pid {service.pid}" in once.stderr and "gitops-promoter run (service)" in once.stderr
    assert "waited 1s (state.lock_timeout)" in once.stderr
    status = subprocess.run([sys.executable, "-m", "gitops_promoter.cli", "status", "--config",
                             str(world["config"])], cwd=world["root"], capture_output=True, text=True, timeout=60,
                            env=service.env)
    assert status.returncode == 0, status.stderr  # reading needs no lock: it reads through a temporary clone
    assert status.stdout.startswith("web/dev: live v1.0.0")
    service.stop()


def test_a_lost_journal_loses_no_decision(world):
    service = world["service"]
    service.start()
    world["push"]("v1.1.0")
    assert eventually(lambda: "web:v1.1.0" in remote_file(world["remote"], ROLLOUT))
    human = HumanClone(world["remote"], world["root"] / "human")
    git("-c", "user.name=Olive", "-c", "user.email=olive@acme.example", "revert", "--no-edit", "HEAD", cwd=human.path)
    git("push", "-q", "origin", "HEAD:main", cwd=human.path)
    head = git("rev-parse", "main", cwd=world["remote"])
    time.sleep(2.5)  # a few polls: the service sees the revert (and journals what it saw)
    assert git("rev-parse", "main", cwd=world["remote"]) == head  # a person's revert is never fought
    service.stop()
    for leftover in world["root"].glob("journal.sqlite*"):
        leftover.unlink()
    service.start()
    assert not eventually(lambda: git("rev-parse", "main", cwd=world["remote"]) != head, timeout=3)
    assert "web:v1.0.0" in remote_file(world["remote"], ROLLOUT)  # the person's revert stands
    world["push"]("v1.2.0")
    assert eventually(lambda: "web:v1.2.0" in remote_file(world["remote"], ROLLOUT))
    bumps = [s for s in remote_log(world["remote"]) if s.startswith("promote(dev)")]
    assert bumps == ["promote(dev): web v1.0.0 → v1.2.0", "promote(dev): web v1.0.0 → v1.1.0"]
    service.stop()


def test_the_service_keeps_its_journal_in_postgresql(world, postgres):
    """For replicas that share one journal: a PostgreSQL URL in state.journal (real PostgreSQL)."""
    from gitops_promoter.adapters.journal import open_journal

    url = postgres.url(postgres.create_database())
    config = world["config"]
    config.write_text(config.read_text().replace("journal: journal.sqlite", f"journal: {url}"))
    service = world["service"]
    service.start()
    time.sleep(1.2)
    world["push"]("v1.1.0")
    assert eventually(lambda: "web:v1.1.0" in remote_file(world["remote"], ROLLOUT))
    service.stop()
    with open_journal(url) as journal:
        rows = [(r.status, r.to_tag) for r in journal.recent(app="web", env="dev")]
        assert ("bumped", "v1.1.0") in rows  # newest first: an "unchanged" may follow it
        assert set(journal.seen_tags(world["image"]) or {}) == {"v1.0.0", "v1.1.0"}
    assert not list(world["root"].glob("journal.sqlite*"))
