"""The `advisory` command: parse options, call one function, turn errors into lines and codes.

Exit codes: 0 ok, 1 a message attempted in this run was not delivered, 2 invalid input.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from advisory import __version__, logs
from advisory.domain.countries import country_name, is_country
from advisory.domain.models import (
    Advisory,
    Format,
    Frequency,
    Level,
    Subscriber,
    Trip,
    address_key,
)
from advisory.domain.publishers import FILES, PUBLISHERS
from advisory.domain.text import outside, plural
from advisory.domain.urls import Database, database_url
from advisory.errors import AdvisoryError, ConfigError, Problem, TemplateError, UsageError
from advisory.inputs import config as config_file
from advisory.inputs.advisory_files import ignored, load_advisories
from advisory.inputs.clock import clock_from
from advisory.inputs.config import Config
from advisory.inputs.subscribers import Roster, read_csv, read_roster
from advisory.logs import Log
from advisory.mail.compose import Reader, compose, message_key
from advisory.mail.rendering import Renderer
from advisory.run import answers, exposure, loop
from advisory.run.advisories import known
from advisory.run.counts import Counts
from advisory.run.plan import Job, Plan, Purpose, plan_for
from advisory.run.run import hold, run, sharded
from advisory.state import create, open_store
from advisory.state import exists as state_exists
from advisory.state.base import PublisherState

if TYPE_CHECKING:
    from advisory.mail.dkim import Signer
    from advisory.publishers.reading import Round

__all__ = ["main"]

LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Setup:
    """Everything validated before any delivery: config, subscribers, advisories, templates."""

    config: Config
    advisories: list[Advisory]
    renderer: Renderer
    roster: Roster | None  # None: a sharded run, whose shards read their parts
    ignored: list[Path]  # files in the advisory folder that are not read
    clock: Callable[[], float] = time.time  # the real one, or as $ADVISORY_NOW sets it

    @property
    def subscribers(self) -> int:
        return self.roster.count if self.roster is not None else 0


def _setup(args: argparse.Namespace, *, running: bool = False, previewing: bool = False) -> Setup:
    """`running`: a run leaves the list to itself to read and check (or to its shards),
    after it has seen whether anything changed since its last plan (`run.quiet`).
    `previewing` (check, preview, a dry run): tokens may be stand-ins, as nothing is sent.

    Every problem is told at once: config, subscribers, advisory files and templates.
    """
    path = config_file.config_path(args.config, os.environ)
    try:
        config = config_file.load(path, previewing=previewing)
    except ConfigError as e:
        raise ConfigError([*e.problems, *_beside(path)]) from None
    problems: list[str] = []
    roster = None
    clock = clock_from(os.environ, config.service.timezone)
    try:
        # (A first run reads it here, unless its shards do: a bad list leaves no state.)
        later = running and (sharded(config) or state_exists(config.state))
        roster = None if later else read_roster(config, keep=running)
    except ConfigError as e:
        problems.extend(e.problems)
    try:
        with open_store(config.state, readonly=True) as store:
            advisories = known(config, store.publishers)
    except ConfigError as e:
        problems.extend(e.problems)
        advisories = []
    try:
        renderer = Renderer(timezone=config.service.timezone)
        _check_templates(config, advisories, renderer)
    except TemplateError as e:
        problems.extend(e.problems)
    try:
        _signer(config)
    except ConfigError as e:
        problems.extend(e.problems)
    if problems:
        if roster is not None:
            roster.close()
        raise ConfigError(problems)
    return Setup(config, advisories, renderer, roster, ignored(config.service.advisories), clock)


def _signer(config: Config) -> Signer | None:
    """The DKIM signer of `[dkim]`, its key read (ConfigError if it is not one)."""
    if (dkim := config.dkim) is None:
        return None
    from advisory.mail.dkim import Signer  # OpenSSL's bindings, only where signing

    return Signer.load(dkim.domain, dkim.selector, dkim.key_file, config.path)


def _beside(path: Path) -> list[str]:
    """What else is wrong while the config is: the files its `[service]` names, and the
    templates, so that one round of fixing is enough."""
    service = config_file.service_of(path)
    if service is None:
        return []
    problems: list[str] = []
    for check in (
        lambda: load_advisories(service.advisories),
        lambda: (
            read_csv(service.subscribers_file, service.trips_file)
            if service.subscribers_file
            else None
        ),
        lambda: Renderer(timezone=service.timezone),
    ):
        try:
            check()
        except AdvisoryError as e:
            problems += e.problems
    return problems


def _check_templates(config: Config, advisories: list[Advisory], renderer: Renderer) -> None:
    """Render every advisory in every format, as an alert, a briefing and a digest of
    news, so a template mistake fails here."""
    head = config.letterhead
    for advisory in advisories:
        trip = Trip(country=advisory.country, start=date(2026, 12, 3), end=date(2026, 12, 10))
        for fmt in Format:
            sample = Subscriber(
                name="Template Check", email=config.sender.address,
                countries=(advisory.country,), format=fmt, trips=(trip,),
            )  # fmt: skip
            renderer.render(advisory, sample, head)
            renderer.render(advisory, sample, head, trip=trip, briefing=True, today=date.min)
            renderer.render_digest([advisory], sample, head, changes=[None], trips=[trip])


def _countries(args: argparse.Namespace, setup: Setup) -> set[str] | None:
    if not args.country:
        return None
    wanted = {c.strip().upper() for c in args.country}
    followed = {c for s in setup.config.publishers for c in s.countries}
    unknown = sorted(wanted - followed - {a.country for a in setup.advisories})
    if unknown:
        raise UsageError(Problem.at("--country", "", f"no advisory for {', '.join(unknown)}"))
    return wanted


def _print_plan(the_plan: Plan, verb: str) -> None:
    """What would be sent: the first LIST_LIMIT messages and the count, planned as a run would."""
    shown: list[Job] = []
    total = 0
    for chunk in the_plan.chunks:
        shown += chunk[: LIST_LIMIT - len(shown)]
        total += len(chunk)
    skipped = _skipped(the_plan.counts)
    if not total:
        print(f"nothing due{f' ({skipped})' if skipped else ''}")
        return
    print(f"{verb} {plural(total, 'message')}{f' ({skipped})' if skipped else ''}:")
    for job in shown:
        retry = "" if job.new else " (retry)"
        print(f"  {job.subscriber.format.value:<5} {job.subscriber.email:<32} {_what(job)}{retry}")
    if total > len(shown):
        print(f"  … and {total - len(shown)} more")


def _what(job: Job) -> str:
    if job.change is None:
        return f"digest of {plural(len(job.advisories), 'advisory', 'advisories')}"
    advisory = job.advisories[0]
    how = f" ({job.change.direction})" if job.change.direction else ""
    how += " (trip briefing)" if job.briefing else ""
    return f"{advisory.country_name} {advisory.rank}{how}"


def _skipped(counts: Counts) -> str:
    parts = [
        f"{counts.already_sent} already sent" if counts.already_sent else "",
        f"{counts.elsewhere} with other processes" if counts.elsewhere else "",
        f"{counts.waiting} waiting for a retry" if counts.waiting else "",
        f"{counts.failed_before} failed earlier (see status)" if counts.failed_before else "",
        f"{counts.suppressed} suppressed" if counts.suppressed else "",
        f"{counts.minor} held back as minor updates" if counts.minor else "",
    ]
    return ", ".join(p for p in parts if p)


def _print_readers(config: Config, roster: Roster, now: float) -> None:
    """What check tells of trips and digests: the trips ended (ignored), the trips
    open now, and the digest readers (whom only `serve` sends their digests)."""
    travel, ended, open_now = config.travel, 0, 0
    digests: dict[str, int] = {}
    for sub in roster:
        if sub.trips:
            ended += travel.closed_trips(sub, now)
            open_now += len(travel.open_trips(sub, now))
        if sub.frequency is not Frequency.IMMEDIATE:
            digests[sub.frequency.value] = digests.get(sub.frequency.value, 0) + 1
    if open_now:
        print(f"{plural(open_now, 'trip')} open now: their travellers hear of their countries")
    if ended:
        print(f"{plural(ended, 'trip')} ended: ignored")
    for name, count in digests.items():
        cron = getattr(config.schedule, name)
        print(f"{plural(count, 'reader')} of the {name} digest: sent by `advisory serve` "
              f'("{cron}")')  # fmt: skip


def cmd_check(args: argparse.Namespace) -> int:
    setup = _setup(args, previewing=True)
    c, roster = setup.config, setup.roster
    assert roster is not None
    print(
        f"{c.path}: ok: {plural(setup.subscribers, 'subscriber')}, "
        f"{plural(len(setup.advisories), 'advisory', 'advisories')}, templates ok, "
        f"delivery by {c.delivery.transport}"
    )
    for path in setup.ignored:
        print(f"{path}: ignored: only .toml files in the advisory folder are read")
    if (signer := _signer(c)) is not None:
        print(f"DKIM: every message signed ({signer.algorithm}); publish in DNS:")
        print(f"  {signer.record}")
    now = setup.clock()
    _print_readers(c, roster, now)
    with open_store(c.state, readonly=True) as store:
        _print_plan(plan_for(_purpose(c, Purpose(), now), roster, setup.advisories,
                             store.outbox, now, travel=c.travel,
                             suppressed=store.suppressions.among), "would send")  # fmt: skip
    return 0


def _purpose(config: Config, purpose: Purpose, now: float) -> Purpose:
    """`purpose` in the digest periods current now, as a run beginning now would be."""
    return purpose.at(config.schedule, config.service.timezone, now)


def cmd_send(args: argparse.Namespace, *, retries_only: bool = False) -> int:
    dry_run = False if retries_only else args.dry_run
    setup = _setup(args, running=not dry_run, previewing=dry_run)
    config = setup.config
    countries = None if retries_only else _countries(args, setup)
    purpose = Purpose(
        job="retry" if retries_only else "send",
        countries=tuple(sorted(countries)) if countries is not None else None,
        force=False if retries_only else args.force,
    )
    if dry_run:
        assert setup.roster is not None
        with setup.roster, open_store(config.state, readonly=True) as store:
            now = setup.clock()
            the_plan = plan_for(_purpose(config, purpose, now), setup.roster, setup.advisories,
                                store.outbox, now, travel=config.travel,
                                suppressed=store.suppressions.among)  # fmt: skip
            _print_plan(the_plan, "dry run: would send")
        return 0
    counts = loop.run(_send(setup, purpose))
    for line in counts.errors:
        print(line, file=sys.stderr)
    print(_summary(counts))
    return 0 if counts.ok else 1


async def _send(setup: Setup, purpose: Purpose) -> Counts:
    waited: list[bool] = []

    def waiting() -> None:
        waited.append(True)
        print("waiting for another run on the same state file to finish…", file=sys.stderr)

    roster = setup.roster
    try:
        with open_store(setup.config.state) as store:
            async with hold(store, waiting) as held:
                assert held
                if waited and roster is not None:  # the list as it is now, not before the wait
                    roster.close()
                    roster = None
                return await run(
                    setup.config, purpose, store, roster=roster, renderer=setup.renderer,
                    progress=_Progress(), tell=_tell, clock=setup.clock,
                )  # fmt: skip
    finally:
        if roster is not None:
            roster.close()  # where the run did not start


def _tell(rounds: list[Round]) -> None:
    """What each publisher's fetch found, when it found news or failed."""
    for found in rounds:
        for _, line in found.said():
            print(outside(line, 4000), file=sys.stderr)


