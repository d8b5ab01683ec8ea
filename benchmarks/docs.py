"""`./run docs`: write what was measured into docs/, so no commit copies a number by hand.

Each generated part of a page sits between `<!-- generated: NAME -->` and `<!-- end: NAME -->` and is replaced
whole; everything else is prose. The parts and where they come from:
- `features` (docs/pipeline.md): the features' declarations (core/catalog.py);
- `card` (docs/model.md): the model card of the state folder's selected model (run `./run demo` first);
- `ablation` (docs/model.md): `python -m benchmarks.ablation`'s last table (docs/results/ablation.md);
- `benchmarks` (docs/performance.md): `./run bench`'s last whole run (docs/results/benchmarks.json).
"""

import argparse
import json
import re
import sys
from pathlib import Path

from benchmarks.__main__ import tables

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = {"features": "pipeline.md", "card": "model.md", "ablation": "model.md", "benchmarks": "performance.md"}


def features() -> str:
    from chicago_food_assets.core import catalog

    lines = ["| feature | group | kind | defined as |", "| --- | --- | --- | --- |"]
    for feature in catalog.FEATURES:
        kind = "category" if feature.categorical else feature.kind
        lines.append(f"| `{feature.name}` | {feature.group} | {kind} | {feature.description} |")
    return "\n".join(lines)


def card() -> str:
    """The latest `selected_model` materialization's card in this state folder's Dagster instance."""
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(AssetKey("selected_model"))
    if event is None or event.asset_materialization is None:
        raise SystemExit("no selected model in this state folder: run ./run demo first")
    text = str(event.asset_materialization.metadata["model_card"].value)
    return re.sub(r"(?m)^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", text).strip()  # under the page's


def stored(name: str) -> str:
    path = DOCS / "results" / name
    if not path.exists():
        return f"_not measured yet: see how to produce {path.relative_to(DOCS.parent)} above_"
    return tables(json.loads(path.read_text())) if name.endswith(".json") else path.read_text().strip()


def fill(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- generated: {name} -->\n).*?(<!-- end: {name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no generated part '{name}' in docs/{PAGES[name]}")
    return pattern.sub(lambda m: m.group(1) + content.rstrip() + "\n" + m.group(2), text)


def main() -> int:
    parser = argparse.ArgumentParser(prog="./run docs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS, help="where the pages go (default: docs/ itself)")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    parts = {
        "features": features(),
        "card": card(),
        "ablation": stored("ablation.md"),
        "benchmarks": stored("benchmarks.json"),
    }
    pages = {page: (DOCS / page).read_text() for page in set(PAGES.values())}
    for name, content in parts.items():
        pages[PAGES[name]] = fill(pages[PAGES[name]], name, content)
    for page, text in pages.items():
        (out / page).write_text(text)
        print(f"{out / page}: {', '.join(name for name, where in PAGES.items() if where == page)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
