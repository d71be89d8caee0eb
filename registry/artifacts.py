"""Model artifacts as bytes: serialized safely and loaded safely (where the bytes are kept,
and how they are checked, is :mod:`registry.storage`'s business).

The default format is skops, made for scikit-learn models: loading it never runs code from
the file, and types the file needs beyond skops's trusted defaults must be named by the
caller. Pickle runs arbitrary code on load, so it is used only when asked for, and read
only with ``allow_pickle=True``.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from typing import Any

from registry.errors import RegistryError

__all__ = ["FORMATS", "deserialize", "serialize"]

FORMATS = ("skops", "pickle")


def serialize(model: Any, fmt: str) -> bytes:
    """The model's bytes in ``fmt`` (``"skops"`` or ``"pickle"``)."""
    if fmt == "skops":
        import skops.io

        try:
            return bytes(skops.io.dumps(model))
        except Exception as exc:
            raise RegistryError(
                f"the model ({type(model).__name__}) cannot be saved with skops: {exc}; "
                f"pass serializer='pickle' to store it as a pickle (loading it will then "
                f"need allow_pickle=True)"
            ) from exc
    if fmt == "pickle":
        return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    raise RegistryError(f"unknown serializer {fmt!r}; choose one of {', '.join(FORMATS)}")


def deserialize(
    data: bytes, fmt: str, *, allow_pickle: bool = False, trusted: Sequence[str] | None = None
) -> Any:
    """Load a model from its bytes without running code from them (unless pickle is allowed)."""
    if fmt == "skops":
        import skops.io

        untrusted = skops.io.get_untrusted_types(data=data)
        extra = sorted(set(untrusted) - set(trusted or ()))
        if extra:
            raise RegistryError(
                f"the artifact needs types skops does not trust by default: {', '.join(extra)}; "
                f"if you trust them, pass trusted=[...] naming them"
            )
        return skops.io.loads(data, trusted=list(untrusted) or None)
    if fmt == "pickle":
        if not allow_pickle:
            raise RegistryError(
                "this artifact is a pickle, which runs code when loaded; pass "
                "allow_pickle=True only if you trust whoever registered it"
            )
        return pickle.load(io.BytesIO(data))
    raise RegistryError(f"unknown artifact format {fmt!r}")
