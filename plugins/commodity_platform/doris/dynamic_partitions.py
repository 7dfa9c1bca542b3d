"""How many partitions Doris creates for a dynamic-partitioned CREATE TABLE, and its limit.

Doris refuses a dynamic-partition table that would create more than ``max_dynamic_partition_num``
partitions at once, with ``Too many dynamic partitions: <n>. Limit: <limit>`` (the whole CREATE TABLE
fails). The count is computed here exactly as Doris does, in
apache/doris fe/fe-core/src/main/java/org/apache/doris/common/util/DynamicPartitionUtil.java
``analyzeDynamicPartition``:

* ``start`` defaults to Integer.MIN_VALUE, ``end`` is required for the check (``hasEnd``);
* ``create_history_partition`` false (the default) -> start counts as 0 (only today .. end is created);
* true -> start = ``getRealStart(start, history_partition_num)`` = ``max(start, -history_partition_num)``,
  or start itself when ``history_partition_num`` is not set (-1, ``NOT_SET_HISTORY_PARTITION_NUM``);
  start still Integer.MIN_VALUE then is its own error ("Provide start or history_partition_num ...");
* count = end - start, refused when above the limit and ``dynamic_partition.enable`` is true (default).

``dynamic_partition.start`` keeps its meaning either way: partitions older than it are dropped, so
``history_partition_num`` bounds what is created up front without shortening the retention.
The limit is ``Config.max_dynamic_partition_num`` (fe.conf), 500 by default in Doris 2.1 (the version
deployed here); a cluster that raised it can pass its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MAX_DYNAMIC_PARTITION_NUM = 500
_INT_MIN = -(2**31)
_NOT_SET_HISTORY_PARTITION_NUM = -1
PREFIX = "dynamic_partition."


@dataclass(frozen=True)
class DynamicPartitionCount:
    """What Doris would create: ``count`` partitions, from offset ``start`` to ``end`` (exclusive)."""

    count: int
    start: int
    end: int
    enabled: bool


def _int(props: Mapping[str, str], key: str, default: int) -> int:
    value = props.get(PREFIX + key)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as err:
        raise ValueError(f'"{PREFIX}{key}" = "{value}" is not an integer') from err


def partition_count(props: Mapping[str, str]) -> DynamicPartitionCount | None:
    """The partitions Doris creates at CREATE TABLE time; None when the table has no ``end`` (no check).

    Raises ValueError for the property values Doris itself refuses before counting.
    """
    if PREFIX + "end" not in props:
        return None
    start = _int(props, "start", _INT_MIN)
    end = _int(props, "end", 0)
    # Java's Boolean.valueOf / parseBoolean: "true" in any case is true, anything else false.
    create_history = props.get(PREFIX + "create_history_partition", "false").lower() == "true"
    enabled = props.get(PREFIX + "enable", "true").lower() == "true"
    if not create_history:
        start = 0
    else:
        history = _int(props, "history_partition_num", _NOT_SET_HISTORY_PARTITION_NUM)
        if history != _NOT_SET_HISTORY_PARTITION_NUM:
            start = max(start, -history)
        if start == _INT_MIN:
            raise ValueError("Provide start or history_partition_num property when create_history_partition=true. "
                             "Otherwise set create_history_partition=false")
    return DynamicPartitionCount(count=end - start, start=start, end=end, enabled=enabled)


def lint_dynamic_partitions(props: Mapping[str, str], *, table: str,
                            limit: int = MAX_DYNAMIC_PARTITION_NUM) -> list[str]:
    """Problems Doris would refuse the table for (empty when fine); each names the table."""
    try:
        counted = partition_count(props)
    except ValueError as err:
        return [f"table {table}: {err}"]
    if counted is None or not counted.enabled or counted.count <= limit:
        return []
    return [
        f"table {table}: dynamic partitions from offset {counted.start} to {counted.end} create {counted.count} "
        f"partitions at once; Doris refuses more than max_dynamic_partition_num ({limit}) with "
        f"'Too many dynamic partitions: {counted.count}. Limit: {limit}'. Bound the history created up front "
        f'with "{PREFIX}history_partition_num" (retention stays "{PREFIX}start")'
    ]
