from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from mtlrec.evaluation.transforms import with_oracle


def test_with_oracle_scores_purchase_by_p_click_times_p_purchase_given_click(spark: SparkSession) -> None:
    samples = spark.createDataFrame(
        [("e1", 1.0, 0.0, "u1"), ("e2", 0.0, 0.0, "u2"), ("e3", 1.0, 1.0, "u1"), ("e4", 0.0, 0.0, "u3")],
        "event_id string, click float, purchase float, user_id string",
    )
    truth = spark.createDataFrame(
        [("e1", 0.5, 0.2), ("e2", 0.1, None), ("e3", 0.8, 0.5), ("e9", 0.9, 0.9)],
        "event_id string, p_click double, p_purchase_given_click double",
    )

    actual = with_oracle(samples, truth)

    # e4 has no truth and e9 no sample: neither is scored
    expected = spark.createDataFrame(
        [("e1", 1.0, 0.0, 0.5, 0.1), ("e2", 0.0, 0.0, 0.1, None), ("e3", 1.0, 1.0, 0.8, 0.4)],
        "event_id string, click float, purchase float, oracle_click double, oracle_purchase double",
    )
    assertDataFrameEqual(actual, expected)
