"""Webhook payloads, case by case, in the shapes their senders really post.

Sources of the shapes:
* distribution registry: bodies captured from Debian's docker-registry 2.8.2 (pushes made with
  tests/support/registry.py's Pusher to an endpoint with ``headers: {Authorization: [Bearer …]}``),
  checked against distribution/distribution notifications/event.go, notifications/bridge.go,
  notifications/http.go, docs/notifications.md and docs/content/about/notifications.md.
* Docker Hub: docs.docker.com/docker-hub/repos/manage/webhooks ("Example webhook payload").
* GitHub: octokit/webhooks payload-examples and payload-schemas (package, registry_package,
  pull_request, check_run/completed, check_suite, status, push) and GitHub's "Webhook events and
  payloads" docs.
* Harbor: goharbor/website docs/working-with-projects/project-configuration/configure-webhooks.md
  and goharbor/harbor src/pkg/notifier/model/event.go.
* Quay: Red Hat Quay "Repository notifications" (Repository Push) and Quay's 2013 example payload.
"""

import copy
import hashlib
import hmac
import json

import pytest

from gitops_promoter.domain.proposal import branch_name
from gitops_promoter.domain.webhooks import (
    EMPTY_SIGNAL,
    GitHubSignal,
    Push,
    WebhookError,
    github_signal,
    images_to_check,
    promoter_branch,
    registry_pushes,
    verify_bearer,
    verify_signature,
)

EVENTS_V1 = "application/vnd.docker.distribution.events.v1+json"
D1 = "sha256:29f584d9f5a71ef8bceb2f075fec19917baa303c31944bb17f064ad89ab33327"
D2 = "sha256:c3b1ffce70671ac87d03a327b412d3d6e2aa448c20315d27d5d1ba57a0d10a0d"
BLOB = "sha256:28bba4d879d775fd751bfb4bf0affec6854be19446f372154de6e256af79a0ff"
SHA_A = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
SHA_B = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


def encode(doc) -> bytes:
    return json.dumps(doc).encode()


# --- authentication -------------------------------------------------------------------------------

@pytest.mark.parametrize(("header", "secret", "ok"), [
    pytest.param("Bearer s3cret", "s3cret", True, id="right-token"),
    pytest.param("bearer s3cret", "s3cret", True, id="scheme-is-case-insensitive"),
    pytest.param("  Bearer   s3cret  ", "s3cret", True, id="surrounding-spaces-tolerated"),
    pytest.param("Bearer s3cret", "other", False, id="wrong-token"),
    pytest.param("Bearer s3cre", "s3cret", False, id="prefix-of-token"),
    pytest.param("Bearer s3cretX", "s3cret", False, id="token-with-extra"),
    pytest.param("Basic s3cret", "s3cret", False, id="other-scheme"),
    pytest.param("s3cret", "s3cret", False, id="no-scheme"),
    pytest.param("Bearer", "s3cret", False, id="scheme-without-token"),
    pytest.param("Bearer ", "", False, id="empty-secret-never-matches"),
    pytest.param("Bearer x", "", False, id="empty-secret-rejects-all"),
    pytest.param(None, "s3cret", False, id="missing-header"),
    pytest.param("", "s3cret", False, id="empty-header"),
    pytest.param("Bearer sécret", "sécret", True, id="non-ascii-secret"),
    pytest.param("Bearer \udcff", "s3cret", False, id="undecodable-header-no-crash"),
])
def test_verify_bearer(header, secret, ok):
    assert verify_bearer(header, secret) is ok


BODY = b'{"zen": "Design for failure."}'
GOOD = hmac.new(b"hook-secret", BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("header", "secret", "ok"), [
    pytest.param(f"sha256={GOOD}", "hook-secret", True, id="github-form"),
    pytest.param(GOOD, "hook-secret", True, id="bare-hex-from-proxies"),
    pytest.param(GOOD.upper(), "hook-secret", True, id="uppercase-hex"),
    pytest.param(f"SHA256={GOOD}", "hook-secret", True, id="prefix-case-insensitive"),
    pytest.param(f" sha256={GOOD}\n", "hook-secret", True, id="whitespace-around"),
    pytest.param(f"sha256={GOOD}", "other-secret", False, id="wrong-secret"),
    pytest.param(f"sha256={GOOD[:-1]}0" if GOOD[-1] != "0" else f"sha256={GOOD[:-1]}1", "hook-secret", False,
                 id="one-digit-off"),
    pytest.param(f"sha256={GOOD[:-2]}", "hook-secret", False, id="too-short"),
    pytest.param(f"sha256={GOOD}00", "hook-secret", False, id="too-long"),
    pytest.param("sha256=" + "g" * 64, "hook-secret", False, id="non-hex"),
    pytest.param("sha256=" + "é" * 64, "hook-secret", False, id="non-ascii"),
    pytest.param(f"sha1={GOOD}", "hook-secret", False, id="other-algorithm-prefix"),
    pytest.param("sha1=" + hmac.new(b"hook-secret", BODY, hashlib.sha1).hexdigest(), "hook-secret", False,
                 id="sha1-signature-not-accepted"),
    pytest.param("sha256=", "hook-secret", False, id="prefix-only"),
    pytest.param(None, "hook-secret", False, id="missing-header"),
    pytest.param(f"sha256={hmac.new(b'', BODY, hashlib.sha256).hexdigest()}", "", False,
                 id="empty-secret-never-verifies"),
])
def test_verify_signature(header, secret, ok):
    assert verify_signature(BODY, header, secret) is ok


def test_signature_covers_the_raw_body():
    assert not verify_signature(BODY + b" ", f"sha256={GOOD}", "hook-secret")


# --- distribution registry ------------------------------------------------------------------------

# Verbatim body docker-registry 2.8.2 posted for `PUT /v2/acme/web/manifests/v1.0.0` (OCI manifest).
CAPTURED_MANIFEST_PUSH = b"""{
   "events": [
      {
         "id": "ffce08c0-4886-453a-a8e4-c48ecb12e2c0",
         "timestamp": "2026-11-24T18:19:06.254232894Z",
         "action": "push",
         "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 400,
            "digest": "sha256:29f584d9f5a71ef8bceb2f075fec19917baa303c31944bb17f064ad89ab33327",
            "length": 400,
            "repository": "acme/web",
            "url": "http://127.0.0.1:57491/v2/acme/web/manifests/sha256:29f584d9f5a71ef8bceb2f075fec19917baa303c31944bb17f064ad89ab33327",
            "tag": "v1.0.0"
         },
         "request": {
            "id": "d995efff-fc46-4489-ad86-ba9ae37c1442",
            "addr": "127.0.0.1:42546",
            "host": "127.0.0.1:57491",
            "method": "PUT",
            "useragent": "python-httpx/0.28.1"
         },
         "actor": {},
         "source": {
            "addr": "vm:57491",
            "instanceID": "6fd0ad1b-2f6d-4a42-9593-ea5abb3586a0"
         }
      }
   ]
}"""  # noqa: E501


