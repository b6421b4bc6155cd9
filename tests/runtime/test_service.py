"""The service's scheduling with in-memory ports: webhooks and requeues bring a reconcile forward,
a transient fault backs off (honouring Retry-After), a permanent one parks its pair until the
repository moves, and only a leader writes."""

import time
from datetime import UTC, datetime

import pytest

from gitops_promoter.config import parse_config
from gitops_promoter.domain.tags import TagInfo
from gitops_promoter.errors import RegistryUnavailable
from gitops_promoter.runtime.service import Service
from gitops_promoter.runtime.telemetry import Telemetry
from gitops_promoter.workflows.reconcile import Ports
from tests.fakes import MemoryJournal, MemoryRegistry, MemoryRepo
from tests.support.net import eventually

CONFIG = """\
version: 1
repositories:
  - {name: deploy, url: file:///unused.git}
environments:
  - {name: dev, mode: direct}
apps:
  - name: web
    image: reg.local/acme/web
    repository: deploy
    policy: {strategy: semver}
    targets:
      dev: {file: dev/web.yaml, edit: {kind: helm, key: image.tag}}
  - name: api
    image: reg.local/acme/api
    repository: deploy
    policy: {strategy: semver}
    targets:
      dev: {file: dev/api.yaml, edit: {kind: helm, key: image.tag}}
state:
  poll_interval: 1h
"""




class Leader:
    def __init__(self, leading=True):
        self.leading = leading

    def is_leader(self):
        return self.leading

    def state(self):
        return "leader" if self.leading else "standby"


@pytest.fixture
def make():
    made = []

    def build(*, leadership=None, files=None):
        config = parse_config(CONFIG, source="c.yaml")
        registry = MemoryRegistry(images={"reg.local/acme/web": [TagInfo("1.0.0")],
                                          "reg.local/acme/api": [TagInfo("1.0.0")]})
        repo = MemoryRepo("deploy", files if files is not None else
                          {"dev/web.yaml": "image:\n  tag: 1.0.0\n", "dev/api.yaml": "image:\n  tag: 1.0.0\n"})
        ports = Ports(registry=registry, repos={"deploy": repo}, journal=MemoryJournal())
        service = Service(config, ports, telemetry=Telemetry(), leadership=leadership)
        made.append(service)
        return service, registry, repo

    yield build
    for s in made:
        s.stop(timeout=2)


def next_run(service, app):
    return (service.scheduler.get_job(f"app:{app}").next_run_time - datetime.now(UTC)).total_seconds()


def test_a_new_tag_seen_through_a_webhook_is_committed_at_once(make):
    service, registry, repo = make()
    service.start()
    assert eventually(lambda: service.ports.journal.seen_tags("reg.local/acme/web") is not None)
    assert eventually(lambda: service.last.get(("web", "dev", "write-back")) is not None)
    registry.images["reg.local/acme/web"].append(TagInfo("1.1.0"))
    service.check_image("reg.local/acme/web", reason="test")
    assert eventually(lambda: "tag: 1.1.0" in repo.files["dev/web.yaml"], timeout=3)
    assert repo.files["dev/api.yaml"] == "image:\n  tag: 1.0.0\n"  # api was not woken and has nothing new
    assert [m.splitlines()[0] for _, m in repo.commits] == ["promote(dev): web 1.0.0 → 1.1.0"]


def test_one_listing_per_image_repository_serves_every_reconcile(make):
    service, registry, _ = make()
    service.start()
    assert eventually(lambda: len(service.last) == 2)
    time.sleep(0.2)
    lists = [c for c in registry.calls if c.startswith("list ")]
    assert sorted(lists) == ["list reg.local/acme/api", "list reg.local/acme/web"]


def test_a_transient_fault_backs_off_and_honours_retry_after(make):
    service, registry, _ = make()
    fault = RegistryUnavailable(registry="reg.local", repository="acme/web", status=429, detail="slow down")
    fault.retry_after = 42.0
    registry.failures["reg.local/acme/web"] = fault
    service.start()
    assert eventually(lambda: service.failures.get("web") == 1)
    assert 35 < next_run(service, "web") <= 42.5
    fault.retry_after = None
    service._reconcile("web")
    assert service.failures["web"] == 2
    assert 0 < next_run(service, "web") <= 8.5  # backoff 2 * 2**1 with jitter, not the hour's poll


