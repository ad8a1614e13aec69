"""What a destination holds for one table: its objects with their facts, orphans, unfinished uploads.

Found without the cache: one listing of the table's prefix, each object's sidecar, its name as a fallback. The
cache, when there is one, adds what it expects to be there.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from pgarchiver_tui.cache import Cache, Record
from pgarchiver_tui.core.errors import StorageError
from pgarchiver_tui.core.model import Column, Job, ObjectFacts, Slice, facts_from_json
from pgarchiver_tui.core.periods import Duration, Period, object_key, safe_segment
from pgarchiver_tui.core.settings import Settings
from pgarchiver_tui.core.sidecars import PURGE_RECORD_SUFFIX, data_key_of, is_current_sidecar
from pgarchiver_tui.pipeline import codecs, formats
from pgarchiver_tui.storage import ObjectInfo, Storage, Unfinished

_DATE_FIELDS = ("YYYY", "MM", "DD", "HH")
_LABELS = (  # the inverse of Duration.label
    (Duration.HOURLY, re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2})$")),
    (Duration.DAILY, re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
    (Duration.WEEKLY, re.compile(r"^(\d{4})-W(\d{2})$")),
    (Duration.MONTHLY, re.compile(r"^(\d{4})-(\d{2})$")),
    (Duration.YEARLY, re.compile(r"^(\d{4})$")),
)


@dataclass(frozen=True)
class NameParts:
    """What an object's name says: `{table}-{period label}.{format extension}[.{codec extension}]`."""

    period: Period
    duration: Duration
    format: str
    compression: str


def parse_object_name(key: str, table: str) -> NameParts | None:
    base = key.rsplit("/", 1)[-1]
    head = safe_segment(table) + "-"
    if not base.startswith(head) or "." not in base:
        return None
    label, extension = base[len(head):].split(".", 1)
    start = _label_start(label)
    if start is None:
        return None
    duration, moment = start
    fmt, _, codec_ext = extension.partition(".")
    format_name = next((f.name for f in formats.FORMATS.values() if f.extension == fmt), None)
    compression = next((c.name for c in codecs.CODECS.values() if c.extension == codec_ext), None)
    if format_name is None or compression is None:
        return None
    return NameParts(Period(moment, duration.next(moment)), duration, format_name, compression)


def in_layout(key: str, named: NameParts, template: str, schema: str, table: str) -> bool:
    """Whether `key` is where `template` puts the object its name describes: the layout asked for.

    Another template (or a layout of another duration or format that this template would name otherwise)
    writes its objects elsewhere; they are not this archive's, however alike their names.
    """
    fmt = formats.FORMATS[named.format].extension
    codec = codecs.CODECS[named.compression].extension
    extension = f"{fmt}.{codec}" if codec else fmt
    return object_key(template, schema, table, named.period.start, named.duration, extension) == key


def _label_start(label: str) -> tuple[Duration, datetime] | None:
    for duration, pattern in _LABELS:
        match = pattern.match(label)
        if not match:
            continue
        numbers = [int(n) for n in match.groups()]
        try:
            if duration is Duration.WEEKLY:
                return duration, datetime.fromisocalendar(numbers[0], numbers[1], 1)
            padded = numbers + [1] * (3 - len(numbers))  # a year starts on January 1st, a month on its 1st
            return duration, datetime(padded[0], padded[1], padded[2], padded[3] if len(padded) > 3 else 0)
        except ValueError:
            return None
    return None


def listing_prefix(template: str, schema: str, table: str) -> tuple[str, bool]:
    """The key prefix under which every object of the table lies, and whether only this table's objects do.

    The template is expanded up to its first date placeholder; what precedes it is the same for every period.
    """
    values = {"table": safe_segment(table), "schema": safe_segment(schema)}
    prefix, own = "", False
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        prefix += literal
        if name is None:
            continue
        if name in _DATE_FIELDS:
            break
        prefix += values[name]
        own = own or name == "table"
    else:
        prefix += "/"
    prefix = prefix.lstrip("/")
    prefix = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    return prefix, own


