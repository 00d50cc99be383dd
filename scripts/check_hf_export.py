#!/usr/bin/env python3
"""Checks `ablate export` folders against HF transformers, by hand (CI has no Python; tests/export.rs and
crates/model/tests/hf_export.rs check the export within the lab).

For each exported folder: loads it with `AutoTokenizer` and `AutoModelForMaskedLM` (no missing or unexpected
tensors allowed), tokenises a sentence, and compares HF's last hidden state with `ablate encode` on the same ids.
When the run folder is given too (`EXPORT=RUN`), also compares HF's tokens with the lab's (`ablate attention`)
and HF's MLM logits with the lab's (`ablate export --logits-ids`); for a run with the Enhanced Mask Decoder,
which the export drops, the logits difference is printed but not checked. Prints the max abs differences and
exits non-zero if any exceeds --tol.

    python3 -m pip install torch transformers numpy
    python3 scripts/check_hf_export.py --ablate target/release/ablate hf/deberta=runs/deberta-1 hf/bert
"""

import argparse
import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoModelForMaskedLM, AutoTokenizer

SENTENCE = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife."


def run(cmd):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{res.stdout}{res.stderr}")
    return res


def check(ablate, export, run_dir, sentence, tol, work):
    name = export.name
    tok = AutoTokenizer.from_pretrained(export)
    enc = tok(sentence, return_tensors="pt")
    ids = enc["input_ids"]
    model, info = AutoModelForMaskedLM.from_pretrained(export, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    failures = []
    if bad:
        failures.append(f"loading: {bad}")
    model.eval()
    with torch.no_grad():
        out = model(**enc, output_hidden_states=True)
    hidden = out.hidden_states[-1][0].numpy()
    logits = out.logits[0].numpy()

    ids_file = work / f"{name}-ids.json"
    ids_file.write_text(json.dumps(ids.tolist()))
    h_file = work / f"{name}-hidden.npy"
    run([ablate, "encode", "--checkpoint", export, "--ids", ids_file, "--out", h_file])
    lab_hidden = np.load(h_file)[0]
    d_hidden = float(np.abs(lab_hidden - hidden).max())
    line = f"{name}: {type(model).__name__}, {ids.shape[1]} tokens, hidden max abs diff {d_hidden:.3e}"
    if d_hidden > tol:
        failures.append(f"hidden states differ by {d_hidden:.3e} > {tol}")

    if run_dir is not None:
        att = work / f"{name}-attention.json"
        run([ablate, "attention", "--from", run_dir, "--text", sentence, "--json", att])
        lab_tokens = json.loads(att.read_text())["tokens"]
        hf_tokens = tok.convert_ids_to_tokens(ids[0].tolist())
        if lab_tokens != hf_tokens:
            failures.append(f"tokens differ:\n  lab {lab_tokens}\n  HF  {hf_tokens}")
        l_file = work / f"{name}-logits.npy"
        run([ablate, "export", "--from", run_dir, "--logits-ids", ids_file, "--logits-out", l_file])
        lab_logits = np.load(l_file)[0]
        d_logits = float(np.abs(lab_logits - logits).max())
        spec = tomllib.loads((run_dir / "spec.resolved.toml").read_text())
        emd = spec.get("model", {}).get("decoder") == "emd"
        line += f", MLM logits max abs diff {d_logits:.3e}"
        if emd:
            line += " (EMD run: the export drops the EMD, not checked)"
        elif d_logits > tol:
            failures.append(f"MLM logits differ by {d_logits:.3e} > {tol}")
    print(line)
    for f in failures:
        print(f"  FAIL {name}: {f}")
    return not failures


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exports", nargs="+", help="EXPORT or EXPORT=RUN (the run folder it was exported from)")
    p.add_argument("--ablate", default="target/release/ablate", help="the ablate binary")
    p.add_argument("--sentence", default=SENTENCE)
    p.add_argument("--tol", type=float, default=1e-4)
    args = p.parse_args()
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    ok = True
    with tempfile.TemporaryDirectory() as work:
        for spec in args.exports:
            export, _, run_dir = spec.partition("=")
            ok &= check(
                args.ablate, Path(export), Path(run_dir) if run_dir else None, args.sentence, args.tol, Path(work)
            )
    print("all exports match" if ok else "some exports differ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
