"""The subjects of violation items: the numbers of both numberings that check the same thing.

The City renumbered its items on 2018-07-01 (`ingestion.violations.NEW_SCHEME_FROM`): an old 18 (outer openings
rodent-proof) is in spirit a new 38 (insects, rodents and animals not present), not a new 18. A subject groups the
numbers of both schemes that check one thing, read from the items' titles in the sample, so that a feature counted
by subject means the same before and after the change. Five subjects, the ones a critical finding most often
concerns: food temperatures, pests, hand washing, washing and sanitizing, and the person in charge.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    name: str
    words: str  # how a reason says it: "citations for {words} in the past 2 years"
    old: tuple[int, ...]  # item numbers before 2018-07-01
    new: tuple[int, ...]  # item numbers from 2018-07-01


SUBJECTS = (
    # old 2 facilities to keep temperature, 3 hazardous food at temperature, 17 thawing, 40 thermometers; new 12
    # received at temperature, 18 cooking, 19 reheating, 20 cooling, 21 hot and 22 cold holding, 33 cooling methods,
    # 35 thawing, 36 thermometers
    Subject("temperature", "food temperatures", (2, 3, 17, 40), (12, 18, 19, 20, 21, 22, 33, 35, 36)),
    # old 13 rodents or insects inside, 18 outer openings and 19 the outside garbage area rodent-proof; new 38
    # insects, rodents and animals not present, 54 garbage and refuse facilities
    Subject("pests", "pests", (13, 18, 19), (38, 54)),
    # old 6 hands washed, 12 hand washing facilities; new 8 hands washed, 9 no bare hand contact, 10 hand sinks
    Subject("hands", "hand washing", (6, 12), (8, 9, 10)),
    # old 7 wash and rinse water, 8 sanitizing rinse, 22 dish machines, 24 dish washing facilities; new 16
    # food-contact surfaces cleaned and sanitized, 48 warewashing facilities
    Subject("sanitizing", "washing and sanitizing", (7, 8, 22, 24), (16, 48)),
    # old 21 certified food manager on site; new 1 person in charge, 2 sanitation certificate, 3 knowledge
    Subject("management", "the person in charge", (21,), (1, 2, 3)),
)


def feature_name(subject: Subject) -> str:
    """The feature that totals a subject's citations over the 2 years before."""
    return f"{subject.name}_citations_last_2_years"
