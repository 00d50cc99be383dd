#!/usr/bin/env python3
"""Makes the HF DeBERTa-v2 golden fixtures under tests/fixtures/hf/.

Each fixture is a small random checkpoint (config.json + model.safetensors, one also as pytorch_model.bin),
ids.json (rows of token ids, longer than the relative span so clipping and buckets are exercised) and
expected.json (the last hidden state from HF transformers, float32, shape [rows, length, hidden]).

Run by hand, not in CI:
    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install torch transformers safetensors numpy
    /tmp/refvenv/bin/python scripts/make_hf_golden.py
"""

import json
import os
import sys

import torch
from transformers import DebertaV2Config, DebertaV2Model

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "hf")

BASE = dict(
    vocab_size=97,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    max_position_embeddings=64,
    layer_norm_eps=1e-7,
)

FIXTURES = {
    # DeBERTa-v3-like: log buckets, shared keys, LayerNormed relative table, no absolute positions.
    "v3_like": dict(
        relative_attention=True,
        pos_att_type="p2c|c2p",
        max_relative_positions=-1,
        position_buckets=8,
        share_att_key=True,
        norm_rel_ebd="layer_norm",
        position_biased_input=False,
    ),
    # DeBERTa-v1-like: plain clipping at span 8, separate position projections, absolute input positions.
    "v1_like": dict(
        relative_attention=True,
        pos_att_type=["c2p", "p2c"],
        max_relative_positions=8,
        position_biased_input=True,
        type_vocab_size=2,
        hidden_act="gelu_new",
    ),
    # c2p only, clipping at span 6, no absolute positions.
    "c2p_only": dict(
        relative_attention=True,
        pos_att_type=["c2p"],
        max_relative_positions=6,
        position_biased_input=False,
    ),
    # No relative attention: learned absolute positions only (BERT-like).
    "absolute": dict(relative_attention=False, position_biased_input=True),
    # p2c only with buckets and separate projections, written as pytorch_model.bin.
    "p2c_buckets_bin": dict(
        relative_attention=True,
        pos_att_type="p2c",
        max_relative_positions=32,
        position_buckets=12,
        position_biased_input=False,
        norm_rel_ebd="layer_norm",
    ),
}

ROWS, LENGTH = 3, 40


def main() -> None:
    torch.manual_seed(1234)
    for name, extra in FIXTURES.items():
        cfg = DebertaV2Config(**BASE, **extra)
        model = DebertaV2Model(cfg).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.3)
        ids = torch.randint(1, cfg.vocab_size, (ROWS, LENGTH))
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        if name.endswith("_bin"):
            model.save_pretrained(folder, safe_serialization=False)
            state = {k: v.contiguous() for k, v in model.state_dict().items()}
            torch.save(state, os.path.join(folder, "pytorch_model.bin"))
            st = os.path.join(folder, "model.safetensors")
            if os.path.exists(st):
                os.remove(st)
        else:
            model.save_pretrained(folder)
        with open(os.path.join(folder, "ids.json"), "w") as f:
            json.dump(ids.tolist(), f)
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump({"shape": list(out.shape), "data": [round(x, 7) for x in out.flatten().tolist()]}, f)
        print(name, tuple(out.shape), file=sys.stderr)


if __name__ == "__main__":
    main()
