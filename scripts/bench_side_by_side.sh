#!/usr/bin/env bash
# Side-by-side CPU benchmark: `ablate bench` against the PyTorch/HF reference
# (../shared/bench/hf_reference_bench.py), alternating the programs for each (model, threads) pair, config S
# (vocab 8192, hidden 256, 4 layers, 4 heads, FFN 1024), L=128, B=16, float32. One JSON line per measurement in
# $OUT (default results/bench/side_by_side.jsonl). Needs a Python with torch and transformers
# ($PY, default /tmp/refvenv/bin/python). $ABLATE lists the ablate binaries to time (default
# target/release/ablate; several, e.g. a previous build and this one, run one after the other, each tagged
# with its path in the "binary" field). $ROUNDS repeats the whole alternation. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/tmp/refvenv/bin/python}
REF=${REF:-../shared/bench/hf_reference_bench.py}
OUT=${OUT:-results/bench/side_by_side.jsonl}
STEPS=${STEPS:-8}
THREADS=${THREADS:-"1 2"}
ROUNDS=${ROUNDS:-1}
ABLATE=${ABLATE:-target/release/ablate}
MODE=${MODE:-train}
SEQ=${SEQ:-128}
BATCH=${BATCH:-16}
PAIRS=${PAIRS:-"bert:a_bert deberta-no-emd:b_deb_v1 deberta-v3:d_deb_v3"}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
for round in $(seq "$ROUNDS"); do
  for t in $THREADS; do
    for pair in $PAIRS; do
      preset=${pair%%:*}; ref=${pair##*:}
      line="round $round threads $t $preset:"
      for bin in $ABLATE; do
        "$bin" bench --preset "$preset" --seq-len "$SEQ" --batch "$BATCH" --threads "$t" --mode "$MODE" \
          --steps "$STEPS" --warmup 2 --json /tmp/ablate_bench.json > /dev/null
        python3 -c "import json,sys; d=json.load(open('/tmp/ablate_bench.json')); d['program']='ablate'; d['binary']='$bin'; d['round']=$round; print(json.dumps(d))" >> "$OUT"
        line="$line $bin $(python3 -c "import json; print(round(json.load(open('/tmp/ablate_bench.json'))['tokens_per_s_median']))")"
      done
      "$PY" "$REF" one "{\"what\":\"model\",\"mode\":\"$MODE\",\"model\":\"$ref\",\"seq\":$SEQ,\"batch\":$BATCH,\"threads\":$t,\"steps\":$STEPS,\"warmup\":2}" \
        | tail -1 | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d['program']='pytorch'; d['round']=$round; print(json.dumps(d))" >> "$OUT"
      echo "$line pytorch $(tail -1 "$OUT" | python3 -c "import json,sys; print(round(json.loads(sys.stdin.read())['tokens_per_s_median']))") tokens/s"
    done
  done
done
