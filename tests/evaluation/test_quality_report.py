"""The data-quality report on two run dates of inline `dq_metrics` and `quarantine` rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.evaluation.quality_report import dq_daily, quality_sections, quarantined_by_reason, reason_examples
from mtlrec.evaluation.sections import Image, Table, to_markdown

D1, D2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


@pytest.mark.slow
def test_dq_daily_and_by_reason_give_counts_per_run_date_and_drop_reasons_that_took_nothing(
    spark: SparkSession,
) -> None:
    dq = spark.createDataFrame(
        [
            (D1, 10, 7, 1, 2, 0, {"bot": 2, "bad_price": 0}, "r1", {}),
            (D2, 5, 5, 0, 0, 1, {"bot": 0, "bad_price": 0}, "r1", {}),
        ],
        S.DQ_METRICS_SCHEMA,
    )

    assertDataFrameEqual(
        dq_daily(dq),
        spark.createDataFrame(
            [(D1, 10, 7, 1, 2, 0), (D2, 5, 5, 0, 0, 1)],
            "dt date, read long, clean long, duplicates long, quarantined long, late long",
        ),
    )
    assertDataFrameEqual(
        quarantined_by_reason(dq),
        spark.createDataFrame([(D1, "bot", 2)], "dt date, reason string, records long"),
    )


def test_reason_examples_take_the_first_record_by_date_file_and_text_cut_to_max_chars(spark: SparkSession) -> None:
    quarantine = spark.createDataFrame(
        [
            (D2, "b.json", "{bad", "malformed_json"),
            (D1, "b.json", "x" * 12, "malformed_json"),
            (D1, "a.json", "y" * 12, "malformed_json"),  # same date, earlier file: the example
            (D1, "a.json", None, "empty_line"),
            (D2, "a.json", "", "empty_line"),
        ],
        S.QUARANTINE_SCHEMA,
    )

    actual = reason_examples(quarantine, max_chars=10)

    expected = spark.createDataFrame(
        [("malformed_json", 3, D1, "a.json", "y" * 10 + "..."), ("empty_line", 2, D1, "a.json", None)],
        "reason string, records long, example_dt date, example_file string, example string",
    )
    assertDataFrameEqual(actual, expected)


def test_quality_sections_table_every_run_date_plot_outcomes_and_show_one_example_per_reason(tmp_path: Path) -> None:
    daily = [
        {"dt": D1, "read": 10, "clean": 7, "duplicates": 1, "quarantined": 2, "late": 0},
        {"dt": D2, "read": 5, "clean": 4, "duplicates": 0, "quarantined": 1, "late": 1},
    ]
    by_reason = [{"dt": D1, "reason": "bot", "records": 2}, {"dt": D2, "reason": "bad_price", "records": 1}]
    examples = [{"reason": "bot", "records": 2, "example_dt": D1, "example_file": "a.json", "example": '{"a": "|"}'}]

    (section,) = quality_sections(daily, by_reason, examples, str(tmp_path))

    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert tables[0].rows == [["2026-11-01", 10, 7, 1, 2, 0, 0.2], ["2026-11-02", 5, 4, 0, 1, 1, 0.2]]
    # run dates by reason, the reason with the most records first
    assert tables[1] == Table(["run date", "bot", "bad_price"], [["2026-11-01", 2, None], ["2026-11-02", None, 1]])
    assert tables[-1].rows == [["bot", 2, 1.0, "2026-11-01 a.json", '{"a": "|"}']]
    (image,) = [b for b in section.blocks if isinstance(b, Image)]
    assert Path(image.path).read_bytes()[:4] == b"\x89PNG"
    assert '| bot | 2 | 1.0000 | 2026-11-01 a.json | {"a": "\\|"} |' in to_markdown("t", [section])
