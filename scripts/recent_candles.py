"""Write the last N bundled 5-minute candles, shifted in time so that the newest bar is open now.

A paper run over this file leaves a state database whose heartbeat (meta ``last_bar_ms``) is
current, so the image's HEALTHCHECK can be checked for real (scripts/check_image.sh runs this
inside the image: ``python - OUT [N] < scripts/recent_candles.py``). Standard library only.
"""

from __future__ import annotations

import csv
import gzip
import sys
import time
from importlib.resources import files

BAR_MS = 300_000


def main(out: str, count: int = 600) -> None:
    src = files("adaptive_agent.data") / "bundled" / "binance_spot_BTCUSDT_5m.csv.gz"
    with gzip.open(str(src), "rt", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[-count:]
    now_bar = int(time.time() * 1000) // BAR_MS * BAR_MS
    shift = now_bar - int(body[-1][0])
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([int(row[0]) + shift, *row[1:]] for row in body)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
