"""The README as a user's guide: short enough to read, and complete where it lists what runs by itself."""

from chicago_food_assets.definitions import defs
from chicago_food_assets.local.environment import PROJECT

README = PROJECT / "README.md"


def test_the_readme_is_at_most_15_kb():
    assert len(README.read_bytes()) <= 15_000


def test_the_readme_names_every_sensor_and_schedule():
    """Its automation list missed five of the eight there were; a new or renamed automation must be told here."""
    text = README.read_text()
    names = [s.name for s in defs.sensors or []] + [s.name for s in defs.schedules or []]
    assert len(names) >= 7  # four sensors, three schedules
    assert [name for name in names if f"`{name}`" not in text] == []
