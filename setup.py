"""mtlrec: multi-task e-commerce recommender on Spark + Delta, Ray Train and PyTorch."""

from setuptools import find_packages, setup

# Pinned together: delta-spark 4.2.0 resolves io.delta:delta-spark_4.1_2.13:4.2.0 from
# Maven Central for pyspark 4.1.x (newer delta-spark releases named artifacts that
# did not resolve there when this was pinned).
INSTALL_REQUIRES = [
    "pyspark==4.1.1",
    "delta-spark==4.2.0",
    "ray[default,train,data]==2.60.0",  # default: the job server for `ray job submit`
    "torch==2.15.0",
    "pyarrow==26.0.1",
    "pandas>=2.2,<3",
    "numpy==2.4.6",
    "deltalake==1.6.6",
    "pyyaml==6.0.3",
    "tqdm==4.70.1",  # Ray Data progress bars
    "matplotlib==3.11.2",  # evaluation report plots
]
EXPORT_REQUIRES = ["onnx==1.23.2", "onnxruntime==1.32.0", "onnxscript==0.7.2"]

setup(
    name="mtlrec",
    version="0.1.0",
    description=__doc__,
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["mtlrec", "mtlrec.*"]),
    package_data={"mtlrec": ["mappings/*.yaml"]},  # the shipped log mappings
    install_requires=INSTALL_REQUIRES,
    extras_require={
        # MLflow tracking of training runs (config `mlflow.tracking_uri`), off by default
        "mlflow": ["mlflow-skinny==3.17.2"],
        # `mtlrec export`: torch's ONNX exporter (dynamo) needs onnx and onnxscript;
        # onnxruntime runs the exported file in the tests and the benchmark
        "export": EXPORT_REQUIRES,
        # bench/quality.py's peer, torch-rechub's MMoE (it needs numpy, pandas, torch, tqdm
        # and scikit-learn, all of the versions above: the pins stay); duckdb for the benches
        "bench": ["torch-rechub==0.9.0", "duckdb==2.0.1", "scikit-learn==1.9.1"],
        # scikit-learn: reference implementations the metric tests compare against
        "dev": [
            "pytest==9.2.0",
            "ruff==0.17.5",
            "mypy==2.4.1",
            "mlflow-skinny==3.17.2",
            "scikit-learn==1.9.1",
            *EXPORT_REQUIRES,
        ],
    },
    entry_points={"console_scripts": ["mtlrec = mtlrec.cli:main"]},
)
