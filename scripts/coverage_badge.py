"""Write a coverage badge (SVG) from coverage.py's JSON report: ``coverage_badge.py IN OUT``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TEMPLATE = """<svg xmlns="http://www.w3.org/2000/svg" width="104" height="20" role="img" \
aria-label="coverage: {text}">
<title>coverage: {text}</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>\
<stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="104" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="61" height="20" fill="#555"/>\
<rect x="61" width="43" height="20" fill="{color}"/>\
<rect width="104" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" \
font-size="11"><text x="30.5" y="14">coverage</text><text x="81.5" y="14">{text}</text></g>
</svg>
"""


def badge(percent: float) -> str:
    color = "#4c1" if percent >= 90 else "#dfb317" if percent >= 75 else "#e05d44"
    return TEMPLATE.format(text=f"{percent:.0f}%", color=color)


def main(argv: list[str]) -> int:
    src, dst = Path(argv[1]), Path(argv[2])
    percent = float(json.loads(src.read_text())["totals"]["percent_covered"])
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(badge(percent), encoding="utf-8")
    print(f"coverage badge: {percent:.1f}% -> {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
