"""Unit tests of the domain tree and of which events a stream selects."""

from __future__ import annotations

from bench.harness.events import domain_of, type_of
from bench.scenarios.common import (
    ALL_DOMAINS,
    REGIONS,
    ROOT_DOMAIN,
    SCHOOLS,
    ancestors_or_self,
    subtree_selector,
)


def test_tree_has_100_domains() -> None:
    assert len(ALL_DOMAINS) == 100
    assert len(set(ALL_DOMAINS)) == 100


def test_school_ancestors() -> None:
    school = SCHOOLS[REGIONS[2]][3]

    assert ancestors_or_self(school) == [school, REGIONS[2], ROOT_DOMAIN]


def test_root_selects_everything() -> None:
    selects = subtree_selector(ROOT_DOMAIN)

    assert all(selects(index) for index in range(500))


def test_region_selects_its_subtree() -> None:
    region = REGIONS[0]
    selects = subtree_selector(region)

    for index in range(500):
        in_subtree = region in ancestors_or_self(domain_of(index, ALL_DOMAINS))
        assert selects(index) == in_subtree


def test_types_filter_selection() -> None:
    selects = subtree_selector(ROOT_DOMAIN, frozenset({"GradeChanged"}))

    for index in range(500):
        assert selects(index) == (type_of(index) == "GradeChanged")
