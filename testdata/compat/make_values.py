#!/usr/bin/env python3
"""Writes values.jsonl: a closed session whose chunks hold one value each,
serialized exactly as the reference writer does (json.dumps(record,
ensure_ascii=False) + "\\n", records in SessionWriter's key order).

writer_compat_test builds the same values as C++ literals, writes them with
walkit's Writer and compares the bytes. Standard library only; run it from
this directory with CPython 3.11 to regenerate the file:

    python3 make_values.py > values.jsonl
"""
import json
import sys

SESSION_ID = "00000000-0000-4000-8000-0000000000c0"
CREATED_AT = "2026-12-05T10:00:00.000001+00:00"
CLOSED_AT = "2026-12-05T10:00:01.000002+00:00"

# (case name, value), in chunk order. The C++ test spells each one out.
CASES = [
    # floats: repr switches notation at 1e16 and 1e-4; signed zero; the
    # smallest subnormal and the largest double; shortest round trip.
    ("float_1e16", 1e16),
    ("float_1e-07", 1e-07),
    ("float_negative_zero", -0.0),
    ("float_min_subnormal", 5e-324),
    ("float_max", 1.7976931348623157e308),
    ("float_0.1", 0.1),
    ("float_1.5", 1.5),
    ("float_100.0", 100.0),
    ("float_1e22", 1e22),
    ("float_123456789012345680.0", 123456789012345680.0),
    # ints: Python's are unbounded; json.dumps writes repr(int).
    ("int_0", 0),
    ("int_-1", -1),
    ("int_2**63-1", 2**63 - 1),
    ("int_-2**63", -(2**63)),
    ("int_2**64", 2**64),
    ("int_10**30", 10**30),
    ("int_-10**30", -(10**30)),
    ("int_10**4299", 10**4299),  # 4300 digits: the most json.dumps writes by default
    # what json.dumps writes for the IEEE specials (allow_nan=True)
    ("nan", float("nan")),
    ("infinity", float("inf")),
    ("negative_infinity", float("-inf")),
    # strings
    ("control_characters", "".join(chr(c) for c in range(0x20))),
    ("del_quote_backslash_slash", "\x7f \" \\ /"),
    ("line_separators", "a\u2028b\u2029c\u0085d"),
    ("emoji", "\U0001F680\U0001F469\u200D\U0001F4BB"),
    ("utf8_1_to_4_bytes", "A\u00e9\u00df\u0416\u20ac\u65e5\uffff\U00010000\U0010FFFF z"),
]


def main():
    out = sys.stdout
    header = {
        "record_type": "header",
        "schema_version": 1,
        "id": SESSION_ID,
        "created_at": CREATED_AT,
        "parent_session_ids": [],
        "lineage_operator": "implicit",
        "lineage_kind": "unknown",
        "lineage_extras": [],
        "sandbox_backend": None,
        "sandbox_spec": None,
        "sandbox_handle_id": None,
    }
    lines = [header]
    for index, (name, value) in enumerate(CASES):
        lines.append({
            "record_type": "chunk",
            "index": index,
            "kind": "tool_result",
            "payload": {"case": name, "value": value},
        })
    lines.append({
        "record_type": "trailer",
        "closed_at": CLOSED_AT,
        "final_chunk_count": len(CASES),
        "cumulative_usage": None,
    })
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines)
    out.buffer.write(data.encode("utf-8"))


if __name__ == "__main__":
    main()