def dist_event(action="push", *, media="application/vnd.oci.image.manifest.v1+json", repo="acme/web",
               tag=None, digest=D1, kind="manifests", host="127.0.0.1:5000", url_host="127.0.0.1:5000"):
    """One event as docker-registry 2.8 writes it (fields omitted exactly where Go's omitempty drops them)."""
    target = {"mediaType": media, "size": 400, "digest": digest, "length": 400, "repository": repo,
              "url": f"http://{url_host}/v2/{repo}/{kind}/{digest}"}
    if media is None:
        del target["mediaType"]
    if tag:
        target["tag"] = tag
    request = {"id": "d995efff", "addr": "127.0.0.1:42546", "method": "PUT" if action == "push" else "GET",
               "useragent": "python-httpx/0.28.1"}
    if host:
        request["host"] = host
    return {"id": "ffce08c0", "timestamp": "2026-11-24T18:19:06.254232894Z", "action": action, "target": target,
            "request": request, "actor": {}, "source": {"addr": "vm:5000", "instanceID": "6fd0ad1b"}}


def envelope(*events) -> bytes:
    return json.dumps({"events": list(events)}, indent=3).encode()


# docs/notifications.md's full example: a schema1 manifest push and two layer pushes in one envelope.
DOCS_ENVELOPE = encode({"events": [
    {"id": "asdf-asdf-asdf-asdf-0", "timestamp": "2006-01-02T15:04:05Z", "action": "push",
     "target": {"mediaType": "application/vnd.docker.distribution.manifest.v1+json", "length": 1,
                "digest": "sha256:0123456789abcdef0", "repository": "library/test",
                "url": "http://example.com/v2/library/test/manifests/latest"},
     "request": {"id": "asdfasdf", "addr": "client.local", "host": "registrycluster.local", "method": "PUT",
                 "useragent": "test/0.1"},
     "actor": {"name": "test-actor"}, "source": {"addr": "hostname.local:port"}},
    *[{"id": f"asdf-asdf-asdf-asdf-{i}", "timestamp": "2006-01-02T15:04:05Z", "action": "push",
       "target": {"mediaType": "application/vnd.docker.container.image.rootfs.diff+x-gtar", "length": i + 1,
                  "digest": f"tarsum.v2+sha256:0123456789abcdef{i}", "repository": "library/test",
                  "url": "http://example.com/v2/library/test/manifests/latest"},
       "request": {"id": "asdfasdf", "addr": "client.local", "host": "registrycluster.local", "method": "PUT",
                   "useragent": "test/0.1"},
       "actor": {"name": "test-actor"}, "source": {"addr": "hostname.local:port"}} for i in (1, 2)],
]})


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param(CAPTURED_MANIFEST_PUSH, [Push("127.0.0.1:57491", "acme/web", "v1.0.0", D1)],
                 id="captured-oci-manifest-push"),
    pytest.param(envelope(dist_event(media="application/octet-stream", kind="blobs", digest=BLOB)), [],
                 id="captured-shape-blob-push-skipped"),
    pytest.param(envelope(dist_event(media="application/vnd.docker.distribution.manifest.v2+json", tag="v2")),
                 [Push("127.0.0.1:5000", "acme/web", "v2", D1)], id="docker-v2-manifest"),
    pytest.param(envelope(dist_event(media="application/vnd.docker.distribution.manifest.list.v2+json", tag="v3")),
                 [Push("127.0.0.1:5000", "acme/web", "v3", D1)], id="docker-manifest-list"),
    pytest.param(envelope(dist_event(media="application/vnd.oci.image.index.v1+json", tag="v3", digest=D2)),
                 [Push("127.0.0.1:5000", "acme/web", "v3", D2)], id="oci-index"),
    pytest.param(envelope(dist_event()), [Push("127.0.0.1:5000", "acme/web", None, D1)],
                 id="by-digest-child-manifest-has-no-tag"),
    pytest.param(envelope(dist_event("pull", tag="v1.0.0")), [], id="pull-ignored"),
    pytest.param(envelope({"id": "x", "timestamp": "2026-11-24T18:19:09Z", "action": "delete",
                           "target": {"digest": D1, "repository": "acme/web"},
                           "request": {"id": "r", "addr": "a", "host": "127.0.0.1:5000", "method": "DELETE",
                                       "useragent": "u"}, "actor": {}, "source": {"addr": "vm:5000"}}),
                 [], id="captured-shape-manifest-delete-ignored"),
    pytest.param(envelope({"id": "x", "timestamp": "2026-11-24T18:19:09Z", "action": "delete",
                           "target": {"repository": "acme/web", "tag": "v1.0.0"},
                           "request": {"id": "r", "method": "DELETE", "useragent": "u"}, "actor": {},
                           "source": {}}),
                 [], id="captured-shape-tag-delete-ignored"),
    pytest.param(envelope({**dist_event("mount", media="application/octet-stream", kind="blobs"),
                           "target": {**dist_event()["target"], "fromRepository": "acme/base"}}),
                 [], id="mount-ignored"),
    pytest.param(envelope(dist_event(host=None, url_host="Registry.Example.COM:5000")),
                 [Push("registry.example.com:5000", "acme/web", None, D1)], id="host-from-url-lowercased"),
    pytest.param(envelope(dist_event(host="")), [Push("127.0.0.1:5000", "acme/web", None, D1)],
                 id="empty-request-host-falls-back-to-url"),
    pytest.param(envelope(dist_event(host="registry.example.com", url_host="10.0.0.5:5000")),
                 [Push("registry.example.com", "acme/web", None, D1)], id="request-host-wins-over-url"),
    pytest.param(encode({"events": [{"action": "push", "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "/acme/web/", "tag": "v1"}}]}),
                 [Push(None, "acme/web", "v1", None)], id="no-host-anywhere-and-slashes-stripped"),
    pytest.param(envelope(dist_event(media=None, tag="v1")), [Push("127.0.0.1:5000", "acme/web", "v1", D1)],
                 id="no-media-type-manifest-url-counts"),
    pytest.param(envelope(dist_event(media=None, kind="blobs")), [], id="no-media-type-blob-url-skipped"),
    pytest.param(DOCS_ENVELOPE, [Push("registrycluster.local", "library/test", None, "sha256:0123456789abcdef0")],
                 id="docs-envelope-layers-skipped"),
    pytest.param(envelope(dist_event(tag="a", repo="acme/web"), dist_event("pull"),
                          dist_event(tag="b", repo="acme/api", digest=D2)),
                 [Push("127.0.0.1:5000", "acme/web", "a", D1), Push("127.0.0.1:5000", "acme/api", "b", D2)],
                 id="many-events-in-order"),
    pytest.param(envelope(), [], id="empty-envelope"),
    pytest.param(envelope(dist_event(repo="acme/wéb-ünïcode", tag="v1")),
                 [Push("127.0.0.1:5000", "acme/wéb-ünïcode", "v1", D1)], id="unicode-repository-kept"),
])
def test_distribution(body, expected):
    assert registry_pushes(body, EVENTS_V1) == expected


def test_distribution_v3_media_type_and_no_content_type():
    body = envelope(dist_event(tag="v1"))
    expected = [Push("127.0.0.1:5000", "acme/web", "v1", D1)]
    assert registry_pushes(body, "application/vnd.docker.distribution.events.v2+json") == expected
    assert registry_pushes(body, None) == expected
    assert registry_pushes(body, "application/json; charset=utf-8") == expected


def test_distribution_media_type_demands_the_envelope():
    with pytest.raises(WebhookError, match=r"^events: expected a list, got nothing"):
        registry_pushes(encode({"push_data": {}, "repository": {}}), EVENTS_V1)


# --- Docker Hub -----------------------------------------------------------------------------------

HUB = {
    "callback_url": "https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
    "push_data": {"pushed_at": 1417566161, "pusher": "trustedbuilder", "tag": "latest"},
    "repository": {"comment_count": 0, "date_created": 1417494799, "description": "",
                   "dockerfile": "#\n# BUILD\t\tdocker build -t svendowideit/apt-cacher .\n",
                   "full_description": "Docker Hub based automated build from a GitHub repo",
                   "is_official": False, "is_private": True, "is_trusted": True, "name": "testhook",
                   "namespace": "svendowideit", "owner": "svendowideit", "repo_name": "svendowideit/testhook",
                   "repo_url": "https://registry.hub.docker.com/u/svendowideit/testhook/", "star_count": 0,
                   "status": "Active"},
}


def hub(push_data=None, **repository):
    doc = copy.deepcopy(HUB)
    doc["push_data"].update(push_data or {})
    doc["repository"].update(repository)
    return encode(doc)


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param(encode(HUB), [Push("docker.io", "svendowideit/testhook", "latest", None)], id="docs-example"),
    pytest.param(hub(repo_name="nginx", namespace="library", name="nginx", is_official=True),
                 [Push("docker.io", "library/nginx", "latest", None)], id="official-image-is-library"),
    pytest.param(hub(repo_name="library/nginx"), [Push("docker.io", "library/nginx", "latest", None)],
                 id="library-prefix-kept"),
    pytest.param(hub(repo_name=None), [Push("docker.io", "svendowideit/testhook", "latest", None)],
                 id="no-repo-name-uses-namespace-and-name"),
    pytest.param(hub({"tag": ""}), [Push("docker.io", "svendowideit/testhook", None, None)], id="empty-tag-is-none"),
    pytest.param(hub({"pushed_at": 1.417566161e09}), [Push("docker.io", "svendowideit/testhook", "latest", None)],
                 id="old-docs-float-timestamp"),
])
def test_docker_hub(body, expected):
    assert registry_pushes(body, "application/json") == expected


