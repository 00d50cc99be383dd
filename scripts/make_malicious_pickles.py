"""Writes tests/fixtures/malicious/: HF-shaped checkpoint folders whose pytorch_model.bin pickle calls a global
that would run code if the file were unpickled the usual way (os.system, builtins.eval, builtins.exec), in
torch's zip format and in the legacy format. Each payload, if run, creates a file named `ablate_pickle_canary*`
in the working directory; tests/malicious_checkpoints.rs checks that `ablate encode` refuses every folder and that
no canary appears.

    python scripts/make_malicious_pickles.py      # needs torch (any 2.x)
"""

import builtins
import os
import shutil
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests/fixtures/hf/p2c_buckets_bin"
OUT = ROOT / "tests/fixtures/malicious"


class Call:
    """Unpickling this calls `fn(*args)`."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


PAYLOADS = {
    "os_system": Call(os.system, "touch ablate_pickle_canary_system"),
    "builtins_eval": Call(builtins.eval, "open('ablate_pickle_canary_eval', 'w').close()"),
    "builtins_exec": Call(builtins.exec, "open('ablate_pickle_canary_exec', 'w').close()"),
}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for name, payload in PAYLOADS.items():
        for zipped in (True, False):
            folder = OUT / f"{name}_{'zip' if zipped else 'legacy'}"
            folder.mkdir(parents=True)
            shutil.copy(SOURCE / "config.json", folder / "config.json")
            shutil.copy(SOURCE / "ids.json", folder / "ids.json")
            state = {"deberta.embeddings.word_embeddings.weight": payload}
            torch.save(state, folder / "pytorch_model.bin", _use_new_zipfile_serialization=zipped)
            print("wrote", folder)


if __name__ == "__main__":
    main()
