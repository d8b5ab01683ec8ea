"""Every feature, declared once: its column, what it means, how a reason says it, and its group.

From this list come the feature columns of `inspection_features` (its contract), the models' numeric and categorical
inputs in their order (every feature but the candidates; part of a model's settings and version), the counts the
table checks, the plain words of the reasons, the groups the ablation adds one at a time, and the feature table of
`docs/model.md`. A new feature is a line here, its computation in `features.build` (or `peers`, `repeats`), and its
test. A candidate is a feature measured before the models read it: the ablation adds each alone, and it becomes an
input (`candidate` removed) only when the backtest gains.
"""

import calendar
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from chicago_food_assets.core.declarations import canvass
from chicago_food_assets.core.declarations.subjects import SUBJECTS, feature_name

Words = Callable[[pd.Series], pd.Series]


def count(words: str) -> Words:
    return lambda v: v.astype("Int64").astype(str) + f" {words}"


def share(before: str, after: str) -> Words:
    return lambda v: before + (v * 100).round().astype("Int64").astype(str) + after


def flag(yes: str, no: str) -> Words:
    return lambda v: v.map({True: yes, False: no}).fillna("")  # 1 and 0 (floats too) hash as True and False


# what a place's coordinates raising its score mean to a supervisor
AREA = "its area: the model rates places near it riskier"


def said(words: str) -> Words:
    return lambda v: pd.Series(words, index=v.index)


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # the column's kind (core/kinds.KINDS): text is a category for the models, the rest numbers
    group: str  # what kind of knowledge it is (GROUPS: the ablation adds them one at a time)
    description: str  # what it is, for the contract's column and the documented feature table
    words: Words  # a row's value in plain words, for the reasons
    missing: str = ""  # what a missing value means, in plain words ("" for a feature that is never missing)
    count: bool = False  # a count of inspections or violations: a non-negative integer, null when unknown
    nullable: bool = True
    bounds: tuple[float | None, float | None] | None = None
    # a candidate is computed, stored and measured (benchmarks/ablation.py) but not a model input: it becomes one
    # when the rolling-origin backtest gains from it
    candidate: bool = False
    # the targets whose models read this candidate: for them its backtest and the City's 2014 window both gained
    input_for: tuple[str, ...] = ()

    @property
    def categorical(self) -> bool:
        return self.kind == "text"


ITSELF, RESULTS, VIOLATIONS, RICHER = "the inspection itself", "past results", "past violations", "richer history"
REPEATS, CITED, CHAIN, PLACE = "repeated violations", "what it was cited for", "chain", "neighbourhood"
SCHEDULE = "canvass schedule"
NO_EARLIER = "no earlier inspection"


def _counted(
    name: str, group: str, description: str, words: str, missing: str = "", candidate: bool = False
) -> Feature:
    return Feature(
        name, "integer", group, description, count(words), missing, count=True, bounds=(0, None), candidate=candidate
    )


