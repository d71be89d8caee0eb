"""Freshness: an apply made through one FeatureStore reaches another (another serving
process) by the registry's change counter, long before the definitions cache expires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from store import FeatureStore, ObjectNotFoundError
from tests.conftest import T0, serve_stale_values
from tests.registries import use_registry

REF = ["driver_hourly_stats:avg_daily_trips"]


@pytest.mark.parametrize(("poll_seconds", "sees_the_apply"), [(0, True), (3600, False)])
def test_an_apply_elsewhere_is_seen_by_the_next_online_read(
    make_repo: Callable[..., Path], registry_url: str, poll_seconds: int, sees_the_apply: bool
) -> None:
    repo = make_repo("basic")
    serve_stale_values(repo)
    # Feast's default cache ttl: without the counter, a change would wait ten minutes.
    use_registry(repo, registry_url, cache_ttl_seconds=600, poll_seconds=poll_seconds)
    with FeatureStore(repo_path=repo) as writer, FeatureStore(repo_path=repo) as server:
        writer.apply()
        writer.materialize(T0, T0 + timedelta(hours=4))
        assert server.get_online_features(REF, [{"driver_id": 1001}]).to_dict()[
            "avg_daily_trips"
        ] == [3]
        # The view is removed from the repository and applied by another process.
        definitions = repo / "definitions.py"
        text = definitions.read_text(encoding="utf-8")
        definitions.write_text(text.split("driver_hourly_stats = FeatureView")[0], "utf-8")
        writer.apply()
        if sees_the_apply:
            with pytest.raises(ObjectNotFoundError, match="driver_hourly_stats"):
                server.get_online_features(REF, [{"driver_id": 1001}])
        else:
            # Polled too rarely: the cached definition still answers (the control case,
            # which shows that the first case passes because of the counter).
            with pytest.raises(Exception) as stale:  # noqa: PT011 (any failure but not-found)
                server.get_online_features(REF, [{"driver_id": 1001}])
            assert not isinstance(stale.value, ObjectNotFoundError)


@pytest.mark.parametrize("poll_seconds", [0, 3600])
def test_lookups_read_the_catalog_once_per_registry_change(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, poll_seconds: int
) -> None:
    """Definitions are looked up by name many times per call (a training set looks up each
    view); the catalog is read again only when the registry's change counter moved, and a
    change made through another FeatureStore is seen by the first lookup after the next
    poll, while the store's own apply is seen at once."""
    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as writer, FeatureStore(repo_path=repo) as reader:
        writer.apply()
        reads: list[str] = []
        counts: list[str] = []
        catalog = reader.registry.catalog
        objects = catalog.objects
        monkeypatch.setattr(
            catalog, "objects", lambda *a, **k: reads.append("read") or objects(*a, **k)
        )
        count = reader.registry.change_count
        monkeypatch.setattr(
            reader.registry, "change_count", lambda: counts.append("count") or count()
        )
        reader.poll_registry_every(poll_seconds)
        for _ in range(5):
            assert reader.get_feature_view("driver_hourly_stats").ttl is not None
            reader.get_entity("driver")
            reader.get_feature_service("driver_activity")
        assert len(reads) == 1
        assert len(counts) == (16 if poll_seconds == 0 else 1)  # one poll per lookup, or none
        definitions = repo / "definitions.py"
        text = definitions.read_text(encoding="utf-8")
        definitions.write_text(text.split("driver_hourly_stats = FeatureView")[0], "utf-8")
        writer.apply()
        if poll_seconds == 0:
            with pytest.raises(ObjectNotFoundError, match="driver_hourly_stats"):
                reader.get_feature_view("driver_hourly_stats")
            assert len(reads) == 2
        else:  # not polled yet: the catalog as read answers
            assert reader.get_feature_view("driver_hourly_stats").ttl is not None
            assert len(reads) == 1
        reader.apply()  # its own apply (of the file as it now is) is seen at once
        with pytest.raises(ObjectNotFoundError, match="driver_hourly_stats"):
            reader.get_feature_view("driver_hourly_stats")
