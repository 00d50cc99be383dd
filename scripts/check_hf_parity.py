#!/usr/bin/env python3
"""Checks `ablate encode` against HF transformers on random DeBERTa-v2 configs of the same family.

Run by hand (needs torch + transformers, see make_hf_golden.py):
    cargo build --release
    /tmp/refvenv/bin/python scripts/check_hf_parity.py [--count 12] [--ablate target/release/ablate]
Prints the max abs difference per config and exits non-zero if any exceeds 1e-4.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import DebertaV2Config, DebertaV2Model


def random_config(rng: random.Random) -> dict:
    heads = rng.choice([1, 2, 4, 8])
    head_size = rng.choice([8, 16])
    hidden = heads * head_size
    relative = rng.random() < 0.85
    cfg = dict(
        vocab_size=rng.randint(50, 300),
        hidden_size=hidden,
        num_hidden_layers=rng.randint(1, 4),
        num_attention_heads=heads,
        intermediate_size=rng.choice([2, 4]) * hidden,
        hidden_act=rng.choice(["gelu", "gelu_new", "relu"]),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=rng.choice([64, 128]),
        type_vocab_size=rng.choice([0, 0, 2]),
        layer_norm_eps=rng.choice([1e-7, 1e-5, 1e-12]),
        relative_attention=relative,
        position_biased_input=rng.random() < 0.5 if relative else True,
    )
    if relative:
        terms = rng.choice([["c2p", "p2c"], ["c2p"], ["p2c"], []])
        cfg["pos_att_type"] = "|".join(terms) if rng.random() < 0.5 else terms
        cfg["max_relative_positions"] = rng.choice([-1, 4, 16, 40])
        if rng.random() < 0.5:
            cfg["position_buckets"] = rng.choice([6, 8, 16])
            if cfg["max_relative_positions"] not in (-1, 40):
                cfg["max_relative_positions"] = 40
        cfg["share_att_key"] = rng.random() < 0.5
        cfg["norm_rel_ebd"] = rng.choice(["none", "layer_norm"])
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ablate", default="target/release/ablate")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.count):
            cfg = random_config(rng)
            model = DebertaV2Model(DebertaV2Config(**cfg)).eval()
            with torch.no_grad():
                for p in model.parameters():
                    p.normal_(0.0, 0.3)
            folder = os.path.join(tmp, f"m{n}")
            model.save_pretrained(folder)
            length = rng.randint(10, cfg["max_position_embeddings"])
            ids = torch.randint(0, cfg["vocab_size"], (rng.randint(1, 3), length))
            with torch.no_grad():
                want = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.numpy()
            ids_path, out_path = os.path.join(folder, "ids.json"), os.path.join(folder, "out.npy")
            with open(ids_path, "w") as f:
                json.dump(ids.tolist(), f)
            res = subprocess.run(
                [args.ablate, "encode", "--checkpoint", folder, "--ids", ids_path, "--out", out_path],
                capture_output=True,
                text=True,
            )
            if res.returncode != 0:
                print(f"{n:2d} ablate failed: {res.stderr.strip()} {cfg}")
                worst = float("inf")
                continue
            got = np.load(out_path)
            diff = float(np.abs(got - want).max())
            worst = max(worst, diff)
            keys = {k: cfg[k] for k in cfg if k in ("relative_attention", "pos_att_type", "max_relative_positions",
                                                    "position_buckets", "share_att_key", "norm_rel_ebd",
                                                    "position_biased_input", "hidden_act", "type_vocab_size")}
            print(f"{n:2d} len={length:3d} max_abs_diff={diff:.2e} {keys}")
    print(f"worst max abs diff: {worst:.2e}")
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
