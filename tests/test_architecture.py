"""The import direction of docs/architecture.md, checked on the source (ast, nothing imported).

Layers, lowest first; a module may import its own layer and the ones below, never above:

    rules        pure rules and configuration: settings, tenants, partitions, table contracts,
                 the cleaners and transforms of each source
    libraries    load engine, Graph client, platform (embedded server, instance), sandbox fakes,
                 warehouse migrations, small support libraries
    resources    thin Dagster ConfigurableResources (and the sandbox's subclasses of them)
    assets       assets, checks, sensors, schedules of each source and warehouse layer
    definitions  each source's defs(), sources.py, environment.py, definitions.py
    cli          cli.py, demo.py, doctor.py

No import cycle between modules, and no project import hidden inside a function except in
the CLI layer (which imports a subcommand's modules when it runs).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("vetorial_assets", "resources", "asset_checks")
LAYERS = ("rules", "libraries", "resources", "assets", "definitions", "cli")

# Longest matching prefix wins. A new module that matches none fails the test: give it a layer.
LAYER_OF_PREFIX = {
    # rules and configuration
    "vetorial_assets": "rules",  # the package itself
    "vetorial_assets.settings": "rules",
    "vetorial_assets.home": "rules",
    "vetorial_assets.tenants": "rules",
    "vetorial_assets.run_tags": "rules",
    "vetorial_assets.partitions": "rules",
    "vetorial_assets.repull": "rules",
    "vetorial_assets.warehouse.tables": "rules",
    "vetorial_assets.warehouse.metadata": "rules",
    "vetorial_assets.warehouse.contract": "rules",
    "vetorial_assets.meta.cleaner": "rules",
    "vetorial_assets.meta.raw_rows": "libraries",  # reads the Graph client's pages (PageRows)
    "vetorial_assets.meta.staging_type": "rules",
    "vetorial_assets.instagram.follows": "rules",
    "vetorial_assets.chatwoot.transform": "rules",
    # libraries
    "resources": "libraries",  # the package itself
    "resources.load": "libraries",
    "resources.source": "libraries",
    "resources.support": "libraries",
    "vetorial_assets.meta.graph": "libraries",
    "vetorial_assets.warehouse": "libraries",
    "vetorial_assets.platform": "libraries",
    "vetorial_assets.sandbox": "libraries",
    # resources
    "resources.warehouse": "resources",
    "resources.meta": "resources",
    "resources.source_db": "resources",
    "resources.discord": "resources",
    "resources.dagster_storage": "resources",
    "resources.run_launcher": "resources",
    "vetorial_assets.sandbox.resources": "resources",
    # assets, checks, sensors, schedules
    "asset_checks": "assets",
    "vetorial_assets.source": "assets",
    "vetorial_assets.meta": "assets",
    "vetorial_assets.instagram": "assets",
    "vetorial_assets.chatwoot": "assets",
    # Compares the source reader's description (resources.source) with the warehouse contract.
    "vetorial_assets.chatwoot.source_types": "assets",
    "vetorial_assets.alerts": "assets",
    "vetorial_assets.staging": "assets",
    "vetorial_assets.model": "assets",
    "vetorial_assets.mart": "assets",
    # definitions
    "vetorial_assets.meta.definitions": "definitions",
    "vetorial_assets.instagram.definitions": "definitions",
    "vetorial_assets.chatwoot.definitions": "definitions",
    "vetorial_assets.staging.definitions": "definitions",
    "vetorial_assets.model.definitions": "definitions",
    "vetorial_assets.mart.definitions": "definitions",
    "vetorial_assets.sources": "definitions",
    "vetorial_assets.environment": "definitions",
    "vetorial_assets.definitions": "definitions",
    # CLI
    "vetorial_assets.cli": "cli",
    "vetorial_assets.demo": "cli",
    "vetorial_assets.doctor": "cli",
    "vetorial_assets.doctor_state": "cli",
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def layer(module: str) -> str | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        found = LAYER_OF_PREFIX.get(".".join(parts[:n]))
        if found:
            return found
    return None


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool, int]]:
    """(imported project module, inside a function?, line) for every import of `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append((alias.name, in_function, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                for alias in child.names:
                    # `from pkg import submodule` imports the submodule; `from m import name`, m.
                    sub = f"{module}.{alias.name}"
                    found.append((sub if sub in known else module, in_function, child.lineno))
            elif not isinstance(child, ast.If) or not _is_type_checking(child):
                visit(child, nested)

    visit(tree, False)
    return [(target, inside, line) for target, inside, line in found if target.split(".")[0] in PACKAGES]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@pytest.fixture(scope="module")
def graph() -> dict[str, list[tuple[str, bool, int]]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in found.items()}


def _resolve(target: str, known: set[str]) -> str:
    """The project module an import names (`resources.load.engine.load` -> resources.load.engine)."""
    while target not in known and "." in target:
        target = target.rpartition(".")[0]
    return target


def test_every_module_has_a_layer(graph):
    unplaced = sorted(name for name in graph if layer(name) is None)
    assert not unplaced, f"give these modules a layer in tests/test_architecture.py: {unplaced}"


def test_no_module_imports_a_higher_layer(graph):
    known = set(graph)
    upward = []
    for name, targets in graph.items():
        for target, _, line in targets:
            target = _resolve(target, known)
            if LAYERS.index(layer(target)) > LAYERS.index(layer(name)):
                upward.append(f"{name}:{line} ({layer(name)}) imports {target} ({layer(target)})")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycle(graph):
    known = set(graph)
    sorter = graphlib.TopologicalSorter()
    for name, targets in graph.items():
        sorter.add(name, *{_resolve(t, known) for t, _, _ in targets} - {name})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_no_project_import_inside_a_function_below_the_cli(graph):
    hidden = [
        f"{name}:{line} imports {target} inside a function"
        for name, targets in graph.items()
        if layer(name) != "cli"
        for target, inside, line in targets
        if inside
    ]
    assert not hidden, "\n".join(hidden)


# Libraries split by job: their modules point one way too, lowest first (a module imports
# only modules listed before it). A new module of these packages must be placed here.
JOBS = {
    "resources.load": (
        "contract",
        "locks",
        "progress",
        "value_checks",
        "rejections",
        "prepare",  # the column contract of a load, chunk values checked for COPY
        "binary_copy",  # the COPY wire
        "merge",  # the merge and replace-scope statements
        "engine",  # orchestration: load, load_stream
        "spool",
    ),
    "resources.source": ("errors", "url", "relation", "session", "reader"),
}


@pytest.mark.parametrize("package", sorted(JOBS))
def test_a_library_split_by_job_imports_one_way(graph, package):
    order = JOBS[package]
    members = sorted(name for name in graph if name.startswith(f"{package}."))
    unplaced = [name for name in members if name.rpartition(".")[2] not in order]
    assert not unplaced, f"place these modules in JOBS[{package!r}]: {unplaced}"
    known = set(graph)
    backwards = []
    for name in members:
        for imported, _, line in graph[name]:
            target = _resolve(imported, known)
            if target.startswith(f"{package}.") and target != name:
                if order.index(target.rpartition(".")[2]) > order.index(name.rpartition(".")[2]):
                    backwards.append(f"{name}:{line} imports {target}")
    assert not backwards, f"{package}: imports against its jobs' order:\n" + "\n".join(backwards)


def test_the_checker_sees_upward_imports_and_cycles(tmp_path):
    # The checks above are not vacuous: a resource importing an asset module is upward, and
    # a module pair importing each other is a cycle.
    assert LAYERS.index(layer("resources.warehouse")) < LAYERS.index(layer("vetorial_assets.meta.assets"))
    module = tmp_path / "m.py"
    module.write_text("from vetorial_assets.meta import assets\n\ndef f():\n    import resources.meta\n")
    found = imports("resources.m", module, {"vetorial_assets.meta.assets", "resources.meta"})
    assert found == [("vetorial_assets.meta.assets", False, 1), ("resources.meta", True, 4)]
    sorter = graphlib.TopologicalSorter({"a": {"b"}, "b": {"a"}})
    with pytest.raises(graphlib.CycleError):
        sorter.prepare()