@dataclass
class ArchivedObject:
    """One object a table should have in the destination, with all that is known of it."""

    key: str
    info: ObjectInfo | None  # None: not in the destination
    facts: ObjectFacts | None  # None: no readable sidecar
    record: Record | None = None  # the cache's entry
    named: NameParts | None = None
    sidecar_problem: str = ""
    purge_record: bool = False  # a purge record lies beside it: its live rows may be gone on purpose

    @property
    def expected(self) -> bool:
        return self.facts is not None or self.record is not None or bool(self.sidecar_problem)

    @property
    def period(self) -> Period | None:
        if self.facts is not None:
            return Period(datetime.fromisoformat(self.facts.period_start), datetime.fromisoformat(self.facts.period_end))
        if self.record is not None:
            return Period(datetime.fromisoformat(self.record.period_start),
                          datetime.fromisoformat(self.record.period_end))
        return self.named.period if self.named else None

    @property
    def duration(self) -> Duration:
        raw = self.facts.duration if self.facts else self.record.duration if self.record else ""
        return Duration(raw) if raw else self.named.duration if self.named else Duration.DAILY

    @property
    def format(self) -> str:
        return self.facts.format if self.facts else self.record.format if self.record else \
            self.named.format if self.named else ""

    @property
    def compression(self) -> str:
        return self.facts.compression if self.facts else self.record.compression if self.record else \
            self.named.compression if self.named else ""

    @property
    def columns(self) -> list[Column]:
        return list(self.facts.columns) if self.facts else []

    @property
    def sha256(self) -> str:
        return self.facts.sha256 if self.facts else self.record.sha256 if self.record else ""

    @property
    def rows(self) -> int | None:
        return self.facts.rows if self.facts else self.record.rows if self.record else None

    @property
    def bytes_out(self) -> int | None:
        return self.facts.bytes_out if self.facts else self.record.bytes_out if self.record else None

    @property
    def etag(self) -> str:
        return self.facts.etag if self.facts else self.record.etag if self.record else ""

    @property
    def part_sizes(self) -> list[int]:
        if self.facts and self.facts.part_sizes:
            return list(self.facts.part_sizes)
        return [self.info.size] if self.info else []

    def job(self, schema: str, table: str, slices: tuple[Slice, ...] = (), date_column: str | None = None) -> Job:
        """The object as the engine's events name it, so progress renders like an archive run's."""
        period = self.period or Period(datetime.min, datetime.min)
        return Job(schema, table, period, self.duration, self.key, slices, date_column)


@dataclass
class Holdings:
    schema: str
    table: str
    prefix: str
    objects: list[ArchivedObject]  # expected by a sidecar or the cache; `info` None when missing
    orphans: list[ArchivedObject] = field(default_factory=list)  # present, expected by nothing
    unfinished: list[Unfinished] = field(default_factory=list)
    other_layouts: int = 0  # this table's objects under the prefix that another template put there: left out


