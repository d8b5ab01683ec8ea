"""docs/architecture.md stays true: every module is in its layout, every path it tells a change to go to exists, and
the imports follow its rules (who may import whom)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()
PACKAGES = ("chicago_food_assets", "service")
STAGES = ("declarations", "ingestion", "features", "models", "lists")  # core's stages, in the order data flows


def modules() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py"
    )


def layout() -> dict[str, set[str]]:
    """The layout block: folder (from the project root) -> the module files named on its lines."""
    block = DOC.split("## Layout", 1)[1].split("```", 2)[1]
    named: dict[str, set[str]] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        first = line.split()[0]
        if first.endswith("/"):
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, first))
            folder = "".join(name for _, name in stack)
        else:
            folder = "".join(name for depth, name in stack if depth < indent)
        named.setdefault(folder, set()).update(re.findall(r"\b(\w+\.py)\b", line))
    return named


def test_the_layout_names_every_module_and_no_module_that_is_gone():
    named = layout()
    missing = [str(m) for m in modules() if m.name not in named.get(m.parent.as_posix() + "/", set())]
    assert missing == [], "modules not in docs/architecture.md's layout (under their folder)"
    gone = [
        f"{folder}{name}"
        for folder, names in named.items()
        if folder.startswith(PACKAGES)
        for name in names
        if not (ROOT / folder / name).exists()
    ]
    assert gone == [], "named in docs/architecture.md's layout but not there"


def test_every_path_where_a_change_goes_exists():
    table = DOC.split("## Where a change goes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| change")]
    assert {row.split("|")[1].strip() for row in rows} >= {"feature", "check", "route", "alert", "asset"}
    paths = [p for p in re.findall(r"`([\w./-]+)`", table) if "/" in p]
    assert len(paths) >= 15
    absent = [p for p in paths if not (ROOT / p).exists() and not (ROOT / "chicago_food_assets" / p).exists()]
    assert absent == [], "docs/architecture.md sends a change to a path that does not exist"


def imports(path: Path) -> set[str]:
    """Every module a file imports (absolute; this project uses no relative imports)."""
    found = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import"
            found.add(node.module or "")
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def own(path: Path) -> set[str]:
    """The project's modules a file imports (a `from package import module` counted as the module)."""
    names = imports(path)
    return {n for n in names if n.split(".")[0] in PACKAGES and module_exists(n)}


def module_exists(name: str) -> bool:
    base = ROOT / name.replace(".", "/")
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def stage(name: str) -> int:
    """A core module's place in the flow: the shared helpers and the declarations first."""
    parts = name.split(".")
    return STAGES.index(parts[2]) if len(parts) > 3 and parts[2] in STAGES else 0


@pytest.mark.parametrize("path", [m for m in modules() if m.parts[:2] == ("chicago_food_assets", "core")], ids=str)
def test_core_imports_no_dagster_and_only_its_own_stage_or_earlier_ones(path):
    name = ".".join(path.with_suffix("").parts)
    names = imports(path)
    assert not {n for n in names if n.split(".")[0] in {"dagster", "dagster_pandas", "dagster_aws"}}
    outside = {n for n in own(path) if not n.startswith("chicago_food_assets.core")}
    assert outside == set(), f"{path} imports outside core/"
    later = {n for n in own(path) if n.startswith("chicago_food_assets.core.") and stage(n) > stage(name)}
    assert later == set(), f"{path} imports a later stage"


def test_resources_import_no_asset_and_the_service_reads_tables_not_assets():
    allowed = {"chicago_food_assets.assets.types", "chicago_food_assets.operations.messages"}
    for path in modules():
        names = own(path)
        if path.parts[:2] == ("chicago_food_assets", "resources"):
            above = {
                n
                for n in names
                if n.startswith(
                    ("chicago_food_assets.assets", "chicago_food_assets.automation", "chicago_food_assets.operations")
                )
                and n not in allowed
            }
            assert above == set(), f"{path} imports above the resources"
        if path.parts[0] == "service":
            assert not any(n.split(".")[0].startswith("dagster") for n in imports(path)), path
            product = {
                n for n in names if n.startswith("chicago_food_assets") and not n.startswith("chicago_food_assets.core")
            }
            assert product == set(), f"{path} imports the pipeline, not only core"
        if path.parts[:2] != ("chicago_food_assets", "local"):
            assert not {n for n in names if n.startswith("chicago_food_assets.local")}, f"{path} imports local/"
