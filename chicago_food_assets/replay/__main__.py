"""`python -m chicago_food_assets.replay --data FILE --port N`: serve real rows as the SODA API does."""

import argparse
import json

from chicago_food_assets.data import SAMPLE_PATH
from chicago_food_assets.replay.server import DATASET_ID, Fault, ReplayServer, read_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data", default=str(SAMPLE_PATH), help="JSON-lines(.gz) file of rows (default: bundled sample)"
    )
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
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()

    server = ReplayServer(
        read_rows(args.data),
        host=args.host,
        port=args.port,
        dataset_id=args.dataset,
        token=args.token,
        verbose=args.verbose,
    )
    server.state.faults.extend(Fault(**json.loads(spec)) for spec in args.fault)
    print(
        f"replaying {len(server.state.table.rows)} rows of {args.data} at "
        f"http://{server.domain}/resource/{args.dataset}.json",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
