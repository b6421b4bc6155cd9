"""Byte-preserving edits: every test proves the diff is exactly the changed value."""

import pytest

from gitops_promoter.domain.edits import (
    ContainerEdit,
    HelmEdit,
    KustomizeEdit,
    MarkerEdit,
    read_running,
    set_container_image,
    write_version,
)
from gitops_promoter.errors import EditError
from tests.conftest import changed_lines

WEB = "127.0.0.1:5000/acme/web"
DIGEST = "sha256:" + "ab" * 32


def test_set_image_keeps_every_other_byte(golden):
    before = golden("envs/dev/web/rollout.yaml")
    after = set_container_image(before, container="web", image="ghcr.io/acme/web:v1.2.0")
    assert changed_lines(before, after) == [
        ('          image: "127.0.0.1:5000/acme/web:v1.0.0"   # pinned by the promoter',
         '          image: "ghcr.io/acme/web:v1.2.0"   # pinned by the promoter'),
    ]


def test_set_image_init_container_and_registry_port(golden):
    before = golden("envs/dev/web/rollout.yaml")
    after = set_container_image(before, container="migrate", image="localhost:5000/web-migrate@" + DIGEST)
    assert changed_lines(before, after) == [
        ("          image: ghcr.io/acme/web-migrate:v1.0.0", f"          image: localhost:5000/web-migrate@{DIGEST}"),
    ]


def test_set_image_unknown_container_lists_the_known_ones(golden):
    with pytest.raises(EditError, match=r"container 'api' not found \(containers in the file: envoy, migrate, web\)"):
        set_container_image(golden("envs/dev/web/rollout.yaml"), container="api", image="x:1")


def test_set_image_rejects_a_bad_reference(golden):
    with pytest.raises(ValueError, match="invalid tag"):
        set_container_image(golden("envs/dev/web/rollout.yaml"), container="web", image="web:bad tag")


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "Job"])
def test_set_image_workload_kinds(kind):
    before = (f"kind: {kind}\nspec:\n  template:\n    spec:\n      containers:\n"
              "      - name: web\n        image: web:1   # keep\n")
    after = set_container_image(before, container="web", image="web:2")
    assert changed_lines(before, after) == [("        image: web:1   # keep", "        image: web:2   # keep")]


def test_multi_document_cronjob_and_crlf():
    before = ("---\r\nkind: ConfigMap\r\ndata: {a: b}\r\n---\r\nkind: CronJob\r\nspec:\r\n  jobTemplate:\r\n"
              "    spec:\r\n      template:\r\n        spec:\r\n          containers:\r\n"
              "            - {name: web, image: 'web:1'}\r\n...\r\n")
    after = set_container_image(before, container="web", image="web:2")
    assert after == before.replace("'web:1'", "'web:2'")
    assert after.count("\r\n") == before.count("\r\n")


def test_bump_container_keeps_name_and_quoting(golden):
    before = golden("envs/dev/web/rollout.yaml")
    assert read_running(before, ContainerEdit("web"), source="r.yaml").tag == "v1.0.0"
    after = write_version(before, ContainerEdit("web"), image=WEB, tag="v1.1.0", digest=DIGEST, pin=False,
                          source="r.yaml")
    assert changed_lines(before, after) == [
        ('          image: "127.0.0.1:5000/acme/web:v1.0.0"   # pinned by the promoter',
         '          image: "127.0.0.1:5000/acme/web:v1.1.0"   # pinned by the promoter'),
    ]


def test_bump_container_with_digest_pinning(golden):
    before = golden("envs/dev/web/rollout.yaml")
    after = write_version(before, ContainerEdit("web"), image=WEB, tag="v1.1.0", digest=DIGEST, pin=True,
                          source="r.yaml")
    assert f'"127.0.0.1:5000/acme/web:v1.1.0@{DIGEST}"' in after
    assert read_running(after, ContainerEdit("web"), source="r.yaml").digest == DIGEST


def test_pinned_reference_stays_pinned(golden):
    before = golden("envs/dev/api/deploy.yaml")
    edit = ContainerEdit("api")
    assert read_running(before, edit, source="d.yaml").digest.startswith("sha256:0000")
    after = write_version(before, edit, image="127.0.0.1:5000/acme/api", tag="1.1.0", digest=DIGEST, pin=False,
                          source="d.yaml")
    assert [new for _, new in changed_lines(before, after)] == [
        f"              image: 127.0.0.1:5000/acme/api:1.1.0@{DIGEST}"]


def test_bump_refuses_another_image(golden):
    with pytest.raises(EditError, match="runs envoyproxy/envoy, not"):
        write_version(golden("envs/dev/web/rollout.yaml"), ContainerEdit("envoy"), image=WEB, tag="v2",
                      digest=None, pin=False, source="r.yaml")


def test_kustomize_new_tag(golden):
    before = golden("envs/staging/web/kustomization.yaml")
    edit = KustomizeEdit(WEB)
    assert read_running(before, edit, source="k.yaml").tag == "v1.0.0"
    after = write_version(before, edit, image=WEB, tag="v1.1.0", digest=DIGEST, pin=False, source="k.yaml")
    assert changed_lines(before, after) == [("    newTag: v1.0.0", "    newTag: v1.1.0")]


def test_kustomize_adds_digest_when_pinning(golden):
    before = golden("envs/staging/web/kustomization.yaml")
    after = write_version(before, KustomizeEdit(WEB), image=WEB, tag="v1.1.0", digest=DIGEST, pin=True,
                          source="k.yaml")
    assert after == before.replace("    newTag: v1.0.0\n", f"    newTag: v1.1.0\n    digest: {DIGEST}\n")


