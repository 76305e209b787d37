"""Card benchmark: PNG cards parsed per second and the time to import 1,000 cards.

Both figures are printed beside a baseline measured in the same run on the same files:
Pillow opening each PNG and reading its text chunks. Pillow is timed two ways, because it
only sees text chunks placed before the image data when it opens a file (``info``), and
needs to decode the whole image to reach the rest (``text``); real cards put their
``chara`` chunk in either place.

* **parse**: ``read_png`` (chunk walk, CRC checks, base64, UTF-8, JSON) against Pillow.
* **import**: ``importer.import_card`` into a fresh SQLite database (parse, age check,
  field mapping, stored file, thumbnail, first version; one transaction per card, as the
  CLI does) for 1,000 cards cycled from the real PNG cards, against Pillow reading the
  same 1,000 files' text chunks.

Run from the repository root::

    .venv/bin/python benchmarks/cards.py             # 1,000 cards
    .venv/bin/python benchmarks/cards.py --count 200 # quicker

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from afterdark.characters import importer
from afterdark.characters.cards import read_png
from afterdark.store.engine import Database
from afterdark.store.files import FileStore
from afterdark.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
CARDS = Path(os.environ.get("AFTERDARK_SHARED_DIR", ROOT.parent / "shared")) / "data" / "cards"


def pillow_info(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return len(image.info.get("chara", "") or image.info.get("ccv3", ""))


def pillow_text(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        text = image.text  # type: ignore[attr-defined]
        return len(text.get("ccv3", "") or text.get("chara", ""))


def ours(data: bytes) -> int:
    return len(read_png(data).card.text)


def rate(function: Callable[[bytes], int], files: list[bytes], seconds: float) -> float:
    """Files handled per second, best of several rounds of at least ``seconds`` / 5."""
    best = 0.0
    for _ in range(5):
        done, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 5:
            for data in files:
                function(data)
            done += len(files)
        best = max(best, done / elapsed)
    return best


async def import_all(files: list[bytes]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite+aiosqlite:///{folder}/bench.db")
        await upgrade(database)
        store = FileStore(Path(folder) / "files")
        start = time.perf_counter()
        for number, data in enumerate(files):
            async with database.session() as session:
                await importer.import_card(session, store, None, data, f"card{number}.png")
                await session.commit()
        elapsed = time.perf_counter() - start
        await database.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="cards to import (1000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per parse figure")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    paths = sorted(CARDS.glob("*.png"))
    if not paths:
        sys.exit(f"no PNG cards in {CARDS}")
    files = [p.read_bytes() for p in paths]
    sizes = ", ".join(f"{p.name} {len(d) // 1024} KiB" for p, d in zip(paths, files, strict=True))
    print(f"corpus: {len(files)} real PNG cards ({sizes})")

    figures: dict[str, float] = {}
    figures["parse_ours"] = rate(ours, files, args.seconds)
    figures["parse_pillow_info"] = rate(pillow_info, files, args.seconds)
    figures["parse_pillow_text"] = rate(pillow_text, files, args.seconds)
    print("\nPNG cards parsed per second (best of 5 rounds)")
    methods = [
        ("parse_ours", "afterdark read_png", ours),
        ("parse_pillow_info", "Pillow open + info (chunks before image data)", pillow_info),
        ("parse_pillow_text", "Pillow open + text (decodes the image)", pillow_text),
    ]
    for key, label, function in methods:
        ratio = figures["parse_ours"] / figures[key]
        found = sum(1 for data in files if function(data))
        print(
            f"  {label:<48} {figures[key]:>10,.0f}/s   ours ×{ratio:.2f}"
            f"   finds {found} of {len(files)} cards"
        )

    batch = [files[i % len(files)] for i in range(args.count)]
    start = time.perf_counter()
    for data in batch:
        pillow_text(data)
    figures["baseline_seconds"] = time.perf_counter() - start
    figures["import_seconds"] = asyncio.run(import_all(batch))
    per_card = [figures["import_seconds"] / args.count * 1000]
    print(f"\nImport {args.count} cards into SQLite (one transaction per card)")
    print(f"  Pillow reading the text of the same files     {figures['baseline_seconds']:8.2f} s")
    print(
        f"  afterdark import                               {figures['import_seconds']:8.2f} s"
        f"   ×{figures['import_seconds'] / figures['baseline_seconds']:.2f} the baseline, "
        f"{statistics.fmean(per_card):.1f} ms per card"
    )
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