FEATURES: tuple[Feature, ...] = (
    _counted("prior_inspections", RESULTS, "earlier inspections", "earlier inspections"),
    _counted("prior_fails", RESULTS, "earlier inspections that failed", "earlier fails"),
    Feature(
        "prior_fail_rate",
        "float",
        RESULTS,
        "the share of earlier inspections that failed",
        share("failed ", "% of earlier inspections"),
        NO_EARLIER,
        bounds=(0, 1),
    ),
    Feature(
        "days_since_last",
        "integer",
        RESULTS,
        "days since the previous inspection day (null for a first inspection)",
        count("days since the last inspection"),
        NO_EARLIER,
        bounds=(1, None),
    ),
    Feature(
        "last_failed",
        "boolean",
        RESULTS,
        "whether the previous inspection day's result (its last inspection) was a fail",
        flag("failed its last inspection", "passed its last inspection"),
        NO_EARLIER,
    ),
    _counted(
        "last_critical",
        VIOLATIONS,
        "critical violations cited at the previous inspection (null when not recorded)",
        "critical violations at the last inspection",
    ),
    _counted(
        "last_serious",
        VIOLATIONS,
        "serious violations cited at the previous inspection (null when not recorded)",
        "serious violations at the last inspection",
    ),
    _counted(
        "last_minor",
        VIOLATIONS,
        "minor violations cited at the previous inspection (null when not recorded)",
        "minor violations at the last inspection",
    ),
    _counted("inspections_last_year", RESULTS, "inspections in the 365 days before", "inspections in the past year"),
    Feature(
        "fails_last_year",
        "integer",
        RESULTS,
        "failed inspections in the 365 days before (recent fails, where `prior_fails` counts them all)",
        count("failed inspections in the past year"),
        count=True,
        bounds=(0, None),
        candidate=True,
    ),
    _counted(
        "critical_last_year",
        VIOLATIONS,
        "critical violations cited in the 365 days before",
        "critical violations in the past year",
    ),
    _counted(
        "serious_last_year",
        VIOLATIONS,
        "serious violations cited in the 365 days before",
        "serious violations in the past year",
    ),
    _counted(
        "minor_last_year",
        VIOLATIONS,
        "minor violations cited in the 365 days before",
        "minor violations in the past year",
    ),
    _counted(
        "complaints_last_year",
        RICHER,
        "complaint inspections in the 365 days before",
        "complaint inspections in the past year",
    ),
    _counted(
        "food_poisoning_last_year",
        RICHER,
        "suspected-food-poisoning inspections in the 365 days before",
        "suspected food poisoning inspections in the past year",
    ),
    _counted(
        "conditional_passes_last_year",
        RICHER,
        "inspections in the 365 days before that passed only with conditions (`Pass w/ Conditions`)",
        "passes with conditions in the past year",
    ),
    _counted(
        "fails_in_a_row",
        RICHER,
        "consecutive failed inspection days just before this one: a run of fails and failed re-inspections",
        "failed inspections in a row",
    ),
    Feature(
        "days_since_critical",
        "integer",
        RICHER,
        "days since the last earlier inspection with a critical or serious violation (null if none on record)",
        count("days since a critical or serious violation"),
        "no critical or serious violation on record",
        bounds=(1, None),
    ),
    Feature(
        "establishment_age",
        "integer",
        RICHER,
        "days since the establishment's first inspection on record (0 on that day)",
        lambda v: "first inspected " + v.astype("Int64").astype(str) + " days before",
        bounds=(0, None),
    ),
    _counted(
        "last_repeats",
        REPEATS,
        "violations cited at the previous inspection whose number (in its numbering) had been cited there in the "
        "730 days before it (null when not recorded)",
        "violations at the last inspection already cited there in the 2 years before",
        "violations of the last inspection not on record",
    ),
    _counted(
        "repeats_last_2_years",
        REPEATS,
        "the same repeated citations, over all its inspections of the 730 days before",
        "repeated violations in the past 2 years",
        "no violations on record in the past 2 years",
    ),
    *(
        _counted(
            feature_name(subject),
            CITED,
            f"citations for {subject.words} (old items {'/'.join(map(str, subject.old))}, new items "
            f"{'/'.join(map(str, subject.new))}: `declarations/subjects.py`) in the 730 days before (null when no "
            "violations were recorded in them)",
            f"citations for {subject.words} in the past 2 years",
            "no violations on record in the past 2 years",
            candidate=True,
        )
        for subject in SUBJECTS
    ),
    Feature(
        "chain_locations",
        "integer",
        CHAIN,
        "other establishments of the same business (`chain`: the public name, else the legal one, without store "
        "numbers, punctuation or company suffixes) seen on earlier days",
        count("other locations of the same business"),
        "no business name on record",
        bounds=(0, None),
    ),
    Feature(
        "chain_fail_rate",
        "float",
        CHAIN,
        "the share of those other establishments' earlier inspections that failed (null when none)",
        share("its business's other locations failed ", "% of inspections"),
        "no other location of the same business inspected before",
        bounds=(0, 1),
    ),
    Feature(
        "zip_fail_rate",
        "float",
        PLACE,
        "the share of all inspections in the same ZIP code that failed in the 90 days before, weighed toward the "
        "city's share as if `peers.PRIOR` more inspections had it (the city's share when the ZIP code had none; null "
        "without a ZIP code)",
        share("its ZIP code's fail rate over the past 90 days is ", "%, weighed by how many inspections it rests on"),
        "no ZIP code, or no inspection in the city in the past 90 days",
        bounds=(0, 1),
    ),
    _counted(
        "nearby_inspections",
        PLACE,
        "inspections within about 1-1.5 km (the 3 x 3 squares of a 1 km grid around the place's) in the 30 days before "
        "(null without coordinates)",
        "inspections nearby in the past 30 days",
        "no coordinates on record",
        candidate=True,
    ),
    Feature(
        "nearby_fail_rate",
        "float",
        PLACE,
        "the share of those nearby inspections that failed, weighed toward the city's share of those days as "
        "zip_fail_rate is (null without coordinates)",
        share("inspections around it failed at a rate of ", "% in the past 30 days"),
        "no coordinates on record",
        bounds=(0, 1),
        candidate=True,
    ),
    Feature(
        "zip_critical_rate",
        "float",
        PLACE,
        "the share of the inspections in the same ZIP code in the 90 days before whose violations were recorded that "
        "found a critical (or priority) violation, weighed toward the city's share as zip_fail_rate is",
        share(
            "its ZIP code's critical violation rate over the past 90 days is ",
            "%, weighed by how many inspections it rests on",
        ),
        "no ZIP code, or no inspection with recorded violations in the city in the past 90 days",
        bounds=(0, 1),
        candidate=True,
        input_for=("critical_found",),
    ),
    Feature(
        "days_since_canvass",
        "integer",
        SCHEDULE,
        "days since the establishment's last canvass (a canvass that is not a re-inspection; null when none)",
        count("days since its last canvass"),
        "never canvassed before",
        bounds=(1, None),
        candidate=True,
    ),
    Feature(
        "days_overdue",
        "integer",
        SCHEDULE,
        "days past the canvass due by its risk ("
        + ", ".join(f"risk {risk} every {days} days" for risk, days in canvass.FREQUENCY_DAYS.items())
        + "), counted from the last canvass, else the last inspection, as the visit list counts them (negative: "
        "not yet due; null for a first inspection)",
        lambda v: v.astype("Int64").astype(str) + " days past its canvass due date",
        NO_EARLIER,
        candidate=True,
    ),
    Feature(
        "reinspection_number",
        "smallint",
        SCHEDULE,
        "a re-inspection's place in its chain (1: the first re-inspection, 2: the one after a re-inspection, ...); "
        "0 when not a re-inspection",
        lambda v: "re-inspection number " + v.astype("Int64").astype(str),
        nullable=False,
        bounds=(0, None),
        candidate=True,
    ),
    Feature(
        "reinspection",
        "boolean",
        ITSELF,
        "this inspection is a re-inspection",
        flag("a re-inspection", ""),  # "not a re-inspection" tells a supervisor nothing: no reason
        nullable=False,
    ),
    Feature(
        "reinspection_after_failed_canvass",
        "boolean",
        RESULTS,
        "a re-inspection whose previous inspection was a failed canvass",
        flag("a re-inspection after a failed canvass", ""),
        nullable=False,
    ),
    Feature(
        "risk",
        "smallint",
        ITSELF,
        "the place's risk category (1 high, 3 low)",
        lambda v: "risk category " + v.astype("Int64").astype(str),
    ),
    Feature("latitude", "float", ITSELF, "the place's latitude", said(AREA)),
    Feature("longitude", "float", ITSELF, "the place's longitude", said(AREA)),
    Feature(
        "month",
        "smallint",
        ITSELF,
        "the month of the inspection",
        lambda v: "inspected in " + v.map(dict(enumerate(calendar.month_name))).astype(str),
        nullable=False,
        bounds=(1, 12),
    ),
    Feature(
        "inspection_kind",
        "text",
        ITSELF,
        "the inspection's own type (canvass, complaint, license, ...)",
        lambda v: "a " + v.astype(str).str.replace("_", " ") + " inspection",
    ),
    Feature(
        "facility_type",
        "text",
        ITSELF,
        "the place's type (canonical spelling)",
        lambda v: "facility type " + v.astype(str),
    ),
    Feature(
        "last_result",
        "text",
        RESULTS,
        "the previous inspection day's result (its last inspection)",
        lambda v: "last result " + v.astype(str),
        NO_EARLIER,
    ),
    Feature(
        "zip",
        "text",
        ITSELF,
        "the place's ZIP code: the inspection's, else the place's latest from an earlier day (extracts dropped some)",
        lambda v: "ZIP code " + v.astype(str),
    ),
    Feature("season", "text", ITSELF, "the season of the inspection", lambda v: "inspected in " + v.astype(str)),
    Feature(
        "facility_season",
        "text",
        ITSELF,
        "the place's type and the inspection's season together (`Restaurant in summer`): seasonality by kind of place",
        lambda v: "a " + v.astype(str),
        "no facility type on record",
        candidate=True,
    ),
)