def test_a_permanent_fault_parks_the_pair_until_the_repository_moves(make):
    service, registry, repo = make(files={"dev/web.yaml": "image:\n  tag: 1.0.0\n"})  # api's file is missing
    service.start()
    assert eventually(lambda: ("api", "dev", "write-back") in service.parked)
    before = len(registry.calls)
    service._reconcile("api")
    assert registry.calls[before:] == []  # parked: not even the registry is asked
    repo.files["dev/api.yaml"] = "image:\n  tag: 1.0.0\n"
    repo.commits.append(("dev/api.yaml", "a person adds the file"))  # the head moves
    service._reconcile("api")
    assert ("api", "dev", "write-back") not in service.parked
    assert service.last[("api", "dev", "write-back")][0] == "unchanged"  # reconciled: 1.0.0 is the newest


def test_news_from_outside_ends_the_parking(make):
    service, registry, repo = make()
    registry.images.pop("reg.local/acme/api")  # the image repository does not exist yet: 404, permanent
    service.start()
    assert eventually(lambda: ("api", "dev", "write-back") in service.parked)
    registry.images["reg.local/acme/api"] = [TagInfo("1.0.0"), TagInfo("1.1.0")]  # the first push
    service.check_image("reg.local/acme/api", reason="a webhook")
    assert eventually(lambda: "tag: 1.1.0" in repo.files["dev/api.yaml"], timeout=3)
    assert ("api", "dev", "write-back") not in service.parked


def test_a_standby_never_reconciles_and_a_lost_lease_stops_a_write(make):
    leadership = Leader(leading=False)
    service, registry, repo = make(leadership=leadership)
    registry.images["reg.local/acme/web"].append(TagInfo("1.1.0"))
    service.start()
    time.sleep(0.3)
    assert repo.commits == [] and registry.calls == []
    leadership.leading = True
    service.wake("web", reason="test")
    assert eventually(lambda: "tag: 1.1.0" in repo.files["dev/web.yaml"])
    registry.images["reg.local/acme/api"].append(TagInfo("1.1.0"))

    class LosesItMidway(Leader):
        def __init__(self):
            super().__init__()
            self.asked = 0

        def is_leader(self):  # still the leader when the reconcile starts, not when it writes
            self.asked += 1
            return self.asked == 1

    service.leadership = LosesItMidway()
    service._reconcile("api")
    assert repo.files["dev/api.yaml"] == "image:\n  tag: 1.0.0\n"
    status, detail = service.last[("api", "dev", "write-back")]
    assert status == "error" and "not the leader" in detail


def test_a_webhook_during_a_running_poll_is_not_lost(make):
    """The push lands while the poll's listing is on its way: its answer predates the tag, so the
    poll must run once more (APScheduler alone would skip the request and wait a full interval)."""
    service, registry, repo = make()
    listing = registry.list_tags
    in_poll = {"now": False}

    def slow_list(image):
        in_poll["now"] = True
        tags = listing(image)
        time.sleep(0.3)
        in_poll["now"] = False
        return tags

    service.start()
    assert eventually(lambda: service.last.get(("web", "dev", "write-back")) is not None)
    registry.list_tags = slow_list
    service.check_image("reg.local/acme/web", reason="first webhook")
    assert eventually(lambda: in_poll["now"], timeout=3)
    registry.images["reg.local/acme/web"].append(TagInfo("1.1.0"))  # pushed after the listing was read
    service.check_image("reg.local/acme/web", reason="second webhook")
    assert eventually(lambda: "tag: 1.1.0" in repo.files["dev/web.yaml"], timeout=3)


def test_a_gate_verdict_is_counted_once_though_reported_every_pass(make):
    from gitops_promoter.workflows.outcome import Outcome
    from gitops_promoter.workflows.reconcile import Reconciled

    service, *_ = make()
    stuck = Outcome("web", "dev", "inconclusive", "gate 1: Inconclusive: ...", "1.1.0", "1.1.0", stage="canary")
    for _ in range(3):  # the gate waits for a person: every pass says so again
        service._account(service.apps["web"], Reconciled("web", (stuck,), None))
    count = service.telemetry.registry.get_sample_value(
        "gitops_promoter_analysis_verdicts_total", {"app": "web", "env": "dev", "verdict": "Inconclusive"})
    assert count == 1.0
    actions = service.telemetry.registry.get_sample_value(
        "gitops_promoter_actions_total", {"app": "web", "env": "dev", "result": "inconclusive"})
    assert actions == 3.0  # every reconcile's outcome still counts as an action
