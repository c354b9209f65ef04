"""The house's dependency order, read from the imports of every module (docs/architecture.md).

Layers, lowest first; a module may import its own layer and those below it, never above:

    kit        config.api (errors, fields, idempotency, throttling, views...), config.cache,
               config.row_security (the database's tenant wall), config.database,
               config.encryption, config.partitioning, config.settings
    accounts   tenants, people, roles, the tenant wall
    fleet      what can be booked: resources and cars
    bookings   the engine, its pages, API and emails
    analytics  reports on what happened
    top        the wiring (config.urls, config.api.urls, config.celery...) and config.demo

Migrations are history and are not read; a string such as "bookings.Booking" is not an import.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Module prefixes per layer, lowest first. The longest matching prefix decides a module's layer.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "kit",
        (
            "config.api.apps",
            "config.api.errors",
            "config.api.fields",
            "config.api.idempotency",
            "config.api.models",
            "config.api.pagination",
            "config.api.schema",
            "config.api.storable",
            "config.api.tasks",
            "config.api.throttling",
            "config.api.views",
            "config.cache",
            "config.database",
            "config.embedded_postgres",
            "config.encryption",
            "config.partitioning",
            "config.replicas",
            "config.row_security",
            "config.settings",
        ),
    ),
    ("accounts", ("accounts",)),
    ("fleet", ("fleet",)),
    ("bookings", ("bookings",)),
    ("analytics", ("analytics",)),
    (
        "top",
        (
            "config.urls",
            "config.api.urls",
            "config.celery",
            "config.wsgi",
            "config.asgi",
            "config.demo",
            "config",
        ),
    ),
]
PACKAGES = ("accounts", "fleet", "bookings", "analytics", "config")


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), index)
    return None if best is None else best[1]


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(path: Path) -> set[str]:
    """Every project module named by an import statement, at any depth (late imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in PACKAGES}


MODULES = project_modules()


def test_every_module_belongs_to_a_layer():
    assert [module for module in MODULES if layer_of(module) is None] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_own_layer_and_those_below(module):
    own = layer_of(module)
    upward = [
        f"{module} ({LAYERS[own][0]}) imports {imported} ({LAYERS[layer_of(imported)][0]})"
        for imported in sorted(imports_of(MODULES[module]))
        if layer_of(imported) is not None and layer_of(imported) > own
    ]
    assert upward == []


def test_no_two_apps_import_each_other():
    """The app graph is acyclic: follow every app-to-app import and never come back."""
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        source = LAYERS[layer_of(module)][0]
        for imported in imports_of(path):
            target = LAYERS[layer_of(imported)][0]
            if target != source:
                edges.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
            for nxt in edges.get(start, ())
        )

    assert [app for app in edges if reaches(app, app)] == []


def test_the_checker_sees_an_upward_import(tmp_path):
    """The rule itself can fail: an import from fleet to bookings is caught."""
    module = tmp_path / "leak.py"
    module.write_text("def f():\n    from bookings.models import Booking\n")
    assert imports_of(module) == {"bookings.models"}
    assert layer_of("bookings.models") > layer_of("fleet.leak")


def test_only_platform_wide_crosses_tenants():
    """`scopes_disabled()` opens the application's wall only; `platform_wide(reason)`
    (config/row_security.py) opens both and logs why, so app code uses nothing else."""
    allowed = {"config.row_security"}
    offenders = [
        module
        for module, path in MODULES.items()
        if module not in allowed and "scopes_disabled" in path.read_text()
    ]
    assert offenders == []
