"""Generated inputs for the one schema: whatever a flag, a variable or a TOML value holds, the answer is a valid
setting or one ConfigError of one line — never another exception. Dates to 9999-12-31 plan without overflow;
templates either are refused or expand to keys that stay under their prefix.
"""

from __future__ import annotations

import math
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pgarchiver_tui.commands.archive.plan import make_plan
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.model import Source, SourceKind
from pgarchiver_tui.core.periods import (
    PLACEHOLDERS,
    Duration,
    Period,
    TemplateError,
    check_key,
    check_template,
    object_key,
)
from pgarchiver_tui.core.schema import OPTIONS
from pgarchiver_tui.core.settings import Settings, load_settings

NUMERIC = sorted(name for name, option in OPTIONS.items() if option.kind in ("int", "float")
                 and name in Settings.__dataclass_fields__)
SETTING_NAMES = sorted(Settings.__dataclass_fields__)
EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(st.integers(), st.integers(min_value=-10, max_value=10_000),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans())
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
toml_scalars = st.one_of(numbers, texts, st.dates(), st.datetimes(), st.times())
toml_values = st.recursive(toml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3)), max_leaves=6)


def assert_one_line(error: ConfigError) -> None:
    text = str(error)
    assert text and "\n" not in text and "\r" not in text, repr(text)


def in_range(name: str, value: object) -> bool:
    option = OPTIONS[name]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return (option.low is None or value >= option.low) and (option.high is None or value <= option.high)


@EXAMPLES
@given(name=st.sampled_from(NUMERIC), value=st.one_of(numbers, texts))
def test_a_number_from_a_flag_or_a_variable_is_in_range_or_refused_in_one_line(name: str, value: object) -> None:
    text = str(value)
    assume("\x00" not in text)
    for layer in ({"flags": {name: text}}, {"environ": {f"PGARCHIVER_{name.upper()}": text}}):
        try:
            loaded = load_settings(layer.get("flags", {}), layer.get("environ", {}))
        except ConfigError as exc:
            assert_one_line(exc)
            continue
        result = getattr(loaded, name)
        if not text:  # VAR= leaves the setting at its default
            assert "environ" in layer and result == getattr(Settings(), name)
            continue
        assert in_range(name, result), (name, text, result)
        if OPTIONS[name].kind == "int":
            assert isinstance(result, int) and not isinstance(result, bool)


@EXAMPLES
@given(name=st.sampled_from(SETTING_NAMES), value=toml_values)
def test_any_toml_value_is_a_setting_of_the_right_type_or_one_line(name: str, value: object) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.toml"
        try:
            config.write_text(tomli_w.dumps({name: value}))
        except (TypeError, ValueError):
            assume(False)  # not expressible in TOML
        try:
            loaded = load_settings({}, {}, str(config))
        except ConfigError as exc:
            assert_one_line(exc)
            return
    result = getattr(loaded, name)
    kind = OPTIONS[name].kind
    if kind in ("int", "float", "port"):
        assert in_range(name, result), (name, value, result)
    elif kind == "bool":
        assert isinstance(result, bool)
    else:
        assert isinstance(result, str), (name, value, result)


@EXAMPLES
@given(document=st.dictionaries(st.one_of(st.sampled_from([*SETTING_NAMES, "profiles"]), st.text(max_size=8)),
                                toml_values, max_size=4))
def test_any_toml_document_loads_or_is_refused_in_one_line(document: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.toml"
        try:
            config.write_text(tomli_w.dumps(document))
        except (TypeError, ValueError):
            assume(False)
        for profile in (None, "p"):
            try:
                load_settings({}, {}, str(config), profile).validate()
            except ConfigError as exc:
                assert_one_line(exc)


@EXAMPLES
@given(data=st.binary(max_size=60))
def test_any_bytes_as_a_config_file_load_or_are_refused_in_one_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.toml"
        config.write_bytes(data)
        try:
            load_settings({}, {}, str(config))
        except ConfigError as exc:
            assert_one_line(exc)


@EXAMPLES
@given(variables=st.dictionaries(st.sampled_from(SETTING_NAMES),
                                 st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                                         max_size=30), max_size=5))
