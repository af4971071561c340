#!/usr/bin/env python3
"""Prints, for each line of stdin, 1 if datetime.datetime.fromisoformat accepts
it and 0 if not; the first output line is the Python version (major.minor).
walkit's loadable_test compares python_fromisoformat_accepts() with it."""
import datetime
import sys

print(f"{sys.version_info[0]}.{sys.version_info[1]}")
for line in sys.stdin.buffer.read().decode("utf-8").split("\n")[:-1]:
    try:
        datetime.datetime.fromisoformat(line)
        print(1)
    except ValueError:
        print(0)
