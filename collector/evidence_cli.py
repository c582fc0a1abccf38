"""`pantau evidence`: close archive days with signed checkpoints, verify a month from the
archive and the public keys alone, prove one minute, rebuild InfluxDB from the archive.

    pantau evidence checkpoint --through            # every day up to yesterday (a daily timer)
    pantau evidence verify --month 2026-09 --report report.json [--against-influx]
    pantau evidence prove --point citangkil-03 --at 2026-09-10T14:05
    pantau evidence replay --month 2026-09

The archive, the keys file and the collector's key come from the collector config's `evidence`
section (`--config`), or from `--archive` (repeatable), `--keys` and `--key`. A folder holding
`worker-<n>` archives (and no segments of its own) means all of them: each collector worker and
host writes its own archive, and one point's chain is spread over them
(collector/archive/archives.py). An auditor needs no config: the
month folder, signing-keys.json and `--archive`/`--keys` are enough for signatures, chains and
checkpoints; recomputing a report needs a registry and an InfluxDB to compute in.

Exit codes: 0 everything checks (or the work is done); 1 a check failed (a named message,
chain break, checkpoint, report figure or InfluxDB row); 2 bad arguments or configuration.
The pure parts live in collector/archive/ (chains, compare, locate, digest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pantau.collector.archive import archives as many
from pantau.collector.archive import checkpoint as cp
from pantau.collector.archive import merkle, segments
from pantau.collector.archive.archives import Archive
from pantau.collector.archive.chains import ChainChecker, ChainReport
from pantau.collector.archive.compare import first_difference
from pantau.collector.archive.digest import utc_days
from pantau.collector.archive.keys import KeyRing, load_keys
from pantau.collector.archive.locate import covering
from pantau.collector.archive.scan import Entry, month_days, scan_day
from pantau.collector.store import add_store_arguments
from pantau.shared.errors import ConfigError

EXIT_OK, EXIT_FAILED = 0, 1
DAY_MS = 86_400_000
SETTLE_MS = 5 * 60_000  # a day is closed this long after it ends: the last batch has landed
SHOWN = 20  # findings printed before "... and N more"
MEASUREMENTS = ("telemetry", "event", "capacity")  # what agents' messages become
ROW_KEYS = ("kind", "subject", "direction", "method")  # tags that tell rows at one time apart


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    close = sub.add_parser("checkpoint", help="sign the checkpoint of closed archive days")
    which = close.add_mutually_exclusive_group(required=True)
    which.add_argument("--day", help="this UTC day (YYYY-MM-DD), the one after the last closed")
    which.add_argument(
        "--through",
        nargs="?",
        const="yesterday",
        help="every day after the last checkpoint up to this one (default: yesterday, UTC)",
    )
    close.add_argument(
        "--early",
        action="store_true",
        help="also a day that is not over (a collector stopped for good): a message archived"
        " in it afterwards no longer matches its checkpoint",
    )
    verify = sub.add_parser("verify", help="check a month: signatures, chains, checkpoints")
    verify.add_argument("--month", required=True, help="YYYY-MM, in WIB (Asia/Jakarta)")
    verify.add_argument("--report", help="a report JSON (pantau report --format json) to check")
    verify.add_argument(
        "--against-influx",
        action="store_true",
        help="also name rows in InfluxDB that the archive does not support",
    )
    verify.add_argument("--lang", choices=("id", "en"), default="id", help="the report's language")
    prove = sub.add_parser("prove", help="the messages covering one minute, with their proofs")
    prove.add_argument("--point", required=True, help="point id, e.g. citangkil-03")
    prove.add_argument("--at", required=True, help="a time in the minute (ISO 8601; no zone: WIB)")
    prove.add_argument(
        "--search-days",
        type=int,
        default=1,
        help="days after the minute's own to look in (an agent's backlog arrives late)",
    )
    replay = sub.add_parser("replay", help="rebuild a month's telemetry and rollups in InfluxDB")
    replay.add_argument("--month", required=True, help="YYYY-MM, in WIB (Asia/Jakarta)")
    for each in (close, verify, prove, replay):
        each.add_argument(
            "--archive",
            action="append",
            default=[],
            help="an archive folder, or one of worker-<n> archives; repeatable"
            " (default: evidence.archive_dir)",
        )
        each.add_argument("--keys", help="signing-keys.json (default: evidence.keys_file)")
        each.add_argument(
            "--unsigned-point",
            action="append",
            default=[],
            help="a point whose unsigned messages are expected (grace mode); repeatable",
        )
    close.add_argument("--key", help="the collector's signing key (evidence.signing_key_file)")
    for each in (close, verify, prove, replay):
        add_store_arguments(each)


def run(args: argparse.Namespace) -> int:
    return {"checkpoint": run_checkpoint, "verify": run_verify, "prove": run_prove}.get(
        args.action, run_replay
    )(args)


# -- settings --------------------------------------------------------------------------------
@dataclass
class Settings:
    archives: list[Archive]
    keys: Path | None
    key: Path | None
    unsigned: frozenset[str]
    config: Any  # CollectorConfig or None


def settings(args: argparse.Namespace) -> Settings:
    config = None
    evidence = None
    if args.config:
        from pantau.collector.config import load_collector_config

        config = load_collector_config(args.config)
        evidence = getattr(config, "evidence", None)

    def pick(flag: str | None, name: str) -> Path | None:
        if flag:
            return Path(flag)
        value = getattr(evidence, name, None)
        return Path(value) if value else None

    if args.archive:
        archives = many.resolve([Path(a) for a in args.archive])
    elif getattr(evidence, "archive_dir", None):
        archives = many.resolve([Path(evidence.archive_dir)], "evidence.archive_dir")
    else:
        raise ConfigError("no archive: give --archive DIR or --config with evidence.archive_dir")
    unsigned = set(args.unsigned_point) | set(getattr(evidence, "unsigned_points", None) or [])
    return Settings(
        archives,
        pick(args.keys, "keys_file"),
        pick(getattr(args, "key", None), "signing_key_file"),
        frozenset(unsigned),
        config,
    )


def keyring(found: Settings) -> KeyRing:
    if found.keys is None:
        raise ConfigError("no keys file: give --keys signing-keys.json or evidence.keys_file")
    return load_keys(found.keys)


# -- checkpoint ------------------------------------------------------------------------------
def run_checkpoint(args: argparse.Namespace) -> int:
    from pantau.collector.archive import signing

    found = settings(args)
    if found.key is None:
        raise ConfigError("no signing key: give --key FILE or evidence.signing_key_file")
    key = signing.load_private_key(found.key)
    now_ms = int(time.time() * 1000)
    plans = [(archive, _to_close(archive, args, now_ms)) for archive in found.archives]
    for _, wanted in plans:
        for day in wanted or []:
            begins_ms = int(
                dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() * 1000
            )
            if begins_ms > now_ms:
                raise ConfigError(f"{day} has not begun yet (UTC)")
            if begins_ms + DAY_MS + SETTLE_MS > now_ms and not args.early:
                minutes = SETTLE_MS // 60_000
                raise ConfigError(
                    f"{day} is not over yet (UTC, plus {minutes} minutes; --early closes it now)"
                )
    for archive, wanted in plans:  # each writer's archive has its own chain of checkpoints
        name = f"{archive.name}: " if archive.name else ""
        if wanted is None:
            print(f"{archive.path}: no archived day yet, nothing to close")
            continue
        store = cp.CheckpointStore(archive.path)
        for day in wanted:
            made = store.checkpoint_day(archive.path, day, key)
            print(
                f"{name}{day}: {made.tree_size} message(s), root {made.root},"
                f" signed by {made.signer}"
            )
        if not wanted:
            print(f"{name}every day is closed already")
    return EXIT_OK


def _to_close(archive: Archive, args: argparse.Namespace, now_ms: int) -> list[str] | None:
    """The days of one archive to checkpoint (None: it has nothing to close yet)."""
    if args.day:
        return [_day(args.day, "--day")]
    through = (
        segments.day_of(now_ms - DAY_MS)
        if args.through == "yesterday"
        else _day(args.through, "--through")
    )
    latest = cp.CheckpointStore(archive.path).latest()
    archived = archive.days()
    if latest is not None:
        start = _next(latest.day)
    elif archived:
        start = archived[0]
    else:
        return None
    return _days_between(start, through)


# -- verify ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What `verify` found, section by section; printed at the end."""

    lines: list[str] = field(default_factory=list)
    failed: bool = False

    def ok(self, text: str) -> None:
        self.lines.append(text)

    def fail(self, text: str, details: list[str] | None = None) -> None:
        self.failed = True
        self.lines.append(text)
        shown = (details or [])[:SHOWN]
        self.lines += [f"  {d}" for d in shown]
        if details and len(details) > SHOWN:
            self.lines.append(f"  ... and {len(details) - SHOWN} more")


