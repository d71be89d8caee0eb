"""``@pytest.mark.notimpl``: how a known gap of one engine or backend is marked."""

from __future__ import annotations

import pytest

from tests.backends import known_gap


def test_a_named_backend_must_fail_and_others_run() -> None:
    gap = known_gap((["sqlite"],), {"reason": "no arrays"}, {"backend": "sqlite"})
    assert gap is not None
    assert gap.kwargs == {"reason": "sqlite: no arrays", "strict": True}
    assert known_gap((["sqlite"],), {}, {"engine": "duckdb"}) is None
    assert known_gap(("duckdb",), {}, {"engine": "duckdb"}) is not None  # one name as a str
    both = known_gap((["duckdb", "sqlite"],), {}, {"engine": "duckdb", "backend": "sqlite"})
    assert both is not None
    assert both.kwargs["reason"] == "duckdb, sqlite: not implemented"


def test_a_misspelt_name_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"no engine or backend called \['sqlit'\]"):
        known_gap((["sqlit"],), {}, {"backend": "sqlite"})
