"""The packaging says what the code uses: every imported package is declared, every declared one is used."""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = Path(__file__).resolve().parent.parent
OWN = {"chicago_food_assets", "chicago_food_assets_tests", "service", "benchmarks"}
# Declared but never imported, and why.
USED_WITHOUT_IMPORT = {
    "dagster-webserver": "the UI behind `./run ui` (dagster dev)",
    "dagster-postgres": "run, event and schedule storage named in dagster.yaml",
    "tabulate": "pandas' DataFrame.to_markdown for metadata previews",
    "flask": "moto's ThreadedMotoServer",
    "flask-cors": "moto's ThreadedMotoServer",
    "pytest-timeout": "the `timeout` setting in pyproject.toml",
    "pytest-xdist": "`-n` in ./run test (two workers)",
    "ruff": "the linter and formatter (test_the_code_is_lint_clean_formatted_and_type_checked)",
    "mypy": "the type checker (the same test)",
    "schemathesis": "its CLI runs against the API in test_service.py",
}


def declared() -> set[str]:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def imported() -> set[str]:
    modules = set()
    for path in PROJECT.glob("*/**/*.py"):
        if path.parts[len(PROJECT.parts)] in {".venv", ".tools", ".state"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules - OWN - set(sys.stdlib_module_names)


def test_every_imported_package_is_declared_and_every_declared_one_is_used():
    distributions = packages_distributions()
    used = {canonicalize_name(distributions[module][0]) for module in imported()}  # universal_pathlib
    assert used - declared() == set(), "imported but not declared in pyproject.toml"
    assert declared() - used - set(USED_WITHOUT_IMPORT) == set(), "declared but never used"


def test_nothing_outside_the_repository_is_read_by_the_packaging():
    for name in ("pyproject.toml", "setup.py", "run"):
        assert "../" not in (PROJECT / name).read_text(), name


def test_the_code_is_lint_clean_formatted_and_type_checked():
    """ruff (lint and format) over everything, mypy over the product: the package but its local tooling and
    instance plugins, and the service ([tool.mypy])."""
    import subprocess

    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]):
        done = subprocess.run(
            [sys.executable, "-m", *command], cwd=PROJECT, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