def run_verify(args: argparse.Namespace) -> int:
    from pantau.collector.sla.month import CONTEXT_MS
    from pantau.collector.sla.periods import month

    period = month(args.month)
    found = settings(args)
    ring = keyring(found)
    first, last = utc_days(period)
    given = _load_report(Path(args.report), period.label) if args.report else None
    in_month = many.days(found.archives, first, last)
    if not in_month:
        raise ConfigError(f"{_named(found)}: no archived day between {first} and {last}")
    horizon_ms = period.end_ms + CONTEXT_MS + _max_age_ms(found)
    if given is not None:
        horizon_ms = min(horizon_ms, given.generated_ms)
    last_scanned = segments.day_of(horizon_ms) if (given or args.against_influx) else last
    days = many.days(found.archives, _previous(first), max(last, last_scanned))

    outcome = Outcome()
    checker = ChainChecker(ring, found.unsigned, report_from=first, horizon_ms=_max_age_ms(found))
    with (
        _scratch(args, found, want=given is not None) as report_db,
        _scratch(args, found, want=args.against_influx) as influx_db,
    ):
        for entry in _scanning(found.archives, days, f"verifying {period.label}"):
            trusted = checker.feed(entry)
            record = entry.record
            if not trusted or record is None or entry.day > last_scanned:
                continue
            if influx_db is not None:
                influx_db.add(record)
            if report_db is not None and record.received_ms <= horizon_ms:
                report_db.add(record)
        chains = checker.finish()
        _say_chains(outcome, chains, first, last)
        for archive in found.archives:
            _say_checkpoints(outcome, archive, ring, first, last)
        if report_db is not None and given is not None:
            _say_report(outcome, report_db, given, args)
        if influx_db is not None:
            _say_influx(
                outcome, influx_db, period.start_ms - CONTEXT_MS, period.end_ms + CONTEXT_MS
            )
    for line in outcome.lines:
        print(line)
    return EXIT_FAILED if outcome.failed else EXIT_OK