def _summary(counts: Counts) -> str:
    skipped = _skipped(counts)
    if counts.unchanged:
        since = "; nothing changed since the last check"
    elif counts.carried:
        since = (f"; {plural(counts.readers - counts.carried, 'reader')} planned, of the "
                 "advisories changed since the last check")  # fmt: skip
    else:
        since = ""
    if not counts.due:
        return f"nothing due{f' ({skipped})' if skipped else ''}{since}"
    failed = counts.retrying + counts.failed
    line = f"due {counts.due}, delivered {counts.delivered}, failed {failed}"
    if failed:
        line += f" ({counts.retrying} queued for retry, {counts.failed} failed for good)"
    return (f"{line}; {skipped}" if skipped else line) + since


class _Progress:
    """A line on stderr every few seconds, only on runs long enough to need one: how many
    of all the messages due have been attempted, and about how long the rest will take."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self.started = self.last = time.monotonic()

    def __call__(self, counts: Counts) -> None:
        now = time.monotonic()
        if now - self.last < self.every or not counts.attempted:
            return
        self.last = now
        line = progress_line(counts, now - self.started)
        with contextlib.suppress(OSError):  # nobody reading is no reason to stop
            print(line, file=sys.stderr)


def progress_line(counts: Counts, elapsed: float) -> str:
    """ "… 3,000 of 10,000 messages attempted, 2,990 delivered; about 40 s left". While
    the list is still being planned the total is estimated from the part planned."""
    planning = counts.planned < counts.readers
    total = round(counts.due * counts.readers / counts.planned) if planning else counts.due
    total = max(total, counts.attempted)
    left = elapsed / counts.attempted * (total - counts.attempted)
    about = "about " if planning else ""
    return (
        f"… {counts.attempted:,} of {about}{plural(total, 'message')} attempted, "
        f"{counts.delivered:,} delivered; about {_duration(left)} left"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def cmd_serve(args: argparse.Namespace) -> int:
    setup = _setup(args)
    if setup.roster is not None:
        setup.roster.close()  # checked to refuse a bad start; each run reads the list anew
    if args.check_every is not None and not 0 < args.check_every <= 86400:
        raise UsageError(Problem.at("--check-every", "", "must be between 0 and 86400 seconds"))
    from advisory.service.scheduler import serve  # APScheduler, only for the service

    return serve(setup.config, setup.renderer, check_every=args.check_every, log=Log())


def cmd_retry(args: argparse.Namespace) -> int:
    return cmd_send(args, retries_only=True)


def cmd_preview(args: argparse.Namespace) -> int:
    setup = _setup(args, previewing=True)
    config = setup.config
    sub = _preview_subscriber(args, setup)
    by_code: dict[str, Advisory] = {}
    for advisory in setup.advisories:  # the service's own file first, else a publisher's
        if args.source in (None, advisory.source_kind):
            by_code.setdefault(advisory.country, advisory)
    now = setup.clock()
    trips = config.travel.open_trips(sub, now)  # a traveller's message names the trip
    code = (args.country or "").strip().upper() or next(
        (c for c in (*sub.countries, *trips) if c in by_code), next(iter(by_code), "")
    )
    if code not in by_code:
        raise UsageError(Problem.at("--country", "", f"no advisory for {code or 'any country'}"))
    advisory = by_code[code]
    if args.format:
        sub = sub.model_copy(update={"format": Format(args.format)})
    head = config.letterhead
    when = datetime.fromtimestamp(now, UTC).astimezone(setup.renderer.tz)
    rendered = setup.renderer.render(advisory, sub, head, trip=trips.get(code), today=when.date())
    key = message_key(sub.key, advisory.version, sub.format.value)
    envelope = compose(rendered, head, Reader(sub.name, sub.email, key, when, head.token(sub.key)))
    data = envelope.data.replace(b"\r\n", b"\n")
    if args.output:
        _write_new(args.output, data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def _preview_subscriber(args: argparse.Namespace, setup: Setup) -> Subscriber:
    if not args.subscriber:
        return Subscriber(name="Preview Reader", email="preview@example.org", countries=("*",))
    key = args.subscriber.strip().lower()
    for sub in setup.roster or ():
        if sub.key == key:
            return sub
    raise UsageError(Problem.at("--subscriber", "", "no subscriber with that address"))


def cmd_exposed(args: argparse.Namespace) -> int:
    setup = _setup(args, previewing=True)
    config, roster = setup.config, setup.roster
    assert roster is not None
    country = None if args.country is None else _country(args.country)
    day = None
    if args.at is not None:
        try:
            day = date.fromisoformat(args.at)
        except ValueError:
            raise UsageError(f"--at: {args.at!r} is not a date (YYYY-MM-DD)") from None
    with roster, open_store(config.state, readonly=True) as store:
        rows = exposure.exposed(
            roster, setup.advisories, store.outbox, config.travel, now=setup.clock(), day=day,
            country=country, min_level=Level(args.min_level), answered=answers.answered(store),
        )  # fmt: skip
    sys.stdout.write(exposure.render(rows, args.format))
    if args.format == "table":
        when = f"on {day.isoformat()}" if day else "now"
        print(f"{plural(len(rows), 'traveller')} {when} at level {args.min_level} or above"
              + (f" in {country_name(country)}" if country else ""))  # fmt: skip
    return 0


def _country(value: str) -> str:
    code = value.strip().upper()
    if not is_country(code):
        raise UsageError(f"--country: {value!r} is not an ISO 3166-1 alpha-2 code")
    return code


def cmd_acks(args: argparse.Namespace) -> int:
    country = None if args.country is None else _country(args.country)
    config = config_file.load(config_file.config_path(args.config, os.environ), delivering=False)
    state = config.state
    rows: list[answers.Answer] = []
    if state_exists(state):
        with open_store(state, readonly=True) as store:  # while `serve` runs, too
            rows = answers.answers(store, country=country, pending=args.pending)
    sys.stdout.write(answers.render(rows, args.format))
    if args.format == "table":
        waiting = sum(not row.acknowledged for row in rows)
        print(f"{plural(len(rows), 'traveller')} asked to confirm; {waiting} not yet"
              + (f" ({country_name(country)})" if country else ""))  # fmt: skip
    return 0


def cmd_ack(args: argparse.Namespace) -> int:
    address, country = _address(args.email), _country(args.country)
    config = config_file.load(config_file.config_path(args.config, os.environ), delivering=False)
    state = config.state
    if not state_exists(state):  # no state made for this
        raise UsageError(f"{address}: no alert asked this address to confirm; nothing recorded")
    with open_store(state) as store:  # never behind a run's lock
        lines = answers.by_phone(store, address, country, time.time(), args.note or "")
    print("\n".join(lines))
    return 0


def _address(value: str) -> str:
    try:
        return address_key(value)
    except ValueError:
        raise UsageError(f"{value!r}: not a valid email address") from None


def cmd_suppress(args: argparse.Namespace) -> int:
    address = _address(args.email)
    config = config_file.load(config_file.config_path(args.config, os.environ), delivering=False)
    with open_store(config.state) as store:  # never behind a run's lock
        added = store.suppressions.suppress(address, "operator", time.time(), args.reason or "")
    print(f"{address}: {'suppressed' if added else 'was already suppressed'}")
    return 0


def cmd_unsuppress(args: argparse.Namespace) -> int:
    address = _address(args.email)
    config = config_file.load(config_file.config_path(args.config, os.environ), delivering=False)
    with open_store(config.state) as store:
        removed = store.suppressions.unsuppress(address)
    print(f"{address}: {'no longer suppressed' if removed else 'was not suppressed'}")
    return 0


def cmd_suppressions(args: argparse.Namespace) -> int:
    config = config_file.load(config_file.config_path(args.config, os.environ), delivering=False)
    state = config.state
    if not state_exists(state):
        listed = []
    else:
        with open_store(state, readonly=True) as store:
            listed = store.suppressions.listed()
    rows = [{"address": s.address, "reason": s.reason,
             "since": datetime.fromtimestamp(s.since, UTC).isoformat(timespec="seconds"),
             "detail": s.detail} for s in listed]  # fmt: skip
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, ["address", "reason", "since", "detail"],
                                lineterminator="\n")  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
    else:
        line = "{:<36} {:<12} {:<25} {}"
        print(line.format("ADDRESS", "REASON", "SINCE", "DETAIL"))
        for row in rows:
            print(line.format(row["address"], row["reason"], row["since"], row["detail"][:60]))
        print(plural(len(rows), "address", "addresses") + " suppressed")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    path = config_file.config_path(args.config, os.environ)
    config = config_file.load(path, delivering=False)
    state = config.state
    if not state_exists(state):
        print(f"{state}: no state file yet: nothing has been sent")
        return 0
    with open_store(state, readonly=True) as store:
        counts = store.outbox.counts()
        print(f"{state}")
        print(
            " · ".join(f"{s} {counts.get(s, 0)}" for s in ("sent", "queued", "failed", "cancelled"))
        )
        for status in ("queued", "failed"):
            entries = store.outbox.entries(status=status)
            if not entries:
                continue
            print(f"{status}:")
            for e in entries[:LIST_LIMIT]:
                when = f"next attempt {_time(e.next_attempt)}, " if status == "queued" else ""
                error = f", last error: {outside(e.last_error)}" if e.last_error else ""
                tried = plural(e.attempts, "attempt")
                print(f"  {e.recipient} {e.advisory} {e.format}: {when}{tried}{error}")
            if len(entries) > LIST_LIMIT:
                print(f"  … and {len(entries) - LIST_LIMIT} more")
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    path = config_file.config_path(args.config, os.environ)
    config = config_file.load(path, delivering=False)
    if config.follows_files:
        print(f"files     {config.service.advisories}")
    if not config.publishers:
        print("no official publisher is followed ([[sources]] in the config: see the README)")
    with open_store(config.state, readonly=True) as store:
        states = store.publishers.states()
        current = [a for a in known(config, store.publishers) if a.publisher]
    for source in config.publishers:
        state = states.get(source.kind, PublisherState())
        print(f"{source.kind:<9} {source.location}")
        print(f"  follows      {' '.join(source.countries)}")
        views = [f"{a.country} {a.rank} ({a.issued:%Y-%m-%d})"
                 for a in current if a.publisher == source.kind]  # fmt: skip
        print(f"  current      {', '.join(views) or '-'}")
        held = {a.country for a in current if a.publisher == source.kind}
        if waiting := [c for c in source.countries if c != "*" and c not in held]:
            print(f"  none yet     {' '.join(waiting)} (not in what the publisher sent)")
        print(f"  last fetch   {_time(state.last_fetch) if state.last_fetch else 'never'}")
        change = f": {outside(state.changed)}" if state.changed else ""
        print(
            f"  last change  {_time(state.last_change) if state.last_change else 'never'}{change}"
        )
        error = "none"
        if state.last_error:
            error = f"{_time(state.error_at)}: {outside(state.last_error)}"
        print(f"  last error   {error}")
    return 0


def _time(epoch: float | None) -> str:
    return "-" if epoch is None else f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S} UTC"


EXTRACT_MAX: Final = 2 * 1024 * 1024  # an article, a bulletin: never a 50 MB dump


def cmd_extract(args: argparse.Namespace) -> int:
    source = Path(args.file)
    try:
        with source.open("rb") as f:
            raw = f.read(EXTRACT_MAX + 1)
        if len(raw) > EXTRACT_MAX:
            raise ConfigError(Problem.at(source, "", "over 2 MB: not an article; extract its text"))
        text = raw.decode("utf-8")
    except OSError as e:
        raise ConfigError(Problem.at(source, "", e.strerror or "cannot read")) from None
    except UnicodeDecodeError:
        raise ConfigError(Problem.at(source, "", "not UTF-8 text")) from None
    if "\x00" in text:
        raise ConfigError(Problem.at(source, "", "not UTF-8 text"))
    if not text.strip():
        raise ConfigError(Problem.at(source, "", "empty: no text to read"))
    letters = [c for c in text if c.isalpha()]
    if (
        letters
        and sum(c.isascii() or "LATIN" in unicodedata.name(c, "") for c in letters)
        < len(letters) / 2
    ):
        raise ConfigError(Problem.at(source, "", "not in English (or another Latin script): "
                                     "extract reads English articles"))  # fmt: skip
    from advisory.extract import extract

    draft = extract(text)
    toml = draft.toml(f"Draft from {source.name}", datetime.now(UTC).date())
    if not args.output:
        sys.stdout.write(toml)
    else:
        _write_new(args.output, toml.encode("utf-8"))
    kept = len(draft.kept)
    print(f"{plural(kept, 'travel-advice sentence')} kept; review the draft before use",
          file=sys.stderr)  # fmt: skip
    return 0


def _write_new(name: str, data: bytes) -> None:
    """`-o FILE`: a new file only, never over a file or through a symbolic link."""
    try:
        with Path(name).open("xb") as f:
            f.write(data)
    except FileExistsError:
        raise UsageError(Problem.at(name, "", "exists; not overwritten")) from None
    except OSError as e:
        raise UsageError(Problem.at(name, "", f"cannot write: {e.strerror}")) from None


def cmd_state_init(args: argparse.Namespace) -> int:
    config = config_file.load(config_file.config_path(args.config, os.environ), delivering=False)
    state = config.state
    create(state)
    print(f"{state}: a new, empty state: every message due is sent on the next run")
    return 0


def cmd_state_migrate(args: argparse.Namespace) -> int:
    config = config_file.load(config_file.config_path(args.config, os.environ), delivering=False)
    state = config.state
    if not isinstance(state, Path):
        raise UsageError("service.state: is already a database; migrate copies a state file")
    try:
        url = database_url(args.to)
    except ValueError as e:
        raise UsageError(f"--to: {e}") from None
    if not state_exists(state):
        raise UsageError(f"{state}: no state file yet: nothing to copy")
    from advisory.state.postgresql.copy import copy_state  # the driver, only where it is used

    target = Database(url, os.environ.get(config.service.state_password_env))
    copied = copy_state(state, target)
    shown = ", ".join(f"{plural(n, what)}" for what, n in (
        ("message", copied["messages"]), ("attempt", copied["attempts"]),
        ("advisory version", copied["advisory_versions"]),
        ("suppression", copied["suppressions"]), ("acknowledgement", copied["acks"])))  # fmt: skip
    print(f"{state} -> {url}: copied {shown}")
    print(f'next: set service.state = "{url}" in {config.path}')
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from advisory.inputs.starter import write_starter

    folder = Path(args.dir)
    written = write_starter(folder)
    for path in written:
        print(f"wrote {path}")
    config = folder / "advisory.toml"
    print(f"next: edit {config}, then `advisory check --config {config}`")
    return 0


# Commands that only report: a reader who stops reading them has all they wanted.
_READING: Final = (cmd_check, cmd_preview, cmd_status, cmd_sources, cmd_extract, cmd_acks)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="advisory", description="Travel advisories, to exactly the people concerned, once."
    )
    p.add_argument("--version", action="version", version=f"advisory {__version__}")
    _common(p, default=None)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help, description=help)
        _common(c, default=argparse.SUPPRESS)  # before the command or after it
        return c

    c = command("check", "validate config, advisories and templates; print what would be sent")
    c.set_defaults(run=cmd_check)

    c = command("send", "deliver every alert due now, and the retries that are due")
    c.add_argument(
        "--dry-run", action="store_true", help="render and report; deliver and record nothing"
    )
    c.add_argument(
        "--country", action="append", metavar="CC", help="only this country (repeatable)"
    )
    c.add_argument("--force", action="store_true", help="send again what was already sent")
    c.set_defaults(run=cmd_send)

    c = command("serve", "run the check and digest schedule until SIGINT or SIGTERM")
    c.add_argument(
        "--check-every", type=float, metavar="SECONDS",
        help="run the check job every SECONDS instead of schedule.check",
    )  # fmt: skip
    c.set_defaults(run=cmd_serve)

    c = command("retry", "deliver the queued messages whose next attempt is due")
    c.set_defaults(run=cmd_retry)

    c = command("preview", "render one message as it would be sent (RFC 5322, .eml)")
    c.add_argument("--country", metavar="CC", help="the advisory's country")
    c.add_argument("--format", choices=[f.value for f in Format], help="html, text or alert")
    c.add_argument("--subscriber", metavar="EMAIL", help="render for this subscriber")
    c.add_argument(
        "--source", choices=[FILES, *PUBLISHERS], help="whose advisory (default: files first)"
    )
    c.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    c.set_defaults(run=cmd_preview)

    c = command("exposed", "travellers whose trip window includes a date, by country and level")
    c.add_argument("--country", metavar="CC", help="only the trips to this country")
    c.add_argument(
        "--min-level", type=int, choices=range(1, 5), default=1, metavar="N",
        help="only countries whose highest level is at least N (1-4; default 1)",
    )  # fmt: skip
    c.add_argument("--at", metavar="DATE", help="the travellers of that day (default: now)")
    c.add_argument("--format", choices=exposure.FORMATS, default="table", help="table, csv or json")
    c.set_defaults(run=cmd_exposed)

    c = command("acks", "who was asked to confirm an alert, and who did, when and how")
    c.add_argument("--country", metavar="CC", help="only the alerts about this country")
    c.add_argument("--pending", action="store_true", help="only those not confirmed yet")
    c.add_argument("--format", choices=exposure.FORMATS, default="table", help="table, csv or json")
    c.set_defaults(run=cmd_acks)

    c = command("ack", "record a traveller's confirmation taken by phone")
    c.add_argument("email", metavar="EMAIL", help="the traveller's address")
    c.add_argument("--country", metavar="CC", required=True, help="the alert's country")
    c.add_argument("--note", metavar="TEXT", help="what the desk heard, kept beside it")
    c.set_defaults(run=cmd_ack)

    c = command("suppress", "put an address on the suppression list: it receives nothing")
    c.add_argument("email", metavar="EMAIL", help="the address")
    c.add_argument("--reason", metavar="TEXT", help="why, kept beside it")
    c.set_defaults(run=cmd_suppress)

    c = command("unsuppress", "take an address off the suppression list")
    c.add_argument("email", metavar="EMAIL", help="the address")
    c.set_defaults(run=cmd_unsuppress)

    c = command("suppressions", "every suppressed address: why, since when")
    c.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="table, csv or json"
    )
    c.set_defaults(run=cmd_suppressions)

    c = command("status", "what the state file holds: sent, queued, failed, last errors")
    c.set_defaults(run=cmd_status)

    c = command("sources", "each source followed: its last fetch, last change and last error")
    c.set_defaults(run=cmd_sources)

    help = "draft an advisory file from an article: only its travel-advice sentences"
    c = sub.add_parser("extract", help=help, description=help)
    c.add_argument("file", metavar="FILE", help="the article or bulletin, UTF-8 text")
    c.add_argument("-o", "--output", metavar="FILE", help="write here (never over a file)")
    c.set_defaults(run=cmd_extract)

    c = command("state", "the state file itself")
    actions = c.add_subparsers(dest="action", required=True, metavar="ACTION",
                               help="init, migrate")  # fmt: skip
    init = actions.add_parser(
        "init", help="start a new, empty state where none is, or over an emptied file"
    )
    _common(init, default=argparse.SUPPRESS)
    init.set_defaults(run=cmd_state_init)
    migrate = actions.add_parser(
        "migrate", help="copy the state file into an empty PostgreSQL database"
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db")
    _common(migrate, default=argparse.SUPPRESS)
    migrate.set_defaults(run=cmd_state_migrate)

    help = "write a starter config and advisory folder into DIR (never over a file)"
    c = sub.add_parser("init", help=help, description=help)
    c.add_argument("dir", metavar="DIR", help="the folder to start in (made if missing)")
    c.set_defaults(run=cmd_init)
    return p


def _common(p: argparse.ArgumentParser, default: object) -> None:
    """The options every command takes, before the command's name or after it."""
    p.add_argument(
        "--config", metavar="FILE", default=default,
        help="config file (default: $ADVISORY_CONFIG, else config/advisory.toml)",
    )  # fmt: skip
    p.add_argument(
        "--log-format", choices=["text", "json"], default=default,
        help="log lines on stderr (serve's runs, libraries' warnings): text or json",
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    code: int | None = None
    args = argparse.Namespace()
    try:
        args = parser().parse_args(argv)
        logs.setup(args.log_format or "text")
        code = args.run(args)
        sys.stdout.flush()  # here, where a reader gone (a closed pipe) is caught
    except AdvisoryError as e:
        for line in e.problems:
            print(line, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `advisory status | head -1`: the reader has all it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        if code is not None:
            return code
        return 0 if getattr(args, "run", None) in _READING else 141  # a run cut short: say so
    except OSError as e:  # the machine's trouble (a full disk, a vanished folder): one line
        where = f"{e.filename}: " if e.filename else ""
        print(f"advisory: {where}{e.strerror or type(e).__name__}", file=sys.stderr)
        return 1
    return 0 if code is None else code


if __name__ == "__main__":
    sys.exit(main())
