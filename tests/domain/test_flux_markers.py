"""Flux's image setter markers (`# {"$imagepolicy": "NS:NAME"}`, `:tag`, `:name`, `:digest`) edited as the
promoter's own markers are: the diff is exactly the changed value. Shapes from Flux's own test data
(fluxcd/image-automation-controller pkg/update/testdata/setters/original/{marked,kustomization}.yaml) and
the comment rules of kyaml's fieldmeta (kustomize kyaml/fieldmeta/fieldmeta.go, processShortHand)."""

import pytest

from gitops_promoter.domain.edits import MarkerEdit, Running, flux_setter, read_running, write_version
from gitops_promoter.errors import EditError
from tests.conftest import changed_lines

WEB = "ghcr.io/acme/web"
DIGEST = "sha256:" + "ab" * 32
OLD_DIGEST = "sha256:" + "01" * 32
FLUX = MarkerEdit("web", flux_policy="flux-system:web")


def write(text, edit=FLUX, *, tag="v1.1.0", digest=DIGEST, pin=False):
    return write_version(text, edit, image=WEB, tag=tag, digest=digest, pin=pin, source="f.yaml")


# Flux's marked.yaml: a CronJob whose container image carries the whole-reference marker.
CRONJOB = """apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: foo
  namespace: bar
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: c
            image: ghcr.io/acme/web:v1.0.0 # {"$imagepolicy": "flux-system:web"}
"""

# Flux's kustomization.yaml: newName and newTag with the :name and :tag markers.
KUSTOMIZATION = """# This is not intended to be a working kustomization
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- unimportant.yaml
images:
- name: container
  newName: ghcr.io/acme/web # {"$imagepolicy": "flux-system:web:name"}
  newTag: v1.0.0 # {"$imagepolicy": "flux-system:web:tag"}
"""

# A HelmRelease's values, as Flux's guide marks them: repository, tag (quoted) and digest.
HELMRELEASE = f"""apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
spec:
  values:
    image:
      repository: ghcr.io/acme/web   # {{"$imagepolicy": "flux-system:web:name"}}
      tag: "v1.0.0"   # {{"$imagepolicy": "flux-system:web:tag"}}
      digest: '{OLD_DIGEST}' # {{"$imagepolicy": "flux-system:web:digest"}}
"""


def test_whole_reference_marker_changes_only_the_tag():
    after = write(CRONJOB)
    assert changed_lines(CRONJOB, after) == [
        ('            image: ghcr.io/acme/web:v1.0.0 # {"$imagepolicy": "flux-system:web"}',
         '            image: ghcr.io/acme/web:v1.1.0 # {"$imagepolicy": "flux-system:web"}'),
    ]
    assert read_running(CRONJOB, FLUX, source="f.yaml") == Running(WEB, "v1.0.0", None)


def test_kustomization_name_and_tag_markers():
    after = write(KUSTOMIZATION)
    assert changed_lines(KUSTOMIZATION, after) == [
        ('  newTag: v1.0.0 # {"$imagepolicy": "flux-system:web:tag"}',
         '  newTag: v1.1.0 # {"$imagepolicy": "flux-system:web:tag"}'),
    ]
    assert read_running(KUSTOMIZATION, FLUX, source="f.yaml") == Running(WEB, "v1.0.0", None)


def test_helm_values_tag_quoting_kept_and_digest_marker_written():
    after = write(HELMRELEASE)
    assert changed_lines(HELMRELEASE, after) == [
        ('      tag: "v1.0.0"   # {"$imagepolicy": "flux-system:web:tag"}',
         '      tag: "v1.1.0"   # {"$imagepolicy": "flux-system:web:tag"}'),
        (f"      digest: '{OLD_DIGEST}' # {{\"$imagepolicy\": \"flux-system:web:digest\"}}",
         f"      digest: '{DIGEST}' # {{\"$imagepolicy\": \"flux-system:web:digest\"}}"),
    ]
    assert read_running(HELMRELEASE, FLUX, source="f.yaml") == Running(WEB, "v1.0.0", OLD_DIGEST)


def test_digest_marker_needs_a_digest():
    with pytest.raises(EditError, match=r"^f\.yaml:10:15: the marker sets a digest but no digest is known for v1"):
        write(HELMRELEASE, digest=None)


