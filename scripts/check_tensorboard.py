#!/usr/bin/env python3
"""Usage: python3 scripts/check_tensorboard.py EXPERIMENT_DIR  (needs `pip install tensorboard`)

Reads every event file of an experiment folder with TensorBoard's EventAccumulator and compares each scalar
with the run's metrics.csv."""
import csv, glob, os, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

root = sys.argv[1]
dirs = sorted({os.path.dirname(p) for p in glob.glob(f"{root}/runs/**/events.out.tfevents.*", recursive=True)})
points = mismatches = 0
for d in dirs:
    acc = EventAccumulator(d, purge_orphaned_data=True)
    acc.Reload()
    tags = acc.Tags()["scalars"]
    with open(f"{d}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            if k in ("kind", "step", "elapsed_s") or v == "":
                continue
            if r["kind"] == "train":
                tag = f"train/{k}"
            elif k.startswith("eval_") or k.startswith("valid_"):
                tag = "valid/" + k.split("_", 1)[1]
            elif k.startswith("test_"):
                tag = "test/" + k[5:]
            else:
                tag = f"eval/{k}"
            got = {e.step: e.value for e in acc.Scalars(tag)}
            want = float(v)
            step = int(r["step"])
            points += 1
            if step not in got or abs(got[step] - want) > 1e-6 * max(1, abs(want)):
                mismatches += 1
                print("MISMATCH", d, tag, step, got.get(step), want)
    print(f"{os.path.relpath(d, root)}: {len(tags)} tags")
print(f"{len(dirs)} run folders, {points} points compared, {mismatches} mismatches")
sys.exit(1 if mismatches else 0)
