"""Run every notebook's tests (what `nbdev_test` runs), one notebook per worker process, and end with `N passed, M failed`.

A notebook passes when all its non-skipped cells run without an exception. Cells flagged with a test flag from
settings.ini (`tst_flags`, e.g. `#| slow`) are skipped unless passed with `--flags`.

The notebooks start longest first (durations from `scripts/test_times.json`, rewritten with `--record`; a notebook
not listed there counts as the longest), so that the workers finish together. Each worker gets cores / workers
OpenMP threads (`OMP_NUM_THREADS`, unless already set).
"""
import argparse, json, multiprocessing, os, shutil, sys, tempfile, time
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

TIMES = Path(__file__).with_name('test_times.json')

def _order(jobs, root):
    "Longest first by the recorded durations; an unknown notebook first of all."
    known = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    return sorted(jobs, key=lambda j: -known.get(os.path.relpath(j[0], root), float('inf')))

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--flags', default='', help='space-separated test flags to run (e.g. "slow")')
    ap.add_argument('--path', default=None, help='a notebook or glob to test (default: all of nbs/)')
    ap.add_argument('--workers', type=int, default=int(os.environ.get('RANDFLOW_TEST_WORKERS', 2)))
    ap.add_argument('--record', action='store_true', help=f'write the measured durations to {TIMES.name} (a full run on a quiet machine)')
    a = ap.parse_args()
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    from nbdev.test import _keep_file
    cfg = get_config()
    files = [f.absolute() for f in sorted(nbglob(a.path, as_path=True)) if _keep_file(f, '.notest')]
    skip, force = cfg.tst_flags.split(), a.flags.split()
    os.chdir(cfg.nbs_path)
    jobs = _order([(str(f), skip, force, str(cfg.config_path)) for f in files], cfg.config_path)
    # every temporary file of the suite (ours, torchrun's, jupyter's) goes to one folder, removed at the end:
    # the tests leave nothing behind in /tmp
    tmp = tempfile.mkdtemp(prefix='randflow-tests-')
    os.environ['TMPDIR'] = tempfile.tempdir = tmp
    # one core per worker unless the caller chose: two workers of two OpenMP threads each on two cores oversubscribe
    # them (about 10 % slower in all, 06_metrics 2.5x); the subprocesses of the tests inherit it
    os.environ.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // max(1, a.workers))))
    results, times = [], {}
    # a fresh process per notebook: execnb replaces `__main__` in the worker, so a reused worker cannot unpickle `_one`
    ctx = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=max(1, a.workers), mp_context=ctx, max_tasks_per_child=1) as ex:
        for fn, ok, secs in ex.map(_one, jobs):
            rel = os.path.relpath(fn, cfg.config_path)
            print(f"{'PASS' if ok else 'FAIL'}  {rel}  ({secs:.0f} s)", flush=True)
            results.append(ok); times[rel] = round(secs, 1)
    shutil.rmtree(tmp, ignore_errors=True)
    if a.record:   # merged into what is recorded, so that a partial run updates only its own notebooks
        known = json.loads(TIMES.read_text()) if TIMES.exists() else {}
        TIMES.write_text(json.dumps(dict(sorted({**known, **times}.items())), indent=1) + '\n')
    n_ok = sum(results)
    print(f"{n_ok} passed, {len(results) - n_ok} failed")
    sys.exit(0 if n_ok == len(results) else 1)

if __name__ == '__main__': main()