def test_kustomize_adds_missing_new_tag():
    before = "images:\n- name: web\n  newName: reg/web   # mirror\n- name: other\n  newTag: '1'\n"
    after = write_version(before, KustomizeEdit("web"), image="reg/web", tag="2.0", digest=None, pin=False,
                          source="k.yaml")
    assert after == ("images:\n- name: web\n  newName: reg/web   # mirror\n  newTag: \"2.0\"\n"
                     "- name: other\n  newTag: '1'\n")


def test_kustomize_unknown_entry(golden):
    with pytest.raises(EditError, match=r"no images\[\] entry named 'web' \(entries: 127.0.0.1:5000/acme/web, "):
        read_running(golden("envs/staging/web/kustomization.yaml"), KustomizeEdit("web"), source="k.yaml")


def test_helm_values_key_keeps_quotes_and_comment(golden):
    before = golden("envs/prod/web/values.yaml")
    edit = HelmEdit("image.tag")
    assert read_running(before, edit, source="v.yaml").tag == "v1.0.0"
    after = write_version(before, edit, image=WEB, tag="v1.1.0", digest=None, pin=False, source="v.yaml")
    assert changed_lines(before, after) == [
        ('  tag: "v1.0.0"        # promoted from staging through a pull request',
         '  tag: "v1.1.0"        # promoted from staging through a pull request')]


def test_helm_plain_number_like_tag_is_quoted():
    before = "image:\n  tag: 1.9 # plain\n"
    after = write_version(before, HelmEdit("image.tag"), image=WEB, tag="1.10", digest=None, pin=False,
                          source="v.yaml")
    assert after == 'image:\n  tag: "1.10" # plain\n'


def test_helm_digest_key():
    before = "image:\n  tag: v1\n  digest: ''\n"
    after = write_version(before, HelmEdit("image.tag", digest_key="image.digest"), image=WEB, tag="v2",
                          digest=DIGEST, pin=True, source="v.yaml")
    assert after == f"image:\n  tag: v2\n  digest: '{DIGEST}'\n"


@pytest.mark.parametrize(("key", "message"), [
    ("image.version", "key 'image.version' not found"),
    ("image", "holds a mapping or list"),
])
def test_helm_key_errors(golden, key, message):
    with pytest.raises(EditError, match=message):
        read_running(golden("envs/prod/web/values.yaml"), HelmEdit(key), source="v.yaml")


def test_marker_ref_and_tag(golden):
    before = golden("envs/dev/api/deploy.yaml")
    edit = MarkerEdit("api")
    assert read_running(before, edit, source="d.yaml").tag == "1.0.0"
    after = write_version(before, edit, image="127.0.0.1:5000/acme/api", tag="1.1.0", digest=None, pin=False,
                          source="d.yaml")
    assert changed_lines(before, after) == [
        ('  IMAGE: 127.0.0.1:5000/acme/api:1.0.0 # {"$promoter": "api"}',
         '  IMAGE: 127.0.0.1:5000/acme/api:1.1.0 # {"$promoter": "api"}'),
        ('  TAG: "1.0.0" # {"$promoter": "api:tag"}', '  TAG: "1.1.0" # {"$promoter": "api:tag"}'),
    ]


def test_marker_missing():
    with pytest.raises(EditError, match=r'no marker # \{"\$promoter": "web"\} found'):
        read_running("a: b\n", MarkerEdit("web"), source="d.yaml")


def test_invalid_yaml_names_file_line_col():
    with pytest.raises(EditError, match=r"^r\.yaml:2:\d+: not valid YAML"):
        read_running("a: b\n  c: [d\n", ContainerEdit("web"), source="r.yaml")


def test_idempotent_when_already_there(golden):
    before = golden("envs/dev/web/rollout.yaml")
    after = write_version(before, ContainerEdit("web"), image=WEB, tag="v1.0.0", digest=DIGEST, pin=False,
                          source="r.yaml")
    assert after == before


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("spec:\n  containers:\n  - name: web\n    image: reg/web:v1\n    image: reg/web:v2\n",
                 "f.yaml:5:5: key 'image' appears twice in one mapping", id="duplicated-image-key"),
    pytest.param("spec:\n  containers:\n  - name: web\n    image: reg/web:v1\x07\n",
                 "f.yaml:4:22: control character U+0007 in the file", id="bell"),
    pytest.param("spec:\n  containers:\n  - name: web\n    image: reg/web:v1\u2028\n",
                 "f.yaml:4:22: control character U+2028 in the file", id="line-separator"),
    pytest.param("a: " + "x" * (5 * 1024 * 1024), "larger than the 5242880-byte limit", id="over-5mb"),
    pytest.param("[" * 20000 + "]" * 20000, "f.yaml:1:1001: nested too deep", id="deep-nesting"),
    pytest.param("".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v: 1\n",
                 "f.yaml:101:201: nested too deep to be a deployment file (more than 100 levels)", id="deep-block"),
])
def test_a_hostile_deployment_file_is_a_clean_error_naming_it(text, expected):
    """Issue 10: not written, not a traceback — an EditError that names the file (and the place)."""
    edit = ContainerEdit(container="web")
    with pytest.raises(EditError) as info:
        read_running(text, edit, source="f.yaml")
    assert expected in str(info.value)


def test_an_alias_bomb_in_a_deployment_file_is_composed_without_expanding():
    bomb = "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    text = bomb + "spec:\n  containers:\n  - name: web\n    image: reg/web:v1\n"
    assert read_running(text, ContainerEdit(container="web"), source="f.yaml").tag == "v1"