def test_idempotent_when_the_file_already_says_so():
    assert write(CRONJOB, tag="v1.0.0") == CRONJOB
    assert write(HELMRELEASE, tag="v1.0.0", digest=OLD_DIGEST) == HELMRELEASE


def test_other_policies_same_name_in_another_namespace_and_prefixes_are_left_alone():
    before = ("a: ghcr.io/acme/web:v1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"
              "b: ghcr.io/acme/web:v1.0.0 # {\"$imagepolicy\": \"apps:web\"}\n"
              "c: ghcr.io/acme/web:v1.0.0 # {\"$imagepolicy\": \"flux-system:webapp\"}\n"
              "d: v1.0.0 # {\"$imagepolicy\": \"flux-system:api:tag\"}\n")
    assert changed_lines(before, write(before)) == [
        ('a: ghcr.io/acme/web:v1.0.0 # {"$imagepolicy": "flux-system:web"}',
         'a: ghcr.io/acme/web:v1.1.0 # {"$imagepolicy": "flux-system:web"}'),
    ]


@pytest.mark.parametrize("comment", [
    pytest.param('# {"$imagepolicy": "flux-system:web"}', id="as-flux-writes-it"),
    pytest.param('#{"$imagepolicy":"flux-system:web"}', id="no-spaces"),
    pytest.param('## {"$imagepolicy": "flux-system:web"}', id="every-leading-hash-trimmed"),
    pytest.param('#   {  "$imagepolicy"  :  "flux-system:web"  }   ', id="json-whitespace"),
    pytest.param('# {"note": "pinned by O&M", "$imagepolicy": "flux-system:web"}', id="other-string-keys"),
    pytest.param('# {"$imagepolicy": "flux-system:\\u0077eb"}', id="json-escape"),
])
def test_comment_forms_flux_reads_as_a_marker(comment):
    before = f"image: ghcr.io/acme/web:v1.0.0 {comment}\n"
    assert changed_lines(before, write(before)) == [
        (before.rstrip("\n"), before.rstrip("\n").replace("v1.0.0", "v1.1.0"))]


@pytest.mark.parametrize("comment", [
    pytest.param('# {"$imagepolicy": "flux-system:web"} pinned', id="text-after-the-object"),
    pytest.param('# image: x:1 # {"$imagepolicy": "flux-system:web"}', id="commented-out-line"),
    pytest.param('# {"$imagepolicy": "flux-system:web", "count": 1}', id="a-value-that-is-not-a-string"),
    pytest.param('# {"$imagepolicy": ""}', id="empty-setter"),
    pytest.param('# {"$ImagePolicy": "flux-system:web"}', id="key-is-case-sensitive"),
    pytest.param("# {'$imagepolicy': 'flux-system:web'}", id="single-quotes-are-not-json"),
    pytest.param('# ["$imagepolicy", "flux-system:web"]', id="a-list"),
])
def test_comments_flux_does_not_read_as_a_marker(comment):
    before = f"image: ghcr.io/acme/web:v1.0.0 {comment}\n"
    with pytest.raises(EditError, match=r"no marker"):
        write(before)


@pytest.mark.parametrize(("comment", "setter"), [
    ('{"$imagepolicy": "ns:web"}', "ns:web"),
    ('#{"$imagepolicy": "ns:web:tag"}', "ns:web:tag"),
    ('{"$imagepolicy": "ns:web", "$imagepolicy": "ns:api"}', "ns:api"),  # Go's json: the last one wins
    ('{"other": "x"}', None),
    ('not json', None),
    ('{"$imagepolicy": null}', None),
])
def test_flux_setter(comment, setter):
    assert flux_setter(comment) == setter


def test_flux_and_promoter_markers_in_one_file_and_crlf():
    before = ("data:\r\n"
              "  IMAGE: ghcr.io/acme/web:v1.0.0 # {\"$promoter\": \"web\"}\r\n"
              "  TAG: 'v1.0.0' # {\"$imagepolicy\": \"flux-system:web:tag\"}\r\n")
    after = write(before)
    assert after == before.replace("v1.0.0", "v1.1.0")
    assert after.count("\r\n") == 3


