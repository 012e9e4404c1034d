"""Run every notebook's tests (what `nbdev_test` runs), one notebook per worker process, and end with `N passed, M failed`.

A notebook passes when all its non-skipped cells run without an exception. Cells flagged with a test flag from
settings.ini (`tst_flags`, e.g. `#| slow`) are skipped unless passed with `--flags`.
"""
import argparse, multiprocessing, os, shutil, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

def _one(args):
    fn, skip, force, base = args
    os.environ.setdefault('MPLBACKEND', 'Agg')
    from nbdev.test import test_nb
    t0 = time.time()
    try: ok, _ = test_nb(Path(fn), skip_flags=skip, force_flags=force, basepath=base, showerr=True)
    except Exception as e: print(f'error running {fn}: {e!r}', file=sys.stderr); ok = False
    return fn, ok, time.time() - t0

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--flags', default='', help='space-separated test flags to run (e.g. "slow")')
    ap.add_argument('--path', default=None, help='a notebook or glob to test (default: all of nbs/)')
    ap.add_argument('--workers', type=int, default=int(os.environ.get('RANDFLOW_TEST_WORKERS', 2)))
    a = ap.parse_args()
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    from nbdev.test import _keep_file
    cfg = get_config()
    files = [f.absolute() for f in sorted(nbglob(a.path, as_path=True)) if _keep_file(f, '.notest')]
    skip, force = cfg.tst_flags.split(), a.flags.split()
    os.chdir(cfg.nbs_path)
    jobs = [(str(f), skip, force, str(cfg.config_path)) for f in files]
    # every temporary file of the suite (ours, torchrun's, jupyter's) goes to one folder, removed at the end:
    # the tests leave nothing behind in /tmp
    tmp = tempfile.mkdtemp(prefix='randflow-tests-')
    os.environ['TMPDIR'] = tempfile.tempdir = tmp
    # longest notebooks first, so two workers finish together
    results = []
    # a fresh process per notebook: execnb replaces `__main__` in the worker, so a reused worker cannot unpickle `_one`
    ctx = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=max(1, a.workers), mp_context=ctx, max_tasks_per_child=1) as ex:
        for fn, ok, secs in ex.map(_one, jobs):
            rel = os.path.relpath(fn, cfg.config_path)
            print(f"{'PASS' if ok else 'FAIL'}  {rel}  ({secs:.0f} s)", flush=True)
            results.append(ok)
    shutil.rmtree(tmp, ignore_errors=True)
    n_ok = sum(results)
    print(f"{n_ok} passed, {len(results) - n_ok} failed")
    sys.exit(0 if n_ok == len(results) else 1)

if __name__ == '__main__': main()
