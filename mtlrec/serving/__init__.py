"""The serving path below `score` and `evaluate`: candidates, pair inputs, inference, ranking."""
