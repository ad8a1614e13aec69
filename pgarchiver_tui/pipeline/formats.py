"""Output formats, chosen by name from one registry.

JSONL and CSV are produced by the server itself (row_to_json, COPY CSV): it formats faster than Python can
and exactly as PostgreSQL means its values. Parquet re-encodes the server's CSV with pyarrow, column types
taken from the catalog.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from pgarchiver_tui.core.choices import check_format
from pgarchiver_tui.core.errors import ConfigError
from pgarchiver_tui.core.model import Column, Slice

# row_to_json never emits these bytes raw, so CSV with them as quote and delimiter passes JSON through
# untouched (text COPY would double every backslash).
RAW_JSON_OPTIONS = sql.SQL("(FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')")
# json (not jsonb) values keep their original whitespace, newlines included; outside strings that whitespace
# is insignificant and inside them raw newlines are invalid JSON, so spaces are an exact substitute.
_MAY_HOLD_NEWLINES = re.compile(r"^json\b|\bjson\[\]")


def _window_end(moment: datetime) -> sql.Composable:
    # a window's end is a period's end; datetime.max stands for 10000-01-01, which PostgreSQL can write but
    # Python cannot (its literal is left untyped so that it takes the column's type)
    return sql.Literal("10000-01-01") if moment == datetime.max else sql.Literal(moment)


@dataclass(frozen=True)
class Selection:
    """Rows of one relation, optionally within a date window: what one COPY reads."""

    relation: sql.Composable  # schema.name, quoted
    where: sql.Composable | None

    @classmethod
    def of(cls, part: Slice, date_column: str | None) -> Selection:
        """What one slice reads: its whole source, or the rows of its window by `date_column`."""
        relation = sql.Identifier(part.source.schema, part.source.name)
        if part.window is None:
            return cls(relation, None)
        column = sql.Identifier(date_column or "")
        where = sql.SQL("{} >= {} AND {} < {}").format(column, sql.Literal(part.window.start), column,
                                                       _window_end(part.window.end))
        return cls(relation, where)

    def select(self, columns: sql.Composable) -> sql.Composed:
        query = sql.SQL("SELECT {} FROM ONLY {} AS t").format(columns, self.relation)
        return query if self.where is None else sql.SQL("{} WHERE {}").format(query, self.where)


@dataclass(frozen=True)
class Format:
    name: str
    extension: str
    inner_compression: bool = False  # compresses inside the file; the outer codec is then "none"

    def copy_out(self, selection: Selection, columns: list[Column], first: bool) -> sql.Composed:
        raise NotImplementedError

    def encode(self, chunks: Iterable[bytes], columns: list[Column], compression: str,
               level: int) -> Iterator[bytes]:
        """Turn what copy_out streams into the bytes of the file (before the outer codec)."""
        return iter(chunks)

    def header_lines(self, first: bool) -> int:
        """Lines copy_out sends before the rows: COPY counts rows, the stream counts these too."""
        return 0


class _Jsonl(Format):
    def copy_out(self, selection: Selection, columns: list[Column], first: bool) -> sql.Composed:
        # t.* is always the row: a bare t would be a column of that name when the table has one
        value: sql.Composable = sql.SQL("row_to_json(t.*)")
        if any(_MAY_HOLD_NEWLINES.search(column.type) for column in columns):
            value = sql.SQL("translate(row_to_json(t.*)::text, e'\\n\\r', '  ')")
        return sql.SQL("COPY ({}) TO STDOUT {}").format(selection.select(value), RAW_JSON_OPTIONS)


class _Csv(Format):
    def copy_out(self, selection: Selection, columns: list[Column], first: bool) -> sql.Composed:
        options = sql.SQL("(FORMAT csv, HEADER)" if first else "(FORMAT csv)")
        if selection.where is None:
            return sql.SQL("COPY {} TO STDOUT {}").format(selection.relation, options)
        return sql.SQL("COPY ({}) TO STDOUT {}").format(selection.select(sql.SQL("*")), options)

    def header_lines(self, first: bool) -> int:
        return 1 if first else 0


class _Parquet(Format):
    def copy_out(self, selection: Selection, columns: list[Column], first: bool) -> sql.Composed:
        return sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(selection.select(sql.SQL("*")))

    def encode(self, chunks: Iterable[bytes], columns: list[Column], compression: str,
               level: int) -> Iterator[bytes]:
        """Each chunk is parsed on its own: copy_out cuts chunks between rows (one COPY message is one row).

        pyarrow's streaming CSV reader would pull the chunks on one of its own threads, running the COPY (and
        its cancellation) off the worker's thread; parsing in-memory buffers keeps the whole chain on it. An
        empty source still gives a valid file with the schema and no rows.

        Each chunk is one pyarrow block: by default pyarrow cuts a buffer larger than its block (1 MiB) at a
        newline, which inside a quoted value breaks the row (only a large partition of real text ever shows it),
        and refuses a row larger than a block outright. Values may hold newlines, so pyarrow is told that too.
        """
        import pyarrow as pa
        import pyarrow.csv as pa_csv
        import pyarrow.parquet as pq

        schema = arrow_schema(columns)
        parse_options = pa_csv.ParseOptions(newlines_in_values=True)
        convert_options = pa_csv.ConvertOptions(
            column_types=schema, null_values=[""], quoted_strings_can_be_null=False, strings_can_be_null=True,
            true_values=["t"], false_values=["f"], timestamp_parsers=[pa_csv.ISO8601],
        )
        out = Collector()
        codec = {"none": "none", "zstd": "zstd", "gzip": "gzip", "lz4": "lz4"}[compression]
        options = {"compression_level": level} if codec in ("zstd", "gzip") else {}
        with pq.ParquetWriter(out, schema, compression=codec, **options) as writer:
            for chunk in chunks:
                read_options = pa_csv.ReadOptions(column_names=schema.names, use_threads=False,
                                                  block_size=len(chunk) + 1)
                try:
                    table = pa_csv.read_csv(pa.py_buffer(chunk), read_options=read_options,
                                            parse_options=parse_options, convert_options=convert_options)
                except pa.ArrowInvalid as exc:
                    raise parquet_refusal(str(exc), columns, schema) from None
                writer.write_table(table)
                yield from out.drain()
        yield from out.drain()


_CONVERSION = re.compile(r"In CSV column #(\d+): Row #\d+: .*?'(.*)'")


def parquet_refusal(error: str, columns: list[Column], schema) -> ConfigError:  # schema: pyarrow.Schema
    """One line for a value Parquet cannot hold (an infinite or BC date, NaN in a decimal...), naming the fix."""
    match = _CONVERSION.match(error)
    if not match or int(match.group(1)) >= len(columns):
        return ConfigError(f"Parquet cannot hold these rows ({error.splitlines()[0]}); archive this table with "
                           "--output-format jsonl or csv")
    column = columns[int(match.group(1))]
    return ConfigError(f"column {column.name} ({column.type}) holds {match.group(2)!r}, which Parquet cannot hold "
                       f"as {schema.field(column.name).type}; archive this table with --output-format jsonl or csv")


_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")


def arrow_schema(columns: list[Column]):  # -> pyarrow.Schema
    import pyarrow as pa

    simple = {
        "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(), "real": pa.float32(),
        "double precision": pa.float64(), "boolean": pa.bool_(), "date": pa.date32(),
        "timestamp without time zone": pa.timestamp("us"),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    }
    fields = []
    for column in columns:
        kind = simple.get(column.type)
        if kind is None and (match := _NUMERIC.match(column.type)) and int(match.group(1)) <= 38:
            kind = pa.decimal128(int(match.group(1)), int(match.group(2)))
        fields.append(pa.field(column.name, kind or pa.string()))
    return pa.schema(fields)


class Collector(io.RawIOBase):
    """A writable file that hands what was written to the next stage."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def drain(self) -> Iterator[bytes]:
        parts, self._parts = self._parts, []
        yield from parts


FORMATS: dict[str, Format] = {
    f.name: f for f in (_Jsonl("jsonl", "jsonl"), _Csv("csv", "csv"), _Parquet("parquet", "parquet", True))
}


def get_format(name: str) -> Format:
    check_format(name)
    return FORMATS[name]
