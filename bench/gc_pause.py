"""How long a warm web process's full garbage collection takes, before and after the freeze.

    python bench/gc_pause.py [--runs 3]

Builds the app as ``wsgi.py`` does (a throwaway instance folder, SQLite), warms it
(``warm_up``), answers a few requests, then times ``gc.collect()`` ``--runs`` times, calls
``freeze_warm_objects`` and times it again. Prints the objects the collector tracks and the
milliseconds of each full collection: what the request that sets one off waits for.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def full_collections(runs: int) -> list[float]:
    """Milliseconds of ``runs`` full collections, one after another."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        gc.collect()
        times.append(1000 * (time.perf_counter() - started))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["POSTPURCHASE_INSTANCE_PATH"] = folder
        from postpurchase import create_app
        from postpurchase.web.warmup import freeze_warm_objects, warm_up

        app = create_app()
        warm_up(app)
        client = app.test_client()
        for _ in range(50):
            client.get("/healthz")
        tracked = len(gc.get_objects())
        before = full_collections(args.runs)
        frozen = freeze_warm_objects()
        after = full_collections(args.runs)
    print(
        f"objects tracked {tracked}, full collection ms: {' / '.join(f'{t:.1f}' for t in before)}"
    )
    print(f"frozen {frozen}, full collection ms: {' / '.join(f'{t:.1f}' for t in after)}")


if __name__ == "__main__":
    main()
