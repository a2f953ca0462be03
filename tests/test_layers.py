"""The import layers of gypsum_flows, written down once (:data:`RANKS`) and checked on every module's imports.

Every ``import`` and ``from ... import`` of the package and of the Snakemake plugin is read with ``ast``, those
inside functions and ``if TYPE_CHECKING:`` blocks included. The rules:

1. A module imports its own layer and layers of lower ranks only: never a peer (same rank), never one above.
2. ``server`` is an island: of the package it imports only ``constants``, ``errors`` and ``names``.
3. The Snakemake plugin reads and writes through the client: ``client``, ``constants``, ``errors``, ``names``.
4. Only the transport (``_http``, ``_keepalive``) imports ``requests`` or ``http.client``.
5. Prefect is imported by ``cli``, ``flows``, ``tasks``, ``deployments`` and ``blocks`` only; so ``client``,
   ``batch`` (the pure spec model), ``index``, ``recover`` and ``server`` run without it.

A layer is a top-level module or folder of gypsum_flows, except ``transport`` (``_http`` and ``_keepalive``),
``cli`` (which includes ``__main__``), ``version`` (the package's ``__init__``, which holds only
``__version__``) and ``snakemake_storage_plugin_gypsum`` (the whole plugin). CONTRIBUTING.md shows
:data:`RANKS` as a diagram, and a test below keeps the two equal.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("gypsum_flows", "snakemake_storage_plugin_gypsum")

#: The layers, top first; a layer may use the ranks below its own.
RANKS: list[tuple[str, ...]] = [
    ("cli", "cluster"),
    ("flows", "server"),
    ("tasks", "deployments"),
    ("blocks", "batch", "recover", "index", "snakemake_storage_plugin_gypsum"),
    ("client_view",),
    ("client",),
    ("auth", "md5cache"),
    ("cache",),
    ("transport",),
    ("next_steps",),
    ("names", "hints", "progress", "tokens", "_sqlite"),
    ("constants", "errors", "version"),
]

#: Layers that may use only these layers of the package (besides their own).
ISLANDS = {
    "server": {"constants", "errors", "names"},
    "snakemake_storage_plugin_gypsum": {"client", "constants", "errors", "names"},
}

#: Third-party modules, and the only layers that may import them.
RESTRICTED = {
    "requests": {"transport"},
    "http.client": {"transport"},
    "prefect": {"cli", "flows", "tasks", "deployments", "blocks"},
}

#: Top-level modules of gypsum_flows whose layer is not their own name.
ALIASES = {"_http": "transport", "_keepalive": "transport", "__main__": "cli"}

RANK = {layer: rank for rank, layers in enumerate(RANKS) for layer in layers}


class Import(NamedTuple):
    """One imported name: the line of the statement and the dotted module it reaches."""

    line: int
    target: str


def module_name(path: Path) -> str:
    """``gypsum_flows/client/read.py`` -> ``gypsum_flows.client.read`` (a package is its folder)."""
    parts = path.relative_to(REPOSITORY).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str | None:
    """The layer of a module of ours, or ``None`` for any other module."""
    top, _, rest = module.partition(".")
    if top == "snakemake_storage_plugin_gypsum":
        return top
    if top != "gypsum_flows":
        return None
    if not rest:
        return "version"
    first = rest.split(".")[0]
    return ALIASES.get(first, first)


def imports_of(source: str, module: str, is_package: bool, known: set[str]) -> list[Import]:
    """Every module that ``source`` (the text of ``module``) imports, relative imports resolved.

    ``from a import b`` reaches ``a.b`` when that is one of the ``known`` modules, else ``a``; for other
    packages both ``a`` and ``a.b`` are listed, so ``from http import client`` counts as ``http.client``.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                if child in known:
                    found.append(Import(node.lineno, child))
                elif layer_of(base) is not None:
                    found.append(Import(node.lineno, base))
                else:
                    found += [Import(node.lineno, base), Import(node.lineno, child)]
    return found


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of a ``from`` import (``from ..errors`` in ``gypsum_flows.client.read``)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def problem(layer: str, target: str) -> str | None:
    """Why layer ``layer`` may not import ``target``, or ``None`` when it may."""
    used = layer_of(target)
    if used is None:
        for restricted, allowed in RESTRICTED.items():
            if (target == restricted or target.startswith(restricted + ".")) and layer not in allowed:
                return f"{restricted} is imported by {', '.join(sorted(allowed))} only"
        return None
    if used == layer:
        return None
    if layer in ISLANDS and used not in ISLANDS[layer]:
        return f"{layer} uses only {', '.join(sorted(ISLANDS[layer]))} of the package"
    if used not in RANK:
        return f"{used} has no place in RANKS"
    if RANK[used] <= RANK[layer]:
        return f"{used} is a peer of {layer}" if RANK[used] == RANK[layer] else f"{used} is above {layer}"
    return None


