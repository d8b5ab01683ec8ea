"""`python -m chicago_food_assets.local.replay --data FILE --port N`: serve real rows as the SODA API does."""

import argparse
import gc
import json
import sys

from chicago_food_assets.data import SAMPLE_PATH
from chicago_food_assets.local.replay.files import DataFileError, load
from chicago_food_assets.local.replay.server import DATASET_ID, Fault, ReplayServer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(SAMPLE_PATH), help="file of rows (see replay/files.py; default: sample)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--dataset", default=DATASET_ID, help="dataset id served under /resource/<id>.json")
    parser.add_argument("--token", default=None, help="reject requests carrying another X-App-Token")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='fault to inject first, e.g. \'{"status": 429, "times": 2}\' or \'{"delay": 3}\'',
    )
    parser.add_argument("--json", action="store_true", help="announce the server as one JSON line (the launcher's)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()
    # Reading makes a dict and its strings per row and no cycles: the collector, run every 700 allocations, would
    # walk the growing rows again and again (half of reading 300,000 rows). Off while reading; the rows, kept as long
    # as the server serves, are then frozen out of later collections.
    gc.disable()
    try:
        loaded = load(args.data)
    except DataFileError as error:  # one line for the user, no traceback
        print(json.dumps({"error": str(error)}) if args.json else f"error: {error}", flush=True)
        return 2
    finally:
        gc.enable()
    gc.freeze()
    server = ReplayServer(
        loaded.rows, host=args.host, port=args.port, dataset_id=args.dataset, token=args.token, verbose=args.verbose
    )
    server.state.faults.extend(Fault(**json.loads(spec)) for spec in args.fault)
    url = f"http://{server.domain}/resource/{args.dataset}.json"
    if args.json:
        days = loaded.days()
        announce = {
            "domain": server.domain,
            "rows": len(loaded.rows),
            "days": days,
            "described": loaded.describe(args.data),
        }
        print(json.dumps(announce), flush=True)
    else:
        print("\n".join(loaded.describe(args.data)), file=sys.stderr)
        print(f"replaying {len(loaded.rows)} rows of {args.data} at {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
