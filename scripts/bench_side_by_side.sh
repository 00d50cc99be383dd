#!/usr/bin/env bash
# Side-by-side CPU benchmark: `ablate bench` against the PyTorch/HF reference
# (../shared/bench/hf_reference_bench.py), alternating the two programs for each (model, threads) pair, config S
# (vocab 8192, hidden 256, 4 layers, 4 heads, FFN 1024), L=128, B=16, float32. One JSON line per measurement in
# $OUT (default results/bench/side_by_side.jsonl). Needs target/release/ablate and a Python with torch and
# transformers ($PY, default /tmp/refvenv/bin/python). Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-/tmp/refvenv/bin/python}
REF=${REF:-../shared/bench/hf_reference_bench.py}
OUT=${OUT:-results/bench/side_by_side.jsonl}
STEPS=${STEPS:-8}
THREADS=${THREADS:-"1 2"}
PAIRS=${PAIRS:-"bert:a_bert deberta-no-emd:b_deb_v1 deberta-v3:d_deb_v3"}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
for t in $THREADS; do
  for pair in $PAIRS; do
    preset=${pair%%:*}; ref=${pair##*:}
    target/release/ablate bench --preset "$preset" --seq-len 128 --batch 16 --threads "$t" \
      --steps "$STEPS" --warmup 2 --json /tmp/ablate_bench.json > /dev/null
    python3 -c "import json,sys; d=json.load(open('/tmp/ablate_bench.json')); d['program']='ablate'; print(json.dumps(d))" >> "$OUT"
    "$PY" "$REF" one "{\"what\":\"model\",\"mode\":\"train\",\"model\":\"$ref\",\"seq\":128,\"batch\":16,\"threads\":$t,\"steps\":$STEPS,\"warmup\":2}" \
      | tail -1 | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d['program']='pytorch'; print(json.dumps(d))" >> "$OUT"
    tail -2 "$OUT" | python3 -c "
import json,sys
a,b=[json.loads(l) for l in sys.stdin]
print(f\"threads {$t} {a.get('preset','$preset'):>15}: ablate {a['tokens_per_s_median']:8.0f} tok/s, pytorch {b['tokens_per_s_median']:8.0f} tok/s, ratio {a['tokens_per_s_median']/b['tokens_per_s_median']:.2f}; peak RSS {a['peak_rss_mib']:.0f} vs {b['peak_rss_mib']:.0f} MiB\")"
  done
done
