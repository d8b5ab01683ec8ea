"""dagster-pandas types of the tables: a schema break shows in the UI as a type failure that names the column."""

from datetime import datetime

from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type

from chicago_food_assets.core import features
from chicago_food_assets.core.violations import COUNT_COLUMNS

FIRST_DAY, LAST_DAY = datetime(2009, 12, 28), datetime(2100, 1, 1)
TEXT_TYPES = frozenset({"object", "category", "string"})  # "string": Arrow-backed strings


def _counts(names: tuple[str, ...]) -> list[PandasColumn]:
    return [PandasColumn.integer_column(name, min_value=0, ignore_missing_vals=True) for name in names]


CleanInspections = create_dagster_pandas_dataframe_type(
    name="CleanInspections",
    description="One typed row per inspection with an outcome (see core/cleaning.py).",
    columns=[
        PandasColumn.integer_column("inspection_id", min_value=1, non_nullable=True, unique=True),
        PandasColumn.datetime_column("week", min_datetime=FIRST_DAY, max_datetime=LAST_DAY, non_nullable=True),
        PandasColumn.datetime_column(
            "inspection_date", min_datetime=FIRST_DAY, max_datetime=LAST_DAY, non_nullable=True
        ),
        PandasColumn.integer_column("license", min_value=0, non_nullable=True),
        PandasColumn.string_column("establishment", non_nullable=True),
        PandasColumn.float_column("latitude", min_value=-90, max_value=90, non_nullable=True),
        PandasColumn.float_column("longitude", min_value=-180, max_value=180, non_nullable=True),
        PandasColumn.boolean_column("outside_chicago", non_nullable=True),
        PandasColumn.string_column("facility_type", non_nullable=True),
        PandasColumn.integer_column("risk", min_value=1, max_value=3, ignore_missing_vals=True),
        PandasColumn.string_column("inspection_kind", non_nullable=True),
        PandasColumn.boolean_column("reinspection", non_nullable=True),
        PandasColumn.categorical_column(
            "results", categories={"Pass", "Pass w/ Conditions", "Fail"}, of_types=TEXT_TYPES, non_nullable=True
        ),
        PandasColumn.boolean_column("failed", non_nullable=True),
        PandasColumn.boolean_column("violations_recorded", non_nullable=True),
        *_counts(COUNT_COLUMNS),
    ],
)

InspectionViolations = create_dagster_pandas_dataframe_type(
    name="InspectionViolations",
    description="One row per cited violation item: inspection_id, number, severity, scheme.",
    columns=[
        PandasColumn.integer_column("inspection_id", min_value=1, non_nullable=True),
        PandasColumn.integer_column("number", min_value=1, max_value=99, non_nullable=True),
        PandasColumn.categorical_column(
            "severity",
            categories={"critical", "serious", "minor", "priority", "priority_foundation", "core", "unknown"},
            of_types=TEXT_TYPES,
            non_nullable=True,
        ),
        PandasColumn.categorical_column("scheme", categories={"old", "new"}, of_types=TEXT_TYPES, non_nullable=True),
    ],
)

InspectionFeatures = create_dagster_pandas_dataframe_type(
    name="InspectionFeatures",
    description="Identifiers, leakage-free features and the target `failed` (see core/features.py).",
    columns=[
        PandasColumn.integer_column("inspection_id", min_value=1, non_nullable=True, unique=True),
        PandasColumn.datetime_column("week", min_datetime=FIRST_DAY, max_datetime=LAST_DAY, non_nullable=True),
        PandasColumn.string_column("establishment", non_nullable=True),
        *_counts(features.COUNTS),
        PandasColumn.float_column("prior_fail_rate", min_value=0, max_value=1, ignore_missing_vals=True),
        PandasColumn.integer_column("days_since_last", min_value=1, ignore_missing_vals=True),
        PandasColumn.integer_column("month", min_value=1, max_value=12, non_nullable=True),
        PandasColumn.boolean_column("reinspection", non_nullable=True),
        PandasColumn.boolean_column("reinspection_after_failed_canvass", non_nullable=True),
        *[PandasColumn.exists(name) for name in features.CATEGORICAL],
        PandasColumn.boolean_column(features.TARGET, non_nullable=True),
    ],
)
