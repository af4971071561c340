#!/usr/bin/env python3
r"""Judges session files as OpenRath's reference loader does (stdlib only).

Written for walkit's tests from the loader's documented behaviour, not from
its code: per record, the header id must go through uuid.UUID (and walkit
requires the spelling str(uuid.UUID) gives back), created_at must parse with
datetime.fromisoformat, parent_session_ids entries that are not UUIDs would be
dropped, a chunk kind must be one of the four ChunkKind values and its payload
a dict, and cumulative_usage must be null or three int()-convertible counts.
Lines are split on "\n" only, as walkit's reader splits them (the reference
loader's str.splitlines() also breaks on U+2028 and friends: not judged here).

Usage: reference_loader.py FILE...   Prints one line per file; exit 0 when
every file loads, 1 when one does not, 2 on a usage error.
"""
import datetime
import json
import sys
import uuid

KINDS = ("system", "user", "assistant", "tool_result")


def canonical_uuid(value, what):
    parsed = uuid.UUID(str(value))  # ValueError: badly formed hexadecimal UUID string
    if str(parsed) != value:
        raise ValueError(f"{what} {value!r} is not spelled as str(uuid.UUID): {parsed}")


def judge(path):
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f.read().split("\n") if line.strip()]
    records = [json.loads(line) for line in lines]
    if not records or records[0].get("record_type") != "header":
        raise ValueError("no header first")
    header = records[0]
    canonical_uuid(header["id"], "id")
    datetime.datetime.fromisoformat(header["created_at"])
    for parent in header.get("parent_session_ids") or []:
        canonical_uuid(parent, "parent_session_ids entry")  # the loader would drop it
    chunks = 0
    for rec in records[1:]:
        kind = rec.get("record_type")
        if kind == "chunk":
            if rec["kind"] not in KINDS:
                raise ValueError(f"{rec['kind']!r} is not a valid ChunkKind")
            if not isinstance(rec["payload"], dict):
                raise ValueError(f"chunk {rec['index']}: payload is not a dict")
            if rec["index"] != chunks:
                raise ValueError(f"chunk index {rec['index']}, expected {chunks}")
            chunks += 1
        elif kind == "trailer":
            usage = rec.get("cumulative_usage")
            if usage is not None:
                if not isinstance(usage, dict):
                    raise ValueError("cumulative_usage is not null or an object")
                for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                    int(usage[key])
            if rec["final_chunk_count"] != chunks:
                raise ValueError("final_chunk_count does not match the chunks")
        else:
            raise ValueError(f"unexpected record_type {kind!r}")
    return chunks


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for path in argv[1:]:
        try:
            print(f"loads {path}: {judge(path)} chunks")
        except (ValueError, KeyError, TypeError) as e:
            failed = True
            print(f"rejects {path}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
