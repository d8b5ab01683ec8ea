"""A local replay of the Socrata food inspections API, for the offline demo and the tests."""

from chicago_food_assets.local.replay.server import DATASET_ID, Fault, ReplayServer, read_rows
from chicago_food_assets.local.replay.soda import normalise_date

__all__ = ["DATASET_ID", "Fault", "ReplayServer", "normalise_date", "read_rows"]
