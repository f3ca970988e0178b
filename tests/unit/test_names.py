"""Naming rules: every accepted project name yields valid Kubernetes names everywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.domain import DEFAULT_ENVIRONMENTS, InvalidInput, ResourceNames, is_dns1123_label
from slipway.domain.names import (
    ENVIRONMENT_NAME_MAX,
    max_slug_length,
    project_slug,
    suggest_slug,
    validate_environments,
    validate_owner,
)

env_names = st.from_regex(r"\A[a-z]([-a-z0-9]{0,18}[a-z0-9])?\Z")
env_lists = st.lists(env_names, min_size=1, max_size=5, unique=True)
any_text = st.text(
    alphabet=st.characters(codec="ascii", categories=("L", "N", "P", "Z")), max_size=80
)


@given(name=any_text, envs=env_lists)
def test_every_accepted_name_yields_valid_kubernetes_names(name: str, envs: list[str]) -> None:
    try:
        slug = project_slug(name, envs)
    except InvalidInput as exc:
        assert exc.field == "name"
        return
    for env in envs:
        for derived in ResourceNames(slug, env).all():
            assert is_dns1123_label(derived), derived


@given(envs=env_lists, data=st.data())
def test_the_longest_allowed_name_fits_and_one_more_character_does_not(
    envs: list[str], data: st.DataObject
) -> None:
    limit = max_slug_length(envs)
    longest = "a" * limit
    assert project_slug(longest, envs) == longest
    for env in envs:
        assert all(len(n) <= 63 for n in ResourceNames(longest, env).all())
    with pytest.raises(InvalidInput, match="63-character limit"):
        project_slug(longest + "a", envs)


def test_default_environments_allow_43_characters() -> None:
    assert max_slug_length(DEFAULT_ENVIRONMENTS) == 43
    names = ResourceNames("shop", "production")
    assert names.namespace == "project-shop-production"
    assert names.git_repository == "shop-repo"
    assert names.kustomization == "shop-production"
    assert names.git_secret == "shop-git-auth"
    assert names.overlay_path == "./k8s/overlays/production"


def test_overlong_name_error_names_the_limit_and_the_namespace() -> None:
    with pytest.raises(InvalidInput) as info:
        project_slug("x" * 44, DEFAULT_ENVIRONMENTS)
    message = str(info.value)
    assert "at most 43 characters" in message
    assert "project-" + "x" * 44 + "-development" in message


@pytest.mark.parametrize("bad", ["Shop", "my_shop", "-shop", "shop-", "1shop", "", "shöp", "a b"])
def test_invalid_project_names_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        project_slug(bad, DEFAULT_ENVIRONMENTS)
    assert info.value.field == "name"


def test_refusal_suggests_a_valid_slug() -> None:
    with pytest.raises(InvalidInput) as info:
        project_slug("My Shop", DEFAULT_ENVIRONMENTS)
    assert info.value.hint == "try 'my-shop'"
    assert suggest_slug("42 Things!") == "things"


@given(any_text)
def test_suggested_slugs_are_valid_or_empty(text: str) -> None:
    slug = suggest_slug(text)
    assert slug == "" or is_dns1123_label(slug)


def test_environment_rules() -> None:
    assert validate_environments(["dev", "prod"]) == ("dev", "prod")
    with pytest.raises(InvalidInput, match="given twice"):
        validate_environments(["dev", "dev"])
    with pytest.raises(InvalidInput, match=f"at most {ENVIRONMENT_NAME_MAX}"):
        validate_environments(["e" * (ENVIRONMENT_NAME_MAX + 1)])
    with pytest.raises(InvalidInput, match="lowercase"):
        validate_environments(["Prod"])
    with pytest.raises(InvalidInput, match="at least one"):
        validate_environments([])


def test_owner_rules() -> None:
    assert validate_owner("acme-corp", nested=False) == "acme-corp"
    assert validate_owner("acme/platform.team", nested=True) == "acme/platform.team"
    with pytest.raises(InvalidInput, match="owner"):
        validate_owner("acme/platform", nested=False)
    with pytest.raises(InvalidInput, match="owner"):
        validate_owner("-acme", nested=False)
    with pytest.raises(InvalidInput, match="owner"):
        validate_owner("a" * 40, nested=False)
    with pytest.raises(InvalidInput, match="owner"):
        validate_owner("acme//x", nested=True)


def test_every_derived_name_counts_towards_the_length_limit() -> None:
    """`all()` lists each object name (not the overlay path), and the slug limit follows the
    longest of them, so a new name cannot slip past the 63-character rule."""
    names = ResourceNames("shop", "qa")
    assert set(names.all()) == {
        "project-shop-qa",
        "shop-git-auth",
        "shop-repo",
        "shop-qa",
        "shop-reconciler",
    }
    assert names.overlay_path not in names.all()
    # With a two-letter environment, "-reconciler" (11) outgrows "project-" + "-qa" (11): a tie.
    assert max_slug_length(["qa"]) == 63 - 11
    assert max_slug_length(["a"]) == 63 - len("-reconciler")
