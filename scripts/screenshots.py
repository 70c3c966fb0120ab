"""Write SVG screenshots of ants-tui's main views into screenshots/.

Usage: python scripts/screenshots.py [--out screenshots]

The dashboard runs headless on the fake node of the snapshot tests
(tests/tui/fakes.py): a fixed snapshot with peers in every state, jobs in
every status, traffic and log lines, shown with a frozen clock in UTC. So the
files change only when the dashboard's look does. Written files:

    dashboard-120x40.svg   the main view
    job-detail-120x40.svg  the detail of a failed job
    keys-120x40.svg        the keys screen (?)
    dashboard-80x24.svg    the compact layout of a small terminal
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tui.fakes import (  # noqa: E402
    FrozenClock,
    build_fixed_app,
    fixed_conditions,
    open_job_detail,
    open_keys,
    settle,
)

Step = Callable[..., Awaitable[None]]

VIEWS: tuple[tuple[str, tuple[int, int], Step], ...] = (
    ("dashboard-120x40.svg", (120, 40), settle),
    ("job-detail-120x40.svg", (120, 40), open_job_detail),
    ("keys-120x40.svg", (120, 40), open_keys),
    ("dashboard-80x24.svg", (80, 24), settle),
)
"""File name, terminal size and the step that opens the view, for each screenshot."""


async def capture(filename: str, size: tuple[int, int], step: Step, out: Path) -> None:
    clock = FrozenClock()
    with fixed_conditions():
        app = build_fixed_app(clock)
        async with app.run_test(size=size) as pilot:
            await step(pilot)
            app.save_screenshot(filename, path=str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "screenshots",
        help="folder for the SVG files (default: screenshots/ in the repository)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for filename, size, step in VIEWS:
        asyncio.run(capture(filename, size, step, args.out))
        print(args.out / filename)
    return 0


if __name__ == "__main__":
    sys.exit(main())