def violations(source: str, module: str, is_package: bool, known: set[str]) -> list[str]:
    """``module:line: imports target (reason)`` for every import of ``source`` that breaks a rule, once a line."""
    layer = layer_of(module)
    assert layer is not None, f"{module} is not a module of ours"
    reported: dict[tuple[int, str], str] = {}
    for found in imports_of(source, module, is_package, known):
        reason = problem(layer, found.target)
        if reason:
            reported.setdefault((found.line, reason), f"{module}:{found.line}: imports {found.target} ({reason})")
    return list(reported.values())


def our_files() -> list[Path]:
    """Every Python file of the package and the plugin."""
    return sorted(path for package in PACKAGES for path in (REPOSITORY / package).rglob("*.py"))


def our_modules() -> set[str]:
    return {module_name(path) for path in our_files()}


def diagram() -> str:
    """:data:`RANKS` as CONTRIBUTING.md draws it: one rank a line, each line pointing at the next."""
    return "\n".join(("    -> " if rank else "") + ", ".join(layers) for rank, layers in enumerate(RANKS))


def test_the_package_keeps_its_layers() -> None:
    known = our_modules()
    found = [
        line
        for path in our_files()
        for line in violations(path.read_text(), module_name(path), path.name == "__init__.py", known)
    ]
    assert found == [], "imports against the layers of tests/test_layers.py:\n" + "\n".join(found)


def test_every_layer_has_a_rank() -> None:
    layers = {layer_of(module) for module in our_modules()}
    assert layers - set(RANK) == set(), "add the new layer to RANKS (and CONTRIBUTING.md's diagram)"


def test_contributing_draws_the_ranks() -> None:
    assert diagram() in (REPOSITORY / "CONTRIBUTING.md").read_text(), f"CONTRIBUTING.md's diagram:\n{diagram()}"


KNOWN = {"gypsum_flows.flows", "gypsum_flows.flows.checks", "gypsum_flows.client", "gypsum_flows.errors"}


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("gypsum_flows.client.read", "import prefect", "prefect is imported by"),
        ("gypsum_flows.client.read", "def f():\n    from prefect import flow", "prefect is imported by"),
        ("gypsum_flows.client.read", "from ..flows import checks", "imports gypsum_flows.flows.checks"),
        ("gypsum_flows.cache", "import requests.adapters", "requests is imported by transport only"),
        ("gypsum_flows.auth", "from http import client", "http.client is imported by transport only"),
        ("gypsum_flows.server.app", "from ..client import read", "server uses only constants, errors, names"),
        ("gypsum_flows.batch.spec", "from ..blocks import GypsumCredentials", "blocks is a peer of batch"),
        ("snakemake_storage_plugin_gypsum.plugin", "from gypsum_flows.tasks import x", "uses only client"),
        ("gypsum_flows.errors", "from . import __version__", "version is a peer of errors"),
    ],
)
def test_a_violating_import_is_reported(module: str, source: str, expected: str) -> None:
    found = violations(source, module, False, KNOWN)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "source",
    [
        "from ..errors import GypsumError\nimport json\nfrom http import HTTPStatus",
        "from gypsum_flows import client\nfrom .. import constants",
    ],
)
def test_an_allowed_import_passes(source: str) -> None:
    assert violations(source, "gypsum_flows.batch.spec", False, KNOWN) == []
