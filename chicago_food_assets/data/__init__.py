"""The bundled real sample (see README.md in this folder)."""

from pathlib import Path

SAMPLE_PATH = Path(__file__).with_name("inspections_sample.jsonl.gz")
