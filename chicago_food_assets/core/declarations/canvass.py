"""Chicago's canvass schedule: which inspections are canvasses, and how often each risk category is canvassed.

Chicago canvasses (routine, unannounced inspections) by risk: risk 1 twice a year, risk 2 once a year, risk 3 every
other year. The visit list counts who is due from it; the features count how overdue an inspection is against it.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd

# days between canvasses by risk (risk 1: twice a year, 2: yearly, 3: every other year)
FREQUENCY_DAYS: Mapping[int, int] = {1: 182, 2: 365, 3: 730}


def is_canvass(rows: pd.DataFrame) -> np.ndarray:
    """Per clean inspection: a canvass that is not a re-inspection."""
    kind = (rows["inspection_kind"] == "canvass").fillna(False).to_numpy(dtype=bool)
    return kind & ~rows["reinspection"].fillna(False).to_numpy(dtype=bool)


def frequency(risk: pd.Series, frequency_days: Mapping[int, int] = FREQUENCY_DAYS) -> np.ndarray:
    """Days between canvasses for each risk; an unknown risk is treated as risk 1 (the most frequent)."""
    lookup = {int(k): float(v) for k, v in frequency_days.items()}
    days = risk.astype("Int64").fillna(1).map(lookup).astype(float)
    return days.fillna(float(frequency_days[1])).to_numpy(dtype=float)
