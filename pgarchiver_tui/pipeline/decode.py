"""Archived files read back: every record of each format counted and checked, and turned into COPY FROM input.

The inverse of formats.py, chosen by the same names. The server parses what it wrote, so JSONL and CSV go back
as they are (JSONL through json_populate_record, the inverse of row_to_json); Parquet is re-encoded to CSV.
"""

from __future__ import annotations

import codecs as text_codecs
import csv
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from psycopg import sql

from pgarchiver_tui.core.errors import IntegrityError
from pgarchiver_tui.core.model import Column
from pgarchiver_tui.pipeline.formats import RAW_JSON_OPTIONS, Collector, arrow_schema

SPOOL_BYTES = 1 << 20  # chunk size when reading a spooled file back
BATCH_ROWS = 65_536  # parquet rows turned into CSV at a time


@dataclass
class Records:
    """Records seen by a decoder; filled in as the stream flows."""

    rows: int = 0


class Decoder:
    name = ""
    copy_options: sql.Composable = sql.SQL("")
    staged = False  # True: COPY into a one-column staging table, then INSERT … SELECT by column name

    def copy_input(self, chunks: Iterable[bytes], columns: list[Column], records: Records,
                   check: bool) -> Iterator[bytes]:
        """COPY FROM input for the decoded stream; with `check`, every record is parsed and counted."""
        raise NotImplementedError

    def check(self, chunks: Iterable[bytes], columns: list[Column], records: Records) -> None:
        """Parse and count every record; raise IntegrityError naming the first that does not parse."""
        for _ in self.copy_input(chunks, columns, records, check=True):
            pass


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Whole lines, each with its b'\\n'; a stream that does not end with one ends inside a record."""
    tail = b""
    for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            yield line + b"\n"
    if tail:
        raise IntegrityError("the data ends inside a record (no final newline)")


class _Jsonl(Decoder):
    name = "jsonl"
    copy_options = RAW_JSON_OPTIONS  # the options that wrote it: lines go in byte for byte
    staged = True

    def copy_input(self, chunks: Iterable[bytes], columns: list[Column], records: Records,
                   check: bool) -> Iterator[bytes]:
        if not check:
            yield from chunks
            return
        names = [c.name for c in columns]
        for line in _lines(chunks):
            records.rows += 1
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise IntegrityError(f"record {records.rows} is not valid JSON: {exc}") from None
            if not isinstance(value, dict):
                raise IntegrityError(f"record {records.rows} is not a JSON object")
            if names and list(value) != names:
                raise IntegrityError(f"record {records.rows} has keys {list(value)}, expected the archived "
                                     f"columns {names}")
            yield line


class _Csv(Decoder):
    name = "csv"
    copy_options = sql.SQL("(FORMAT csv, HEADER)")

    def copy_input(self, chunks: Iterable[bytes], columns: list[Column], records: Records,
                   check: bool) -> Iterator[bytes]:
        if not check:
            yield from chunks
            return
        names = [c.name for c in columns]
        passed: list[bytes] = []

        def text_lines() -> Iterator[str]:
            decoder = text_codecs.getincrementaldecoder("utf-8")()
            for line in _lines(chunks):
                passed.append(line)
                try:
                    yield decoder.decode(line)
                except UnicodeDecodeError as exc:
                    raise IntegrityError(f"record {records.rows + 1} is not UTF-8: {exc.reason}") from None

        reader = csv.reader(text_lines(), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise IntegrityError("the CSV has no header line")
            if names and header != names:
                raise IntegrityError(f"the CSV header {header} is not the archived columns {names}")
            width = len(header)
            for fields in reader:
                records.rows += 1
                if len(fields) != width:
                    raise IntegrityError(f"record {records.rows} has {len(fields)} fields, expected {width}")
                yield b"".join(passed)
                passed.clear()
        except csv.Error as exc:
            raise IntegrityError(f"record {records.rows + 1} is not valid CSV: {exc}") from None
        yield b"".join(passed)


class _Parquet(Decoder):
    name = "parquet"
    copy_options = sql.SQL("(FORMAT csv)")

    def _batches(self, chunks: Iterable[bytes], columns: list[Column], records: Records, check: bool):
        """Record batches of the file, spooled to disk first: Parquet keeps its index at the end."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        with tempfile.TemporaryFile(prefix="pgarchiver-restore-") as spool:
            for chunk in chunks:
                spool.write(chunk)
            spool.seek(0)
            try:
                parquet = pq.ParquetFile(spool)
                schema = parquet.schema_arrow
                if columns and schema.names != [c.name for c in columns]:
                    raise IntegrityError(f"the Parquet columns {schema.names} are not the archived columns "
                                         f"{[c.name for c in columns]}")
                if check and columns and not schema.equals(arrow_schema(columns)):
                    raise IntegrityError(f"the Parquet schema is not the one the archived column types give: "
                                         f"{schema}")
                for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                    records.rows += batch.num_rows
                    yield batch
                if records.rows != parquet.metadata.num_rows:
                    raise IntegrityError(f"read {records.rows} rows; the Parquet footer says "
                                         f"{parquet.metadata.num_rows}")
            except (pa.ArrowException, OSError) as exc:
                raise IntegrityError(f"the Parquet data does not decode: {exc}") from None

    def check(self, chunks: Iterable[bytes], columns: list[Column], records: Records) -> None:
        for _ in self._batches(chunks, columns, records, check=True):
            pass

    def copy_input(self, chunks: Iterable[bytes], columns: list[Column], records: Records,
                   check: bool) -> Iterator[bytes]:
        import pyarrow.csv as pa_csv

        # Quoting every non-null value keeps '' and NULL apart; every value prints in a form its PostgreSQL
        # type reads back exactly (shortest round-trip floats, nan/inf, decimals, ISO times with Z).
        options = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
        out = Collector()
        writer = None
        for batch in self._batches(chunks, columns, records, check):
            if writer is None:
                writer = pa_csv.CSVWriter(out, batch.schema, write_options=options)
            writer.write_batch(batch)
            yield from out.drain()
        if writer is not None:
            writer.close()
        yield from out.drain()


DECODERS: dict[str, Decoder] = {d.name: d for d in (_Jsonl(), _Csv(), _Parquet())}


def get_decoder(name: str) -> Decoder:
    try:
        return DECODERS[name]
    except KeyError:
        raise IntegrityError(f"unknown archived format {name!r}; this version reads "
                             f"{', '.join(DECODERS)}") from None