def find_archived(storage: Storage, schema: str, table: str, template: str, requested: Period | None,
                  cache: Cache | None = None) -> Holdings:
    prefix, own = listing_prefix(template, schema, table)
    listing = {info.key: info for info in storage.list(prefix)}

    def in_range(period: Period | None) -> bool:
        return requested is None or period is None or period.overlaps(requested)

    found: dict[str, ArchivedObject] = {}
    foreign: set[str] = set()  # other tables' objects sharing the prefix
    unnamed: list[ArchivedObject] = []
    elsewhere: set[str] = set()  # this table's objects of another layout
    read_current: set[str] = set()  # data keys whose facts came from their current sidecar name
    purged: set[str] = set()
    for key, info in sorted(listing.items()):
        purged_key = data_key_of(key, PURGE_RECORD_SUFFIX)
        if purged_key is not None:  # not an object: what a purge removed on the object's proof
            purged.add(purged_key)
            continue
        described = data_key_of(key)
        data_key = described or key
        named = parse_object_name(data_key, table)
        if named is None:
            unnamed.append(ArchivedObject(key, info, None))
            continue
        if not in_layout(data_key, named, template, schema, table):
            elsewhere.add(data_key)
            continue
        if not in_range(named.period):
            continue
        entry = found.setdefault(data_key, ArchivedObject(data_key, listing.get(data_key), None, named=named))
        if described is not None:
            if data_key in read_current:
                continue  # the facts under their current name win over a leftover under the old one
            if is_current_sidecar(key):
                read_current.add(data_key)
            facts, problem = _read_facts(storage, key)
            if facts is not None and (facts.schema, facts.table) != (schema, table):
                foreign.add(data_key)
            entry.facts, entry.sidecar_problem = facts, problem
    if cache is not None:
        for record in cache.records(schema, table):
            named = parse_object_name(record.key, table)
            if named is None or not in_layout(record.key, named, template, schema, table):
                continue  # recorded by a run with another template: not this layout's to expect
            if record.status == "archived" and record.key not in found:
                entry = ArchivedObject(record.key, listing.get(record.key), None, record,
                                       parse_object_name(record.key, table))
                if in_range(entry.period):
                    found[record.key] = entry
            elif record.status == "archived":
                found[record.key].record = record
    objects, orphans = [], []
    for key in sorted(found):
        entry = found[key]
        if key in foreign or not in_range(entry.period):
            continue
        entry.purge_record = key in purged
        if entry.expected:
            if entry.info is None:  # perhaps under a prefix the listing did not cover
                entry.info = storage.head(key)
            objects.append(entry)
        elif entry.info is not None:
            orphans.append(entry)
    if own:  # the prefix is this table's alone: anything else there is unexplained
        orphans += unnamed
    mark = safe_segment(table) + "-"
    unfinished = [item for item in storage.unfinished(prefix) if own or mark in item.key.rsplit("/", 1)[-1]]
    objects.sort(key=by_period)
    return Holdings(schema, table, prefix, objects, orphans, unfinished, len(elsewhere))


def readable(records: Iterable[Record]) -> list[Record]:
    """The cache records whose objects can be read back (verified, restored): those archived, not failed."""
    return [r for r in records if r.status == "archived"]


def object_claim(destination_url: str, key: str) -> str:
    """The advisory-lock name of one object of a destination: the bucket or directory and the key, not the
    endpoint's spelling, so that every route to one object (and every command) claims the same thing."""
    return f"pgarchiver-tui:{destination_url.split('?')[0]}:{key}"


def by_period(obj: ArchivedObject) -> tuple[Period, str]:
    return obj.period or Period(datetime.min, datetime.min), obj.key


def _read_facts(storage: Storage, key: str) -> tuple[ObjectFacts | None, str]:
    try:
        data = storage.get_bytes(key)
    except StorageError as exc:
        return None, f"sidecar {key} cannot be read: {exc}"
    if data is None:
        return None, f"sidecar {key} vanished while listing"
    try:
        return facts_from_json(data), ""
    except (ValueError, TypeError) as exc:
        return None, f"sidecar {key} is not valid object metadata: {exc}"


def check_settings(settings: Settings) -> Period | None:
    """Validate settings for reading an archive back; the requested range, None for every period.

    The date range is optional here, so validation runs as if the widest range had been asked for.
    """
    if settings.start_date or settings.end_date:
        settings.validate()
        return settings.requested_range()
    replace(settings, start_date="0001-01-01", end_date="9999-12-30").validate()
    return None


def open_archive(settings: Settings) -> Storage:
    """The destination the settings name, which must exist already: reading creates nothing."""
    from pgarchiver_tui.storage.destination import open_destination

    return open_destination(settings, check=True, must_exist=True)
