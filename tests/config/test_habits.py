"""Config keys for the habits of the tools users come from (Flux markers, Kargo's soak, Image Updater's
platform and pull secrets, commit and PR title templates): each loads, and each mistake is reported with
its file:line:col and key path."""

import pytest

from gitops_promoter.config import parse_config
from gitops_promoter.domain.edits import MarkerEdit
from gitops_promoter.errors import ConfigError
from tests.config.test_loader import MINIMAL


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="p.yaml")
    return info.value.problems


MARKER = MINIMAL.replace("edit: {kind: container, container: web}", "edit: {kind: marker}")


def test_flux_policy_of_the_app_applies_to_its_marker_edits():
    text = MARKER.replace("    repository: deploy\n", "    repository: deploy\n    flux_policy: flux-system:web\n")
    edit = parse_config(text, source="p.yaml").apps[0].targets["dev"].edit
    assert edit == MarkerEdit("web", flux_policy="flux-system:web")


def test_flux_policy_of_the_edit_overrides_the_app():
    text = (MARKER.replace("    repository: deploy\n", "    repository: deploy\n    flux_policy: flux-system:web\n")
            .replace("edit: {kind: marker}", "edit: {kind: marker, flux_policy: apps-dev:web-dev}"))
    assert parse_config(text, source="p.yaml").apps[0].targets["dev"].edit.flux_policy == "apps-dev:web-dev"


def test_without_flux_policy_only_the_promoter_markers_are_read():
    assert parse_config(MARKER, source="p.yaml").apps[0].targets["dev"].edit == MarkerEdit("web")


@pytest.mark.parametrize("value", ["web", "flux-system/web", "Flux:web", "ns:", ":web", "ns:web:tag", "ns:a..b"])
def test_flux_policy_must_be_namespace_colon_name(value):
    text = MARKER.replace("edit: {kind: marker}", f"edit: {{kind: marker, flux_policy: '{value}'}}")
    assert problems(text) == [
        f"p.yaml:16:43: apps[0].targets.dev.edit.flux_policy: must be NAMESPACE:NAME of a Flux ImagePolicy, as its "
        f'markers write it (# {{"$imagepolicy": "flux-system:web"}}), not {value!r}']


def test_flux_policy_is_only_for_marker_edits():
    text = MINIMAL.replace("container: web}", "container: web, flux_policy: flux-system:web}")
    assert problems(text) == ["p.yaml:16:62: apps[0].targets.dev.edit.flux_policy: not used by edit kind container"]


TITLES = MINIMAL.replace("    url: file:///tmp/deploy.git\n", "    url: file:///tmp/deploy.git\n"
                         "    commit: {title: 'chore({env}): {app} {from} -> {to}'}\n"
                         "    pull_request:\n      title: '[{env}] {app} {to}'\n")


def test_title_templates_of_the_repository_reach_its_apps():
    config = parse_config(TITLES, source="p.yaml")
    assert config.repositories["deploy"].commit_title == "chore({env}): {app} {from} -> {to}"
    app = config.apps[0]
    assert (app.commit_title, app.pull_request_title) == ("chore({env}): {app} {from} -> {to}", "[{env}] {app} {to}")


def test_without_templates_the_default_titles():
    app = parse_config(MINIMAL, source="p.yaml").apps[0]
    assert (app.commit_title, app.pull_request_title) == (None, None)


@pytest.mark.parametrize(("template", "message"), [
    ("'{app} {version}'", "unknown placeholder {version}; the placeholders are {app}, {env}, {from}, {to}"),
    ("'{app!s}'", "{app!s}: placeholders take no conversion or format spec; write {app}"),
    ("'{app'", "expected '}' before end of string (write {{ and }} for literal braces)"),
    ('"a\\u200bb"', "must not contain control characters, line breaks or invisible characters (a title is one "
                    "line)"),
])
def test_a_bad_template_names_file_line_col(template, message):
    text = TITLES.replace("title: '[{env}] {app} {to}'", f"title: {template}")
    assert problems(text) == [f"p.yaml:7:14: repositories[0].pull_request.title: {message}"]