def _say_chains(outcome: Outcome, chains: ChainReport, first: str, last: str) -> None:
    messages = sum(chains.messages.values())
    extra = []
    if chains.unsigned:
        extra.append(f"{sum(chains.unsigned.values())} unsigned in grace mode")
    if chains.redelivered:
        extra.append(f"{sum(chains.redelivered.values())} redelivered")
    if chains.late:
        extra.append(f"{sum(chains.late.values())} after the message that follows them")
    if chains.refused:
        extra.append(f"{sum(chains.refused.values())} refused by the collector for their content")
    more = f" ({', '.join(extra)})" if extra else ""
    if chains.ok:
        outcome.ok(
            f"signatures and chains: {messages} signed message(s) of {len(chains.messages)}"
            f" point(s), {first} to {last} and after: all valid{more}"
        )
        return
    outcome.fail(
        f"signatures and chains: {len(chains.findings)} finding(s) in {messages} message(s){more}",
        [str(f) for f in chains.findings],
    )


def _say_checkpoints(
    outcome: Outcome, where: Archive, ring: KeyRing, first: str, last: str
) -> None:
    """One archive's checkpoints (each writer signs its own days)."""
    archive = where.path
    heading = f"checkpoints of {where.name}" if where.name else "checkpoints"
    store = cp.CheckpointStore(archive)
    closed = [d for d in store.days() if first <= d <= last]
    problems = []
    try:
        checkpoints = [store.load(d) for d in closed]
        before = _previous(first)
        after = store.load(before) if before in store.days() else None
    except cp.CheckpointError as exc:
        outcome.fail(f"{heading}: {exc}")
        return
    keys = ring.checkpoint_keys()
    unlinked = ""
    if after is None and checkpoints and checkpoints[0].prev != cp.GENESIS_PREV:
        # the archive handed over starts here: the first day's own signature and tree are
        # checked, its link to the day before cannot be
        head = checkpoints[0]
        gone = _previous(head.day)
        unlinked = f"; {head.day}'s link to {gone} not checked (no checkpoint of {gone})"
        failure = cp.verify_against_archive([head], archive) or _signed(head, keys)
        failure = failure or cp.verify(checkpoints[1:], keys, archive, head)
    else:
        failure = cp.verify(checkpoints, keys, archive, after)
    if failure is not None:
        problems.append(str(failure))
    settled = segments.day_of(int(time.time() * 1000) - DAY_MS - SETTLE_MS)
    unclosed = [d for d in month_days(archive, first, min(last, settled)) if d not in closed]
    problems += [f"{d}: archived but no checkpoint" for d in unclosed]
    if problems:
        outcome.fail(f"{heading}: {len(problems)} problem(s)", problems)
        return
    if not checkpoints:
        outcome.ok(f"{heading}: none yet for this month")
        return
    outcome.ok(
        f"{heading}: {len(checkpoints)} day(s), {checkpoints[0].day} to {checkpoints[-1].day}:"
        f" chained, signed, roots match the archive (last root {checkpoints[-1].root},"
        f" {checkpoints[-1].tree_size} messages){unlinked}"
    )


