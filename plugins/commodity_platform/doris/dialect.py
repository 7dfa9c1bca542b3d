"""Parse Doris DDL with sqlglot, check the Doris rules that bite, and adapt it for a MySQL-protocol stand-in.

The migration files are written once, in real Doris SQL. Against Doris they run verbatim. Against the
sandbox (MariaDB speaks the same protocol but not the same DDL) each statement is parsed with sqlglot's
``doris`` dialect and the Doris-only clauses are handled *explicitly*: every dropped or translated clause
is reported as a note so the runner can log it. There is never a second copy of the schema.

sqlglot (30.x) cannot parse the empty partition list of a dynamic-partitioned table,
``PARTITION BY RANGE(col) ()``, which is the form Doris documents for dynamic partitions. The small
dialect subclass below accepts it; everything else is sqlglot's own parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

import sqlglot
from sqlglot import exp
from sqlglot.dialects.doris import Doris
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from commodity_platform.doris.dynamic_partitions import lint_dynamic_partitions
from commodity_platform.errors import ConfigError
from commodity_platform.ohlc.definition import (
    MINUTE_COLUMN,
    MINUTE_COLUMN_DDL,
    MINUTE_INDEX,
    MINUTE_INDEX_COLUMNS,
    MINUTE_INDEX_DDL,
    TICKS_TABLE,
)


class _DorisDDL(Doris):
    """Doris dialect that also accepts ``PARTITION BY RANGE(col) ()`` (dynamic partitions)."""

    class Parser(Doris.Parser):
        def _parse_partition_property(self):  # type: ignore[override]
            # Called with "PARTITION BY" already consumed.
            index = self._index
            if self._match_text_seq("RANGE"):
                columns = self._parse_wrapped_csv(self._parse_id_var)
                if self._match_pair(TokenType.L_PAREN, TokenType.R_PAREN):
                    # Built directly: sqlglot's validation insists on a non-empty partition list.
                    return exp.PartitionByRangeProperty(partition_expressions=columns, create_expressions=[])
                self._retreat(index)
            return super()._parse_partition_property()


class StatementKind(str, Enum):
    """What a statement is, as far as the migration runner cares."""

    CREATE_DATABASE = "create_database"
    CREATE_TABLE = "create_table"
    ALTER_TABLE = "alter_table"
    CREATE_SYNC_MV = "create_sync_materialized_view"
    CREATE_ROUTINE_LOAD = "create_routine_load"
    OTHER = "other"


# Doris statements sqlglot does not model; they are accepted only in these exact shapes.
_ROUTINE_LOAD_RE = re.compile(
    r"^\s*CREATE\s+ROUTINE\s+LOAD\s+(?P<job>[\w.`]+)\s+ON\s+(?P<table>[\w`]+)\s+(?P<body>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_SYNC_MV_RE = re.compile(
    r"^\s*CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>[\w`]+)\s+AS\s+(?P<query>SELECT\b.*)$",
    re.IGNORECASE | re.DOTALL,
)
_SYNC_MV_FROM_RE = re.compile(r"\bFROM\s+(?P<table>[\w`.]+)", re.IGNORECASE)

DORIS_KEY_PROPERTIES = (exp.DuplicateKeyProperty, exp.UniqueKeyProperty)
_DATE_TYPES = {exp.DataType.Type.DATE, exp.DataType.Type.DATETIME, exp.DataType.Type.DATETIME64}
DYNAMIC_PARTITION_REQUIRED = ("dynamic_partition.time_unit", "dynamic_partition.end", "dynamic_partition.prefix")


@dataclass(frozen=True)
class ParsedStatement:
    """One statement of a migration file, parsed once and classified."""

    sql: str
    kind: StatementKind
    tree: exp.Expression | None
    table: str | None = None
    object_name: str | None = None


@dataclass
class AdaptedStatement:
    """A statement as it will run on a MySQL-protocol server that is not Doris.

    ``sql`` is None when the statement has no meaning there (routine loads, materialized views,
    Doris table properties); ``notes`` says, clause by clause, what was dropped or translated.
    """

    sql: str | None
    notes: list[str] = field(default_factory=list)


def _unquote(name: str) -> str:
    return name.replace("`", "")


def parse_statement(sql: str, *, where: str) -> ParsedStatement:
    """Parse one Doris statement; ``where`` (file and statement number) prefixes any error."""
    routine = _ROUTINE_LOAD_RE.fullmatch(sql)
    if routine:
        job = _unquote(routine.group("job")).split(".")[-1]
        return ParsedStatement(
            sql, StatementKind.CREATE_ROUTINE_LOAD, None, table=_unquote(routine.group("table")), object_name=job
        )
    mv = _SYNC_MV_RE.fullmatch(sql)
    if mv:
        try:
            query = sqlglot.parse_one(mv.group("query"), read=_DorisDDL)
        except ParseError as err:
            raise ConfigError(f"{where}: materialized view query does not parse as Doris SQL: {err}") from err
        source = _SYNC_MV_FROM_RE.search(mv.group("query"))
        table = _unquote(source.group("table")).split(".")[-1] if source else None
        return ParsedStatement(sql, StatementKind.CREATE_SYNC_MV, query, table=table, object_name=mv.group("name"))

    try:
        trees = sqlglot.parse(sql, read=_DorisDDL)
    except ParseError as err:
        raise ConfigError(f"{where}: not valid Doris SQL: {err}") from err
    trees = [tree for tree in trees if tree is not None]
    if len(trees) != 1:
        raise ConfigError(f"{where}: expected exactly one statement, found {len(trees)}")
    tree = trees[0]
    if isinstance(tree, exp.Command):
        raise ConfigError(f"{where}: not valid Doris SQL (sqlglot cannot parse {sql.split()[0:3]}...)")
    if isinstance(tree, exp.Create):
        kind = (tree.args.get("kind") or "").upper()
        if kind == "DATABASE":
            return ParsedStatement(sql, StatementKind.CREATE_DATABASE, tree, object_name=tree.this.name)
        if kind == "TABLE":
            table = tree.this.this.name if isinstance(tree.this, exp.Schema) else tree.this.name
            return ParsedStatement(sql, StatementKind.CREATE_TABLE, tree, table=table, object_name=table)
    if isinstance(tree, exp.Alter) and (tree.args.get("kind") or "").upper() == "TABLE":
        return ParsedStatement(sql, StatementKind.ALTER_TABLE, tree, table=tree.this.name)
    return ParsedStatement(sql, StatementKind.OTHER, tree)


def table_properties(tree: exp.Expression) -> dict[str, str]:
    """The ``PROPERTIES ("k" = "v", ...)`` of a CREATE TABLE, as plain strings."""
    props = tree.args.get("properties")
    result: dict[str, str] = {}
    for prop in props.expressions if props else []:
        if type(prop) is exp.Property:
            result[prop.name] = prop.args["value"].name
    return result


def _property(tree: exp.Expression, kind: type[exp.Expression]) -> exp.Expression | None:
    props = tree.args.get("properties")
    return next((p for p in (props.expressions if props else []) if isinstance(p, kind)), None)


def _column_defs(tree: exp.Expression) -> list[exp.ColumnDef]:
    return [c for c in tree.this.expressions if isinstance(c, exp.ColumnDef)]


def lint_create_table(stmt: ParsedStatement, *, where: str) -> list[str]:
    """Check the Doris rules a CREATE TABLE must follow; returns problems (empty when fine).

    These are the rules that fail late on a real cluster (or never fail, and silently lose data):
    key columns leading and in order, merge-on-write for UNIQUE tables, the partition column inside a
    UNIQUE key, the required dynamic-partition properties, an explicit replication and bucketing.
    """
    tree = stmt.tree
    assert tree is not None and stmt.kind is StatementKind.CREATE_TABLE
    problems: list[str] = []
    if not tree.args.get("exists"):
        problems.append("CREATE TABLE must say IF NOT EXISTS so a retried migration is safe")
    columns = _column_defs(tree)
    column_names = [c.name for c in columns]
    key = next((_property(tree, k) for k in DORIS_KEY_PROPERTIES if _property(tree, k) is not None), None)
    if key is None:
        problems.append("no DUPLICATE KEY or UNIQUE KEY clause (the data model must be explicit)")
        key_columns: list[str] = []
    else:
        key_columns = [e.name for e in key.expressions]
        if column_names[: len(key_columns)] != key_columns:
            problems.append(
                f"key columns {key_columns} must be the leading columns in order; columns start with "
                f"{column_names[: len(key_columns)]}"
            )
    props = table_properties(tree)
    if isinstance(key, exp.UniqueKeyProperty) and props.get("enable_unique_key_merge_on_write") != "true":
        problems.append('UNIQUE KEY table needs "enable_unique_key_merge_on_write" = "true"')
    distributed = _property(tree, exp.DistributedByProperty)
    if distributed is None or distributed.args.get("kind") != "HASH":
        problems.append("needs DISTRIBUTED BY HASH(...) BUCKETS n")
    if "replication_num" not in props and "replication_allocation" not in props:
        problems.append('needs "replication_num" (or "replication_allocation") in PROPERTIES')
    partition = _property(tree, exp.PartitionByRangeProperty)
    if props.get("dynamic_partition.enable") == "true":
        missing = [p for p in (*DYNAMIC_PARTITION_REQUIRED, "dynamic_partition.start") if p not in props]
        if missing:
            problems.append(f"dynamic partitions need {missing} (start sets the retention)")
        if partition is None:
            problems.append("dynamic partitions need PARTITION BY RANGE(<date column>) ()")
    # Doris refuses the whole CREATE TABLE when it would create too many partitions at once.
    problems.extend(lint_dynamic_partitions(props, table=stmt.table or "?"))
    if partition is not None:
        part_columns = [e.name for e in partition.args["partition_expressions"]]
        by_name = {c.name: c for c in columns}
        for col in part_columns:
            kind = by_name[col].args["kind"].this if col in by_name else None
            if kind not in _DATE_TYPES:
                problems.append(f"partition column {col!r} must be a DATE/DATETIME column of the table")
            if isinstance(key, exp.UniqueKeyProperty) and col not in key_columns:
                problems.append(f"partition column {col!r} must be a key column of a UNIQUE KEY table")
    return [f"{where}: {p}" for p in problems]


#: The sandbox tables' collation: byte-wise and NO PAD, i.e. Doris' string semantics.
BYTEWISE_COLLATION = "utf8mb4_nopad_bin"


#: Invisible row number of a sandbox DUPLICATE KEY table with a partition column (see _partition_access_path).
SANDBOX_ROW_ID = "doris_row_id"


def _partition_access_path(schema: exp.Schema, columns: list[exp.Expression], *, unique_key: bool) -> str:
    """Give the sandbox table what Doris' ``PARTITION BY RANGE(col)`` gives a query: a range of ``col`` is
    read without reading the rest of the table. Returns the note.

    Doris reads only the partitions a range of the partition column touches, so a time-sliced rebuild or
    check scans each tick once. MariaDB without partitions would scan the whole table for every slice, and
    a time-range ``DELETE`` would lock-scan every stored row. Real MariaDB partitions would need Doris'
    partition maintenance (dynamic partitions) re-implemented; clustering on the column gives the same
    access path:

    * a DUPLICATE KEY table (no unique key) gets an invisible auto-increment ``doris_row_id`` and the
      clustered ``PRIMARY KEY (col, doris_row_id)``: a range of ``col`` is one contiguous read. The column
      is INVISIBLE, so ``SELECT *``, ``INSERT`` and ``LOAD DATA`` without a column list never see it
      (InnoDB also needs the auto-increment column to lead an index: ``UNIQUE KEY doris_row``);
    * a UNIQUE KEY table keeps its primary key (the upsert key) and gets ``INDEX doris_partition_key (col)``.
    """
    names = ", ".join(c.name for c in columns)
    # A primary key column is NOT NULL: a NULL-able partition column gets the index, so no row is refused.
    if unique_key or not all(_not_null(schema, c.name) for c in columns):
        schema.append("expressions", exp.IndexColumnConstraint(this=exp.to_identifier("doris_partition_key"),
                                                                expressions=[c.copy() for c in columns]))
        return f"PARTITION BY RANGE({names}) became INDEX doris_partition_key (a range reads only its rows)"
    template = sqlglot.parse_one(
        f"CREATE TABLE t ({SANDBOX_ROW_ID} BIGINT UNSIGNED NOT NULL AUTO_INCREMENT INVISIBLE, "
        f"UNIQUE KEY doris_row ({SANDBOX_ROW_ID}))", read="mysql")
    row_id_column, row_id_key = template.this.expressions
    schema.append("expressions", row_id_column)
    schema.append("expressions", exp.PrimaryKey(expressions=[c.copy() for c in columns]
                                                + [exp.to_identifier(SANDBOX_ROW_ID)]))
    schema.append("expressions", row_id_key)
    return (f"PARTITION BY RANGE({names}) became the clustered PRIMARY KEY ({names}, {SANDBOX_ROW_ID}) with an "
            f"invisible auto-increment {SANDBOX_ROW_ID} (a range reads only its rows)")


def _minute_index(schema: exp.Schema) -> str:
    """Give the tick table the minute column and covering index bars.sql reads on a server that is not Doris
    (see "Minute index" in include/sql/ohlc/bars.sql): MariaDB then aggregates a window's bars as one range
    read in group order instead of through a temporary table. Returns the note.
    """
    template = sqlglot.parse_one(f"CREATE TABLE t ({MINUTE_COLUMN_DDL}, {MINUTE_INDEX_DDL})", read="mysql")
    for definition in template.this.expressions:
        schema.append("expressions", definition)
    return (f"the OHLC bars' minute became the invisible stored column {MINUTE_COLUMN} with INDEX {MINUTE_INDEX} "
            f"({', '.join(MINUTE_INDEX_COLUMNS)}): bars aggregate in index order")


def _not_null(schema: exp.Schema, column: str) -> bool:
    for col in schema.expressions:
        if isinstance(col, exp.ColumnDef) and col.name == column:
            return any(isinstance(c.kind, exp.NotNullColumnConstraint) and not c.kind.args.get("allow_null")
                       for c in col.args.get("constraints") or [])
    return False


def adapt_for_mysql(stmt: ParsedStatement) -> AdaptedStatement:
    """Translate a Doris statement for a MySQL-protocol server that is not Doris (the sandbox)."""
    if stmt.kind is StatementKind.CREATE_ROUTINE_LOAD:
        return AdaptedStatement(None, [f"routine load {stmt.object_name} skipped: needs Doris and Kafka"])
    if stmt.kind is StatementKind.CREATE_SYNC_MV:
        return AdaptedStatement(None, [f"materialized view {stmt.object_name} skipped: Doris-only"])
    if stmt.kind is StatementKind.ALTER_TABLE and any(
        isinstance(action, exp.AlterSet) for action in stmt.tree.args.get("actions") or []
    ):
        return AdaptedStatement(None, [f"ALTER TABLE {stmt.table} SET (properties) skipped: Doris-only"])
    if stmt.kind is not StatementKind.CREATE_TABLE:
        return AdaptedStatement(stmt.tree.sql(dialect="mysql"))

    tree = stmt.tree.copy()
    notes: list[str] = []
    kept: list[exp.Expression] = []
    schema = tree.this
    dropped_props: list[str] = []
    unique_key = False
    partition_columns: list[exp.Expression] = []
    for prop in tree.args["properties"].expressions:
        if isinstance(prop, exp.EngineProperty):
            notes.append(f"ENGINE={prop.name} dropped")
        elif isinstance(prop, exp.DuplicateKeyProperty):
            cols = [e.name for e in prop.expressions]
            # Doris sorts by the duplicate key; an index gives MariaDB the same range-scan access path.
            schema.append("expressions", exp.IndexColumnConstraint(this=exp.to_identifier("doris_sort_key"),
                                                                    expressions=list(prop.expressions)))
            notes.append(f"DUPLICATE KEY({', '.join(cols)}) became INDEX doris_sort_key")
        elif isinstance(prop, exp.UniqueKeyProperty):
            cols = [e.name for e in prop.expressions]
            schema.append("expressions", exp.PrimaryKey(expressions=list(prop.expressions)))
            notes.append(f"UNIQUE KEY({', '.join(cols)}) became PRIMARY KEY (upsert by REPLACE/ON DUPLICATE KEY)")
            unique_key = True
        elif isinstance(prop, exp.PartitionByRangeProperty):
            partition_columns = list(prop.args["partition_expressions"])
        elif isinstance(prop, exp.DistributedByProperty):
            notes.append("DISTRIBUTED BY dropped")
        elif type(prop) is exp.Property:
            dropped_props.append(prop.name)
        else:
            kept.append(prop)
    if partition_columns:
        notes.append(_partition_access_path(schema, partition_columns, unique_key=unique_key))
    if stmt.table == TICKS_TABLE:
        notes.append(_minute_index(schema))
    if dropped_props:
        notes.append(f"PROPERTIES dropped: {', '.join(dropped_props)}")
    # Doris compares, groups and keys strings byte by byte; MariaDB's default collation would fold case
    # and ignore trailing spaces ('wti' = 'WTI ' = 'WTI'), merging what Doris keeps apart.
    kept += [exp.CharacterSetProperty(this=exp.var("utf8mb4"), default=True),
             exp.CollateProperty(this=exp.var(BYTEWISE_COLLATION), default=True)]
    notes.append(f"strings compare byte-wise as in Doris (COLLATE {BYTEWISE_COLLATION})")
    tree.set("properties", exp.Properties(expressions=kept))
    return AdaptedStatement(tree.sql(dialect="mysql"), notes)