# --- GitHub packages (ghcr.io) --------------------------------------------------------------------

OWNER = {"login": "Acme-Corp", "id": 21031067, "type": "Organization", "site_admin": False}
GH_DIGEST = "sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b1ea9a66abc38f6a0cc974292"


def gh_package(key="package", *, action="published", package_type="CONTAINER", name="Web", owner=OWNER,
               namespace="Acme-Corp", tag="v1.2.0", digest=GH_DIGEST, version="missing-means-default"):
    package_version = {
        "id": 57755790, "version": digest, "name": digest, "summary": "", "description": "",
        "html_url": f"https://github.com/orgs/acme-corp/packages/container/{name}/57755790",
        "metadata": [], "package_files": [], "installation_command": f"docker pull ghcr.io/acme-corp/{name}:{tag}",
        "container_metadata": {"tag": {"name": tag, "digest": digest}, "labels": {}, "manifest": {}},
        "package_url": f"ghcr.io/acme-corp/{name}:{tag}",
    }
    package = {"id": 10696, "name": name, "namespace": namespace, "description": None,
               "ecosystem": package_type, "package_type": package_type,
               "html_url": f"https://github.com/orgs/acme-corp/packages/container/package/{name}",
               "created_at": "2019-05-09T23:28:29Z", "updated_at": "2019-05-09T23:28:29Z", "owner": owner,
               "package_version": package_version if version == "missing-means-default" else version,
               "registry": {"about_url": "https://docs.github.com/packages", "name": "GitHub CONTAINER registry",
                            "type": "CONTAINER", "url": "https://CONTAINER.pkg.github.com/acme-corp",
                            "vendor": "GitHub Inc"}}
    if owner is None:
        del package["owner"]
    return encode({"action": action, key: package,
                   "repository": {"id": 1, "name": "web", "full_name": "acme-corp/web"},
                   "sender": {"login": "octocat"}})


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param(gh_package(), [Push("ghcr.io", "acme-corp/web", "v1.2.0", GH_DIGEST)], id="package-published"),
    pytest.param(gh_package(action="updated"), [Push("ghcr.io", "acme-corp/web", "v1.2.0", GH_DIGEST)],
                 id="package-updated"),
    pytest.param(gh_package("registry_package", package_type="container"),
                 [Push("ghcr.io", "acme-corp/web", "v1.2.0", GH_DIGEST)], id="registry-package-lowercase-type"),
    pytest.param(gh_package(package_type="container"), [Push("ghcr.io", "acme-corp/web", "v1.2.0", GH_DIGEST)],
                 id="package-lowercase-type"),
    pytest.param(gh_package(tag=""), [Push("ghcr.io", "acme-corp/web", None, GH_DIGEST)],
                 id="untagged-version-as-in-octokit-example"),
    pytest.param(gh_package(name="web/api"), [Push("ghcr.io", "acme-corp/web/api", "v1.2.0", GH_DIGEST)],
                 id="nested-package-name"),
    pytest.param(gh_package(owner=None), [Push("ghcr.io", "acme-corp/web", "v1.2.0", GH_DIGEST)],
                 id="namespace-when-no-owner"),
    pytest.param(gh_package(version=None), [Push("ghcr.io", "acme-corp/web", None, None)],
                 id="null-package-version"),
    pytest.param(gh_package(package_type="npm"), [], id="npm-package-ignored"),
    pytest.param(gh_package(package_type="docker"), [], id="retired-docker-pkg-registry-ignored"),
    pytest.param(gh_package(action="deleted"), [], id="other-action-ignored"),
])
def test_github_packages(body, expected):
    assert registry_pushes(body, "application/json") == expected