def _signed(checkpoint: cp.Checkpoint, keys: dict[str, Any]) -> cp.Failure | None:
    """A checkpoint's own signature, by a collector key."""
    import base64
    import binascii

    from pantau.collector.archive import signing

    public = keys.get(checkpoint.signer)
    if public is None:
        return cp.Failure(checkpoint.day, f"signed by an unknown key {checkpoint.signer!r}")
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
    except (binascii.Error, ValueError):
        return cp.Failure(checkpoint.day, "signature is not base64")
    if not signing.verify(public, checkpoint.signed_bytes(), signature):
        return cp.Failure(checkpoint.day, "bad signature")
    return None


# -- the report --------------------------------------------------------------------------------
@dataclass
class GivenReport:
    data: dict[str, Any]
    generated_ms: int
    filters: dict[str, str]


def _load_report(path: Path, label: str) -> GivenReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--report {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--report {path}: not a report JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("report") != "pantau-sla":
        raise ConfigError(
            f"--report {path}: not a Pantau report JSON (pantau report --format json)"
        )
    if data.get("month") != label:
        raise ConfigError(f"--report {path}: a report of {data.get('month')}, not {label}")
    try:
        generated = dt.datetime.fromisoformat(str(data["generated"]))
    except (KeyError, ValueError):
        raise ConfigError(f"--report {path}: no valid 'generated' time") from None
    return GivenReport(data, int(generated.timestamp() * 1000), dict(data.get("filters") or {}))


def _say_report(
    outcome: Outcome, db: Scratch, given: GivenReport, args: argparse.Namespace
) -> None:
    """The report made again by `pantau report` itself (the same code that made the given one,
    as of the same moment) from a database holding only what the archive proves."""
    from pantau.collector.sla.periods import month

    db.finish(month(given.data["month"]))
    made: dict[str, dict[str, Any]] = {}
    for language in dict.fromkeys([args.lang, "id", "en"]):
        made[language] = _report_again(db, given, args, language)
    differences = {k: first_difference(given.data, v) for k, v in made.items()}
    if any(d is None for d in differences.values()):
        outcome.ok(f"report: recomputed from {db.stats.records} archived message(s)")
        outcome.ok("match")
        return
    outcome.fail(f"report: first difference: {differences[args.lang]}")


def _report_again(
    db: Scratch, given: GivenReport, args: argparse.Namespace, lang: str
) -> dict[str, Any]:
    command = [sys.executable, "-m", "pantau.shared.cli", "report", "--month", given.data["month"]]
    command += ["--format", "json", "--lang", lang, "--database", db.influx.config.database]
    for flag, value in (("--config", args.config), ("--registry", args.registry)):
        if value:
            command += [flag, value]
    command += ["--influx-url", db.influx.config.url]
    for name, value in sorted(given.filters.items()):
        command += [f"--{name}", value]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(given.generated_ms // 1000)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise ConfigError(f"the report could not be made again from the archive: {reason[0]}")
    return dict(json.loads(done.stdout))


# -- InfluxDB against the archive --------------------------------------------------------------
def _say_influx(outcome: Outcome, db: Scratch, start_ms: int, end_ms: int) -> None:
    from pantau.collector.sla.periods import from_ms

    db.finish()
    problems: list[str] = []
    checked = 0
    for point in sorted(db.registry.by_id()):
        for day_ms in range(start_ms, end_ms, DAY_MS):
            span = f"time >= {day_ms}ms AND time < {min(day_ms + DAY_MS, end_ms)}ms"
            for name in MEASUREMENTS:
                query = f'SELECT * FROM "{name}" WHERE "point" = \'{point}\' AND {span}'
                live = _rows(db.live.query(query))
                archived = _rows(db.influx.query(query))
                checked += len(live)
                for key in dict.fromkeys([*live, *archived]):
                    minute = from_ms(key[0]).isoformat(timespec="minutes")
                    where = f"point {point}, minute {minute}, {name}"
                    mine, theirs = live.get(key), archived.get(key)
                    if theirs is None:
                        problems.append(f"{where}: a row the archive does not hold")
                    elif mine is None:
                        problems.append(f"{where}: in the archive, missing from InfluxDB")
                    else:
                        for column in dict.fromkeys([*mine, *theirs]):
                            if mine.get(column) != theirs.get(column):
                                problems.append(
                                    f"{where}.{column}: InfluxDB has {mine.get(column)!r},"
                                    f" the archive gives {theirs.get(column)!r}"
                                )
    if problems:
        outcome.fail(
            f"InfluxDB: {len(problems)} row difference(s) from the archive in {checked} row(s)",
            problems,
        )
    else:
        outcome.ok(f"InfluxDB: {checked} row(s) of agents' data, every one in the archive")


def _rows(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    found = {}
    for row in rows:
        row.pop("_measurement", None)
        found[(row["time"], *(row.get(k) for k in ROW_KEYS))] = row
    return found


# -- a throwaway database filled from the archive ---------------------------------------------
class Scratch:
    """A database of its own in the configured InfluxDB, filled by replaying trusted records,
    dropped afterwards."""

    def __init__(self, args: argparse.Namespace, found: Settings) -> None:
        from pantau.collector.store import open_store

        self.registry, self.live = open_store(args)
        if self.live.config.api != "v1":
            raise ConfigError("recomputing needs an InfluxDB 1.x API (a throwaway database)")
        name = f"{self.live.config.database}_verify_{secrets.token_hex(4)}"
        from pantau.collector.influxdb.client import Influx

        self.influx = Influx(self.live.config.model_copy(update={"database": name}))
        self.influx.ensure_database()
        self.sink = Sink(self.influx, self.registry.by_id(), _limits(found))
        self.stats = self.sink.stats

    def add(self, record: segments.Record) -> None:
        self.sink.add(record)

    def finish(self, rollups_of: Any = None) -> None:
        """Everything written; with a period, its rollups rebuilt as `replay` does."""
        self.sink.flush()
        if rollups_of is not None:
            _rebuild_rollups(self.influx, self.registry, rollups_of.start_ms, rollups_of.end_ms)

    def drop(self) -> None:
        try:
            self.influx.query_raw(f'DROP DATABASE "{self.influx.config.database}"')
        finally:
            self.influx.close()
            self.live.close()


@contextmanager
def _scratch(args: argparse.Namespace, found: Settings, want: bool) -> Iterator[Scratch | None]:
    if not want:
        yield None
        return
    db = Scratch(args, found)
    try:
        yield db
    finally:
        db.drop()


# -- replay ------------------------------------------------------------------------------------
@dataclass
class ReplayStats:
    records: int = 0
    accepted: int = 0
    lines: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by ingest's reason


class Sink:
    """Archived records through ingest (with the time each was received, so the same limits
    judge them) into InfluxDB, in batches: the rows the collector stored. A record archived as
    refused (segments.REFUSED) stores nothing: what the collector decided when it arrived
    stands, whatever the registry or limits say now."""

    BATCH_LINES = 5_000

    def __init__(self, influx: Any, points: dict[str, Any], limits: Any) -> None:
        self.influx = influx
        self.points = points
        self.limits = limits
        self.stats = ReplayStats()
        self._lines: list[str] = []

    def add(self, record: segments.Record) -> None:
        from pantau.collector.ingest import Accepted, ingest
        from pantau.shared.wire import MAX_PAYLOAD_BYTES

        self.stats.records += 1
        if record.refused is not None:  # refused when it arrived: archived, never stored
            self.stats.refused[record.refused.partition(":")[0]] += 1
            return
        result = ingest(
            record.topic,
            record.payload,
            False,
            self.points,
            MAX_PAYLOAD_BYTES,
            record.received_ms,
            self.limits,
        )
        if not isinstance(result, Accepted):
            self.stats.refused[result.reason] += 1
            return
        self.stats.accepted += 1
        lines = result.lines
        if "k" not in record.properties and result.kind != "state":
            from pantau.collector.signatures import mark_unsigned

            lines = mark_unsigned(lines)
        self._lines += lines
        if len(self._lines) >= self.BATCH_LINES:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self.influx.write(self._lines)
            self.stats.lines += len(self._lines)
            self._lines = []


def run_replay(args: argparse.Namespace) -> int:
    from pantau.collector.sla.month import CONTEXT_MS
    from pantau.collector.sla.periods import month
    from pantau.collector.store import open_store

    period = month(args.month)
    found = settings(args)
    first = segments.day_of(period.start_ms - CONTEXT_MS)
    last = segments.day_of(period.end_ms + CONTEXT_MS + _max_age_ms(found))
    days = many.days(found.archives, first, last)
    if not days:
        raise ConfigError(f"{_named(found)}: no archived day between {first} and {last}")
    registry, influx = open_store(args)
    damaged = 0
    try:
        influx.ensure_database()
        sink = Sink(influx, registry.by_id(), _limits(found))
        # every archive's records: a message archived twice (a redelivery, perhaps by two
        # workers) gives the same rows again, which InfluxDB absorbs
        for entry in _scanning(found.archives, days, f"replaying {period.label}"):
            if entry.record is None or entry.problem:
                damaged += 1
                continue
            sink.add(entry.record)
        sink.flush()
        rows = _rebuild_rollups(influx, registry, period.start_ms, period.end_ms)
    finally:
        influx.close()
    stats = sink.stats
    refused = ", ".join(f"{n} {reason}" for reason, n in sorted(stats.refused.items()))
    print(
        f"replayed {stats.records} archived message(s) of {len(days)} day(s) ({days[0]} to"
        f" {days[-1]}){_of_archives(found)} into {influx.config.database}: {stats.lines} row(s)"
        + (f", refused as when they arrived: {refused}" if refused else "")
        + f"; {rows} hourly rollup(s) rebuilt"
    )
    if damaged:
        print(
            f"pantau evidence: {damaged} damaged record(s) left out; run pantau evidence verify"
            f" --month {period.label}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _rebuild_rollups(influx: Any, registry: Any, start_ms: int, end_ms: int) -> int:
    """Every hour the report of the month reads (one day either side), for every point."""
    from pantau.collector.rollup import RollupStats, rebuild
    from pantau.collector.sla.month import CONTEXT_MS

    points = registry.by_id()
    stats = RollupStats()
    rebuild(
        influx,
        start_ms - CONTEXT_MS,
        end_ms + CONTEXT_MS,
        sorted(points),
        lambda p: points[p].tags(),
        stats,
    )
    return stats.rows_written


# -- prove -------------------------------------------------------------------------------------
def run_prove(args: argparse.Namespace) -> int:
    from pantau.shared import topics

    if not topics.is_point_id(args.point):
        raise ConfigError(f"--point {args.point!r}: not a point id (a-z, 0-9 and '-')")
    if not 0 <= args.search_days <= 31:
        raise ConfigError("--search-days: 0 to 31")
    found = settings(args)
    at_ms = _time(args.at)
    minute_ms = at_ms - at_ms % 60_000
    first = segments.day_of(minute_ms)
    last = segments.day_of(minute_ms + args.search_days * DAY_MS)
    days = many.days(found.archives, first, last)
    messages: list[dict[str, Any]] = []
    checkpoints: dict[str, Any] = {}
    problems: list[str] = []
    for day in days:
        for archive in found.archives:  # the message is in whichever archive took it in
            hashes: list[bytes] = []
            hits = []
            for entry in scan_day(archive.path, day, archive.name):
                hashes.append(merkle.leaf_hash(entry.body))
                hits += covering([entry], args.point, minute_ms)
            if not hits:
                continue
            root = merkle.root_of_hashes(hashes)
            store = cp.CheckpointStore(archive.path)
            named = f"{archive.name}/{day}" if archive.name else day
            checkpoints[named] = _checkpoint_for(store, day, len(hashes), root, problems, archive)
            for hit in hits:
                messages.append(_proved(hit.entry, hit.samples, hashes) | {"checkpoint": named})
    from pantau.collector.sla.periods import from_ms

    out = {
        "point": args.point,
        "minute": from_ms(minute_ms).isoformat(timespec="minutes"),
        "messages": messages,
        "checkpoints": checkpoints,
        "how_to_check": (
            "leaf = bytes.fromhex(record); SHA-256(0x00 || leaf) with `proof` leads to the"
            " checkpoint's root (RFC 9162 inclusion); the checkpoint's signature is the"
            " collector key `signer` of signing-keys.json over the checkpoint without its"
            " signature; the payload's is the point's key `k` over"
            " chain_hash(p, payload) (docs/evidence.md)"
        ),
    }
    print(json.dumps(out, indent=1))
    if not messages:
        print(
            f"pantau evidence: no archived message of {args.point} covers {out['minute']}"
            f" (looked in {', '.join(days) or 'no archived day'}{_of_archives(found)})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    for problem in problems:
        print(f"pantau evidence: {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else EXIT_OK


def _proved(entry: Entry, samples: list[dict[str, Any]], hashes: list[bytes]) -> dict[str, Any]:
    record = entry.record
    assert record is not None
    return {
        **({"archive": entry.archive} if entry.archive else {}),
        "day": entry.day,
        "leaf_index": entry.index,
        "tree_size": len(hashes),
        "received_ms": record.received_ms,
        "topic": record.topic,
        "properties": dict(record.properties),
        **({"refused": record.refused} if record.refused is not None else {}),
        "payload": record.payload.decode("utf-8", "replace"),
        "samples": samples,
        "record": entry.body.hex(),
        "proof": [h.hex() for h in merkle.inclusion_proof(hashes, entry.index)],
    }


def _checkpoint_for(
    store: cp.CheckpointStore,
    day: str,
    size: int,
    root: bytes,
    problems: list[str],
    archive: Archive,
) -> Any:
    of = f" of {archive.name}" if archive.name else ""
    try:
        made = store.load(day)
    except cp.CheckpointError:
        problems.append(
            f"{day}{of} has no checkpoint yet: the proof is against the archive as it is"
            " (pantau evidence checkpoint closes the day)"
        )
        return {"day": day, "tree_size": size, "root": root.hex(), "signed": False}
    if made.tree_size != size or made.root != root.hex():
        problems.append(f"{day}{of}: the archive no longer matches its checkpoint (run verify)")
    return json.loads(made.to_json())


# -- small helpers -----------------------------------------------------------------------------
def _scanning(archives: list[Archive], days: list[str], label: str) -> Iterator[Entry]:
    """Entries of these days, every archive's day before the next day, with a progress bar on
    standard error (by bytes read)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    total = many.size(archives, days)
    columns = (TextColumn(label), BarColumn(), DownloadColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        for entry in many.scan(archives, days):
            yield entry
            progress.advance(task, len(entry.body) + 12)


def _named(found: Settings) -> str:
    return ", ".join(str(a.path) for a in found.archives)


def _of_archives(found: Settings) -> str:
    count = len(found.archives)
    return f" of {count} archives" if count > 1 else ""


def _limits(found: Settings) -> Any:
    from pantau.collector.config import LimitsConfig

    return found.config.limits if found.config is not None else LimitsConfig()


def _max_age_ms(found: Settings) -> int:
    return int(_limits(found).max_age_s * 1000)


def _time(text: str) -> int:
    from pantau.collector.sla.periods import WIB

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--at {text!r}: not a time (ISO 8601, e.g. 2026-09-10T14:05)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=WIB)
    return int(moment.timestamp() * 1000)


def _day(text: str, flag: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: not a day (YYYY-MM-DD)") from None


def _next(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def _previous(day: str) -> str:
    return (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()


def _days_between(first: str, last: str) -> list[str]:
    found = []
    day = first
    while day <= last:
        found.append(day)
        day = _next(day)
    return found
