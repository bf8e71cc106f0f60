"""One clock: relative moments, a manual clock for simulated days, and the lint rule that keeps
every other module off the wall clock."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gtm_pipeline.domain.clock import FixedClock, ManualClock, resolve_moment
from tests.conftest import REPO

NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("+400d", NOW + dt.timedelta(days=400)),
        ("-400d", NOW - dt.timedelta(days=400)),
        ("+2w", NOW + dt.timedelta(weeks=2)),
        ("+36h", NOW + dt.timedelta(hours=36)),
        ("-90m", NOW - dt.timedelta(minutes=90)),
        ("2027-01-15T09:00Z", dt.datetime(2027, 1, 15, 9, tzinfo=dt.UTC)),
        ("2027-01-15T09:00", dt.datetime(2027, 1, 15, 9, tzinfo=dt.UTC)),  # no zone: UTC
        ("2027-01-15T09:00+05:30", dt.datetime(2027, 1, 15, 3, 30, tzinfo=dt.UTC)),
    ],
)
def test_moments_on_the_command_line_are_absolute_or_relative_to_now(
    text: str, expected: dt.datetime
) -> None:
    assert resolve_moment(text, NOW) == expected


@pytest.mark.parametrize("text", ["tomorrow", "+4x", "400d", "2027-13-40"])
def test_a_moment_that_is_not_one_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO 8601 .* offset like \+400d"):
        resolve_moment(text, NOW)


def test_clocks_are_aware_and_a_manual_clock_only_moves_forward() -> None:
    with pytest.raises(ValueError):
        FixedClock(dt.datetime(2026, 11, 24))  # naive
    clock = ManualClock(NOW)
    clock.set(NOW + dt.timedelta(days=1))
    assert clock.now() == NOW + dt.timedelta(days=1)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.set(NOW)


def _ruff() -> str:
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert found, "ruff is part of the dev extras"
    return found


@pytest.mark.parametrize(
    "source",
    [
        "import datetime as dt\nstamp = dt.datetime.now(dt.UTC)\n",
        "from datetime import datetime\nstamp = datetime.now()\n",
        "from datetime import date\nday = date.today()\n",
        "import time\nstamp = time.time()\n",
        "import datetime\nstamp = datetime.datetime.utcnow()\n",
    ],
)
def test_the_lint_rule_refuses_a_wall_clock_read_in_any_module_but_the_clock(source: str) -> None:
    """The test command runs ruff over the package; this shows the rule is live for each way of
    reading the wall clock (and that the clock module itself is the one exception)."""
    base = [_ruff(), "check", "--no-cache", "--select", "TID251", "--config", str(REPO / "pyproject.toml")]
    elsewhere = subprocess.run(
        [*base, "--stdin-filename", "gtm_pipeline/store/sneaky.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert elsewhere.returncode == 1 and "TID251" in elsewhere.stdout, elsewhere.stdout
    in_clock = subprocess.run(
        [*base, "--stdin-filename", "gtm_pipeline/domain/clock.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert in_clock.returncode == 0, in_clock.stdout