def test_github_ping_names_no_push():
    body = encode({"zen": "Keep it logically awesome.", "hook_id": 12345, "hook": {"type": "Organization"}})
    assert registry_pushes(body, "application/json") == []


# --- Harbor ---------------------------------------------------------------------------------------

HARBOR_DIGEST = "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"


def harbor(kind="PUSH_ARTIFACT", *resources, full_name="harbor/alpine"):
    return encode({"type": kind, "occur_at": 1680501893, "operator": "harbor-jobservice", "event_data": {
        "resources": list(resources) or [{"digest": HARBOR_DIGEST, "tag": HARBOR_DIGEST,
                                          "resource_url": f"localhost/harbor/alpine@{HARBOR_DIGEST}"}],
        "repository": {"date_created": 1680501893, "name": "alpine", "namespace": "harbor",
                       "repo_full_name": full_name, "repo_type": "private"}}})


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param(harbor(), [Push("localhost", "harbor/alpine", None, HARBOR_DIGEST)],
                 id="docs-by-digest-push-tag-is-the-digest"),
    pytest.param(harbor("PUSH_ARTIFACT", {"digest": HARBOR_DIGEST, "tag": "3.8",
                                          "resource_url": "Harbor.Example.com:8443/harbor/alpine:3.8"}),
                 [Push("harbor.example.com:8443", "harbor/alpine", "3.8", HARBOR_DIGEST)], id="tag-push-with-port"),
    pytest.param(harbor("PUSH_ARTIFACT", {"digest": HARBOR_DIGEST, "tag": "v1.0",
                                          "resource_url": f"harbor.dev/library/busybox:v1.0@{HARBOR_DIGEST}"},
                        full_name="library/busybox"),
                 [Push("harbor.dev", "library/busybox", "v1.0", HARBOR_DIGEST)], id="tag-and-digest-url"),
    pytest.param(harbor("PUSH_ARTIFACT", {"tag": "1", "resource_url": "harbor/team/a/b:1"}, full_name="team/a/b"),
                 [Push("harbor", "team/a/b", "1", None)], id="dotless-host-found-by-full-name"),
    pytest.param(harbor("PUSH_ARTIFACT", {"tag": "a", "resource_url": "h.io/p/r:a"},
                        {"tag": "b", "resource_url": "h.io/p/r:b"}, full_name="p/r"),
                 [Push("h.io", "p/r", "a", None), Push("h.io", "p/r", "b", None)], id="several-resources"),
    pytest.param(harbor("pushImage", {"tag": "latest", "digest": HARBOR_DIGEST,
                                      "resource_url": "harbor.example.com/example/test:latest"},
                        full_name="example/test"),
                 [Push("harbor.example.com", "example/test", "latest", HARBOR_DIGEST)], id="harbor-1x-push-image"),
    pytest.param(harbor("PULL_ARTIFACT"), [], id="pull-ignored"),
    pytest.param(harbor("DELETE_ARTIFACT"), [], id="delete-ignored"),
    pytest.param(encode({"type": "SCANNING_COMPLETED", "occur_at": 1, "operator": "auto",
                         "event_data": {"resources": [{"digest": HARBOR_DIGEST, "scan_overview": {}}],
                                        "repository": {"name": "alpine", "namespace": "harbor",
                                                       "repo_full_name": "harbor/alpine", "repo_type": "private"}}}),
                 [], id="scan-ignored"),
])
def test_harbor(body, expected):
    assert registry_pushes(body, "application/json") == expected


# --- Quay -----------------------------------------------------------------------------------------

QUAY = {"name": "repository", "repository": "dgangaia/test", "namespace": "dgangaia",
        "docker_url": "quay.io/dgangaia/test", "homepage": "https://quay.io/repository/dgangaia/repository",
        "updated_tags": ["latest"]}


@pytest.mark.parametrize(("doc", "expected"), [
    pytest.param(QUAY, [Push("quay.io", "dgangaia/test", "latest", None)], id="docs-example"),
    pytest.param({**QUAY, "updated_tags": ["v1", "latest", "v1"]},
                 [Push("quay.io", "dgangaia/test", "v1", None), Push("quay.io", "dgangaia/test", "latest", None)],
                 id="one-push-per-tag-deduplicated"),
    pytest.param({"pushed_image_count": 2, "name": "ubuntu", "repository": "devtable/ubuntu",
                  "docker_url": "quay.io/devtable/ubuntu",
                  "updated_tags": {"latest": "b750fe79269d2ec9a3c593ef05b4332b1d1a02a62b4accb2c21d589ff2f5f2dc"},
                  "namespace": "devtable", "visibility": "private",
                  "homepage": "https://quay.io/repository/devtable/ubuntu"},
                 [Push("quay.io", "devtable/ubuntu", "latest", None)], id="2013-object-form"),
    pytest.param({**QUAY, "docker_url": "Quay.Example.com:8443/dgangaia/test"},
                 [Push("quay.example.com:8443", "dgangaia/test", "latest", None)], id="self-hosted-quay"),
    pytest.param({**QUAY, "updated_tags": []}, [Push("quay.io", "dgangaia/test", None, None)],
                 id="no-tags-still-a-push"),
    pytest.param({"build_id": "296ec063", "trigger_kind": "github", "name": "test", "repository": "dgangaia/test",
                  "namespace": "dgangaia", "docker_url": "quay.io/dgangaia/test", "docker_tags": ["master"]},
                 [], id="build-queued-ignored"),
])
def test_quay(doc, expected):
    assert registry_pushes(encode(doc), "application/json") == expected


