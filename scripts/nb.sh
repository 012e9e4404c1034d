#!/usr/bin/env bash
# Author helper: convert jupytext percent sources (kept outside the repo) into nbs/ notebooks, export, clean, test.
# usage: scripts/nb.sh SRC.py NB.ipynb
set -e
jupytext --quiet --to ipynb -o "$2" "$1"
nbdev_export
nbdev_clean --fname "$2"
nbdev_test --path "$2"
