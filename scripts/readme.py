#!/usr/bin/env python3
"""Copies bench/results.md into the README between its bench markers, so the
README quotes the last `make bench` and never a number typed by hand
(tests/e2e/readme.rs checks that they agree)."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = "<!-- bench:begin (make readme copies bench/results.md here) -->"
END = "<!-- bench:end -->"


def main():
    readme_path = os.path.join(ROOT, "README.md")
    with open(os.path.join(ROOT, "bench", "results.md"), encoding="utf-8") as f:
        results = f.read().rstrip("\n")
    with open(readme_path, encoding="utf-8") as f:
        readme = f.read()
    pattern = re.compile(re.escape(BEGIN) + r"\n.*?\n" + re.escape(END), re.S)
    if not pattern.search(readme):
        sys.exit("README.md has no bench markers")
    updated = pattern.sub(lambda _: f"{BEGIN}\n{results}\n{END}", readme)
    if updated != readme:
        with open(readme_path, "w", encoding="utf-8") as f:
            f.write(updated)
        print("README.md: benchmark table updated from bench/results.md")
    else:
        print("README.md: benchmark table already current")


if __name__ == "__main__":
    main()