# --- hostile and malformed payloads ---------------------------------------------------------------

DEEP = b"[" * 10_000 + b"]" * 10_000


@pytest.mark.parametrize(("body", "content_type", "message"), [
    pytest.param(b"", None, r"^payload: not valid JSON", id="empty-body"),
    pytest.param(CAPTURED_MANIFEST_PUSH[:300], EVENTS_V1, r"^payload: not valid JSON", id="truncated-json"),
    pytest.param(b"\xff\xfe\x00garbage", None, r"^payload: not valid JSON", id="not-utf8"),
    pytest.param(b"payload=%7B%22zen%22%7D", "application/x-www-form-urlencoded",
                 r"not valid JSON \(sent as application/x-www-form-urlencoded\)", id="form-encoded-says-so"),
    pytest.param(DEEP, None, r"^payload: (nested too deeply|expected an object)", id="10k-nested-lists"),
    pytest.param(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, None, r"^payload: nested too deeply",
                 id="10k-nested-objects"),
    pytest.param(b'{"events": [' + b"1" * 5000 + b"]}", EVENTS_V1, r"^payload: not valid JSON", id="5000-digit-int"),
    pytest.param(b'{"events": [1e999]}', EVENTS_V1, r"^payload: number 1e999 is out of range", id="float-overflow"),
    pytest.param(b'{"events": [NaN]}', EVENTS_V1, r"^payload: NaN is not valid JSON", id="nan-literal"),
    pytest.param(b"[]", None, r"^payload: expected an object, got a list", id="top-level-list"),
    pytest.param(b'"events"', None, r"^payload: expected an object, got a string", id="top-level-string"),
    pytest.param(b"null", None, r"^payload: expected an object, got null", id="top-level-null"),
    pytest.param(b'{"hello": "world"}', None, r"^payload: not a registry notification.*'hello'", id="unknown-shape"),
    pytest.param(b"{}", None, r"^payload: not a registry notification.*keys: none", id="empty-object"),
    pytest.param(b'{"events": {}}', EVENTS_V1, r"^events: expected a list, got an object", id="events-not-a-list"),
    pytest.param(b'{"events": null}', EVENTS_V1, r"^events: expected a list, got null", id="events-null"),
    pytest.param(b'{"events": [[]]}', EVENTS_V1, r"^events\[0\]: expected an object, got a list",
                 id="event-is-a-list"),
    pytest.param(envelope(dist_event(), dist_event(), {**dist_event(), "target": {
        **dist_event()["target"], "repository": 5}}), EVENTS_V1,
        r"^events\[2\]\.target\.repository: expected a string, got a number", id="third-event-repository-number"),
    pytest.param(envelope({**dist_event(), "action": True}), EVENTS_V1,
                 r"^events\[0\]\.action: expected a string, got a boolean", id="action-boolean"),
    pytest.param(envelope({k: v for k, v in dist_event().items() if k != "target"}), EVENTS_V1,
                 r"^events\[0\]\.target: expected an object, got nothing", id="target-missing"),
    pytest.param(envelope({**dist_event(), "target": ["a"]}), EVENTS_V1,
                 r"^events\[0\]\.target: expected an object, got a list", id="target-a-list"),
    pytest.param(envelope({**dist_event(), "request": "127.0.0.1"}), EVENTS_V1,
                 r"^events\[0\]\.request: expected an object, got a string", id="request-a-string"),
    pytest.param(envelope({**dist_event(), "request": {"host": ["h"]}}), EVENTS_V1,
                 r"^events\[0\]\.request\.host: expected a string, got a list", id="request-host-a-list"),
    pytest.param(envelope({**dist_event(), "target": {**dist_event()["target"], "tag": 1}}), EVENTS_V1,
                 r"^events\[0\]\.target\.tag: expected a string, got a number", id="tag-a-number"),
    pytest.param(envelope({**dist_event(), "target": {**dist_event()["target"], "mediaType": {}}}), EVENTS_V1,
                 r"^events\[0\]\.target\.mediaType: expected a string", id="media-type-an-object"),
    pytest.param(envelope({**dist_event(), "target": {**dist_event()["target"], "repository": "//"}}), EVENTS_V1,
                 r"^events\[0\]\.target\.repository: expected a repository name", id="repository-only-slashes"),
    pytest.param(b'{"push_data": [], "repository": {}}', None, r"^push_data: expected an object, got a list",
                 id="hub-push-data-a-list"),
    pytest.param(hub(repo_name=7), None, r"^repository\.repo_name: expected a string, got a number",
                 id="hub-repo-name-number"),
    pytest.param(encode({"push_data": {"tag": "x"}, "repository": {}}), None,
                 r"^repository\.name: expected a string, got nothing", id="hub-no-name-at-all"),
    pytest.param(gh_package(name=None), None, r"^package\.name: expected a string, got null", id="gh-name-null"),
    pytest.param(gh_package(name="/"), None, r"^package\.name: expected a repository name", id="gh-name-empty"),
    pytest.param(encode({"push_data": {}, "repository": {"namespace": "acme", "name": ""}}), None,
                 r"^repository\.name: expected a repository name", id="hub-name-empty"),
    pytest.param(gh_package(owner=None, namespace=None), None, r"^package\.owner\.login: expected a string",
                 id="gh-no-owner-no-namespace"),
    pytest.param(gh_package(owner={"login": 3}), None, r"^package\.owner\.login: expected a string, got a number",
                 id="gh-owner-login-number"),
    pytest.param(gh_package(version={"container_metadata": {"tag": {"name": ["v1"]}}}), None,
                 r"^package\.package_version\.container_metadata\.tag\.name: expected a string, got a list",
                 id="gh-tag-name-list"),
    pytest.param(gh_package("registry_package", version=[]), None,
                 r"^registry_package\.package_version: expected an object, got a list", id="gh-version-list"),
    pytest.param(encode({"action": "published", "package": "web"}), None, r"^package: expected an object",
                 id="gh-package-a-string"),
    pytest.param(encode({"type": "PUSH_ARTIFACT", "event_data": {"resources": {}}}), None,
                 r"^event_data\.resources: expected a list, got an object", id="harbor-resources-object"),
    pytest.param(encode({"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"resource_url": None}]}}), None,
                 r"^event_data\.resources\[0\]\.resource_url: names no repository", id="harbor-no-repository"),
    pytest.param(harbor("PUSH_ARTIFACT", {"tag": 1.5, "resource_url": "h.io/p/r:a"}), None,
                 r"^event_data\.resources\[0\]\.tag: expected a string, got a number", id="harbor-tag-number"),
    pytest.param(encode({"type": 1, "event_data": {}}), None, r"^type: expected a string, got a number",
                 id="harbor-type-number"),
    pytest.param(encode({**QUAY, "updated_tags": "latest"}), None, r"^updated_tags: expected a list, got a string",
                 id="quay-tags-a-string"),
    pytest.param(encode({**QUAY, "updated_tags": ["ok", None]}), None, r"^updated_tags\[1\]: expected a string",
                 id="quay-tag-null"),
    pytest.param(encode({**QUAY, "repository": {"name": "x"}}), None, r"^repository: expected a string",
                 id="quay-repository-object"),
])
def test_malformed_registry_payloads(body, content_type, message):
    with pytest.raises(WebhookError, match=message):
        registry_pushes(body, content_type)


def _paths(doc, prefix=()):
    """Every path into a JSON document (keys and list indexes)."""
    if isinstance(doc, dict):
        items = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _replaced(doc, path, value):
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


WRONG_VALUES = [None, True, 0, -1, 10**30, 1.5, "", "x", "ünï©ødé", [], [1], {}, {"a": []}]
REAL_PAYLOADS = [json.loads(b) for b in (CAPTURED_MANIFEST_PUSH, DOCS_ENVELOPE, encode(HUB), gh_package(),
                                         gh_package("registry_package", package_type="container"), harbor(),
                                         encode(QUAY))]


@pytest.mark.parametrize("doc", REAL_PAYLOADS, ids=["distribution", "distribution-docs", "docker-hub",
                                                    "gh-package", "gh-registry-package", "harbor", "quay"])
def test_any_wrong_value_anywhere_is_a_webhook_error_or_a_result(doc):
    """Each value of each real payload replaced by each wrong kind: a result or WebhookError, nothing else."""
    for path in _paths(doc):
        for value in WRONG_VALUES:
            body = encode(_replaced(doc, path, value))
            try:
                pushes = registry_pushes(body, None)
            except WebhookError as exc:
                assert str(exc), path
            else:
                assert all(isinstance(p, Push) and isinstance(p.repository, str) and p.repository for p in pushes)


# --- which configured images a push names ---------------------------------------------------------

KNOWN = ["127.0.0.1:5000/acme/web", "ghcr.io/acme/web", "docker.io/library/nginx", "nginx", "acme/web",
         "quay.io/dgangaia/test", "localhost:5000/acme/web"]


@pytest.mark.parametrize(("pushes", "expected"), [
    pytest.param([Push("127.0.0.1:5000", "acme/web", "v1", D1)], {"127.0.0.1:5000/acme/web"}, id="local-registry"),
    pytest.param([Push("ghcr.io", "acme/web", "v1", None)], {"ghcr.io/acme/web"}, id="ghcr"),
    pytest.param([Push("docker.io", "library/nginx", "1.27", None)], {"docker.io/library/nginx", "nginx"},
                 id="hub-official-both-spellings"),
    pytest.param([Push("docker.io", "acme/web", "v1", None)], {"acme/web"}, id="hub-user-repo"),
    pytest.param([Push("index.docker.io", "nginx", None, None)], {"docker.io/library/nginx", "nginx"},
                 id="index-docker-io-alias"),
    pytest.param([Push("registry-1.docker.io", "library/nginx", None, None)], {"docker.io/library/nginx", "nginx"},
                 id="registry-1-alias"),
    pytest.param([Push(None, "acme/web", None, None)],
                 {"127.0.0.1:5000/acme/web", "ghcr.io/acme/web", "acme/web", "localhost:5000/acme/web"},
                 id="no-host-matches-any-host-with-that-path"),
    pytest.param([Push("127.0.0.1:5001", "acme/web", None, None)], set(), id="other-port-is-another-registry"),
    pytest.param([Push("evil.example.com", "acme/web", None, None)], set(), id="unknown-host-never-returned"),
    pytest.param([Push("127.0.0.1:5000", "acme/web2", None, None)], set(), id="other-repository"),
    pytest.param([Push("127.0.0.1:5000", "acme", None, None)], set(), id="path-prefix-is-not-a-match"),
    pytest.param([Push("GHCR.IO", "Acme/Web", None, None)], {"ghcr.io/acme/web"}, id="case-insensitive"),
    pytest.param([Push("quay.io", "dgangaia/test", "latest", None), Push("ghcr.io", "acme/web", None, None)],
                 {"quay.io/dgangaia/test", "ghcr.io/acme/web"}, id="several-pushes"),
    pytest.param([], set(), id="no-pushes"),
])
def test_images_to_check(pushes, expected):
    assert images_to_check(pushes, KNOWN) == expected


def test_images_are_returned_as_configured():
    known = ["ghcr.io/acme/web:v1", "Ghcr.io/acme/api@" + D1]
    assert images_to_check([Push("ghcr.io", "acme/web", None, None), Push("ghcr.io", "acme/api", None, None)],
                           known) == set(known)


def test_end_to_end_captured_push_to_configured_image():
    pushes = registry_pushes(CAPTURED_MANIFEST_PUSH, EVENTS_V1)
    assert images_to_check(pushes, ["127.0.0.1:57491/acme/web", "127.0.0.1:57491/acme/api"]) == {
        "127.0.0.1:57491/acme/web"}


# --- GitHub events --------------------------------------------------------------------------------

REPO = {"id": 186853002, "name": "Hello-World", "full_name": "Codertocat/Hello-World", "private": False,
        "owner": {"login": "Codertocat"}, "default_branch": "master"}
SENDER = {"login": "Codertocat", "id": 21031067, "type": "User"}
PR = {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/2", "id": 279147437, "number": 2,
      "state": "open", "title": "promote(staging): web v1 → v2", "merged": False,
      "head": {"label": "Codertocat:promoter/staging/web", "ref": "promoter/staging/web", "sha": SHA_A,
               "repo": REPO},
      "base": {"label": "Codertocat:master", "ref": "master", "sha": SHA_B, "repo": REPO}}
SHORT_PR = {"url": PR["url"], "id": 279147437, "number": 2,
            "head": {"ref": "promoter/staging/web", "sha": SHA_A,
                     "repo": {"id": 186853002, "url": "https://api.github.com/repos/Codertocat/Hello-World",
                              "name": "Hello-World"}},
            "base": {"ref": "master", "sha": SHA_B,
                     "repo": {"id": 186853002, "url": "https://api.github.com/repos/Codertocat/Hello-World",
                              "name": "Hello-World"}}}
SUITE = {"id": 118578147, "head_branch": "promoter/staging/web", "head_sha": SHA_A, "status": "completed",
         "conclusion": "success", "before": SHA_B, "after": SHA_A, "pull_requests": [SHORT_PR],
         "app": {"id": 29310, "name": "octocoders-linter"}}
CHECK_RUN = {"id": 128620228, "head_sha": SHA_A, "external_id": "", "status": "completed", "conclusion": "success",
             "name": "Octocoders-linter", "check_suite": SUITE, "app": {"id": 29310}, "pull_requests": [SHORT_PR]}
STATUS = {"id": 6805126730, "sha": SHA_A, "name": "Codertocat/Hello-World", "target_url": None, "context": "default",
          "description": None, "state": "success", "commit": {"sha": SHA_A},
          "branches": [{"name": "master", "commit": {"sha": SHA_B, "url": "u"}, "protected": False},
                       {"name": "promoter/staging/web", "commit": {"sha": SHA_A, "url": "u"}, "protected": False}],
          "created_at": "2019-05-15T15:20:55+00:00", "updated_at": "2019-05-15T15:20:55+00:00"}
PUSH = {"ref": "refs/heads/promoter/staging/web", "before": SHA_B, "after": SHA_A, "created": False,
        "deleted": False, "forced": False, "base_ref": None, "compare": "https://github.com/…/compare/x...y",
        "commits": [], "head_commit": None, "pusher": {"name": "Codertocat"}}


def gh(doc) -> bytes:
    return encode({**doc, "repository": REPO, "sender": SENDER})


def signal(branches=(), shas=(), pulls=(), repo="Codertocat/Hello-World"):
    return GitHubSignal(repo, frozenset(branches), frozenset(shas), frozenset(pulls))


ON_PR = signal(["promoter/staging/web"], [SHA_A], [2])


@pytest.mark.parametrize(("event", "payload", "expected"), [
    pytest.param("pull_request", gh({"action": "opened", "number": 2, "pull_request": PR}), ON_PR,
                 id="pull-request-opened"),
    pytest.param("pull_request", gh({"action": "closed", "number": 2, "pull_request": {**PR, "merged": True}}),
                 ON_PR, id="pull-request-merged"),
    pytest.param("pull_request_review", gh({"action": "submitted", "review": {"id": 1, "state": "approved",
                                                                             "commit_id": SHA_A},
                                            "pull_request": PR}), ON_PR, id="review-submitted"),
    pytest.param("check_run", gh({"action": "completed", "check_run": CHECK_RUN}), ON_PR, id="check-run-completed"),
    pytest.param("check_run", gh({"action": "created", "check_run": {
        **CHECK_RUN, "pull_requests": [], "check_suite": {**SUITE, "head_branch": None, "pull_requests": []}}}),
                 signal(shas=[SHA_A]), id="check-run-fork-null-head-branch"),
    pytest.param("check_run", gh({"action": "completed", "check_run": {
        k: v for k, v in CHECK_RUN.items() if k not in ("check_suite", "pull_requests")}}),
                 signal(shas=[SHA_A]), id="check-run-minimal"),
    pytest.param("check_suite", gh({"action": "completed", "check_suite": SUITE}), ON_PR,
                 id="check-suite-completed"),
    pytest.param("status", gh(STATUS), signal(["master", "promoter/staging/web"], [SHA_A]), id="status"),
    pytest.param("status", gh({**STATUS, "branches": []}), signal(shas=[SHA_A]), id="status-no-branches"),
    pytest.param("push", gh(PUSH), signal(["promoter/staging/web"], [SHA_A]), id="push-to-branch"),
    pytest.param("push", gh({**PUSH, "after": "0" * 40, "deleted": True}), signal(["promoter/staging/web"]),
                 id="branch-deleted-has-no-sha"),
    pytest.param("push", gh({**PUSH, "ref": "refs/tags/v1.0.0"}), signal(shas=[SHA_A]), id="tag-push-no-branch"),
    pytest.param("push", encode({"ref": "refs/heads/main", "after": SHA_A}), signal(["main"], [SHA_A], repo=None),
                 id="no-repository-object"),
    pytest.param("pull_request", gh({"action": "opened", "pull_request": {
        **PR, "head": {**PR["head"], "ref": "promoter/staging/wéb-☃"}}}),
                 signal(["promoter/staging/wéb-☃"], [SHA_A], [2]), id="unicode-branch-kept"),
    pytest.param("ping", encode({"zen": "Design for failure.", "hook_id": 1, "hook": {}}), EMPTY_SIGNAL, id="ping"),
    pytest.param("ping", b"not even json", EMPTY_SIGNAL, id="ping-payload-not-read"),
    pytest.param("issues", gh({"action": "opened", "issue": {"number": 9}}), EMPTY_SIGNAL, id="unread-event"),
    pytest.param("workflow_run", b"[]", EMPTY_SIGNAL, id="unread-event-payload-not-read"),
])
def test_github_signal(event, payload, expected):
    assert github_signal(event, payload) == expected


def pr_with(**head):
    return gh({"action": "opened", "pull_request": {**PR, "head": {**PR["head"], **head}}})


@pytest.mark.parametrize(("event", "payload", "message"), [
    pytest.param("pull_request", b'{"pull_request": ', r"^payload: not valid JSON", id="truncated"),
    pytest.param("pull_request", b"payload=%7B%7D", r"form-encoded; set the GitHub webhook's content type",
                 id="form-encoded"),
    pytest.param("push", DEEP, r"^payload: (nested too deeply|expected an object)", id="10k-nested-lists"),
    pytest.param("pull_request", b"[]", r"^payload: expected an object, got a list", id="top-level-list"),
    pytest.param("pull_request", gh({"action": "opened"}), r"^pull_request: expected an object, got nothing",
                 id="pull-request-missing"),
    pytest.param("pull_request", gh({"pull_request": [PR]}), r"^pull_request: expected an object, got a list",
                 id="pull-request-a-list"),
    pytest.param("pull_request", gh({"pull_request": {**PR, "number": "2"}}),
                 r"^pull_request\.number: expected a positive integer, got a string", id="number-a-string"),
    pytest.param("pull_request", gh({"pull_request": {**PR, "number": True}}),
                 r"^pull_request\.number: expected a positive integer, got a boolean", id="number-a-boolean"),
    pytest.param("pull_request", gh({"pull_request": {**PR, "number": 2.0}}),
                 r"^pull_request\.number: expected a positive integer, got a number", id="number-a-float"),
    pytest.param("pull_request", gh({"pull_request": {**PR, "number": 10**30}}),
                 r"^pull_request\.number: expected a positive integer", id="number-huge"),
    pytest.param("pull_request", gh({"pull_request": {**PR, "number": 0}}),
                 r"^pull_request\.number: expected a positive integer", id="number-zero"),
    pytest.param("pull_request", gh({"pull_request": {**PR, "number": "N"}}).replace(b'"N"', b"1e999"),
                 r"^payload: number 1e999 is out of range", id="number-overflows"),
    pytest.param("pull_request", pr_with(ref=None), r"^pull_request\.head\.ref: expected a string, got null",
                 id="head-ref-null"),
    pytest.param("pull_request", pr_with(sha=["x"]), r"^pull_request\.head\.sha: expected a string, got a list",
                 id="head-sha-list"),
    pytest.param("pull_request", gh({"pull_request": {**PR, "head": "promoter/staging/web"}}),
                 r"^pull_request\.head: expected an object, got a string", id="head-a-string"),
    pytest.param("pull_request", encode({"pull_request": PR, "repository": {"full_name": 5}}),
                 r"^repository\.full_name: expected a string, got a number", id="full-name-number"),
    pytest.param("pull_request", encode({"pull_request": PR, "repository": []}),
                 r"^repository: expected an object, got a list", id="repository-a-list"),
    pytest.param("check_run", gh({"check_run": {**CHECK_RUN, "pull_requests": {}}}),
                 r"^check_run\.pull_requests: expected a list, got an object", id="check-run-prs-object"),
    pytest.param("check_run", gh({"check_run": {**CHECK_RUN, "pull_requests": [SHORT_PR, {"number": 3}]}}),
                 r"^check_run\.pull_requests\[1\]\.head: expected an object, got nothing", id="check-run-pr-no-head"),
    pytest.param("check_run", gh({"check_run": {**CHECK_RUN, "check_suite": {**SUITE, "head_branch": 1}}}),
                 r"^check_run\.check_suite\.head_branch: expected a string, got a number",
                 id="check-run-suite-branch-number"),
    pytest.param("check_run", gh({"check_run": {**CHECK_RUN, "head_sha": None}}),
                 r"^check_run\.head_sha: expected a string, got null", id="check-run-head-sha-null"),
    pytest.param("check_suite", gh({"check_suite": {**SUITE, "pull_requests": [[]]}}),
                 r"^check_suite\.pull_requests\[0\]: expected an object, got a list", id="check-suite-pr-list"),
    pytest.param("check_suite", gh({"check_suite": "x"}), r"^check_suite: expected an object, got a string",
                 id="check-suite-a-string"),
    pytest.param("status", gh({**STATUS, "branches": [{"name": None}]}),
                 r"^branches\[0\]\.name: expected a string, got null", id="status-branch-name-null"),
    pytest.param("status", gh({**STATUS, "branches": "master"}), r"^branches: expected a list, got a string",
                 id="status-branches-a-string"),
    pytest.param("status", gh({k: v for k, v in STATUS.items() if k != "sha"}), r"^sha: expected a string",
                 id="status-no-sha"),
    pytest.param("push", gh({**PUSH, "ref": 1}), r"^ref: expected a string, got a number", id="push-ref-number"),
    pytest.param("push", gh({**PUSH, "after": {}}), r"^after: expected a string, got an object",
                 id="push-after-object"),
])
def test_malformed_github_payloads(event, payload, message):
    with pytest.raises(WebhookError, match=message):
        github_signal(event, payload)


GITHUB_REAL = [("pull_request", json.loads(gh({"action": "opened", "pull_request": PR}))),
               ("check_run", json.loads(gh({"action": "completed", "check_run": CHECK_RUN}))),
               ("check_suite", json.loads(gh({"action": "completed", "check_suite": SUITE}))),
               ("status", json.loads(gh(STATUS))), ("push", json.loads(gh(PUSH)))]


@pytest.mark.parametrize(("event", "doc"), GITHUB_REAL, ids=[e for e, _ in GITHUB_REAL])
def test_any_wrong_value_anywhere_in_github_payloads(event, doc):
    for path in _paths(doc):
        for value in WRONG_VALUES:
            try:
                result = github_signal(event, encode(_replaced(doc, path, value)))
            except WebhookError as exc:
                assert str(exc), path
            else:
                assert isinstance(result, GitHubSignal)
                assert all(isinstance(n, int) and not isinstance(n, bool) for n in result.pulls)


# --- promoter branches ----------------------------------------------------------------------------

@pytest.mark.parametrize(("branch", "expected"), [
    pytest.param("promoter/staging/web", ("staging", "web"), id="promoter-branch"),
    pytest.param(branch_name("prod", "api-gateway"), ("prod", "api-gateway"), id="inverse-of-branch-name"),
    pytest.param("refs/heads/promoter/prod/web", ("prod", "web"), id="as-a-ref"),
    pytest.param("promoter/staging", None, id="too-short"),
    pytest.param("promoter/staging/web/extra", None, id="too-long"),
    pytest.param("promoter//web", None, id="empty-env"),
    pytest.param("promoter/staging/", None, id="empty-app"),
    pytest.param("feature/staging/web", None, id="other-prefix"),
    pytest.param("Promoter/staging/web", None, id="prefix-is-case-sensitive"),
    pytest.param("main", None, id="ordinary-branch"),
    pytest.param("promoter/sta ging/web", None, id="whitespace"),
    pytest.param("", None, id="empty"),
])
def test_promoter_branch(branch, expected):
    assert promoter_branch(branch) == expected
