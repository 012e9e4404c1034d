"""Fail if `nbdev_clean` or `nbdev_export` would change anything: notebooks saved clean, randflow/ in sync with nbs/.

Works in a dirty work tree too: it compares the state of nbs/ and randflow/ before and after each command.
"""
import hashlib, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def snapshot():
    h = {}
    for d in ('nbs', 'randflow'):
        for p in sorted((ROOT / d).rglob('*')):
            if p.is_file() and '__pycache__' not in p.parts and '.ipynb_checkpoints' not in p.parts:
                h[str(p.relative_to(ROOT))] = hashlib.md5(p.read_bytes()).hexdigest()
    return h

def check(cmd, what):
    before = snapshot()
    subprocess.run([str(BIN / cmd)], cwd=ROOT, check=True)
    after = snapshot()
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if changed:
        print(f"FAIL: {what}; `{cmd}` changed: " + ', '.join(changed), file=sys.stderr)
        print(f"Fix: run `{cmd}` (after editing notebooks, `nbdev_export && nbdev_clean`) and commit the result.", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")

check('nbdev_clean', 'notebooks are clean')
check('nbdev_export', 'randflow/ is in sync with the notebooks')
