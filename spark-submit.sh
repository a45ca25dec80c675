#!/usr/bin/env bash
# Submit one mtlrec stage (or `run`, the whole pipeline) with spark-submit.
#
#   ./spark-submit.sh STAGE [--conf FILE] [--set section.key=value ...]
#
# STAGE: generate | ingest | features | train | evaluate | score | run | backfill
#   (`run --date YYYY-MM-DD` and `backfill --from D1 --to D2`: scheduled runs)
# The mtlrec package goes to the executors as a zip in --py-files; the Delta package
# matching the installed delta-spark and pyspark is resolved from Maven Central.
#
# Environment:
#   SPARK_MASTER       master URL (default local[2]): yarn, k8s://..., spark://...
#   SPARK_SUBMIT_ARGS  extra spark-submit arguments, e.g. "--deploy-mode cluster
#                      --num-executors 20 --archives venv.tar.gz#venv"
#   PYTHON             the Python with mtlrec's dependencies (default .venv/bin/python)
#   PYSPARK_PYTHON     the executors' Python (default: $PYTHON)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stages="generate ingest features train evaluate score run backfill"
if [[ $# -lt 1 || " $stages " != *" $1 "* ]]; then
  echo "usage: $0 STAGE [--conf FILE] [--set section.key=value ...]" >&2
  echo "  STAGE is one of: $stages" >&2
  exit 2
fi
stage=$1
shift

python=${PYTHON:-$here/.venv/bin/python}
if [[ ! -x $python ]]; then
  echo "$0: no Python at $python: run 'make setup' or set PYTHON" >&2
  exit 2
fi
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$python}

read -r spark_home delta_package < <("$python" - <<'PY'
import importlib.metadata as md, os, pyspark
spark_minor = ".".join(pyspark.__version__.split(".")[:2])
print(os.path.dirname(pyspark.__file__), f"io.delta:delta-spark_{spark_minor}_2.13:{md.version('delta_spark')}")
PY
)

# the library for the executors: the mtlrec package (code and shipped mappings), without caches
build=$here/build/spark-submit
mkdir -p "$build"
"$python" - "$here" "$build/mtlrec.zip" <<'PY'
import pathlib, sys, zipfile
root, out = pathlib.Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for path in sorted([*(root / "mtlrec").rglob("*.py"), *(root / "mtlrec").rglob("*.yaml")]):
        z.write(path, path.relative_to(root))
PY

# shellcheck disable=SC2086  # SPARK_SUBMIT_ARGS is a list of arguments on purpose
exec "$spark_home/bin/spark-submit" \
  --master "${SPARK_MASTER:-local[2]}" \
  --name "mtlrec-$stage" \
  --packages "$delta_package" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf "spark.executorEnv.PYSPARK_PYTHON=$PYSPARK_PYTHON" \
  --py-files "$build/mtlrec.zip" \
  ${SPARK_SUBMIT_ARGS:-} \
  "$here/jobs/$stage.py" "$@"
