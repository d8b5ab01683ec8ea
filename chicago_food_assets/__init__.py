"""Which Chicago food establishments will fail their next inspection: a Dagster asset platform."""

import warnings

# Dagster marks the APIs we rely on (backfill policies, dagster-pandas columns) beta or preview on every import;
# the note is the same each time and hides the warnings that matter.
warnings.filterwarnings("ignore", message=r".* is currently in (beta|preview)")