def test_a_title_section_needs_its_title():
    text = TITLES.replace("commit: {title: 'chore({env}): {app} {from} -> {to}'}", "commit: {titel: x}")
    assert problems(text) == ["p.yaml:5:14: repositories[0].commit.titel: unknown key; did you mean 'title'?",
                              "p.yaml:5:13: repositories[0].commit: missing required key 'title'"]


REGISTRY = MINIMAL.replace("repositories:\n", "registries:\n  - prefix: ghcr.io\n    auth: {pull_secret: "
                           "'file:/etc/promoter/.dockerconfigjson'}\nrepositories:\n")


def test_a_pull_secret_file_for_a_registry():
    ref = parse_config(REGISTRY, source="p.yaml").registries[0].pull_secret
    assert (ref.scheme, ref.target, ref.where) == ("file", "/etc/promoter/.dockerconfigjson",
                                                   "p.yaml:4:25: registries[0].auth.pull_secret")


def test_a_pull_secret_is_a_reference_and_not_beside_other_credentials():
    inline = REGISTRY.replace("'file:/etc/promoter/.dockerconfigjson'", "'{\"auths\": {}}'")
    assert problems(inline) == ["p.yaml:4:25: registries[0].auth.pull_secret: secrets are references: write "
                                "env:NAME or file:PATH, never the value itself"]
    both = REGISTRY.replace("auth: {pull_secret:", "auth: {token: env:T, pull_secret:")
    assert problems(both) == ["p.yaml:4:39: registries[0].auth.pull_secret: give either pull_secret or "
                              "username/password/token, not both"]


def test_newest_build_platform():
    text = MINIMAL.replace("policy: {strategy: semver}", "policy: {strategy: newest-build, platform: linux/arm64}")
    assert parse_config(text, source="p.yaml").apps[0].policy.platform == "linux/arm64"


@pytest.mark.parametrize(("policy", "message"), [
    ("{strategy: semver, platform: linux/arm64}", "p.yaml:12:42: apps[0].policy.platform: only used by newest-build, "
                                                  "not semver"),
    ("{strategy: newest-build, platform: arm64}", "p.yaml:12:48: apps[0].policy.platform: must be "
                                                  "OS/ARCHITECTURE[/VARIANT] as in an image index, e.g. linux/arm64 "
                                                  "or linux/arm/v7, not 'arm64'"),
])
def test_a_bad_platform_names_file_line_col(policy, message):
    assert problems(MINIMAL.replace("policy: {strategy: semver}", f"policy: {policy}")) == [message]


SOAK = MINIMAL.replace("    mode: direct\n", "    mode: direct\n  - name: staging\n    mode: pull-request\n"
                       "    soak: 1h30m\n").replace("    url: file:///tmp/deploy.git\n",
                                                "    url: file:///tmp/deploy.git\n    github: {repo: acme/deploy}\n")


def test_soak_of_a_pull_request_environment():
    config = parse_config(SOAK, source="p.yaml")
    assert (config.environment("dev").soak, config.environment("staging").soak) == (0.0, 5400.0)


@pytest.mark.parametrize(("value", "message"), [
    ("31d", "must be a duration such as 30s, 2m or 1h, not '31d'"),
    ("800h", "must be at most 720h, not 800h"),
    ("-5m", "must be a duration such as 30s, 2m or 1h, not '-5m'"),
    ("soon", "must be a duration such as 30s, 2m or 1h, not 'soon'"),
])
def test_a_bad_soak_names_file_line_col(value, message):
    assert problems(SOAK.replace("soak: 1h30m", f"soak: {value}")) == [f"p.yaml:11:11: environments[1].soak: {message}"]


def test_a_direct_environment_takes_no_soak():
    text = MINIMAL.replace("    mode: direct\n", "    mode: direct\n    soak: 1h\n")
    assert problems(text) == ["p.yaml:8:11: environments[0].soak: only pull-request environments take a soak time: "
                              "they take what the environment before them runs (a direct one takes new tags from the "
                              "registry)"]
