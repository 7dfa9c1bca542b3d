"""Reading a DAG run's task states, the one way every test does it.

A run comes either from ``dag.test()`` (a ``DagRun``: its task instances are ORM objects) or from the live
Airflow's REST API (``LiveAirflow.task_instances``: dicts). Both give ``task_id[map_index] -> state`` (a mapped
task's instances each under their index; an unmapped task under its id), with ``tries=True`` the pair
``(state, try_number)`` (the tests that check retries).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def task_states(run_or_instances: Any, *, tries: bool = False) -> dict[str, Any]:
    """``task_id[map_index]`` -> state (``(state, try_number)`` with ``tries``) of a ``DagRun`` or of the REST
    API's task-instance dicts."""
    instances: Iterable[Any] = (
        run_or_instances.get_task_instances() if hasattr(run_or_instances, "get_task_instances")
        else run_or_instances
    )
    states: dict[str, Any] = {}
    for ti in instances:
        if isinstance(ti, Mapping):
            task_id, map_index, state, try_number = ti["task_id"], ti["map_index"], ti["state"], ti["try_number"]
        else:  # an ORM TaskInstance: its state is an enum (or None before it ran)
            task_id, map_index, state, try_number = ti.task_id, ti.map_index, str(ti.state), ti.try_number
        key = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        states[key] = (state, try_number) if tries else state
    return states
