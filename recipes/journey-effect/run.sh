#!/usr/bin/env bash
# The journey-effect experiment (README.md beside this file): SIZE=ci (default, a few minutes on a CPU, numbers
# mean nothing) or SIZE=full (the measured size; a GPU box runs it in minutes). Every stage resumes: run it again
# after a stop and it goes on from what OUT holds; finished arms are never redone.
#   SIZE=ci recipes/journey-effect/run.sh runs/journey-effect-ci
#   SIZE=full recipes/journey-effect/run.sh runs/journey-effect   # results go to recipes/journey-effect/results/full
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
size="${SIZE:-ci}"
out="${1:-runs/journey-effect-$size}"
python="${PYTHON:-$root/.venv/bin/python}"
case "$size" in
  ci) results="$out/results" ;;
  full) results="${RESULTS:-$here/results/full}" ;;
  *) echo "error: SIZE must be ci or full, got '$size'" >&2; exit 2 ;;
esac
"$python" -m training.journey_effect.run --config "$here/$size.yaml" --out "$out" --results "$results"
"$python" -m eval.report "$results" --out "$out/report"   # the report's "journey effect" section
echo "report: $out/report/report.md"
