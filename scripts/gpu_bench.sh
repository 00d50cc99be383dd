#!/usr/bin/env bash
# GPU side by side: `ablate bench --device cuda` against HF transformers on PyTorch (scripts/gpu_bench_pytorch.py)
# on the same GPU, alternating the two programs for each (size, model): config S (L=128, B=16) and a base-size
# config (12 layers, hidden 768, 12 heads, FFN 3072, vocab 8192, L=512, B=8). One JSON line per measurement in
# $OUT/gpu_bench.jsonl and each program's log next to it.
#
# BIN: an `ablate` built with `cargo build --release --features cuda` (a .gz is unpacked first).
# PY: a Python with torch (CUDA) and transformers. Each measurement is capped at $CAP seconds.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/ablate}
PY=${PY:-python3}
OUT=${OUT:-results/bench}
STEPS=${STEPS:-10}
CAP=${CAP:-90}
mkdir -p "$OUT"
if [[ "$BIN" == *.gz ]]; then
  gunzip -c "$BIN" > /tmp/ablate-cuda && chmod +x /tmp/ablate-cuda && BIN=/tmp/ablate-cuda
fi
# The CUDA runtime libraries cudarc loads: the system's, else those shipped with PyTorch's wheels.
NV=$("$PY" -c "import nvidia, os; print(':'.join(os.path.join(p, d, 'lib') for p in nvidia.__path__ for d in os.listdir(p)))" 2>/dev/null || true)
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:${NV}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
"$PY" -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__)" >> "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"
JSONL="$OUT/gpu_bench.jsonl"
: > "$JSONL"
S="--seq-len 128 --batch 16"
BASE="--seq-len 512 --batch 8 --hidden 768 --layers 12 --heads 12 --intermediate 3072 --vocab 8192"
for size in s base; do
  for pair in bert:a_bert deberta-no-emd:b_deb_v1 deberta-v3:d_deb_v3; do
    preset=${pair%%:*}; ref=${pair##*:}
    if [ "$size" = s ]; then args=$S; seq=128; batch=16; else args=$BASE; seq=512; batch=8; fi
    tag="$size-$preset"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    timeout "$CAP" "$BIN" bench --device cuda --preset "$preset" $args --steps "$STEPS" --warmup 3 \
      --json "$OUT/ablate-$tag.json" > "$OUT/ablate-$tag.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    if [ $rc -eq 0 ]; then
      "$PY" -c "import json; d=json.load(open('$OUT/ablate-$tag.json')); d.update(program='ablate', size='$size', wall_s=$end-$start); print(json.dumps(d))" >> "$JSONL"
    else
      echo "{\"program\":\"ablate\",\"size\":\"$size\",\"preset\":\"$preset\",\"exit\":$rc}" >> "$JSONL"
    fi
    timeout "$CAP" "$PY" scripts/gpu_bench_pytorch.py \
      "{\"model\":\"$ref\",\"size\":\"$size\",\"seq\":$seq,\"batch\":$batch,\"steps\":$STEPS}" \
      > "$OUT/pytorch-$tag.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then tail -n 1 "$OUT/pytorch-$tag.log" >> "$JSONL"; else
      echo "{\"program\":\"pytorch\",\"size\":\"$size\",\"model\":\"$ref\",\"exit\":$rc}" >> "$JSONL"; fi
    tail -n 2 "$JSONL"
  done
done
