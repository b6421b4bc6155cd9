"""Shipping: the Dockerfile and the Kubernetes manifests in deploy/, checked without a cluster or a
Docker daemon.

* Every manifest is built, field by field, against the kubernetes client's models (an unknown or
  misspelt field, a wrong type or a missing required field fails); the ServiceMonitor (a CRD the
  client does not know) is checked by hand. Where `kubectl` exists, `kubectl apply --dry-run=client`
  reads the whole directory against a discovery stand-in that knows the real kinds.
* RBAC is exactly what the adapters ask for: the kube and lease adapters run against the API
  server stand-in, every request they make is turned into what RBAC authorizes (verb, group,
  resource, namespace, name), and that set must equal both the table below and the grants of
  deploy/20-rbac.yaml for the objects the ConfigMap's config names.
* The ConfigMap's promoter.yaml passes `gitops-promoter check-config`; secrets are only
  references; the Deployment's probes, ports, volumes and user agree with the config and the image.
* The Dockerfile's invariants (pinned slim base, multi-stage, git, a numeric non-root USER, no
  secrets), its build context (.dockerignore), and its package step: the wheel built from exactly
  that context installs into a fresh venv and runs.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml
from kubernetes import client as kube_client

from gitops_promoter import cli
from gitops_promoter.config import load_config
from gitops_promoter.config.schema import ClusterConfig, Config, SecretRef
from tests.conftest import FIXTURES
from tests.support.fake_kube import LEASES, FakeKube
from tests.support.gitremote import make_remote
from tests.support.net import LocalServer
from tests.support.world import kubeconfig_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ARGO_APPLICATIONS = "argoproj.io/v1alpha1/applications"
ARGO_ROLLOUTS = "argoproj.io/v1alpha1/rollouts"

# What the adapters ask the API server, as RBAC sees it: (apiGroup, resource) -> verbs.
# test_adapters_make_exactly_these_requests proves the table by running the adapters.
ADAPTER_VERBS: dict[tuple[str, str], frozenset[str]] = {
    ("argoproj.io", "applications"): frozenset({
        "get",  # adapters/kube.py KubeCluster.application: get_namespaced_custom_object
        "patch",  # KubeCluster.refresh: patch_namespaced_custom_object, {"metadata": {"annotations": {
        #           "argocd.argoproj.io/refresh": "normal"}}} as a merge patch
    }),
    ("argoproj.io", "rollouts"): frozenset({
        "get",  # KubeCluster.rollout, and KubeCluster.wait_rollout's first read and re-reads
        "watch",  # KubeCluster.wait_rollout: watch.Watch().stream(list_namespaced_custom_object, ...) always
        #           sends watch=true (so never "list") with fieldSelector metadata.name=NAME, which lets
        #           resourceNames authorize it
    }),
    ("coordination.k8s.io", "leases"): frozenset({
        "get",  # adapters/lease.py LeaseElector._read (each round's read, and release)
        "create",  # LeaseElector._create: the first candidate creates the Lease (no name to authorize)
        "update",  # LeaseElector._replace: renew, take over, release (a full update, never a patch)
    }),
}
# Verbs RBAC cannot restrict by resourceNames (the name is unknown when create is authorized).
UNNAMED_VERBS = frozenset({"create"})

# The built-in kinds deploy/ may use, as the API serves them: kind -> (group, version, plural, namespaced).
BUILTIN_KINDS: dict[str, tuple[str, str, str, bool]] = {
    "Namespace": ("", "v1", "namespaces", False),
    "ServiceAccount": ("", "v1", "serviceaccounts", True),
    "ConfigMap": ("", "v1", "configmaps", True),
    "Secret": ("", "v1", "secrets", True),
    "Service": ("", "v1", "services", True),
    "Deployment": ("apps", "v1", "deployments", True),
    "Role": ("rbac.authorization.k8s.io", "v1", "roles", True),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings", True),
    "ClusterRole": ("rbac.authorization.k8s.io", "v1", "clusterroles", False),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False),
}
# The Prometheus Operator's CRD (monitoring.coreos.com/v1), checked by hand.
SERVICEMONITOR = ("monitoring.coreos.com", "v1", "servicemonitors", True)
SERVICEMONITOR_ENDPOINT_KEYS = frozenset({
    "port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout", "honorLabels",
    "honorTimestamps", "trackTimestampsStaleness", "metricRelabelings", "relabelings", "tlsConfig",
    "authorization", "basicAuth", "bearerTokenSecret", "oauth2", "followRedirects", "enableHttp2",
    "filterRunning", "proxyUrl", "noProxy", "proxyFromEnvironment", "proxyConnectHeader"})
SERVICEMONITOR_SPEC_KEYS = frozenset({
    "selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels", "podTargetLabels",
    "sampleLimit", "targetLimit", "labelLimit", "labelNameLengthLimit", "labelValueLengthLimit",
    "keepDroppedTargets", "attachMetadata", "scrapeProtocols", "scrapeClass", "fallbackScrapeProtocol",
    "selectorMechanism", "serviceDiscoveryRole", "bodySizeLimit", "nativeHistogramBucketLimit",
    "nativeHistogramMinBucketFactor", "scrapeClassicHistograms", "convertClassicHistogramsToNHCB"})
# The only plain (not secret) environment values the Deployment may set.
PLAIN_ENV = frozenset({"GITOPS_PROMOTER_LOG_FORMAT"})


# --- reading deploy/ ----------------------------------------------------------------------------

def manifests() -> list[tuple[str, dict[str, Any]]]:
    """Every object in deploy/*.yaml, in the order `kubectl apply -f deploy/` reads them."""
    found = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                found.append((path.name, doc))
    return found


def objects(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in manifests() if doc.get("kind") == kind]


def one(kind: str) -> dict[str, Any]:
    found = objects(kind)
    assert len(found) == 1, f"deploy/ should hold exactly one {kind}, not {len(found)}"
    return found[0]


def container() -> dict[str, Any]:
    containers = one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    """The ConfigMap's promoter.yaml, as the pods read it."""
    data = one("ConfigMap")["data"]
    assert set(data) == {"promoter.yaml"}
    path = tmp_path_factory.mktemp("configmap") / "promoter.yaml"
    path.write_text(data["promoter.yaml"], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def config(config_file) -> Config:
    return load_config(str(config_file))


def _id(item: tuple[str, dict[str, Any]]) -> str:
    name, doc = item
    return f"{name}:{doc.get('kind')}/{(doc.get('metadata') or {}).get('namespace', '-')}/" \
           f"{(doc.get('metadata') or {}).get('name')}"


# --- schema checks ----------------------------------------------------------------------------

def schema_errors(value: Any, type_name: str, path: str) -> Iterator[str]:
    """Where `value` does not fit the kubernetes client's model type `type_name` (unknown fields with
    a "did you mean", wrong types, nulls). Handles both model generations the client has shipped:
    `list[X]` / `dict(str, X)` and `List[X]` / `Dict[str, X]`."""
    if value is None:
        yield f"{path}: null (an empty key?)"
        return
    if m := re.fullmatch(r"(?:list|List)\[(.+)\]", type_name):
        if not isinstance(value, list):
            yield f"{path}: expected a list, not {type(value).__name__}"
            return
        for i, item in enumerate(value):
            yield from schema_errors(item, m[1], f"{path}[{i}]")
        return
    if m := re.fullmatch(r"dict\(str, (.+)\)|Dict\[str, (.+)\]", type_name):
        if not isinstance(value, dict):
            yield f"{path}: expected a mapping, not {type(value).__name__}"
            return
        for key, item in value.items():
            if not isinstance(key, str):
                yield f"{path}: key {key!r} is not a string"
            yield from schema_errors(item, m[1] or m[2], f"{path}.{key}")
        return
    primitives: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
                                                "datetime": (str,), "date": (str,)}
    if type_name in primitives:
        if not isinstance(value, primitives[type_name]) or (type_name != "bool" and isinstance(value, bool)):
            yield f"{path}: expected {type_name}, not {type(value).__name__} {value!r}"
        return
    if type_name == "object":  # IntOrString, Quantity, RawExtension: the API decides
        return
    model = getattr(kube_client, type_name, None)
    assert model is not None, f"{path}: the kubernetes client has no model {type_name}"
    if not isinstance(value, dict):
        yield f"{path}: expected a {type_name} mapping, not {type(value).__name__}"
        return
    fields = {json_key: attr for attr, json_key in model.attribute_map.items()}
    for key, item in value.items():
        if key not in fields:
            hint = difflib.get_close_matches(str(key), fields, n=1)
            yield f"{path}.{key}: unknown field of {type_name}" + (f" (did you mean {hint[0]}?)" if hint else "")
            continue
        yield from schema_errors(item, model.openapi_types[fields[key]], f"{path}.{key}")


def test_deploy_holds_the_objects_the_issue_asks_for():
    kinds = sorted(doc["kind"] for _, doc in manifests())
    for kind in ("Deployment", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service", "ServiceMonitor"):
        assert kind in kinds
    assert "Secret" not in kinds, "secrets are created from the secret store, never shipped in deploy/"
    assert "ClusterRoleBinding" not in kinds, "a ClusterRoleBinding would grant in every namespace"
    assert one("Deployment")["spec"]["replicas"] == 2


@pytest.mark.parametrize("item", manifests(), ids=_id)
def test_manifest_fits_its_schema(item):
    name, doc = item
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    meta = doc.get("metadata") or {}
    assert meta.get("name"), f"{name}: {kind} without metadata.name"
    if kind == "ServiceMonitor":
        check_servicemonitor(doc)
        return
    assert kind in BUILTIN_KINDS, f"{name}: {kind} is not a kind this test knows; add it to BUILTIN_KINDS"
    group, version, _, namespaced = BUILTIN_KINDS[kind]
    assert api_version == (f"{group}/{version}" if group else version), f"{name}: {kind} is served as " \
                                                                         f"{group or 'core'}/{version}"
    assert bool(meta.get("namespace")) == namespaced, f"{name}: {kind} {meta['name']}: namespaced is {namespaced}"
    model = f"{version.capitalize()}{kind}"
    assert list(schema_errors(doc, model, kind)) == []
    # The client's own deserializer too: required fields, enums it knows, value types.
    kube_client.ApiClient()._ApiClient__deserialize(doc, model)  # noqa: SLF001 - the one typed decoder it has


def check_servicemonitor(doc: dict[str, Any]) -> None:
    """monitoring.coreos.com/v1 ServiceMonitor: spec.selector is required, endpoints name a port."""
    group, version, _, _ = SERVICEMONITOR
    assert doc["apiVersion"] == f"{group}/{version}"
    assert doc["metadata"].get("namespace")
    spec = doc["spec"]
    assert set(spec) <= SERVICEMONITOR_SPEC_KEYS, set(spec) - SERVICEMONITOR_SPEC_KEYS
    assert list(schema_errors(spec["selector"], "V1LabelSelector", "spec.selector")) == []
    assert spec["selector"].get("matchLabels") or spec["selector"].get("matchExpressions")
    assert set(spec.get("namespaceSelector") or {}) <= {"any", "matchNames"}
    assert spec["endpoints"], "no endpoint: nothing is scraped"
    for endpoint in spec["endpoints"]:
        assert set(endpoint) <= SERVICEMONITOR_ENDPOINT_KEYS, set(endpoint) - SERVICEMONITOR_ENDPOINT_KEYS
        assert isinstance(endpoint.get("port"), str), "endpoints select the Service's port by name"
        for key in ("interval", "scrapeTimeout"):
            if key in endpoint:
                assert re.fullmatch(r"(\d+(ms|s|m|h))+", endpoint[key]), f"{key}: {endpoint[key]!r}"


@pytest.mark.parametrize(("mutation", "expected"), [
    pytest.param(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePulPolicy="Always"),
                 "imagePulPolicy: unknown field of V1Container (did you mean imagePullPolicy?)", id="misspelt-field"),
    pytest.param(lambda d: d["spec"].update(replicas="2"), "expected int", id="wrong-type"),
    pytest.param(lambda d: d["spec"]["template"]["spec"]["containers"][0].update(env=None), "null", id="empty-key"),
])
def test_schema_check_catches_mistakes(mutation, expected):
    """The checker above is not vacuous: the Deployment with one mistake fails it."""
    doc = json.loads(json.dumps(one("Deployment")))
    mutation(doc)
    errors = list(schema_errors(doc, "V1Deployment", "Deployment"))
    assert len(errors) == 1 and expected in errors[0], errors


def test_schema_deserializer_catches_a_missing_required_field():
    doc = json.loads(json.dumps(one("Deployment")))
    del doc["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError):
        kube_client.ApiClient()._ApiClient__deserialize(doc, "V1Deployment")  # noqa: SLF001


# --- the config in the ConfigMap ------------------------------------------------------------

def test_configmap_config_passes_check_config(config_file, tmp_path, capsys):
    code = cli.main(["check-config", str(config_file), "--workdir", str(tmp_path / "clones")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "promoter.yaml: OK" in out
    assert "warning:" not in out


def test_configmap_config_fits_the_deployment_repository_layout(config_file, tmp_path, capsys):
    """With the repository readable (the fixture deployment repository, in the layout the config
    names), check-config reads every Rollout's steps: no problem, no warning, nothing left unread."""
    remote = make_remote(tmp_path, FIXTURES / "repos" / "deploy")
    text = config_file.read_text(encoding="utf-8")
    assert text.count("url: https://github.com/acme/deploy.git") == 1
    local = tmp_path / "promoter.yaml"
    local.write_text(text.replace("url: https://github.com/acme/deploy.git", f"url: file://{remote}"),
                     encoding="utf-8")
    code = cli.main(["check-config", str(local), "--workdir", str(tmp_path / "clones")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert out.splitlines() == [f"{local}: OK (1 apps, 3 environments, 1 repositories)"]


def test_configmap_config_keeps_the_reference_shape(config_file):
    shared = ROOT.parent / "shared" / "promoter.example.yaml"
    if not shared.exists():
        pytest.skip("../shared not beside the checkout")
    example = yaml.safe_load(shared.read_text(encoding="utf-8"))
    ours = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    assert set(ours) == set(example), "the same top-level sections as the reference shape"


def test_configmap_config_is_for_two_replicas_in_the_cluster(config):
    le = config.server.leader_election
    assert le is not None, "two replicas need server.leader_election"
    assert config.clusters[le.cluster].in_cluster
    assert all(c.in_cluster for c in config.clusters.values()), "in-cluster access, no kubeconfig to mount"
    # A SQLite file lives on one pod's volume; the replicas share one PostgreSQL journal instead.
    assert config.state.journal.startswith("postgresql://")
    assert Path(config.state.workdir).is_absolute()


def test_deployment_agrees_with_the_config(config):
    deployment = one("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    box = container()
    host, _, port = config.server.listen.rpartition(":")
    assert host == "0.0.0.0", "probes, the Service and Prometheus come from outside the pod"
    ports = {p["name"]: p["containerPort"] for p in box["ports"]}
    assert ports == {"http": int(port)}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        get = box[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == int(port)
    # The command line is the service, reading the ConfigMap where it is mounted.
    args = cli._parser().parse_args(box["args"])  # noqa: SLF001
    assert (args.command, args.once, args.dry_run, args.app) == ("run", False, False, None)
    mounts = {m["name"]: m for m in box["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_mount = next(m for m in mounts.values() if "configMap" in volumes[m["name"]])
    assert volumes[config_mount["name"]]["configMap"]["name"] == one("ConfigMap")["metadata"]["name"]
    assert Path(args.config) == Path(config_mount["mountPath"]) / "promoter.yaml"
    assert config_mount.get("readOnly") is True
    # The workdir is on the pod's own writable volume (each replica its own; a flock guards it).
    assert writable_mount(Path(config.state.workdir), mounts, volumes) is not None
    assert pod["serviceAccountName"] == one("ServiceAccount")["metadata"]["name"]
    assert pod.get("automountServiceAccountToken", True), "in_cluster reads the ServiceAccount's token"


def writable_mount(path: Path, mounts: dict[str, Any], volumes: dict[str, Any]) -> str | None:
    """The name of the writable emptyDir / PVC volume that `path` lives on, or None."""
    for name, mount in mounts.items():
        kind = volumes[name]
        if path.is_relative_to(mount["mountPath"]) and not mount.get("readOnly") and (
                "emptyDir" in kind or "persistentVolumeClaim" in kind):
            return str(name)
    return None


def test_pod_runs_as_the_image_user_on_a_read_only_root():
    pod = one("Deployment")["spec"]["template"]["spec"]
    box = container()
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    uid, gid = dockerfile_user()
    assert (security["runAsUser"], security["runAsGroup"]) == (uid, gid)
    assert box["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                      "capabilities": {"drop": ["ALL"]}}
    mounts = {m["name"]: m for m in box["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for path in (Path("/tmp"), Path(dockerfile_env()["HOME"])):  # scratch files; git and ssh look in HOME
        assert writable_mount(path, mounts, volumes), f"{path} must be writable with a read-only root"
    assert box["resources"]["requests"] and box["resources"]["limits"]["memory"]


def test_image_tag_is_the_package_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert container()["image"].rsplit(":", 1)[1] == version


def test_service_and_servicemonitor_reach_the_pods():
    deployment, service, monitor = one("Deployment"), one("Service"), one("ServiceMonitor")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container_ports = {p["name"] for p in container()["ports"]}
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert all(p["targetPort"] in container_ports for p in service_ports.values())
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["metadata"]["namespace"] in monitor["spec"]["namespaceSelector"]["matchNames"]
    assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [("http", "/metrics")]
    assert "http" in service_ports
    names = {d["metadata"]["namespace"] for d in (deployment, service, monitor, one("ConfigMap"),
                                                  one("ServiceAccount"))}
    assert names == {one("Namespace")["metadata"]["name"]}


# --- secrets ------------------------------------------------------------------------------------

def secret_refs(node: Any) -> Iterator[str]:
    """Every env:NAME / file:PATH string in the parsed config."""
    if isinstance(node, dict):
        for value in node.values():
            yield from secret_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from secret_refs(value)
    elif isinstance(node, str) and re.fullmatch(r"(env|file):\S+", node):
        yield node


def test_secrets_are_references_from_a_secret(config_file, config):
    refs = set(secret_refs(yaml.safe_load(config_file.read_text(encoding="utf-8"))))
    assert refs, "the config references its secrets"
    assert not [r for r in refs if r.startswith("file:")], "a file: secret would need a Secret volume"
    wanted = {r.removeprefix("env:") for r in refs} | {"PGPASSWORD"}  # the PostgreSQL journal's password
    env = {e["name"]: e for e in container()["env"]}
    from_secret = {name for name, e in env.items() if "secretKeyRef" in (e.get("valueFrom") or {})}
    assert from_secret == wanted
    for name in from_secret:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert "value" not in env[name] and not ref.get("optional"), name
        assert ref["key"] == name
    assert set(env) - from_secret <= PLAIN_ENV
    assert "envFrom" not in container(), "name each secret the config uses, no more"
    assert not re.search(r"://[^/@]*:[^/@]*@", config.state.journal), "no password in the journal URL"


def test_nothing_in_deploy_or_the_dockerfile_looks_like_a_secret():
    looks_secret = re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_|-----BEGIN [A-Z ]*PRIVATE KEY|"
                              r"AKIA[0-9A-Z]{16}|xox[baprs]-|://[^/\s:@]+:[^/\s@]+@")
    for path in [*sorted(DEPLOY.glob("*")), DOCKERFILE, DOCKERIGNORE]:
        text = path.read_text(encoding="utf-8")
        assert not looks_secret.search(text), f"{path.name}: {looks_secret.search(text)}"
    for _, doc in manifests():
        assert "stringData" not in doc and (doc.get("kind") == "ConfigMap" or "data" not in doc)


# --- RBAC ---------------------------------------------------------------------------------------

Grant = tuple[str, str, str, str, str]  # (namespace, apiGroup, resource, verb, name or "*")
_API_PATH = re.compile(r"^/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)"
                       r"(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$")


def request_attributes(entry: str) -> Grant:
    """A request as the apiserver's RBAC authorizer sees it (k8s.io/apiserver endpoints/request
    RequestInfoFactory): GET of a name is get, of a collection list (watch with ?watch), POST create,
    PUT update, PATCH patch, DELETE delete; a list or watch with fieldSelector metadata.name=X is
    authorized for the name X. `entry` is one line of FakeKube.log: "METHOD /path?query"."""
    method, raw = entry.split(" ", 1)
    url = urlsplit(raw)
    m = _API_PATH.match(url.path)
    assert m and not m["sub"], f"not a namespaced object request: {entry}"
    query = parse_qs(url.query)
    name = m["name"] or "*"
    if method == "GET" and m["name"] is None:
        verb = "watch" if (query.get("watch") or ["false"])[0].lower() in ("true", "1") else "list"
        selector = unquote((query.get("fieldSelector") or [""])[0])
        if selector.startswith("metadata.name=") and "," not in selector:
            name = selector.removeprefix("metadata.name=")
    else:
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
    if verb in UNNAMED_VERBS:
        name = "*"
    return (m["ns"], m["group"] or "", m["plural"], verb, name)


@pytest.fixture(scope="module")
def observed(config, tmp_path_factory) -> set[Grant]:
    """Every request the kube and lease adapters make for the config's objects, run against the API
    server stand-in with the real kubernetes client: each public operation of KubeCluster, and a
    Lease election round by round (create, renew, a second candidate standing by, release)."""
    from gitops_promoter.adapters.kube import KubeCluster, api_client_for
    from gitops_promoter.adapters.lease import LeaseElector

    tmp = tmp_path_factory.mktemp("rbac")
    with FakeKube(token="t") as kube:
        cluster = ClusterConfig("local", kubeconfig=SecretRef("file", str(kubeconfig_for(tmp / "kubeconfig",
                                                                                        kube.url)), "test"))
        observer = KubeCluster(cluster, sleep=lambda s: None)
        for target in targets(config):
            app_ns, app = target.application.split("/")
            kube.put(ARGO_APPLICATIONS, {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                                         "metadata": {"name": app, "namespace": app_ns}, "status": {}})
            ns, name = target.rollout.split("/")
            kube.put(ARGO_ROLLOUTS, {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                                     "metadata": {"name": name, "namespace": ns}, "status": {"phase": "Paused"}})
        for target in targets(config):
            observer.application(target.application)
            observer.refresh(target.application)
            observer.rollout(target.rollout)
            wait_through_a_watch(kube, observer, target.rollout)
        le = config.server.leader_election
        assert le is not None
        first = LeaseElector(le, api_client_for(cluster), identity="replica-a")
        second = LeaseElector(le, api_client_for(cluster), identity="replica-b")
        assert first.run_once()  # get (404) → create
        assert first.run_once()  # renew: update
        assert not second.run_once()  # get: held by replica-a → stands by
        assert first.stop(release=True)  # get → update (empty holder)
        assert kube.get(LEASES, le.namespace, le.name)["spec"]["holderIdentity"] == ""
        assert second.run_once()  # get → update: takes the released Lease over
        second.stop(release=True)
        return {request_attributes(entry) for entry in kube.log}


def wait_through_a_watch(kube: FakeKube, observer: Any, ref: str) -> None:
    """KubeCluster.wait_rollout on a Rollout that changes only once its watch is open."""
    ns, name = ref.split("/")
    seen = len(kube.log)

    def degrade_when_watched() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any("watch=" in entry for entry in kube.log[seen:]):
                kube.patch(ARGO_ROLLOUTS, ns, name, {"status": {"phase": "Degraded"}})
                return
            time.sleep(0.01)

    threading.Thread(target=degrade_when_watched, daemon=True).start()
    view = observer.wait_rollout(ref, lambda v: v.phase == "Degraded", timeout=10)
    assert view is not None and view.phase == "Degraded"


def targets(config: Config) -> list[Any]:
    found = [t for app in config.apps for t in app.targets.values() if t.cluster is not None]
    assert found and all(t.application and t.rollout for t in found)
    return found


def expected_grants(config: Config, verbs: dict[tuple[str, str], frozenset[str]]) -> set[Grant]:
    """The grants the config needs: the adapters' verbs on each object it names."""
    grants: set[Grant] = set()

    def add(group: str, resource: str, namespace: str, name: str) -> None:
        for verb in verbs[(group, resource)]:
            grants.add((namespace, group, resource, verb, "*" if verb in UNNAMED_VERBS else name))

    for target in targets(config):
        add("argoproj.io", "applications", *target.application.split("/"))
        add("argoproj.io", "rollouts", *target.rollout.split("/"))
    le = config.server.leader_election
    assert le is not None
    add("coordination.k8s.io", "leases", le.namespace, le.name)
    return grants


def rbac_grants(account: tuple[str, str]) -> set[Grant]:
    """What deploy/'s RBAC grants the ServiceAccount (namespace, name), one tuple per
    (namespace, group, resource, verb, resourceName or "*")."""
    roles = {("Role", d["metadata"]["namespace"], d["metadata"]["name"]): d for d in objects("Role")}
    roles |= {("ClusterRole", "", d["metadata"]["name"]): d for d in objects("ClusterRole")}
    grants: set[Grant] = set()
    for binding in objects("RoleBinding"):
        subjects = {(s["kind"], s.get("namespace"), s["name"]) for s in binding["subjects"]}
        if ("ServiceAccount", *account) not in subjects:
            continue
        ns = binding["metadata"]["namespace"]
        ref = binding["roleRef"]
        assert ref["apiGroup"] == "rbac.authorization.k8s.io"
        role = roles[(ref["kind"], ns if ref["kind"] == "Role" else "", ref["name"])]
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        for name in rule.get("resourceNames") or ["*"]:
                            grants.add((ns, group, resource, verb, name))
    return grants


def service_account() -> tuple[str, str]:
    account = one("ServiceAccount")["metadata"]
    return account["namespace"], account["name"]


def test_adapters_make_exactly_these_requests(observed, config):
    """The table above is what the adapters do: every verb it lists was used, and nothing else."""
    used: dict[tuple[str, str], set[str]] = {}
    for _, group, resource, verb, _ in observed:
        used.setdefault((group, resource), set()).add(verb)
    assert used == {key: set(verbs) for key, verbs in ADAPTER_VERBS.items()}
    assert observed == expected_grants(config, ADAPTER_VERBS)


def test_rbac_grants_exactly_what_the_adapters_need(config):
    """No rule with a wildcard, no grant the config does not need, no need without its grant."""
    for role in [*objects("Role"), *objects("ClusterRole")]:
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs", "resourceNames"):
                assert "*" not in (rule.get(key) or []), f"{role['metadata']['name']}: {key} has a wildcard"
            assert not rule.get("nonResourceURLs")
            if set(rule["verbs"]) & UNNAMED_VERBS:
                assert not rule.get("resourceNames"), "create cannot be restricted by resourceNames"
    granted = rbac_grants(service_account())
    wanted = expected_grants(config, ADAPTER_VERBS)
    assert granted - wanted == set(), "granted but never needed"
    assert wanted - granted == set(), "needed but not granted"


def test_rbac_allows_every_request_the_adapters_make(observed):
    granted = rbac_grants(service_account())
    refused = [r for r in observed if r not in granted and (*r[:4], "*") not in granted]
    assert refused == []


@pytest.mark.parametrize(("entry", "expected"), [
    pytest.param("GET /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/web-dev",
                 ("argocd", "argoproj.io", "applications", "get", "web-dev"), id="get"),
    pytest.param("GET /apis/argoproj.io/v1alpha1/namespaces/shop/rollouts?fieldSelector=metadata.name%3Dweb"
                 "&resourceVersion=7&timeoutSeconds=9&watch=True",
                 ("shop", "argoproj.io", "rollouts", "watch", "web"), id="watch-one-by-field-selector"),
    pytest.param("GET /apis/argoproj.io/v1alpha1/namespaces/shop/rollouts",
                 ("shop", "argoproj.io", "rollouts", "list", "*"), id="list-everything"),
    pytest.param("POST /apis/coordination.k8s.io/v1/namespaces/p/leases",
                 ("p", "coordination.k8s.io", "leases", "create", "*"), id="create-has-no-name"),
    pytest.param("PUT /apis/coordination.k8s.io/v1/namespaces/p/leases/l",
                 ("p", "coordination.k8s.io", "leases", "update", "l"), id="update"),
    pytest.param("GET /api/v1/namespaces/p/secrets/s", ("p", "", "secrets", "get", "s"), id="core-group"),
])
def test_requests_read_as_rbac_reads_them(entry, expected):
    assert request_attributes(entry) == expected


# --- kubectl ------------------------------------------------------------------------------------

class Discovery(LocalServer):
    """Just enough of an API server for `kubectl apply --dry-run=client` to map kinds to resources:
    legacy discovery documents for BUILTIN_KINDS and the ServiceMonitor CRD, and 404 for every
    object (so each one would be created)."""

    def __init__(self) -> None:
        by_version: dict[str, list[dict[str, Any]]] = {}
        for kind, (group, version, plural, namespaced) in [*BUILTIN_KINDS.items(), ("ServiceMonitor", SERVICEMONITOR)]:
            gv = f"{group}/{version}" if group else version
            by_version.setdefault(gv, []).append({
                "name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        self.documents: dict[str, Any] = {
            "/api": {"kind": "APIVersions", "versions": ["v1"],
                     "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
            "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                 "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}}
                for gv in by_version if "/" in gv]}}
        for gv, resources in by_version.items():
            self.documents["/api/v1" if gv == "v1" else f"/apis/{gv}"] = {
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
        self._serve()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = documents.get(urlsplit(self.path).path)
                code = 200 if body is not None else 404
                if body is None:
                    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                            "code": 404, "message": "not found"}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl (Debian: kubernetes-client)")
def test_kubectl_apply_dry_run_reads_every_manifest(tmp_path):
    """kubectl's own reading of deploy/: every document decodes, every kind maps to a resource of
    the real API, namespaced objects have namespaces. (Field validation needs the server's OpenAPI
    document, which no stand-in here has: the schema checks above do that part.)"""
    with Discovery() as api:
        env = {**os.environ, "KUBECONFIG": str(kubeconfig_for(tmp_path / "kubeconfig", api.url)),
               "HOME": str(tmp_path)}
        result = subprocess.run(["kubectl", "apply", "--dry-run=client", "--validate=false", "-o", "name",
                                 "-f", str(DEPLOY)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    names = result.stdout.split()
    expected = []
    for _, doc in manifests():
        group = doc["apiVersion"].rpartition("/")[0]
        expected.append(f"{doc['kind'].lower()}{'.' + group if group else ''}/{doc['metadata']['name']}")
    assert names == expected


# --- the Dockerfile -------------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        instruction, _, rest = current.partition(" ")
        lines.append((instruction.upper(), rest.strip()))
        current = ""
    assert not current, "a continuation line at the end"
    return lines


def stages() -> list[tuple[str, list[tuple[str, str]]]]:
    """(base image with ARGs substituted, instructions) per FROM."""
    args = {}
    found: list[tuple[str, list[tuple[str, str]]]] = []
    for instruction, rest in dockerfile():
        if instruction == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name] = default
        elif instruction == "FROM":
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], rest.split()[0])
            found.append((image, []))
        else:
            assert found, f"{instruction} before FROM"
            found[-1][1].append((instruction, rest))
    return found


def final_stage() -> list[tuple[str, str]]:
    return stages()[-1][1]


def dockerfile_user() -> tuple[int, int]:
    users = [rest for instruction, rest in final_stage() if instruction == "USER"]
    assert users, "the image runs as root"
    m = re.fullmatch(r"(\d+):(\d+)", users[-1])
    assert m, f"USER {users[-1]}: numeric UID:GID, so that runAsNonRoot can check it"
    return int(m[1]), int(m[2])


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, rest in final_stage():
        if instruction == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def test_dockerfile_bases_on_a_pinned_slim_python():
    found = stages()
    assert len(found) >= 2, "multi-stage: build the wheel apart from the runtime image"
    for image, _ in found:
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), image
    assert len({image for image, _ in found}) == 1, "one base for every stage"
    assert re.search(r"FROM \S+ AS build\b", DOCKERFILE.read_text(encoding="utf-8"))


def test_dockerfile_runtime_has_git_and_a_non_root_user():
    runs = " ".join(rest for instruction, rest in final_stage() if instruction == "RUN")
    assert re.search(r"apt-get install [^&;]*--no-install-recommends[^&;]*\bgit\b", runs)
    assert "rm -rf /var/lib/apt/lists/*" in runs
    uid, gid = dockerfile_user()
    assert uid >= 1000 and gid >= 1000
    assert re.search(rf"useradd [^&;]*--uid {uid}\b", runs) and re.search(rf"groupadd [^&;]*--gid {gid}\b", runs)
    assert not [rest for instruction, rest in final_stage() if instruction in ("ADD",)]
    copies = [rest for instruction, rest in final_stage() if instruction == "COPY"]
    assert copies and all(c.startswith("--from=build ") for c in copies), "the runtime copies only the venv"


def test_dockerfile_runs_the_service():
    commands = {instruction: json.loads(rest) for instruction, rest in final_stage()
                if instruction in ("ENTRYPOINT", "CMD")}  # exec form (JSON): signals reach the process
    assert commands["ENTRYPOINT"][-1] == "gitops-promoter"
    assert commands["ENTRYPOINT"][:-1] in ([], ["tini", "--"])
    args = cli._parser().parse_args(commands["CMD"])  # noqa: SLF001
    assert (args.command, args.once) == ("run", False)
    assert args.config == cli._parser().parse_args(container()["args"]).config  # noqa: SLF001
    env = dockerfile_env()
    assert env["PATH"].split(":")[0] == "/opt/venv/bin"
    assert env["GITOPS_PROMOTER_LOG_FORMAT"] == "json"
    exposed = [rest for instruction, rest in final_stage() if instruction == "EXPOSE"]
    assert exposed == [str(container()["ports"][0]["containerPort"])]


def test_dockerfile_holds_no_secret():
    for instruction, rest in dockerfile():
        if instruction in ("ARG", "ENV"):
            names = [item.partition("=")[0] for item in shlex.split(rest)]
            assert not [n for n in names if re.search(r"TOKEN|SECRET|PASSW|KEY|CREDENTIAL", n, re.I)], rest
        if instruction in ("COPY", "ADD"):
            assert not re.search(r"\.env\b|id_\w+|\.pem\b|kubeconfig|\.netrc|\.git\b", rest), rest


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore semantics (moby/patternmatcher): the last pattern that matches the
    path or one of its parents decides; `!` re-includes; `**` matches any number of folders."""
    excluded = False
    parts = path.split("/")
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*") \
            .replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def dockerignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def build_context(into: Path) -> Path:
    """The files `docker build .` would send: the checkout's tracked and untracked files (what git
    does not ignore), less what .dockerignore excludes."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    patterns = dockerignore_patterns()
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not dockerignored(name, patterns):
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


def test_dockerignore_sends_only_what_the_build_copies():
    patterns = dockerignore_patterns()
    for kept in ("pyproject.toml", "README.md", "gitops_promoter/cli.py", "gitops_promoter/adapters/kube.py"):
        assert not dockerignored(kept, patterns), kept
    for dropped in (".git/config", ".venv/bin/python", "tests/ship/test_deploy.py", "config/promoter.yaml",
                    "deploy/40-deployment.yaml", "fixtures/repos/deploy/x.yaml", ".env", "id_ed25519",
                    "gitops_promoter/__pycache__/cli.cpython-311.pyc", "Dockerfile"):
        assert dockerignored(dropped, patterns), dropped
    # Every COPY source from the context exists there.
    for instruction, rest in dockerfile():
        if instruction == "COPY" and not rest.startswith("--from="):
            for source in shlex.split(rest)[:-1]:
                assert (ROOT / source).exists() and not dockerignored(source, patterns), source


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The Dockerfile's build step, `pip wheel --no-deps --wheel-dir /wheels .`, on the build context
    as Docker would send it (so a file the package needs but .dockerignore drops fails here)."""
    tmp = tmp_path_factory.mktemp("image")
    context = build_context(tmp / "context")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp / "wheels"),
                    "."], cwd=context, check=True, timeout=300,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    found = list((tmp / "wheels").glob("gitops_promoter-*.whl"))
    assert len(found) == 1
    return found[0]


def test_wheel_installs_and_runs(wheel, tmp_path, config_file):
    """The Dockerfile's install step into a fresh venv. Its dependencies come from this checkout's
    venv (a .pth line), so no download; the package itself only from the wheel."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True, timeout=300,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "zz-deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    script = venv / "bin" / "gitops-promoter"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(python), "-c", "import gitops_promoter; print(gitops_promoter.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path, env=env).stdout
    assert where.startswith(site), f"gitops_promoter imported from {where}, not from the wheel"
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=60)
    assert helped.returncode == 0 and "run" in helped.stdout, helped.stderr
    checked = subprocess.run([str(script), "check-config", str(config_file), "--workdir", str(tmp_path / "w")],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK" in checked.stdout


def test_wheel_holds_the_whole_package(wheel):
    import zipfile

    inside = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("gitops_promoter/")}
    ours = {p.relative_to(ROOT).as_posix() for p in (ROOT / "gitops_promoter").rglob("*.py")}
    assert ours <= inside, ours - inside
    assert not [n for n in inside if fnmatch.fnmatch(n, "*__pycache__*")]
