"""The slot effect on constructed Japanese histories (see postpurchase/edd/slot_bench.py).

.venv/bin/python bench/edd_slots.py [--n 20000]
"""

from __future__ import annotations

import argparse
from datetime import time

from postpurchase.edd.slot_bench import constructed_history, score_slots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    print("| typical depot arrival | prediction | MAE (days) | exact |")
    print("|---|---|---|---|")
    for hour in (7, 10):
        parcels = constructed_history(args.n, typical=time(hour))
        for score in score_slots(parcels, typical=time(hour)):
            print(f"| {hour:02d}:00 | {score.name} | {score.mae_days:.3f} | {score.exact:.1%} |")


if __name__ == "__main__":
    main()
