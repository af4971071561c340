#!/usr/bin/env python3
"""Builds the seed corpora fuzz/corpus/<target>/ from testdata/.

Deterministic (fixed seed): rerunning it rewrites the same files. Each seed
is named by the SHA-1 of its bytes, as libFuzzer names corpus files, and
starts with the target's option byte (see the comment at the top of each
target). Kept small: files up to MAX_FILE bytes, well under 2 MB in all.

  fuzz/make_corpus.py            # from the repository root or anywhere
"""
import hashlib
import json
import os
import random
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")
OUT = os.path.join(ROOT, "fuzz", "corpus")
MAX_FILE = 4000

rng = random.Random(20261125)


def session_files():
    """(name, bytes) of the reference writer's files and small generated sessions."""
    out = []
    for sub in ("rath", os.path.join("gen", "sessions")):
        d = os.path.join(TESTDATA, sub)
        for name in sorted(os.listdir(d)):
            if ".jsonl" not in name:
                continue
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            if len(data) <= MAX_FILE:
                out.append((name, data))
    return out


def variants(data):
    """The file, and what crashes and damage make of it."""
    yield data
    if len(data) > 2:
        yield data[: rng.randrange(1, len(data))]               # torn anywhere
        cut = data.rfind(b"\n", 0, len(data) - 1)
        if cut > 0:
            yield data[: len(data) - 1]                         # last '\n' lost
            yield data[: cut + 1] + b"\0" * rng.randrange(1, 300)  # NUL tail
            yield data[: cut + 1 + rng.randrange(0, len(data) - cut - 1)] + data[cut + 1:]  # fused line


def write(target, blobs):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    total = 0
    for b in blobs:
        with open(os.path.join(d, hashlib.sha1(b).hexdigest()), "wb") as f:
            f.write(b)
        total += len(b)
    print(f"{target}: {len(set(blobs))} seeds, {total} bytes")


def reader_seeds(files):
    for _, data in files:
        for v in variants(data):
            # 0x77: own id, buffer 4096, default line limit; else any options
            yield bytes([0x77 if rng.randrange(3) == 0 else rng.randrange(256)]) + v


def repair_seeds(files):
    for name, data in files:
        closed = 0 if name.endswith("__partial__") else 1
        for i, v in enumerate(variants(data)):
            yield bytes([closed if i == 0 else rng.choice([0, 1]) | rng.choice([0, 2])]) + v


def payloads(files):
    """Every chunk payload and header value of the session files, as JSON text."""
    seen = set()
    for _, data in files:
        for line in data.split(b"\n"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            for key in ("payload", "sandbox_spec", "lineage_extras"):
                if key in rec and rec[key] is not None:
                    text = json.dumps(rec[key], ensure_ascii=False).encode()
                    if text not in seen:
                        seen.add(text)
                        yield text


EDGE_JSON = [
    b"{}", b"[]", b"null", b"0", b"-0.0", b"1e-05", b"1e+16", b"1.0", b"NaN", b"-Infinity",
    b"18446744073709551615", b"-9223372036854775808", b"9223372036854775808", b"1.7976931348623157e308",
    b"5e-324", b'"\\ud83d\\ude00 \\u0000 \\u001f \\" \\\\ \\/ \\b\\f\\n\\r\\t"',
    '{"k": "\u00e9\u4e2d\U0001f600", "": null, "a": [true, false, {"b": []}]}'.encode(),
    b'{"dup": 1, "dup": 2}', b" { \"ws\" : [ 1 , 2 ] } ",
    b"[" * 200 + b"]" * 200, b'{"a":' * 120 + b"1" + b"}" * 120,
    # Python's ints beyond 64 bits, floats beyond a double (inf, 0.0), and
    # numbers RapidJSON's scanner refuses (the masked second parse).
    b'{"big": 1000000000000000000000000000000, "neg": -9223372036854775809, "u": 18446744073709551616}',
    b"[1e400, -1e400, 1e-400, 0e400, " + b"1" + b"0" * 400 + b", -1" + b"0" * 400 + b".5]",
    b'{"1e400": "-1e400 \\" 2", "x": [1e400, 2, "3", 4.5, NaN]}',
    b"[" + b"9" * 4300 + b"]", b"[-" + b"9" * 4301 + b"]",  # the most json.dumps writes; one more
    # the depth limit (kMaxDepth 1000): a payload at 999 levels is written, 1000 is refused
    b"{" + b'"a":[' * 998 + b"]" * 998 + b"}", b"{" + b'"a":[' * 999 + b"]" * 999 + b"}",
    b"[" * 1001 + b"]" * 1001,
]


def main():
    files = session_files()
    write("fuzz_reader", list(reader_seeds(files)))
    write("fuzz_repair", list(repair_seeds(files)))
    write("fuzz_salvage", list(repair_seeds(files)))
    texts = list(payloads(files)) + EDGE_JSON
    write("fuzz_writer_roundtrip", [bytes([rng.randrange(64)]) + t for t in texts])


if __name__ == "__main__":
    main()
