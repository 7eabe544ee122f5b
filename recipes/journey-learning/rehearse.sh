#!/usr/bin/env bash
# The journey-learning recipe end to end on a CPU, as a rehearsal: the same stage YAMLs, with flags on top that only
# swap the models (the oracle writes the long thoughts, the embedded 135M model is trained) and shrink the sizes.
#
#     export LONGTHOUGHT_DATA_DIR=/path/to/data
#     recipes/journey-learning/rehearse.sh                      # writes runs/recipe-rehearsal/
#     PROBLEMS=4 STEPS=1 EVAL=1 recipes/journey-learning/rehearse.sh runs/rehearsal-smoke
#
# Run from the repository root. Every stage resumes or skips what is done (run commands resume by themselves; a
# trained model with OUT/<stage>/final is kept), so rerunning after a failure is cheap. Its numbers say nothing
# about a model's quality: oracle data, a 135M model, a few steps. See README.md, "The rehearsal".
set -euo pipefail

OUT=${1:-runs/recipe-rehearsal}  # not runs/rehearsal: the README's oracle debate writes there
PROBLEMS=${PROBLEMS:-40}              # synthesis: problems, each through all four attempts
PAIRS=${PAIRS:-$((PROBLEMS / 2))}     # phase 2: matched problems for both targets (the report's 327)
STEPS=${STEPS:-2}                     # optimizer steps of every training stage
MAX_LENGTH=${MAX_LENGTH:-384}         # tokens per training example (longer ones are counted as truncated)
DPO_PROBLEMS=${DPO_PROBLEMS:-8}       # DPO: problems sampled (20 samples each, by the oracle)
EVAL=${EVAL:-3}                       # MATH500 problems per trained model
ANSWER_TOKENS=${ANSWER_TOKENS:-48}    # tokens per answer of the trained models (the embedded model is slow here)
RM_ITEMS=${RM_ITEMS:-5}               # reward-model meta-eval: items per dataset
PY=${PY:-.venv/bin/python}
RECIPE=recipes/journey-learning
BASE=embedded/smollm2-135m
POLICY=oracle/reference-e30           # proposes steps, about 30% of them wrong: journeys hold real trial and error
JUDGE=oracle/reference                # critic, judge, rewriter, expander, sampler-checker: never wrong

: "${LONGTHOUGHT_DATA_DIR:?set LONGTHOUGHT_DATA_DIR to the benchmark data folder}"
mkdir -p "$OUT"
TIMES="$OUT/stage_seconds.tsv"
: >"$TIMES"

stage() {  # stage NAME COMMAND...: run it, print and keep its wall time
  local name=$1 started=$SECONDS
  shift
  echo "== $name" >&2
  "$@"
  echo "== $name: $((SECONDS - started)) s" >&2
  printf '%s\t%s\n' "$name" "$((SECONDS - started))" >>"$TIMES"
}

train() {  # train NAME MODULE ARGS...: skip when OUT/NAME/final was already saved
  local name=$1 module=$2
  shift 2
  if [[ -f "$OUT/$name/final/config.json" && -f "$OUT/$name/training_summary.json" ]]; then
    echo "== $name: already trained ($OUT/$name/final), skipped" >&2
    return
  fi
  stage "$name" "$PY" -m "$module" "$@" --out "$OUT/$name" --max-steps "$STEPS" --per-device-train-batch-size 1 \
    --gradient-accumulation-steps 1 --max-length "$MAX_LENGTH" --save-strategy no --report-to none
}

uptime >&2 || true  # the load beside the stage times; optional (procps)
# 2. Long thoughts: all four attempts on the recipe's problem set (the ablation file: the tree-search stage's tree).
#    Human annotation needs annotations of the selected problems: the oracle writes them, as an annotator would.
SYNTH=(--config "$RECIPE/2-ablation.yaml" --limit "$PROBLEMS" --out "$OUT/synthesis" --policy-model "$POLICY"
       --policy-api-base "" --model "$JUDGE" --scorer-model "$JUDGE" --rewrite-model "$JUDGE"
       --tree_search.policy_max_tokens 1024 --critique_loop.policy_max_tokens 1024 --debate.policy_max_tokens 1024
       --critique_loop.max_turns 40 --debate.max_turns 40 --annotations "$OUT/annotations")
