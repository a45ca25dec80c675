"""mtlrec: a multi-task recommender trained on Spark + Delta Lake, Ray Train and PyTorch."""
