"""User functions kept as source text, so the registry can store and rebuild them.

An on-demand feature view's transformation is a Python function the user wrote in a
repository file. The registry must be able to run it later without the repository (a
server reads definitions from the registry only), so the function is recorded as text:
its own source, without decorators, preceded by what it needs from its module:

- modules it names become imports (``pd`` -> ``import pandas as pd``);
- functions and classes of installed packages become ``from ... import ...``;
- helper functions of the repository itself are recorded the same way, recursively;
- plain constants (numbers, strings, tuples, dicts of them) become assignments.

Anything else (a global DataFrame, a closure, a lambda) cannot be recorded faithfully and
is refused at declaration, naming the function, the global and the fix. The text is part
of the view's spec, so editing the function makes a new version of the view, and the text
is what you read in the registry: no pickles.

Example:
    >>> import math
    >>> def hypotenuse(inputs):
    ...     return {"h": [math.hypot(a, b) for a, b in zip(inputs["a"], inputs["b"])]}
    >>> recorded = UserFunction.capture(hypotenuse, "example")
    >>> recorded.source.splitlines()[0]
    'import math'
    >>> recorded.compile()({"a": [3.0], "b": [4.0]})
    {'h': [5.0]}
"""

from __future__ import annotations

import ast
import inspect
import math
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from store.errors import DefinitionError

__all__ = ["UserFunction"]

# Modules loaded from repository files get private names (see store.repo.loader): they
# cannot be imported again, so their functions are recorded by source.
_REPO_MODULE_PREFIX = "_silage_repo_"
_CONSTANTS = (type(None), bool, int, float, complex, str, bytes)


@dataclass(frozen=True, slots=True)
class UserFunction:
    """A function recorded as self-contained source text.

    Args:
        name: the function's name; ``source`` defines it at top level.
        source: imports, helpers and constants it needs, then its ``def``.
    """

    name: str
    source: str

    @classmethod
    def capture(cls, function: Callable[..., Any], where: str) -> UserFunction:
        """Record ``function``; ``where`` names its owner in errors ("on-demand view 'x'").

        Raises:
            DefinitionError: the function is a lambda or a closure, its source cannot be
                read, or it uses a global that cannot be recorded.
        """
        if not isinstance(function, types.FunctionType):
            raise DefinitionError(
                f"{where}: the transformation must be a function defined with def, got {function!r}"
            )
        lines: dict[str, str] = {}
        definitions: list[str] = []
        _record(function, where, lines, definitions, seen=set())
        header = "\n".join(lines[k] for k in sorted(lines))
        text = "\n\n".join(part for part in [header, *definitions] if part) + "\n"
        return cls(name=function.__name__, source=text)

    def compile(self) -> Callable[..., Any]:
        """The function, rebuilt from its text (once per text per process)."""
        return _compiled(self.name, self.source)

    def to_spec(self) -> dict[str, str]:
        return {"name": self.name, "source": self.source}


@lru_cache(maxsize=256)
def _compiled(name: str, source: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"__name__": f"silage_udf_{name}"}
    code = compile(source, f"<on-demand transformation {name}>", "exec")
    exec(code, namespace)  # the registry's own recorded text: see the module docstring
    found = namespace[name]
    assert callable(found)
    return found  # type: ignore[no-any-return]


def _record(
    function: types.FunctionType,
    where: str,
    lines: dict[str, str],
    definitions: list[str],
    seen: set[str],
) -> None:
    """Add ``function``'s source to ``definitions`` (helpers first) and what it needs from
    its module to ``lines`` (keyed by the name bound, so one name is bound once)."""
    seen.add(function.__name__)
    label = f"{where}: function {function.__name__!r}"
    if function.__name__ == "<lambda>":
        raise DefinitionError(f"{label} is a lambda; define it with def at module level")
    if function.__closure__:
        raise DefinitionError(
            f"{label} is defined inside another function and uses its variables "
            f"({', '.join(function.__code__.co_freevars)}); define it at module level"
        )
    try:
        text = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise DefinitionError(
            f"{label}: its source cannot be read ({exc}); define it in a .py file"
        ) from exc
    definitions.insert(0, _without_decorators(text, label))
    for name in sorted(_global_names(function.__code__)):
        if name in lines or name in seen:
            continue
        if name not in function.__globals__:
            continue  # an attribute or builtin name, or a global never assigned
        value = function.__globals__[name]
        line = _binding(name, value)
        if line is not None:
            lines[name] = line
        elif isinstance(value, types.FunctionType):
            _record(value, where, lines, definitions, seen)
        else:
            raise DefinitionError(
                f"{label} uses the global {name!r} ({type(value).__name__}), which cannot "
                f"be recorded with the view; create it inside the function, or make it a "
                f"module-level constant (number, string, tuple, dict)"
            )


def _binding(name: str, value: Any) -> str | None:
    """A line binding ``name`` to ``value`` the way the user's module did, or None when the
    value must be recorded by source (a repository function) or cannot be recorded."""
    if isinstance(value, types.ModuleType):
        imported = value.__name__
        return f"import {imported}" if imported == name else f"import {imported} as {name}"
    if _is_constant(value):
        return f"{name} = {value!r}"
    module: object = getattr(value, "__module__", None)
    qualname: object = getattr(value, "__qualname__", None)
    if (
        isinstance(module, str)
        and isinstance(qualname, str)
        and "." not in qualname
        and "<" not in qualname
        and not module.startswith(_REPO_MODULE_PREFIX)
        and module != "__main__"
        and getattr(sys.modules.get(module), qualname, None) is value
        and not _defined_in_repository(value)
    ):
        alias = "" if qualname == name else f" as {name}"
        return f"from {module} import {qualname}{alias}"
    return None


def _defined_in_repository(value: Any) -> bool:
    """Functions of repository files imported by another file (``from helpers import f``)
    carry their file's plain module name; such modules are forgotten after loading."""
    module = sys.modules.get(getattr(value, "__module__", "") or "")
    file = getattr(module, "__file__", None) or ""
    return (
        isinstance(value, types.FunctionType)
        and "site-packages" not in file
        and bool(file)
        and (not file.startswith(sys.prefix) and not file.startswith(sys.base_prefix))
    )


def _is_constant(value: Any) -> bool:
    if isinstance(value, _CONSTANTS):
        return not (isinstance(value, float) and math.isnan(value))  # NaN has no literal
    if isinstance(value, tuple | list | frozenset | set):
        return all(_is_constant(v) for v in value)
    if isinstance(value, dict):
        return all(_is_constant(k) and _is_constant(v) for k, v in value.items())
    return False


def _global_names(code: types.CodeType) -> Iterator[str]:
    """Names a function's code (and the code of functions and comprehensions nested in it)
    looks up as globals or attributes; attributes are filtered out by the caller."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _global_names(const)


def _without_decorators(text: str, label: str) -> str:
    """The ``def`` of a function's source, from its ``def`` line on (decorators dropped)."""
    tree = ast.parse(text)
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if len(nodes) != 1:
        raise DefinitionError(f"{label}: its source is not one function definition")
    lines = text.splitlines()
    return "\n".join(lines[nodes[0].lineno - 1 : nodes[0].end_lineno]).rstrip()
