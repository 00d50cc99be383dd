#!/usr/bin/env python3
"""HF transformers training steps on one CUDA GPU, the reference `ablate bench --device cuda` is compared with.

Same work as ../shared/bench/hf_reference_bench.py (float32, random init, AdamW, MLM loss on random ids with 15%
labelled, dropout 0.1), on the GPU, for config S and a base-size config. Prints one JSON line per measurement with
the field names `ablate bench` writes (tokens_per_s_median, step_s_median, peak_gpu_mib, params_total).

    python3 scripts/gpu_bench_pytorch.py '{"model":"b_deb_v1","size":"s","seq":128,"batch":16}'
"""

import json
import statistics
import sys
import time

SIZES = {
    "s": dict(vocab=8192, hidden=256, layers=4, heads=4, inter=1024),
    "base": dict(vocab=8192, hidden=768, layers=12, heads=12, inter=3072),
}
MODELS = {
    "a_bert": dict(kind="bert"),
    "b_deb_v1": dict(kind="deberta", relative_attention=True, pos_att_type=["c2p", "p2c"], max_relative_positions=128,
                     position_buckets=-1, share_att_key=False, norm_rel_ebd="none", position_biased_input=False),
    "d_deb_v3": dict(kind="deberta", relative_attention=True, pos_att_type=["p2c", "c2p"], max_relative_positions=-1,
                     position_buckets=256, share_att_key=True, norm_rel_ebd="layer_norm", position_biased_input=False),
}


def build(name, size):
    s, spec = SIZES[size], dict(MODELS[name])
    kind = spec.pop("kind")
    common = dict(vocab_size=s["vocab"], hidden_size=s["hidden"], num_hidden_layers=s["layers"],
                  num_attention_heads=s["heads"], intermediate_size=s["inter"], max_position_embeddings=512,
                  hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    if kind == "bert":
        from transformers import BertConfig, BertForMaskedLM

        return BertForMaskedLM._from_config(BertConfig(**common, type_vocab_size=2), attn_implementation="sdpa")
    from transformers import DebertaV2Config, DebertaV2ForMaskedLM

    return DebertaV2ForMaskedLM(DebertaV2Config(**common, type_vocab_size=0, **spec))


def run(spec):
    import torch

    dev = torch.device("cuda")
    torch.manual_seed(0)
    size, seq, batch = spec.get("size", "s"), spec["seq"], spec["batch"]
    model = build(spec["model"], size).to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(8):
        ids = torch.randint(0, SIZES[size]["vocab"], (batch, seq), generator=g)
        lab = torch.full_like(ids, -100)
        m = torch.rand(batch, seq, generator=g) < 0.15
        lab[m] = ids[m]
        batches.append((ids.to(dev), lab.to(dev)))
    steps, warm = spec.get("steps", 20), spec.get("warmup", 3)
    torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(warm + steps):
        ids, lab = batches[i % len(batches)]
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        out = model(input_ids=ids, labels=lab)
        out.loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if i >= warm:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return dict(program="pytorch", model=spec["model"], size=size, seq_len=seq, batch=batch,
                tokens_per_s_median=batch * seq / med, step_s_median=med,
                peak_gpu_mib=torch.cuda.max_memory_allocated() / 2**20,
                params_total=sum(p.numel() for p in model.parameters()), final_loss=float(out.loss),
                device=torch.cuda.get_device_name(0), torch=torch.__version__)


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