stage synthesis "$PY" -m synthesis.ablate "${SYNTH[@]}" --attempts tree_search,critique_loop,debate
stage annotations "$PY" -m agents.oracle.annotations --problems "$OUT/synthesis/problems.jsonl" --out "$OUT/annotations"
stage human_annotation "$PY" -m synthesis.ablate "${SYNTH[@]}" --attempts human_annotation

# 1. Phase-1 SFT on numbered reference solutions (run here after synthesis: the oracle needs no phase-1 policy).
train sft-phase1 training.sft --config "$RECIPE/1-sft-phase1.yaml" --model "$BASE" --limit 32

# 3-4. Phase 2: journey and shortcut SFT from the phase-1 model on the same PAIRS problems.
DATA=$OUT/synthesis/tree_search,$OUT/synthesis/critique_loop,$OUT/synthesis/debate,$OUT/synthesis/human_annotation
for target in journey shortcut; do
  number=$([[ $target == journey ]] && echo 3 || echo 4)
  train "sft-$target" training.sft --config "$RECIPE/$number-sft-$target.yaml" --model "$OUT/sft-phase1/final" \
    --data "$DATA" --pairs "$PAIRS"
done
"$PY" - "$OUT" "$PAIRS" <<'EOF'
import sys
from pathlib import Path

from training.formats import load_train

out, asked = Path(sys.argv[1]), int(sys.argv[2])
rows = {t: list(load_train(out / f"sft-{t}" / "dataset")) for t in ("journey", "shortcut")}
ids = {t: sorted((row["id"], row.get("attempt", "")) for row in rows[t]) for t in rows}
if ids["journey"] != ids["shortcut"]:
    sys.exit("error: the journey and shortcut datasets hold different problems")
print(f"phase 2: {len(ids['journey'])} matched pairs (asked {asked}), the same problem ids for both targets",
      file=sys.stderr)
EOF

# 5. DPO from the journey model; the oracle samples (fast, and both right and wrong answers, so pairs exist).
train dpo training.dpo --config "$RECIPE/5-dpo.yaml" --model "$OUT/sft-journey/final" --sampler-model "$POLICY" \
  --limit "$DPO_PROBLEMS"

# What decontamination and deduplication found at every stage that makes training data (synthesis manifests, the
# training summaries; the dataset cards hold the same counts with example ids).
"$PY" - "$OUT" <<'EOF'
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
found = [(run.parent.relative_to(out), json.loads(run.read_text()).get("decontamination"), None)
         for run in sorted(out.glob("synthesis/*/manifest.json"))]
found += [(run.parent.relative_to(out), *json.loads(run.read_text()).get("data_checks", {}).values())
          for run in sorted(out.glob("*/training_summary.json"))]
for stage, checks, dedup in found:
    if not checks or checks.get("mode", "off") == "off":
        print(f"data checks {stage}: decontamination off", file=sys.stderr)
        continue
    sets = ", ".join(f"{name} {counts['contaminated']}" for name, counts in checks["eval_sets"].items())
    line = (f"data checks {stage}: {checks['checked']} checked at n={checks['n']}, {checks['contaminated']} overlap "
            f"an eval set ({sets}), {checks['dropped']} dropped ({checks['mode']})")
    for what, counts in (dedup or {}).items():
        if isinstance(counts, dict) and "exact_duplicates" in counts:
            line += f"; {what}: {counts['exact_duplicates']} exact + {counts['near_duplicates']} near duplicates dropped"
    print(line, file=sys.stderr)
EOF

# 6. MATH500 accuracy of the four trained models, greedy, a few problems with a short answer cap.
for model in sft-phase1 sft-shortcut sft-journey dpo; do
  stage "accuracy-$model" "$PY" -m eval.accuracy --config "$RECIPE/6-accuracy-$model.yaml" \
    --model "hf/$OUT/$model/final" --limit "$EVAL" --answer-max-tokens "$ANSWER_TOKENS" \
    --out "$OUT/accuracy-$model"
done

# 7. Reward-model meta-evaluation with the oracle as the judge.
stage reward-models "$PY" -m eval.reward_models --config "$RECIPE/7-reward-models.yaml" --scorer-model "$JUDGE" \
  --limit "$RM_ITEMS" --out "$OUT/reward-models"

# The report over everything: the attempts, the four models, the reward models.
stage report "$PY" -m eval.report "$OUT/synthesis" "$OUT"/accuracy-* "$OUT/reward-models" --out "$OUT/report"
echo "rehearsal done in $OUT (report: $OUT/report/report.md); seconds per stage:" >&2
column -t "$TIMES" >&2 2>/dev/null || cat "$TIMES" >&2
