#!/usr/bin/env python3
"""Builds CLIP's vocab.json and merges.txt from the BPE merge list CLIP was trained with.

The merge list ships as open_clip/bpe_simple_vocab_16e6.txt.gz inside the open_clip_torch wheel
(`pip download open_clip_torch --no-deps`). The vocabulary is laid out as OpenAI's CLIP lays it
out, so token ids match every Stable Diffusion 1.x/2.x tokenizer:

    0..255        the 256 byte-level characters (GPT-2's byte-to-unicode table, in its order)
    256..511      the same characters with the end-of-word marker </w>
    512..49405    the first 48894 merges (49152 - 256 - 2), each pair joined into one token
    49406, 49407  <|startoftext|>, <|endoftext|>

merges.txt is the Hugging Face layout: a "#version: 0.2" header, then one merge per line.

Usage: build_vocab.py WHEEL_OR_GZ [OUT_DIR]   (OUT_DIR defaults to this script's folder)
"""
import gzip
import io
import json
import os
import sys
import zipfile

MERGE_COUNT = 49152 - 256 - 2


def byte_level_characters():
    """GPT-2's table: printable bytes map to themselves, the others to 256 + n, in byte order."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table = {}
    extra = 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    # CLIP orders the base vocabulary as the printable bytes first, then the remapped ones.
    ordered = [b for b in printable] + [b for b in range(256) if b not in printable]
    return [table[b] for b in ordered]


def read_merge_list(source):
    if source.endswith(".whl"):
        with zipfile.ZipFile(source) as wheel:
            data = wheel.read("open_clip/bpe_simple_vocab_16e6.txt.gz")
        data = gzip.GzipFile(fileobj=io.BytesIO(data)).read()
    else:
        data = gzip.open(source).read()
    lines = data.decode("utf-8").split("\n")
    # Line 0 is the file's version header; the merges follow.
    merges = [tuple(line.split()) for line in lines[1:MERGE_COUNT + 1]]
    assert all(len(m) == 2 for m in merges), "malformed merge line"
    return merges


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    merges = read_merge_list(sys.argv[1])
    base = byte_level_characters()
    tokens = base + [c + "</w>" for c in base] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    assert len(tokens) == 49408 and len(set(tokens)) == len(tokens)
    vocab = {t: i for i, t in enumerate(tokens)}
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


if __name__ == "__main__":
    main()
