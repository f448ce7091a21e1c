"""`advisory init DIR`: a commented config and a folder of advisories to start from.

The advisories are the shipped examples (the package's `starter/advisories`, or the
project's `config/advisories` in a checkout). Nothing is written over: if any file is
there already, nothing is written at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from advisory.errors import Problem, UsageError

__all__ = ["CONFIG", "write_starter"]

CONFIG: Final = """\
# advisory's config. Every key, with its default: docs/configuration.md.
# Relative paths are read from this file's folder.

[service]
state = "state.sqlite3"        # what was sent to whom: back it up, never delete it
# state = "postgresql://advisory@db.internal:5432/advisory"   # shared by several instances
#                              # (its password in $ADVISORY_STATE_PASSWORD)
advisories = "advisories"      # one TOML file per country's advisory
timezone = "UTC"               # for the schedule and the dates in messages
# subscribers_file = "subscribers.csv"   # name,email,countries,min_level,format,sources,frequency
# trips_file = "trips.csv"     # email,country,start,end: one row per trip
# trip_lead = "7d"             # a trip concerns its traveller from this long before it starts

[sender]
address = "advisories@example.org"      # replace with your own
name = "Travel Advisory Service"
unsubscribe = "mailto:unsubscribe@example.org"

[delivery]
transport = "maildir"          # "maildir" (a folder any mail client reads) or "smtp"
maildir = "outbox"

# [smtp]                       # with transport = "smtp"; the password comes from
# host = "smtp.example.org"    # $ADVISORY_SMTP_PASSWORD, never from this file
# username = "advisory"

[schedule]                     # for `advisory serve`; cron, in service.timezone
check = "*/15 * * * *"

[[subscribers]]
name = "Your Name"
email = "you@example.org"
countries = ["VE"]             # ISO codes, or ["*"] for every country
min_level = 1                  # 1 normal precautions … 4 do not travel
format = "html"                # "html", "text" or "alert" (a short plain line)
# frequency = "daily"          # or "weekly": a digest instead of each change at once
# trips = [ { country = "CO", start = 2027-03-01, end = 2027-03-14 } ]
"""


def _examples() -> Path:
    package = Path(__file__).resolve().parent.parent
    packaged = package / "starter" / "advisories"
    return packaged if packaged.is_dir() else package.parent / "config" / "advisories"


def write_starter(folder: Path) -> list[Path]:
    """Write the starter into `folder`: the paths written, or UsageError if any exists."""
    files = {folder / "advisory.toml": CONFIG.encode()}
    for example in sorted(_examples().glob("*.toml")):
        files[folder / "advisories" / example.name] = example.read_bytes()
    there = [path for path in files if path.exists() or path.is_symlink()]
    if there:
        raise UsageError([Problem.at(path, "", "exists; not overwritten") for path in there])
    try:
        (folder / "advisories").mkdir(parents=True, exist_ok=True)
        for path, data in files.items():
            with path.open("xb") as f:
                f.write(data)
    except OSError as e:
        raise UsageError(
            Problem.at(e.filename or folder, "", f"cannot write: {e.strerror}")
        ) from None
    return list(files)
