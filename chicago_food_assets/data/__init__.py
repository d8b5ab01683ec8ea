"""Where data lives: the bundled real sample (see README.md in this folder) and the local state folder."""

import os
from pathlib import Path

SAMPLE_PATH = Path(__file__).with_name("inspections_sample.jsonl.gz")


def state_dir() -> Path:
    """Where local deployments keep their data: CHICAGO_FOOD_STATE_DIR, else `.state` in the project folder."""
    return Path(os.environ.get("CHICAGO_FOOD_STATE_DIR") or Path(__file__).resolve().parents[2] / ".state").resolve()
