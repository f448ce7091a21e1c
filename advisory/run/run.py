"""THE run: what `send`, `retry`, `serve`'s check and digest, and every worker process do.

Fetch what the followed publishers say (send, check), plan from the advisories known,
queue, deliver and record; or, where the config splits runs over processes, the same
in each of them (`workers`), each calling this function for its own part of the list
(the worker processes through `python -m advisory.run.worker`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from advisory.domain.models import Advisory
from advisory.errors import ListDamaged, StateBusy
from advisory.inputs.config import Config
from advisory.inputs.subscribers import Roster, Shard, read_roster, reopen_roster
from advisory.mail.rendering import Renderer
from advisory.mail.transports import open_transport
from advisory.run import quiet, workers
from advisory.run.advisories import known
from advisory.run.counts import Counts
from advisory.run.deliver import Delivery, Progress
from advisory.run.plan import Purpose, plan_for
from advisory.state import Store

if TYPE_CHECKING:
    from advisory.publishers.reading import Round

__all__ = ["Purpose", "hold", "part_of", "run", "sharded"]

Tell = Callable[[list["Round"]], None]


async def run(
    config: Config,
    purpose: Purpose,
    store: Store,
    *,
    roster: Roster | None = None,
    advisories: list[Advisory] | None = None,
    shard: Shard | None = None,
    renderer: Renderer | None = None,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    tell: Tell | None = None,
    clock: Callable[[], float] = time.time,
) -> Counts:
    """One run for `purpose`; the caller holds the state's run lock (a worker's parent
    holds it for the worker).

    `roster` and `advisories`: as the caller read and checked them, else read here;
    the roster is closed at the end. `shard`: this process's part of a split run.
    `tell` hears what each publisher's fetch found. ConfigError if the list or an
    advisory file is invalid: nothing is sent.

    With `[escalation]`, every run but a digest then does the duty of care: the desk's
    summary of the travellers it told, and the reminders and escalations due (`duty`);
    `serve`'s frequent `escalate` run does only that.

    Where several processes share the state, each plans the same run and sends what it
    claims; fetching, digests and the duty of care are done by the one that leads them
    at the time (`Store.lead`), the others skipping them.
    """
    if purpose.job == "escalate":
        return await _duty(config, purpose, store, renderer, clock, stop, Counts())
    # A digest is sent by one process at a time, where several share the state.
    digest = purpose.job == "digest" and shard is None
    with store.lead("digest") if digest else nullcontext(True) as leading:
        if not leading:
            if roster is not None:
                roster.close()
            return Counts()
        told: list[str] = []
        if purpose.fetches and shard is None and (config.publishers or config.bounces):
            # Publishers and bounce reports are read by one process at a time: one that
            # finds another reading waits its turn (and reads again, mostly 304s), so that
            # none plans from a view older than the one another is queueing from.
            while not (stop and stop.is_set()):
                with store.lead("fetch") as fetching:
                    if fetching:
                        told = await _fetch(config, store, tell, clock)
                        break
                await asyncio.sleep(0.2)
        if purpose.periods is None:  # every shard plans in the periods the run began in
            purpose = purpose.at(config.schedule, config.service.timezone, clock())
        try:
            if advisories is None:
                advisories = known(config, store.publishers)
        except BaseException:
            if roster is not None:
                roster.close()
            raise
        found, began, hashed_first = None, clock(), roster is None
        kept = None
        if shard is None:  # nothing changed since a plan found nothing due: none is made
            found = quiet.inputs(config, purpose, advisories, store)
            if found is not None and (kept := quiet.recall(found, store, began)) is not None:
                if not (changed := kept.changed(found)):
                    if roster is not None:
                        roster.close()
                    counts = kept.recalled()
                    counts.errors[:0] = told
                    return await _duty(config, purpose, store, renderer, clock, stop, counts)
                # Only these advisories changed: only their readers are planned.
                purpose = replace(purpose, countries=tuple(sorted(changed)))
            if not hashed_first:  # (read before it was hashed: it may have changed since)
                found = None
                if kept is not None:
                    purpose, kept = replace(purpose, countries=None), None
        if shard is None and sharded(config):
            if roster is not None:
                roster.close()  # each worker reads its own part
            _seen(store, advisories, clock())
            own = partial(run, config, purpose, store, renderer=renderer, clock=clock)
            counts = await workers.run(config, purpose, store, own, stop=stop, progress=progress,
                                       skew=clock() - time.time())  # fmt: skip
            counts = _planned(config, purpose, store, found, kept, counts, advisories, began,
                              clock, stop)  # fmt: skip
            counts.errors[:0] = told
            return await _duty(config, purpose, store, renderer, clock, stop, counts)
        if roster is None:
            roster = read_roster(config, shard)
        if shard is None:
            _seen(store, advisories, clock())
        with roster:
            part = part_of(config, shard)
            readers = roster if purpose.countries is None else roster.of(purpose.countries)
            plan = plan_for(purpose, readers, advisories, store.outbox, clock(), shard,
                            config.travel, store.suppressions.among)  # fmt: skip
            delivery = Delivery(
                part, store, open_transport(part),
                renderer or Renderer(timezone=config.service.timezone),
                clock=clock, progress=progress, stop=stop,
            )  # fmt: skip
            counts = await delivery.run(plan)
        if shard is not None:
            return counts
        counts = _planned(config, purpose, store, found, kept, counts, advisories, began, clock,
                          stop)  # fmt: skip
        counts.errors[:0] = told  # what could not be read of the bounce reports
        return await _duty(config, purpose, store, renderer, clock, stop, counts)


async def _fetch(
    config: Config, store: Store, tell: Tell | None, clock: Callable[[], float]
) -> list[str]:
    """What the publishers followed say, and the bounce reports waiting: what could not
    be read of those."""
    if config.publishers:
        from advisory.publishers.refresh import refresh  # the network, only where it is used

        rounds = await refresh(config, store, clock())
        if tell is not None:
            tell(rounds)
    if not config.bounces:
        return []
    from advisory.run.bounces import read_bounces, read_waiting  # where bounces are read

    reports = await read_waiting(config.bounces.maildir)
    return read_bounces(reports, store, config.sender.bounce_address, clock=clock)[1]


def _planned(
    config: Config,
    purpose: Purpose,
    store: Store,
    found: quiet.Inputs | None,
    kept: quiet.Kept | None,
    counts: Counts,
    advisories: list[Advisory],
    began: float,
    clock: Callable[[], float],
    stop: asyncio.Event | None,
) -> Counts:
    """A planned run's counts, as though it planned every reader where it planned only
    the readers of the advisories changed (`kept`); and what lets the next like it plan
    nothing."""
    if kept is not None:
        counts = kept.with_(counts, set(purpose.countries or ()))
    _keep(config, found, store, began, counts, stop)
    if kept is not None:
        _settle(config, purpose, store, found, kept, counts, advisories, began, clock, stop)
    return counts


def _keep(
    config: Config,
    found: quiet.Inputs | None,
    store: Store,
    began: float,
    counts: Counts,
    stop: asyncio.Event | None,
) -> None:
    """A whole plan that found nothing due, for any process: the next like it is skipped.
    (Whole: every reader planned, in every shard; a stopped shard planned fewer.)"""
    whole = counts.planned == counts.readers and not (stop and stop.is_set())
    if found is not None and whole and not (counts.due or counts.left or counts.elsewhere):
        quiet.keep(config, found, store, began, counts)


def _settle(
    config: Config,
    purpose: Purpose,
    store: Store,
    before: quiet.Inputs | None,
    kept: quiet.Kept,
    counts: Counts,
    advisories: list[Advisory],
    began: float,
    clock: Callable[[], float],
    stop: asyncio.Event | None,
) -> None:
    """After a run that began at `began`, planned only the readers of a few countries
    (`purpose`) and delivered all it was due: those readers planned again, nothing
    sent, so that the next check like it plans nothing either, where the state changed
    by that run alone. (Else the next check plans every reader, and finds the same.)
    What is kept holds until a window edge or retry after `began`: one passed while
    the run sent is not skipped over."""
    if before is None or not counts.due or counts.retrying or counts.left or counts.elsewhere:
        return
    if stop is not None and stop.is_set():
        return
    changed = set(purpose.countries or ())
    count = config.smtp.processes if sharded(config) else 1
    rosters: list[Roster] = []
    try:
        after = quiet.inputs(config, replace(purpose, countries=None), advisories, store)
        if after is None or not quiet.settled(before, after, store, changed):
            return
        for i in range(count):
            if (roster := reopen_roster(config, Shard(i, count) if count > 1 else None)) is None:
                return  # (a shard's list not kept: not read again here)
            rosters.append(roster)
        parts = [roster.of(changed) for roster in rosters]
        plan = plan_for(purpose, itertools.chain(*parts), advisories, store.outbox, clock(),
                        travel=config.travel, suppressed=store.suppressions.among)  # fmt: skip
        if sum(len(chunk) for chunk in plan.chunks) or plan.stale:
            return  # (something due after all: the next check plans it)
        plan.counts.readers = sum(len(part) for part in parts)
        quiet.keep(config, after, store, began, kept.with_(plan.counts, changed))
    except ListDamaged:
        return  # (deleted: the next check reads the list again, and plans in full)
    finally:
        for roster in rosters:
            roster.close()


def _seen(store: Store, advisories: list[Advisory], now: float) -> None:
    """Keep each advisory's current version, in the order versions are seen: whether a
    reader missed only minor updates is read from it (`plan`)."""
    with store.transaction():
        for advisory in advisories:
            store.outbox.remember(advisory, now)


async def _duty(
    config: Config,
    purpose: Purpose,
    store: Store,
    renderer: Renderer | None,
    clock: Callable[[], float],
    stop: asyncio.Event | None,
    counts: Counts,
) -> Counts:
    """With `[escalation]`, after a run's alerts (a digest's aside): the desk's summary of
    the travellers it told, and the reminders and escalations due (`duty`)."""
    if config.escalation is None or purpose.job == "digest" or (stop and stop.is_set()):
        return counts
    from advisory.run.duty import plan_duty  # (where there is a desk)

    with store.lead("duty") as leading:  # one process at a time, where several share it
        if not leading:
            return counts
        plan = plan_duty(store, config.escalation, clock(), retries_only=purpose.job == "retry",
                         suppressed=store.suppressions.among)  # fmt: skip
        renderer = renderer or Renderer(timezone=config.service.timezone)
        delivery = Delivery(config, store, open_transport(config), renderer, clock=clock,
                            stop=stop)  # fmt: skip
        return counts + await delivery.run(plan)


def sharded(config: Config) -> bool:
    """Whether runs of this config are split over processes (SMTP only)."""
    return config.delivery.transport == "smtp" and config.smtp.processes > 1


def part_of(config: Config, shard: Shard | None) -> Config:
    """The config as one shard sees it: its part of the connections and of the rate."""
    if shard is None or shard.count == 1:
        return config
    smtp, delivery = config.smtp, config.delivery
    connections = smtp.connections // shard.count + (shard.index < smtp.connections % shard.count)
    return config.model_copy(
        update={
            "smtp": smtp.model_copy(update={"connections": connections}),
            "delivery": delivery.model_copy(
                update={"rate_limit": delivery.rate_limit / shard.count}
            ),
        }
    )


@asynccontextmanager
async def hold(
    store: Store, waiting: Callable[[], None], stop: asyncio.Event | None = None
) -> AsyncIterator[bool]:
    """The state's run lock, for one run at a time: while another run holds it, say so
    once (`waiting`) and wait for it. True once held; False if `stop` came first."""
    told = False
    while True:
        if stop is not None and stop.is_set():  # stopped while waiting its turn
            yield False
            return
        try:
            store.acquire()
            break
        except StateBusy:
            if not told:
                waiting()
                told = True
        await asyncio.sleep(0.2)
    try:
        yield True
    finally:
        store.release()
