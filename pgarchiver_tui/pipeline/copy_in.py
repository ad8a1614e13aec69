"""Rows back into PostgreSQL: COPY FROM STDIN of a decoded archive, in constant memory."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

import psycopg
from psycopg import sql

from pgarchiver_tui.core.errors import Cancelled, IntegrityError
from pgarchiver_tui.core.model import Column
from pgarchiver_tui.pipeline.decode import Decoder

STAGING = sql.Identifier("pgarchiver_staging")

# A type as format_type() prints it: names (plain or quoted), a typmod, "with time zone", array brackets.
# Anything else in a sidecar is refused rather than pasted into DDL.
_WORD = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_TYPE = re.compile(rf"^{_WORD}(?:\.{_WORD})?(?: {_WORD})*(?:\(\d+(?:,\d+)?\))?"
                   r"(?: (?:with|without) time zone)?(?:\[\])*$")


def column_definitions(columns: list[Column]) -> sql.Composed:
    """`name type, …` for CREATE TABLE, from archived columns; the types are checked, never guessed."""
    for column in columns:
        if not _TYPE.match(column.type):
            raise IntegrityError(f"archived column {column.name!r} has type {column.type!r}, which is not a "
                                 "type name; create the table yourself, then restore into it")
    return sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in columns)


def copy_in(cursor: psycopg.Cursor, statement: sql.Composed, chunks: Iterable[bytes],
            cancel: threading.Event) -> int:
    """Stream one COPY FROM STDIN; the number of rows the server took."""
    with cursor.copy(statement) as copy:
        for chunk in chunks:
            if cancel.is_set():
                raise Cancelled("cancelled while restoring")
            copy.write(chunk)
    return cursor.rowcount


def load(cursor: psycopg.Cursor, relation: sql.Composable, columns: list[Column], decoder: Decoder,
         chunks: Iterable[bytes], cancel: threading.Event) -> int:
    """Put the decoded rows into `relation`'s `columns`, inside the caller's transaction; the rows loaded."""
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    if not decoder.staged:
        statement = sql.SQL("COPY {} ({}) FROM STDIN {}").format(relation, names, decoder.copy_options)
        return copy_in(cursor, statement, chunks, cancel)
    # JSON lines: the server's own inverse of row_to_json turns each into a row of the relation's types
    cursor.execute(sql.SQL("CREATE TEMP TABLE {} (doc text) ON COMMIT DROP").format(STAGING))
    staged = copy_in(cursor, sql.SQL("COPY {} (doc) FROM STDIN {}").format(STAGING, decoder.copy_options),
                     chunks, cancel)
    fields = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c.name)) for c in columns)
    cursor.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} s, json_populate_record(NULL::{}, s.doc::json) r")
                   .format(relation, names, fields, STAGING, relation))
    if cursor.rowcount != staged:
        raise IntegrityError(f"{staged} JSON lines became {cursor.rowcount} rows")
    cursor.execute(sql.SQL("DROP TABLE {}").format(STAGING))  # the next object of the same transaction stages anew
    return staged