# the ablation adds them in this order
GROUPS = (ITSELF, RESULTS, VIOLATIONS, RICHER, REPEATS, CITED, CHAIN, PLACE, SCHEDULE)
assert {feature.group for feature in FEATURES} == set(GROUPS), "every feature in a group"
BY_NAME = {feature.name: feature for feature in FEATURES}
INPUTS = tuple(feature for feature in FEATURES if not feature.candidate)  # what the models read
NUMERIC = tuple(feature.name for feature in INPUTS if not feature.categorical)
CATEGORICAL = tuple(feature.name for feature in INPUTS if feature.categorical)
CANDIDATES = tuple(feature.name for feature in FEATURES if feature.candidate)
assert all(f.candidate for f in FEATURES if f.input_for), "an input for some targets only is a candidate for the rest"
COUNTS = tuple(feature.name for feature in FEATURES if feature.count)


def inputs(target: str, candidates: list[str] | tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What the models of `target` read, numeric and categorical, in the catalog's order: the inputs, the candidates
    declared inputs for that target, and `candidates` (to try one); a name that is not a candidate is refused, naming
    the candidates."""
    unknown = sorted(set(candidates) - set(CANDIDATES))
    if unknown:
        raise ValueError(f"not candidate features: {', '.join(unknown)}; the candidates: {', '.join(CANDIDATES)}")
    return split({f.name for f in INPUTS} | {f.name for f in FEATURES if target in f.input_for} | set(candidates))


def split(names: set[str] | list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`names` as the models read them: numeric and categorical, each in the catalog's order."""
    used = set(names)
    return (
        tuple(f.name for f in FEATURES if f.name in used and not f.categorical),
        tuple(f.name for f in FEATURES if f.name in used and f.categorical),
    )


def candidates_for(target: str) -> tuple[str, ...]:
    """The candidates the models of `target` do not read (what the ablation and the City's window try one by one)."""
    return tuple(name for name in CANDIDATES if target not in BY_NAME[name].input_for)
