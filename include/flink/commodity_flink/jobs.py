"""Registry of the three jobs: name -> inputs, output, transformation and production connectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from commodity_flink import connectors, transforms
from commodity_flink.schema import ALERT_COLUMNS, BAR_COLUMNS, ENRICHED_COLUMNS, Column


@dataclass(frozen=True)
class JobDefinition:
    """Everything that distinguishes one job from another.

    :param name: job name, also the FlinkDeployment's script name and the Kafka consumer-group suffix.
    :param sink_table: the logical table the final ``INSERT`` writes to.
    :param output_columns: columns of that table (the local runner's CSV header).
    :param sort_key: columns the local runner sorts its output by (a stream has no order of its own).
    :param needs_metadata: whether the job reads ``commodity_metadata_versioned``.
    :param statements: the transformation: views, then the ``INSERT`` as last statement.
    :param production_sink: the ``CREATE TABLE`` of the production sink.
    """

    name: str
    sink_table: str
    output_columns: tuple[Column, ...]
    sort_key: tuple[str, ...]
    needs_metadata: bool
    statements: Callable[[], list[str]]
    production_sink: Callable[[connectors.ProductionSettings], str]

    @property
    def group_id(self) -> str:
        """Kafka consumer group (only used on the very first start; offsets live in checkpoints)."""
        return f"flink-{self.name.replace('_', '-')}"

    def production_tables(self, settings: connectors.ProductionSettings) -> list[str]:
        """DDL of the production sources (with the ``raw_ticks`` view over the API items) and sink."""
        tables = connectors.kafka_ticks_source(settings, self.group_id)
        if self.needs_metadata:
            tables.append(connectors.kafka_metadata_source(settings, self.group_id))
        tables.append(self.production_sink(settings))
        return tables

    def local_tables(
        self, ticks_path: str, metadata_path: str | None, output_dir: str, *, api_items: bool = False
    ) -> list[str]:
        """DDL of file sources and sink with the same logical names as in production.

        ``api_items``: ``ticks_path`` holds raw ``commodity-prices-raw`` records (JSON lines) that go through
        the production item -> tick mapping, instead of a CSV file of ticks.
        """
        source = connectors.json_api_items_source if api_items else connectors.csv_ticks_source
        tables = source(ticks_path)
        if self.needs_metadata:
            if metadata_path is None:
                raise ValueError(f"job {self.name} needs a commodity metadata CSV file")
            tables.extend(connectors.csv_metadata_source(metadata_path))
        tables.append(connectors.csv_sink(self.sink_table, self.output_columns, output_dir))
        return tables


JOBS: dict[str, JobDefinition] = {
    job.name: job
    for job in (
        JobDefinition(
            name="data_enricher",
            sink_table="data_enricher_sink",
            output_columns=ENRICHED_COLUMNS,
            sort_key=("event_time", "commodity_code", "price", "volume"),
            needs_metadata=True,
            statements=transforms.data_enricher_statements,
            production_sink=lambda s: connectors.kafka_sink(
                "data_enricher_sink",
                ENRICHED_COLUMNS,
                topic=s.enriched_topic,
                settings=s,
                transactional_id="cp-data-enricher",
            ),
        ),
        JobDefinition(
            name="price_aggregator",
            sink_table="price_aggregator_sink",
            output_columns=BAR_COLUMNS,
            sort_key=("commodity_code", "bar_start"),
            needs_metadata=False,
            statements=transforms.price_aggregator_statements,
            production_sink=lambda s: connectors.doris_bars_sink(
                "price_aggregator_sink", BAR_COLUMNS, s, label="cp-price-aggregator"
            ),
        ),
        JobDefinition(
            name="anomaly_detector",
            sink_table="anomaly_detector_sink",
            output_columns=ALERT_COLUMNS,
            sort_key=("commodity_code", "alert_time"),
            needs_metadata=False,
            statements=transforms.anomaly_detector_statements,
            production_sink=lambda s: connectors.kafka_sink(
                "anomaly_detector_sink",
                ALERT_COLUMNS,
                topic=s.alerts_topic,
                settings=s,
                transactional_id="cp-anomaly-detector",
            ),
        ),
    )
}


def get_job(name: str) -> JobDefinition:
    """The job called ``name``; an unknown name fails listing the known ones."""
    try:
        return JOBS[name]
    except KeyError:
        raise ValueError(f"unknown Flink job {name!r}; known jobs: {', '.join(sorted(JOBS))}") from None
