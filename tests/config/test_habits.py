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
