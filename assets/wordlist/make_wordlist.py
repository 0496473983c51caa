#!/usr/bin/env python3
"""Builds english-words.txt, the spelling word list compiled into essay-grader.

Source: Debian's `wamerican` package (/usr/share/dict/american-english), installed
with `apt-get update && apt-get install -y wamerican`. The list is lower-cased,
possessive entries ("dog's") are dropped because the spelling check strips a
trailing 's itself, only words made of letters and inner apostrophes are kept,
and the result is sorted and de-duplicated, one word a line.

Usage: python3 assets/wordlist/make_wordlist.py [SOURCE] > assets/wordlist/english-words.txt
"""
import sys

source = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/dict/american-english"
words = set()
with open(source, encoding="utf-8") as f:
    for line in f:
        word = line.strip().lower()
        if not word or word.endswith("'s"):
            continue
        if all(c.isalpha() or c == "'" for c in word) and word[0].isalpha():
            words.add(word)
sys.stdout.write("".join(w + "\n" for w in sorted(words)))