def test_a_pinned_tag_stays_pinned():
    before = f'tag: v1.0.0@{OLD_DIGEST} # {{"$imagepolicy": "flux-system:web:tag"}}\n'
    assert write(before) == before.replace(f"v1.0.0@{OLD_DIGEST}", f"v1.1.0@{DIGEST}")


def test_pin_digest_on_a_whole_reference():
    assert write(CRONJOB, pin=True) == CRONJOB.replace("web:v1.0.0", f"web:v1.1.0@{DIGEST}")


def test_a_value_of_another_image_is_never_rewritten():
    before = 'image: ghcr.io/acme/api:v1.0.0 # {"$imagepolicy": "flux-system:web"}\n'
    with pytest.raises(EditError, match=r"^f\.yaml:1:8: marker value runs ghcr\.io/acme/api, not ghcr\.io/acme/web"):
        write(before)
    before = KUSTOMIZATION.replace("newName: ghcr.io/acme/web", "newName: ghcr.io/acme/api")
    with pytest.raises(EditError, match=r"^f\.yaml:8:12: marker value names ghcr\.io/acme/api, not"):
        write(before)


def test_an_unknown_part_names_file_line_column():
    before = 'a: 1\ntag: v1.0.0   # {"$imagepolicy": "flux-system:web:version"}\n'
    with pytest.raises(EditError, match=r"^f\.yaml:2:15: Flux marker 'flux-system:web:version': the part after "
                                        r"flux-system:web must be tag, name or digest, not 'version'"):
        write(before)


def test_a_marker_on_its_own_line_has_no_value():
    before = 'image:\n  # {"$imagepolicy": "flux-system:web"}\n  name: x\n'
    with pytest.raises(EditError, match=r"^f\.yaml:2:3: Flux marker 'flux-system:web' has no value on its line"):
        write(before)


def test_without_flux_policy_flux_markers_are_not_read_and_the_error_says_which_policies_the_file_has():
    with pytest.raises(EditError, match=r'no marker # \{"\$promoter": "web"\} found; the file has Flux markers of '
                                        r"flux-system:web: set flux_policy"):
        write(KUSTOMIZATION, MarkerEdit("web"))


def test_with_flux_policy_the_missing_marker_error_names_both_forms():
    with pytest.raises(EditError, match=r'^f\.yaml: no marker # \{"\$promoter": "web"\} or '
                                        r'# \{"\$imagepolicy": "flux-system:web"\} found$'):
        write("a: b # just a comment\n")


def test_a_hash_inside_a_quoted_value_is_not_a_comment():
    before = 'a: "x # {\\"$imagepolicy\\": \\"flux-system:web\\"}"\nb: v1 # {"$imagepolicy": "flux-system:web:tag"}\n'
    after = write(before)
    assert changed_lines(before, after) == [('b: v1 # {"$imagepolicy": "flux-system:web:tag"}',
                                             'b: v1.1.0 # {"$imagepolicy": "flux-system:web:tag"}')]


def test_flow_sequence_item_and_document_separators():
    before = ('---\nkind: ConfigMap\ndata: {a: b}\n---\nargs:\n- --image\n'
              '- ghcr.io/acme/web:v1.0.0 # {"$imagepolicy": "flux-system:web"}\n...\n')
    assert changed_lines(before, write(before)) == [
        ('- ghcr.io/acme/web:v1.0.0 # {"$imagepolicy": "flux-system:web"}',
         '- ghcr.io/acme/web:v1.1.0 # {"$imagepolicy": "flux-system:web"}')]


@pytest.mark.parametrize("marker", ['{"$imagepolicy": "flux-system:web:tag"}', '{"$promoter": "web:tag"}'])
def test_a_marker_after_a_key_whose_value_is_on_the_next_line_never_rewrites_the_key(marker):
    before = f"image:\n  tag: # {marker}\n    v1.0.0\n"
    with pytest.raises(EditError, match=r"^f\.yaml:2:\d+: .*has no value on its line"):
        write(before)


def test_an_alias_bomb_is_not_expanded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    before = "\n".join(lines) + '\ntag: v1.0.0 # {"$imagepolicy": "flux-system:web:tag"}\n'
    assert write(before).endswith('tag: v1.1.0 # {"$imagepolicy": "flux-system:web:tag"}\n')