def test_any_environment_validates_or_is_refused_in_one_line(variables: dict[str, str]) -> None:
    environ = {f"PGARCHIVER_{name.upper()}": value for name, value in variables.items()}
    try:
        load_settings({}, environ).validate()
    except ConfigError as exc:
        assert_one_line(exc)


# -- dates and periods ------------------------------------------------------------------------------------------

@EXAMPLES
@given(text=texts)
def test_any_text_is_a_date_or_refused_in_one_line(text: str) -> None:
    assume("\x00" not in text)
    try:
        loaded = load_settings({"start_date": text, "end_date": text}, {})
        requested = loaded.requested_range()
    except ConfigError as exc:
        assert_one_line(exc)
        return
    assert requested.start == datetime.combine(date.fromisoformat(text), datetime.min.time())


@EXAMPLES
@given(first=st.dates(), days=st.integers(0, 400), duration=st.sampled_from(list(Duration)),
       windows=st.booleans())
def test_any_range_up_to_9999_12_31_plans_whole_periods_or_refuses_in_one_line(
        first: date, days: int, duration: Duration, windows: bool) -> None:
    last = min(first + timedelta(days=min(days, (date.max - first).days)), date.max)
    loaded = Settings(table="events", start_date=first.isoformat(), end_date=last.isoformat(),
                      output_duration=duration.value, local_dir="archive", cache_dir="cache")
    requested = loaded.requested_range()
    # a daily partition on the first and the last day, and a table without bounds when cut into windows
    sources = [Source("public", f"events_{day:%Y%m%d}", SourceKind.NATIVE, day_period(day)) for day in {first, last}]
    if windows:
        sources.append(Source("public", "events_default", SourceKind.DEFAULT, None))
    try:
        plan = make_plan("public", "events", sources, requested, duration, "{schema}/{table}/{YYYY}/{MM}",
                         "jsonl.zst", "created_at" if windows else None, datetime.max, include_current=True)
    except ConfigError as exc:
        assert_one_line(exc)
        return
    assert plan.widened.contains(requested)
    for job in plan.jobs:
        assert job.period.start < job.period.end
        assert check_key(job.key) == job.key


def day_period(day: date) -> Period:
    start = datetime.combine(day, datetime.min.time())
    return Period(start, datetime.max if day == date.max else start + timedelta(days=1))


# -- templates --------------------------------------------------------------------------------------------------

TEMPLATE_PIECES = [*"{}:!<>.0123/ab\\\n\x01-_", *(f"{{{p}}}" for p in PLACEHOLDERS), "{table:>300}", "{table!r}",
                   "{YYYY:d}", "{table:.<2.0}", "..", "./"]
template_text = st.lists(st.sampled_from(TEMPLATE_PIECES), max_size=10).map("".join)


@EXAMPLES
@given(template=template_text,
       schema_name=texts.filter(lambda t: "\x00" not in t), table=texts.filter(lambda t: "\x00" not in t),
       start=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23)),
       duration=st.sampled_from(list(Duration)))
def test_a_template_is_refused_or_every_key_it_makes_stays_under_its_prefix(
        template: str, schema_name: str, table: str, start: datetime, duration: Duration) -> None:
    try:
        check_template(template)
    except TemplateError as exc:
        assert "\n" not in str(exc)
        return
    start = duration.floor(start)
    key = object_key(template, schema_name, table, start, duration, "jsonl.zst")
    segments = key.split("/")
    assert not {"", ".", ".."} & set(segments), key
    assert not key.startswith("/") and "\\" not in key and "\n" not in key
    literal_depth = template.strip("/").count("/") + 1 if template.strip("/") else 0
    assert len(segments) == literal_depth + 1, (template, key)  # names never add a level
