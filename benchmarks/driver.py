"""Benchmark driver: sets up the peers' environment, runs every benchmark cell in a fresh process, round-robin over
several rounds, appends the raw records to a JSON-lines file and writes `reports/benchmarks.md` from it.

    python3 benchmarks/driver.py all              # setup + full run + report (what `make bench` does)
    python3 benchmarks/driver.py all --smoke      # quick check of the harness: few iterations, 1 round
    python3 benchmarks/driver.py report           # rewrite reports/benchmarks.md from the latest raw records
    python3 benchmarks/driver.py report --out /tmp/b.md   # the same page elsewhere (to proofread it)

Only the standard library is used here; the cells run in `benchmarks/.venv-peers` (torch 2.14.1 + the peers, and
randflow from this checkout on `sys.path`), except the cost-of-randomness cells, which need randflow's own
dependencies and run in the project's `.venv`.
"""
import argparse, datetime, json, math, os, shlex, statistics, subprocess, sys, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_VENV = HERE / '.venv-peers'
PROJECT_VENV = ROOT / '.venv'
RESULTS = ROOT / 'reports' / 'benchmarks'
REPORT = ROOT / 'reports' / 'benchmarks.md'
BENCH = HERE / 'bench.py'

# the peers, pinned to the versions the benchmark was written against; torch first, from the local wheel
PEER_REQUIREMENTS = ['normflows==1.7.3', 'nflows==0.14', 'zuko==1.6.0', 'FrEIA==0.2', 'pyro-ppl==1.9.2', 'tqdm',
                     'fastcore==1.14.5']   # the last: what randflow's modules import besides torch (its pin in settings.ini)
TORCH = 'torch==2.14.1'
LIBS = ['randflow', 'randflow-eager', 'randflow-adam', 'randflow-plain', 'normflows', 'nflows', 'zuko', 'FrEIA', 'pyro', 'survae', 'FrEIA-tuned']
PEERS = ['normflows', 'nflows', 'zuko', 'FrEIA', 'pyro', 'survae']
CONTROLS = {'FrEIA-tuned': 'FrEIA'}   # a peer unchanged, run with randflow's allocator setting; never a 'fastest peer'
MODELS = ['2d', 'glow']
PHASES = ['train', 'density', 'sample']
IWK = [1, 10, 100, 1000]
CELL_TIMEOUT_S = 900
CONTENDED = 0.25   # a cell is contended when other processes used more than this share of the machine while it ran
THREADS = 2

# ---------------------------------------------------------------------------------------------------- environment

def peers_python()->Path: return PEERS_VENV / 'bin' / 'python'

def project_python()->Path:
    "The project's `.venv` python (randflow with all its dependencies), else the peers' one."
    p = PROJECT_VENV / 'bin' / 'python'
    return p if p.exists() else peers_python()

def setup(force:bool=False, # reinstall even if the stamp says the requirements are installed
         )->Path: # the peers' python
    "Create `benchmarks/.venv-peers` with torch 2.14.1 and the pip-installable peers (idempotent, stamped)."
    stamp, want = PEERS_VENV / '.installed', '\n'.join([TORCH, *PEER_REQUIREMENTS])
    if not force and stamp.exists() and stamp.read_text() == want: return peers_python()
    if not peers_python().exists(): subprocess.run([sys.executable, '-m', 'venv', str(PEERS_VENV)], check=True)
    pip = [str(peers_python()), '-m', 'pip', 'install', '-q']
    print(f'installing {TORCH} and the peers into {PEERS_VENV.relative_to(ROOT)} ...', flush=True)
    subprocess.run(pip + [TORCH], check=True)
    subprocess.run(pip + PEER_REQUIREMENTS, check=True)
    subprocess.run([str(peers_python()), '-c', 'import torch, normflows, nflows, zuko, FrEIA, pyro'], check=True)
    stamp.write_text(want)
    return peers_python()

# ---------------------------------------------------------------------------------------------------- running cells

def cell_env()->dict:
    "Environment of every cell: 2 OpenMP/MKL threads, no accidental GPU."
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS), CUDA_VISIBLE_DEVICES='')
    env.pop('PYTHONPATH', None)
    return env

def busy_share(window_s:float=1.0)->float:
    "Share of the machine's CPU capacity in use over `window_s` seconds (this driver only sleeps meanwhile)."
    def snap():
        with open('/proc/stat') as fh: f = [int(v) for v in fh.readline().split()[1:]]
        return sum(f[:8]) - f[3] - f[4], sum(f[:8])
    (b0, t0), _ = snap(), time.sleep(window_s)
    b1, t1 = snap()
    return (b1 - b0) / max(1, t1 - t0)

def wait_quiet(max_wait_s:float)->float:
    "Wait (up to `max_wait_s`) until other processes use less than `CONTENDED` of the machine; returns the wait."
    t0 = time.time()
    while time.time() - t0 < max_wait_s and busy_share() > CONTENDED: time.sleep(4)
    return round(time.time() - t0, 1)

def run_cell(python:Path, # interpreter of the cell
             args:list, # arguments of bench.py
            )->dict: # the cell's record, plus the command, its wall time and a timestamp
    "Run one cell in a fresh process and return its JSON record (an `error` record if it failed or timed out)."
    cmd = [str(python), str(BENCH), *map(str, args)]
    t0, started = time.time(), datetime.datetime.now().isoformat(timespec='seconds')
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=CELL_TIMEOUT_S, env=cell_env(), cwd=ROOT)
        lines = [l for l in p.stdout.splitlines() if l.startswith('{')]
        rec = json.loads(lines[-1]) if lines else dict(status='error', reason=f'no record (exit {p.returncode}): {p.stderr[-800:]}')
    except subprocess.TimeoutExpired: rec = dict(status='error', reason=f'timed out after {CELL_TIMEOUT_S} s')
    rec.update(cmd=' '.join(shlex.quote(str(c)) for c in [Path(cmd[0]).relative_to(ROOT) if Path(cmd[0]).is_relative_to(ROOT) else cmd[0],
                                                      BENCH.relative_to(ROOT), *cmd[2:]]),
               cell_wall_s=round(time.time() - t0, 2), started=started)
    return rec

def speed_args(model, lib, phase, rnd, smoke):
    return ['speed', '--model', model, '--lib', lib, '--phase', phase, '--round', rnd,
            '--reps', 5, '--iters', 20 if model == '2d' else 3] + (['--smoke'] if smoke else [])

def rotate(xs, k): return xs[k % len(xs):] + xs[:k % len(xs)] if xs else xs

def contended(rec): return rec.get('status') == 'ok' and (rec.get('foreign_cpu') or 0) > CONTENDED

def run_grid(out, # open JSON-lines file
             a, # parsed arguments
            ):
    "All rounds of the speed grid (and, per round, the quality cells), round-robin; contended cells are rerun."
    py = peers_python()
    for rnd in range(a.rounds):
        # the library order rotates from round to round; the optimizer does not enter density or sampling, so
        # randflow-adam (randflow's compiled loss trained with the plain torch Adam) only has a train cell; the
        # quality cells train every library eagerly, randflow with the speed switch on (the randflow-eager
        # configuration), and the other randflow rows and the controls have none
        cells = [('speed', speed_args(m, l, ph, rnd, a.smoke)) for m in a.models for ph in a.phases
                 for l in rotate(a.libs, rnd) if not (l == 'randflow-adam' and ph != 'train')]
        if not a.skip_quality:
            cells += [('quality', ['quality', '--lib', l, '--round', rnd, '--budget-s', a.budget_s])
                      for l in rotate(a.libs, rnd) if l not in ('randflow-adam', 'randflow-eager', 'randflow-plain', *CONTROLS)]
        for i, (kind, args) in enumerate(cells):
            for attempt in range(1 + a.retries):
                waited = wait_quiet(a.max_wait_s)
                rec = run_cell(py, args)
                rec.update(attempt=attempt, waited_for_quiet_s=waited)
                write(out, rec)
                tag = rec.get('samples_per_s') or rec.get('test_nll')
                print(f"round {rnd} [{i + 1}/{len(cells)}] {' '.join(map(str, args[:7]))}: {rec.get('status')} "
                      f"{tag if tag is None else round(tag, 2)} foreign_cpu={rec.get('foreign_cpu', 0) or 0:.2f}", flush=True)
                if not contended(rec) or attempt == a.retries: break
                print('  contended: other processes used the CPU during this cell; rerunning it', flush=True)
                time.sleep(a.retry_wait_s)

def run_randomness(out, a):
    "Cost of randomness: train/sample throughput per registered method, and IW-K evaluation time per K (randflow only)."
    py = project_python()
    plan = run_cell(py, ['methods', '--size', a.size])
    plan['baseline'] = a.baseline or plan.get('baseline')   # randflow.models.baseline(data) unless --baseline
    write(out, plan)
    if plan.get('status') != 'ok':
        print(f"cost of randomness skipped: {plan.get('reason')}", flush=True)
        return
    methods = [m['method'] for m in plan['methods'] if 'error' not in m]
    random_methods = [m['method'] for m in plan['methods'] if 'error' not in m and not m['exact']]
    ks = a.iwk[:2] if a.smoke else a.iwk
    for rnd in range(a.rounds):
        cells = [['randomness', '--method', m, '--phase', ph, '--size', a.size, '--round', rnd] for ph in ('train', 'sample')
                 for m in rotate(methods, rnd)]
        # one IW-1000 evaluation of a batch of 512 takes seconds: fewer timed iterations and a one-iteration warm-up there
        cells += [['randomness', '--method', m, '--phase', 'iwk', '--K', k, '--size', a.size, '--round', rnd,
                   '--reps', 1 if k >= 100 else 3, '--iters', (2 if k >= 1000 else 3) if k >= 100 else 10]
                  + (['--warmup-iters', 1, '--warmup-s', 0] if k >= 100 else [])
                  for k in ks for m in rotate(random_methods, rnd)]
        for args in cells:
            if a.smoke: args = args + ['--smoke']
            for attempt in range(1 + a.retries):
                waited = wait_quiet(a.max_wait_s)
                rec = run_cell(py, args)
                rec.update(attempt=attempt, waited_for_quiet_s=waited)
                write(out, rec)
                print(f"round {rnd} {' '.join(map(str, args[:8]))}: {rec.get('status')} {rec.get('median_ms')}", flush=True)
                if not contended(rec) or attempt == a.retries: break
                time.sleep(a.retry_wait_s)

def write(out, rec):
    out.write(json.dumps(rec) + '\n'); out.flush()

def inductor_cache_mib()->float:
    "Size of torch inductor's on-disk cache (`$TMPDIR/torchinductor_$USER`, where the compiled cells find earlier compilations), MiB."
    import getpass, tempfile
    d = Path(os.environ.get('TORCHINDUCTOR_CACHE_DIR') or Path(tempfile.gettempdir()) / f'torchinductor_{getpass.getuser()}')
    return sum(f.stat().st_size for f in d.rglob('*') if f.is_file()) / 2**20 if d.exists() else 0.0

def run(a)->Path:
    "A full benchmark run into a new `reports/benchmarks/<timestamp>.jsonl`; returns its path."
    setup()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    path = RESULTS / f"{stamp}{'-smoke' if a.smoke else ''}.jsonl"
    t0 = time.time()
    with open(path, 'w') as out:
        write(out, dict(kind='run', command=a.command, started=stamp, smoke=a.smoke, rounds=a.rounds, models=a.models,
                        libs=a.libs, phases=a.phases, budget_s=a.budget_s, threads=THREADS, contended_above=CONTENDED,
                        retries=a.retries, max_wait_s=a.max_wait_s, inductor_cache_mib_at_start=inductor_cache_mib()))
        write(out, run_cell(peers_python(), ['machine']))
        if not a.skip_speed: run_grid(out, a)
        if not a.skip_randomness: run_randomness(out, a)
        write(out, dict(kind='end', wall_s=round(time.time() - t0, 1), loadavg=list(os.getloadavg())))
    print(f'raw records: {path.relative_to(ROOT)} ({time.time() - t0:.0f} s)', flush=True)
    return path

# ---------------------------------------------------------------------------------------------------- the report

def load(path:Path)->list:
    "Records of a JSON-lines file (a line cut short by a kill is skipped)."
    recs = []
    for line in Path(path).read_text().splitlines():
        try: recs.append(json.loads(line))
        except json.JSONDecodeError: pass
    return recs

def latest_results(include_smoke:bool=False)->Path:
    "The newest raw-records file in reports/benchmarks/ (full runs only unless `include_smoke`)."
    files = sorted(p for p in RESULTS.glob('*.jsonl') if include_smoke or not p.stem.endswith('-smoke'))
    if not files: raise SystemExit(f'no raw records in {RESULTS.relative_to(ROOT)}; run `python3 benchmarks/driver.py run` first')
    return files[-1]

def final(recs:list)->list:
    "Per (kind, cell, round): the last attempt (contended attempts were rerun)."
    keep = {}
    for r in recs:
        if r.get('kind') not in ('speed', 'quality', 'randomness'): continue
        key = (r['kind'], r.get('model'), r.get('lib'), r.get('phase'), r.get('method'), r.get('K'), r.get('round'))
        keep[key] = r
    return list(keep.values())

def fmt_num(v, digits=0):
    if v is None or (isinstance(v, float) and math.isnan(v)): return '-'
    return f'{v:,.{digits}f}'

def fmt_range(vals, digits=0):
    "median [min–max] of `vals` (all the rounds)."
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals: return '-'
    med = statistics.median(vals)
    return f'{fmt_num(med, digits)} [{fmt_num(min(vals), digits)}–{fmt_num(max(vals), digits)}]'

def fmt_sci(v): return '-' if v is None else f'{v:.1e}'

def cells_of(recs, **kw): return [r for r in recs if all(r.get(k) == v for k, v in kw.items())]

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None

def fastest_peer(recs, model, phase):
    "(peer, median samples/s) of the fastest peer on `model`/`phase` (medians over rounds), or (None, None)."
    best = (None, None)
    for lib in PEERS:
        m = med([r.get('samples_per_s') for r in cells_of(recs, kind='speed', model=model, lib=lib, phase=phase, status='ok')])
        if m is not None and (best[1] is None or m > best[1]): best = (lib, m)
    return best

def per_round_ratio(recs, lib, model, phase, rounds):
    "lib / fastest peer of the same round, for every round (throughput)."
    out = []
    for rnd in rounds:
        mine = cells_of(recs, kind='speed', model=model, lib=lib, phase=phase, round=rnd, status='ok')
        peers = [r['samples_per_s'] for p in PEERS for r in cells_of(recs, kind='speed', model=model, lib=p, phase=phase, round=rnd, status='ok')]
        if mine and peers: out.append(mine[0]['samples_per_s'] / max(peers))
    return out

def speed_table(recs, model, rounds):
    "Markdown table of one model: throughput per phase with [min–max] over rounds, ratios, memory, round trip."
    rows = ['| library | version | params | train samples/s | density samples/s | sample samples/s | '
            'ratio to fastest peer (train / density / sample) | peak RSS delta MiB (train / density / sample) | '
            'round trip f32 (init / trained) |', '|' + '---|' * 9]
    fastest = {ph: fastest_peer(recs, model, ph) for ph in PHASES}
    for lib in LIBS:
        rs = cells_of(recs, kind='speed', model=model, lib=lib)
        if not rs: continue
        ok = [r for r in rs if r.get('status') == 'ok']
        if not ok:
            r = rs[0]
            rows.append(f"| {lib} | {r.get('version', '-')} | - | {r.get('status')}: {r.get('reason', '')} | | | | | |")
            continue
        thr, ratio, mem = [], [], []
        for ph in PHASES:
            v = [r['samples_per_s'] for r in ok if r['phase'] == ph]
            thr.append(fmt_range(v))
            peer, best = fastest[ph]
            rr = per_round_ratio(recs, lib, model, ph, rounds)
            ratio.append('-' if best is None or not v else f'{statistics.median(v) / best:.2f}× [{min(rr):.2f}–{max(rr):.2f}]' if rr else '-')
            mem.append(fmt_range([r.get('rss_delta_mib') for r in ok if r['phase'] == ph]))
        errs = [r for r in rs if r.get('status') == 'error']
        err_note = f" ({len(errs)} error: {errs[0]['reason'][:120]})" if errs else ''
        rt_init = max([r['roundtrip_init'] for r in ok if r.get('roundtrip_init') is not None], default=None)
        rt_tr = max([r['roundtrip_trained'] for r in ok if r.get('roundtrip_trained') is not None], default=None)
        rows.append(f"| {lib}{' (peer)' if lib in PEERS else ' (control)' if lib in CONTROLS else ''} | {ok[0].get('version', '-')} | {ok[0].get('params', 0):,} | "
                    f"{' | '.join(thr)} | {' / '.join(ratio)} | {' / '.join(mem)} | {fmt_sci(rt_init)} / {fmt_sci(rt_tr)}{err_note} |")
    return '\n'.join(rows)

PER_MODEL = {'2d': 'randflow', 'glow': 'randflow-eager'}   # the per-model choice: compiled 2-D, eager Glow
# issue 8's throughput targets: (model, phase, needed ratio to the fastest peer)
SPEED_TARGETS = [('2d', 'train', 2.0), ('glow', 'train', 1.3), ('2d', 'density', 1.0), ('2d', 'sample', 1.0),
                 ('glow', 'density', 1.0), ('glow', 'sample', 1.0)]

def target_results(recs, rounds, lib='randflow')->list:
    "The issue's targets for randflow configuration `lib` (a row of the tables, or a dict model -> row), checked against this run's medians: (key, met or None, value, Markdown line) per target."
    libs = lib if isinstance(lib, dict) else {m: lib for m in MODELS}
    out = []
    def ratio(model, phase):
        peer, best = fastest_peer(recs, model, phase)
        mine = med([r['samples_per_s'] for r in cells_of(recs, kind='speed', model=model, lib=libs[model], phase=phase, status='ok')])
        return (None, peer, best, mine) if best is None or mine is None else (mine / best, peer, best, mine)
    for model, phase, need in SPEED_TARGETS:
        r, peer, best, mine = ratio(model, phase)
        key = f'{model} {phase}'
        if r is None: out.append((key, None, None, f'- {model} {phase}: not measured')); continue
        rr = per_round_ratio(recs, libs[model], model, phase, rounds)
        ok = '✔' if r >= need else '✘'
        out.append((key, r >= need, r, f"- {ok} **{model} {phase}**: {libs[model]} {mine:,.0f} samples/s vs fastest peer {peer} {best:,.0f} → "
                   f"**{r:.2f}×** (per round {min(rr):.2f}–{max(rr):.2f}×; needed ≥ {need}×)"))
    lib = libs['glow']   # the memory target is the Glow's
    mem = {l: med([r.get('rss_delta_mib') for r in cells_of(recs, kind='speed', model='glow', lib=l, phase='train', status='ok')])
           for l in [lib, *PEERS]}
    peers = {k: v for k, v in mem.items() if k in PEERS and v is not None}
    if mem[lib] is not None and peers:
        low = min(peers, key=peers.get)
        ok = '✔' if mem[lib] <= peers[low] else '✘'
        out.append(('glow train memory', mem[lib] <= peers[low], (mem[lib], peers[low]),
                    f"- {ok} **glow train peak RSS delta**: {lib} {mem[lib]:.1f} MiB vs lowest peer {low} "
                    f"{peers[low]:.1f} MiB (needed ≤)"))
    cells = [r for m in MODELS for r in cells_of(recs, kind='speed', model=m, lib=libs[m], status='ok')]
    rts = [r['roundtrip_trained'] for r in cells if r.get('roundtrip_trained') is not None]
    rti = [r['roundtrip_init'] for r in cells if r.get('roundtrip_init') is not None]
    if rts or rti:
        worst = max(rts + rti)
        names = ', '.join(dict.fromkeys(libs[m] for m in MODELS))
        out.append(('round trip', worst < 1e-5, worst, f"- {'✔' if worst < 1e-5 else '✘'} **float32 round trip** ({names}, both models, "
                    f"at initialisation and after the timed training steps): max {worst:.1e} (needed < 1e-5)"))
    return out

def target_lines(recs, rounds, lib='randflow'):
    "The Markdown lines of `target_results`."
    return '\n'.join(line for *_, line in target_results(recs, rounds, lib))

TARGET_KEYS = [f'{m} {ph}' for m, ph, _ in SPEED_TARGETS] + ['glow train memory', 'round trip']   # every key of `target_results`

def history_table(current:Path)->str:
    "One row per full run in the folder of `current` (oldest first): where it ran, which code, and the per-model targets."
    rows = ['| run | randflow version | vector instructions | 2-D train (compiled) | Glow train (eager) | Glow train RSS MiB (eager / lowest peer) | '
            'Glow train (compiled) | per-model targets met |', '|' + '---|' * 8]
    for f in sorted(p for p in current.parent.glob('*.jsonl') if not p.stem.endswith('-smoke')):
        recs_all = load(f)
        recs = [r for r in final(recs_all) if r.get('kind') == 'speed']
        mach = next((r for r in recs_all if r.get('kind') == 'machine'), {})
        rounds = sorted({r['round'] for r in recs})
        if not recs: continue
        res = {k: (ok, v) for k, ok, v, _ in target_results(recs, rounds, PER_MODEL)}
        comp = {k: (ok, v) for k, ok, v, _ in target_results(recs, rounds, 'randflow')}
        def ratio(d, k): return '-' if d.get(k, (None, None))[0] is None else f"{'✔' if d[k][0] else '✘'} {d[k][1]:.2f}×"
        mem = res.get('glow train memory')
        mem_s = '-' if mem is None else f"{'✔' if mem[0] else '✘'} {mem[1][0]:.1f} / {mem[1][1]:.1f}"
        n_met = sum(1 for k in TARGET_KEYS if res.get(k, (None,))[0])
        isa = mach.get('cpu_isa')
        isa_s = 'not recorded' if not isa else ('AVX-512' if 'avx512f' in isa else 'AVX2' if 'avx2' in isa else ', '.join(isa))
        version = next((r.get('version') for r in recs if r.get('lib') == 'randflow' and r.get('version')), '-')
        name = f'**{f.stem}** (this page)' if f == current else f.stem
        rows.append(f"| {name} | {version} | {isa_s} | {ratio(res, '2d train')} | {ratio(res, 'glow train')} | {mem_s} | "
                    f"{ratio(comp, 'glow train')} | {'all ' if n_met == len(TARGET_KEYS) else ''}{n_met} of {len(TARGET_KEYS)} |")
    return '\n'.join(rows)

def allocator_lines(recs, rounds):
    "What the allocator setting alone does: each control row against its unchanged peer, and randflow-eager against both."
    def m(lib, model, ph, key='samples_per_s'):
        return med([r.get(key) for r in cells_of(recs, kind='speed', model=model, lib=lib, phase=ph, status='ok')])
    def mib(v): return '-' if v is None else f'{v:.1f}'
    out = []
    for ctl, peer in CONTROLS.items():
        for model in MODELS:
            for ph in PHASES:
                c, b, e = m(ctl, model, ph), m(peer, model, ph), m('randflow-eager', model, ph)
                if c is None or b is None: continue
                out.append(f"| {model} | {ph} | {b:,.0f} | {c:,.0f} | {c / b:.2f}× | "
                           f"{'-' if e is None else f'{e / b:.2f}× / {e / c:.2f}×'} | "
                           f"{mib(m(peer, model, ph, 'rss_delta_mib'))} / {mib(m(ctl, model, ph, 'rss_delta_mib'))} |")
    if not out: return '_no control cells in this run._'
    ctl, peer = next(iter(CONTROLS.items()))
    return '\n'.join([f'| model | phase | {peer} samples/s | {ctl} samples/s | {ctl} / {peer} | randflow-eager / {peer} and / {ctl} | '
                      f'peak RSS delta MiB {peer} / {ctl} |', '|---|---|---|---|---|---|---|', *out])

def compile_lines(recs):
    "Warm-up time and warm-up peak memory of the compiled randflow cells (the one-time cost of `torch.compile`)."
    out = []
    for model in MODELS:
        for ph in PHASES:
            rs = cells_of(recs, kind='speed', model=model, lib='randflow', phase=ph, status='ok')
            if not rs: continue
            w = [r['warmup_s'] for r in rs]
            m = [r['warmup_rss_delta_mib'] for r in rs if r.get('warmup_rss_delta_mib') is not None]
            e = [r['warmup_s'] for r in cells_of(recs, kind='speed', model=model, lib='randflow-eager', phase=ph, status='ok')]
            out.append(f"| {model} | {ph} | {fmt_range(w, 1)} | {fmt_range(e, 1) if e else '-'} | {fmt_range(m) if m else '-'} |")
    if not out: return '_no compiled randflow cells in this run._'
    return '\n'.join(['| model | phase | randflow warm-up s (incl. compilation) | randflow-eager warm-up s | randflow warm-up peak RSS delta MiB |',
                      '|---|---|---|---|---|', *out])

def quality_table(recs):
    rs = cells_of(recs, kind='quality')
    if not rs: return '_not run (`--skip-quality`)._'
    budget = rs[0].get('budget_s')
    ent = med([r.get('true_entropy') for r in rs if r.get('true_entropy') is not None])
    rows = [f'Training budget: {budget:g} s of wall clock per library (batch 512, Adam lr 1e-3, the model of the 2-D table); '
            f'test NLL in nats on 5,000 held-out points of `8gaussians` (`randflow.data.toy_splits`, seed 0); every library trains eagerly here '
            f'(no compilation inside the budget), randflow with the speed switch on as in row randflow-eager (fast layers, '
            f"`randflow.training.make_optimizer(..., flat=True)`)"
            + (f'; the true distribution\'s entropy on the same points is {ent:.3f} nats (the best reachable NLL).' if ent else '.'),
            '', '| library | steps in the budget | test NLL (nats) | non-finite test log-densities |', '|---|---|---|---|']
    for lib in LIBS:
        ls = cells_of(rs, lib=lib)
        if not ls: continue
        ok = [r for r in ls if r.get('status') == 'ok']
        if not ok: rows.append(f"| {lib} | {ls[0].get('status')}: {ls[0].get('reason', '')} | | |"); continue
        rows.append(f"| {lib} | {fmt_range([r['steps'] for r in ok])} | {fmt_range([r['test_nll'] for r in ok], 3)} | "
                    f"{max(r['test_nonfinite'] for r in ok)} |")
    return '\n'.join(rows)

def randomness_section(recs_all, recs):
    plan = [r for r in recs_all if r.get('kind') == 'methods']
    if not plan: return '_not run (`--skip-randomness`)._'
    if plan[-1].get('status') != 'ok': return f"_skipped: {plan[-1].get('reason')}._"
    methods = {m['method']: m for m in plan[-1]['methods']}
    rs = cells_of(recs, kind='randomness')
    chosen = plan[-1].get('baseline')
    base = [chosen] if chosen in methods else [m for m, v in methods.items() if v.get('exact')]
    lines = ['Every registered method of `randflow.models`, built with `size=' + repr(plan[-1].get('size')) + "` for `8gaussians`; "
             'batch 512; training uses `randflow.training.objective` with the objective, draws and gradient estimator each '
             'method is trained with (`randflow.models.train_settings`), with the speed switch off as `randflow.training.fit` '
             "trains by default (plain layers, `randflow.training.make_optimizer`'s fused Adam). The baseline is the "
             'deterministic (exact) method of the same size '
             f"({', '.join(base) or 'none registered'}{'' if chosen in methods else '; the fastest of them'}); ratios are "
             'throughput / baseline throughput (medians over rounds).', '',
             '| method | exact | params | train samples/s | × baseline | sample samples/s | × baseline |', '|---|---|---|---|---|---|---|']
    per_draw = _per_draw_table(rs, methods)
    def thr(m, ph): return [r['samples_per_s'] for r in cells_of(rs, method=m, phase=ph, status='ok')]
    bt = {ph: max([med(thr(b, ph)) or 0 for b in base], default=0) for ph in ('train', 'sample')}
    for m, v in methods.items():
        if 'error' in v: lines.append(f"| {m} | build error: {v['error']} | | | | | |"); continue
        cols = []
        for ph in ('train', 'sample'):
            t = thr(m, ph)
            cols += [fmt_range(t), f'{med(t) / bt[ph]:.2f}×' if t and bt[ph] else '-']
        lines.append(f"| {m} | {v['exact']} | {v['params']:,} | {' | '.join(cols)} |")
    iw = cells_of(rs, phase='iwk', status='ok')
    if iw:
        ks = sorted({r['K'] for r in iw})
        lines += ['', 'Time to evaluate IW-K on one batch of 512 (`flow.log_prob(x, n_samples=K)` under inference mode), ms, '
                  'and the slope of log time against log K over the measured K (1 = linear):', '',
                  '| method | ' + ' | '.join(f'K = {k}' for k in ks) + ' | slope |', '|---|' + '---|' * (len(ks) + 1)]
        for m in sorted({r['method'] for r in iw}):
            meds = [med([r['median_ms'] for r in cells_of(iw, method=m, K=k)]) for k in ks]
            pts = [(math.log(k), math.log(t)) for k, t in zip(ks, meds) if t]
            slope = '-'
            if len(pts) > 1:
                mx, my = statistics.mean(p[0] for p in pts), statistics.mean(p[1] for p in pts)
                slope = f"{sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts):.2f}"
            lines.append(f'| {m} | ' + ' | '.join(fmt_range([r['median_ms'] for r in cells_of(iw, method=m, K=k)], 1) for k in ks) + f' | {slope} |')
    return '\n'.join(lines + per_draw)

# each random method against the deterministic method it is built on, at the same size: CIF, the fold (C) and the
# winner-indexed couplings (B) wrap Glow steps; design A's conditioner has its own deterministic twin, hard LWTA
PAIRED_BASELINE = {'cif': 'glow', 'lwta-mixture': 'glow', 'lwta-fold': 'glow', 'lwta-conditioner': 'lwta-hard'}
COST_TARGET = 1.5   # issue 23: training cost per draw at most 1.5x the paired baseline's

def _per_draw_table(rs, methods):
    "Training cost per draw (one model pass per item) of each random or LWTA method against its paired deterministic method."
    def thr(m): return med([r['samples_per_s'] for r in cells_of(rs, method=m, phase='train', status='ok')])
    def draws(m): return max([r.get('draws', 1) for r in cells_of(rs, method=m, phase='train', status='ok')], default=1)
    rows = []
    for m, b in PAIRED_BASELINE.items():
        if m not in methods or b not in methods or not thr(m) or not thr(b): continue
        cost = thr(b) / (thr(m) * draws(m))   # time per draw relative to the baseline's time per item (one draw)
        rows.append(f"| {m} | {b} | {draws(m)} | {thr(m) * draws(m):,.0f} | {thr(b):,.0f} | {cost:.2f}× | "
                    f"{'✔' if cost <= COST_TARGET else '✘'} |")
    if not rows: return []
    return ['', f'Training cost **per draw** (a random method trained with K draws per item runs K model passes per item): '
            f'time per draw over its paired deterministic method\'s time per item, target ≤ {COST_TARGET}× (issue 23). '
            'Pairs: the deterministic method each random method is built on (`PAIRED_BASELINE` in `benchmarks/driver.py`).', '',
            '| method | paired baseline | draws per item | train draws/s | baseline items/s | cost per draw | ≤ target |',
            '|---|---|---|---|---|---|---|'] + rows

def rounds_table(recs_all, rounds):
    "Per round: when it started, the load average and other processes' CPU share over its cells, and the reruns."
    rows = ['| round | first cell started | 1-min load average | CPU share of other processes while timing | cells rerun |',
            '|---|---|---|---|---|']
    for rnd in rounds:
        rs = [r for r in recs_all if r.get('kind') in ('speed', 'quality') and r.get('round') == rnd]
        loads = [r['loadavg'][0] for r in rs if r.get('loadavg')]
        fc = [100 * r['foreign_cpu'] for r in rs if r.get('foreign_cpu') is not None]
        rows.append(f"| {rnd} | {min((r.get('started', '') for r in rs), default='-')} | {fmt_range(loads, 2)} | "
                    f"{fmt_range(fc, 0)} % | {sum(1 for r in rs if r.get('attempt', 0) > 0)} |")
    return '\n'.join(rows)

def report(path:Path, # raw records
           out:Path=REPORT, # the Markdown report
          )->Path:
    "Write the Markdown report of the raw records in `path`."
    recs_all = load(path)
    head = next((r for r in recs_all if r.get('kind') == 'run'), {})
    mach = next((r for r in recs_all if r.get('kind') == 'machine'), {})
    end = next((r for r in recs_all if r.get('kind') == 'end'), {})
    recs = final(recs_all)
    speed = [r for r in recs if r.get('kind') == 'speed']
    rounds = sorted({r['round'] for r in speed})
    loads = [r['loadavg'][0] for r in recs if r.get('loadavg')]
    foreign = [r.get('foreign_cpu') for r in recs if r.get('foreign_cpu') is not None]
    reruns = sum(1 for r in recs_all if r.get('attempt', 0) > 0)
    waited = sum(r.get('waited_for_quiet_s') or 0 for r in recs_all)
    still = sum(1 for r in recs if contended(r))
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    md = [f'# Benchmarks: randflow against the peer libraries',
          '',
          f'_Written by `benchmarks/driver.py` from the raw records `{rel}`; do not edit by hand._'
          + (' **Smoke run: too few iterations for the numbers to mean anything.**' if head.get('smoke') else ''),
          '',
          '## How to reproduce', '',
          f"```\n{head.get('command', 'python3 benchmarks/driver.py all')}\n```", '',
          f"(`make bench` runs `python3 benchmarks/driver.py all`; `python3 benchmarks/driver.py report --results {rel}` rewrites this page.)",
          '',
          '## Machine', '',
          f"- CPU: {mach.get('cpu', '?')}, {mach.get('cores', '?')} cores, {mach.get('mem_gib', 0):.0f} GiB; {mach.get('platform', '')}",
          f"- Vector instructions: {', '.join(mach.get('cpu_isa') or ['not recorded'])}; torch's CPU kernels use "
          f"{mach.get('torch_cpu_capability') or 'not recorded'}. Compare ratios only between runs on CPUs with the same "
          'vector instructions: GEMMs and generated kernels run at different speeds with AVX2 and AVX-512.',
          f"- Python {mach.get('python', '?')}, torch {mach.get('torch', '?')}; {mach.get('torch_threads', '?')} torch threads, "
          f"OMP_NUM_THREADS={mach.get('omp')}, MKL_NUM_THREADS={mach.get('mkl')}",
          f"- 1-minute load average during the cells (the benchmark itself counts about 2): "
          f"{fmt_range(loads, 2) if loads else '-'} (median [min–max]); CPU used by other processes while timing: "
          f"{fmt_range([100 * f for f in foreign], 0) if foreign else '-'} % of the machine. "
          f"{reruns} cell(s) were rerun because other processes used more than {100 * CONTENDED:.0f} % of the machine "
          f"while they ran; {still} final cell(s) are still above that. Before each cell the driver waited up to "
          f"{head.get('max_wait_s', 0):g} s for the machine to be quiet ({waited:.0f} s in all).",
          f"- Started {head.get('started', '?')}; total wall time {end.get('wall_s', '?')} s; {len(rounds)} round(s).",
          '',
          '## Method', '',
          '- Models: every library builds the same two models with its own layers (`benchmarks/bench.py`, one adapter per '
          'library). **2-D RealNVP**: 8 affine couplings with MLP conditioners 1→128→128→2, batch 512, data: two moons '
          '(σ = 0.05). **Small Glow** on 1×28×28: squeeze → 4 steps at 4×14×14 → factor out 2 channels → squeeze → 4 steps '
          'at 8×7×7, each step ActNorm → invertible 1×1 conv → affine coupling with the conv3×3–ReLU–conv1×1–ReLU–conv3×3 '
          'conditioner (hidden 64), batch 64, data: dequantised random 8-bit images. FrEIA\'s Glow has a fixed rotation '
          'instead of the learned 1×1 conv, so fewer trainable parameters. Every randflow model is built by '
          '`randflow.models.build` (the Glow without its raw-pixel preprocessing, since every library gets the same '
          'dequantised images).',
          '- Phases: **train** = one training step on the batch: the mean negative log-likelihood, its gradient and an '
          'Adam (lr 1e-3) update; **density** = `log_prob` without gradients; **sample** = one batch of samples without '
          "gradients. The peers train with `loss.backward()` and `torch.optim.Adam` at its defaults, and evaluate and "
          'sample under `torch.no_grad()`; randflow evaluates and samples under `torch.inference_mode()`.',
          "- randflow's speed work lives in `randflow.fast`, behind one switch: `randflow.fast.prepare(flow, on)`, which "
          '`randflow.training.fit` calls with `TrainConfig.fast` (off by default). On, it swaps in the fast layers '
          '(`randflow.fast.enable`: `FastMLP` and `FastAffineCoupling` in place of the plain `MLP` and `AffineCoupling`, '
          'with the same parameters and the same map), has the optimizer built over one flat parameter, and on CPU tunes '
          'the allocator; `fit` then trains with one compiled graph per step wherever '
          '`randflow.training.compiled_step_applies` (the switch on, one process, Adam, an exact flow, no bf16: both '
          'models here). Off, the model keeps its plain layers, the optimizer walks the parameter tensors as they are and '
          "the allocator keeps glibc's defaults. randflow appears in four rows:",
          "  - **randflow**: the switch on, trained with `fit`'s own step, `randflow.training.make_step(flow, "
          "TrainConfig(fast=True))`, which for these models is a `randflow.training.CompiledStep` around "
          '`randflow.fast.AdamStep`: the loss, its gradient and the Adam update as one compiled graph. `log_prob` and '
          '`sample` run through `randflow.fast.compiled` (`torch.compile`, inductor with its C++ wrapper), which `fit` does '
          'not do. Everything compiles during the warm-up.',
          '  - **randflow-eager**: the switch on, nothing compiled: the fast layers, trained with autograd and '
          "`randflow.training.make_optimizer('adam', ..., flat=True)` (torch's fused Adam over one flat parameter). This is "
          "how `fit`'s eager step (`randflow.training.EagerStep`) trains with the switch on where the compiled step does "
          'not apply (a random flow, several processes, another optimizer, bf16).',
          '  - **randflow-adam**: the switch on, the loss compiled with `randflow.fast.compiled` (forward and backward '
          "graphs joined by autograd) and trained with the peers' `torch.optim.Adam` at its defaults (neither fused nor "
          'flat); train phase only. It shows what the optimizer and the one-graph step add to compilation.',
          '  - **randflow-plain**: the switch off, as `fit` trains by default: plain layers, '
          "`randflow.training.make_optimizer('adam', ...)` (torch's fused Adam over the parameter tensors), glibc's "
          'default allocator, nothing compiled.',
          '- So every run measures what the switch gives (randflow-plain against randflow-eager) and what compilation adds '
          "(randflow-eager against randflow). The Glow's couplings have convolutional conditioners, for which the fast "
          'layers take the plain path, so on the Glow the switch means the flat optimizer, the allocator setting and the '
          'compiled step. The rows with the switch on run with `randflow.fast.tune_cpu_allocator()` applied: glibc keeps '
          'freed tensor memory for reuse instead of returning it to the OS; the peers and randflow-plain run with the '
          'default allocator. The control row **FrEIA-tuned** is FrEIA unchanged in a process with the same allocator '
          "setting, so that the tables below separate what the allocator gives from what randflow's layers give; it is "
          'never counted as a peer.',
          '- Each (model, library, phase) runs in a fresh process with `torch.set_num_threads(2)` and '
          'OMP/MKL_NUM_THREADS=2, seed 0, a fresh clone of the batch every iteration; warm-up of at least 5 iterations and 1 s '
          '(it also runs ActNorm\'s data-dependent initialisation); then 100 (2-D: 5 × 20) or 15 (Glow: 5 × 3) iterations '
          'timed one by one. Throughput = batch / median iteration time. The grid is repeated round-robin '
          '(the library order rotates every round); every figure is the **median over rounds [min–max over rounds]**. '
          'A cell during which other processes used more than a quarter of the machine is rerun (up to `--retries` '
          'times), and the load average and the CPU share of other processes are recorded with every cell.',
          '- Ratio to the fastest peer: the randflow row\'s median over the fastest peer\'s median (in brackets: the range of the '
          'per-round ratios against the fastest peer of the same round).',
          '- Memory: peak RSS (`ru_maxrss`) during the timed iterations minus RSS after building the model and data, MiB '
          "(the peak is reset after the warm-up with Linux's `clear_refs`, so a one-time compilation in the warm-up does "
          "not count; the warm-up's own peak is in the compilation table below); it includes the allocator's caching and "
          'excludes the parameters.',
          '- Round trip: float32 max |x − f⁻¹(f(x))| on 16 items, at initialisation (density cell) and after the warm-up and '
          'timed training steps (train cell), max over rounds.',
          '',
          '## What randflow does on these models', '',
          '- **`torch.compile`** (row randflow, and the loss of row randflow-adam; `randflow.fast.compiled`): inductor fuses '
          'the many small elementwise operations of a flow step (and of its backward pass) into generated C++ loops, and its '
          'C++ wrapper drops the Python interpreter between kernels; the convolutions stay with oneDNN. Under compilation '
          '`FastAffineCoupling` traces its plain operations (inductor fuses them itself), and a `FastMLP` traces a layer '
          'with one input (1→128) as a broadcast product and a layer with at most two outputs (128→2) as a dot per output, '
          'which inductor fuses with the neighbouring ReLU and bias instead of calling BLAS for a tiny matrix product '
          '(same function; tested against eager in `nbs/00c_fast.ipynb`).',
          '- **oneDNN or BLAS for the float32 products** (2-D rows with the switch on; `randflow.fast.set_kernel`, '
          "`randflow.fast.kernel_state`): under the rule `'auto'` each product shape is timed once per process on oneDNN's "
          'inner product and on BLAS (MKL), and the faster kernel is kept. Compiled, a `FastMLP` hidden layer (128×128) is '
          'one autograd function whose forward product, input gradient and weight gradient each run on the kernel chosen '
          "for its shape, called directly from the compiled graph; eagerly, `FastAffineCoupling`'s forward products and "
          'input gradients do, and its weight gradients stay with BLAS. On AMD hosts MKL takes its AVX2 path where oneDNN '
          'uses AVX-512. Same precision; results agree with the plain net to float32 rounding (tested in '
          "`nbs/00c_fast.ipynb`). randflow-plain's layers and the peers' `nn.Linear` call MKL. Each randflow cell records "
          'the choices it made (`kernel_choices` in the raw records).',
          '- **One compiled graph per training step** (row randflow; `randflow.training.CompiledStep` around '
          "`randflow.fast.AdamStep`, the step `fit` trains with under `TrainConfig(fast=True)` where "
          "`compiled_step_applies`): the flow's loss with its parameters read from one flat tensor "
          "(`torch.func.functional_call`), the gradient by `torch.func.grad_and_value` and `torch.optim.Adam`'s update, "
          'traced together, so a step is one call into generated code: no autograd engine between the forward and backward '
          'graphs, no per-parameter gradient accumulation, no Python optimizer. After the first call per batch layout it '
          "skips torch.compile's guard checks (the step checks the layout itself). Five steps agree with "
          '`torch.optim.Adam` (`nbs/00c_fast.ipynb`).',
          '- **Split couplings** (`randflow.bijections.AffineCoupling(..., split=True)`, every randflow row, as '
          '`randflow.models.build` builds them): the conditioner sees only the untouched half and returns parameters only '
          'for the transformed half (1→128→128→2 in 2-D, c/2→64→64→c in Glow), so the affine map and its log-determinant '
          'are computed once, on the transformed half; the masked form computes them everywhere.',
          '- **One autograd node per 2-D coupling** (row randflow-eager; `randflow.fast.FastAffineCoupling`): a split affine '
          'coupling with an MLP conditioner on vectors runs as one `torch.autograd.Function` with the backward pass written '
          'out (no per-operation autograd bookkeeping), with in-place ReLUs; without gradients (density, sampling) it runs '
          'the same products without recording anything. Second derivatives fall back to re-running the plain operations.',
          '- **Channels-last convolutions** in the Glow conditioner (`randflow.bijections.GlowCNN`, every randflow row), '
          'several times faster on CPU for these small channel counts, and in-place ReLUs (less allocation, fewer page '
          'faults).',
          '- **Fused Adam over one flat parameter** (row randflow-eager; `randflow.training.make_optimizer(..., flat=True)`, '
          "built by `randflow.fast.flat_optimizer`, the optimizer of `fit`'s eager step with the switch on): the parameters "
          'are views of one flat tensor and their gradients views of one flat gradient, so the update is one kernel over '
          'one tensor instead of a walk over 48 (2-D) or 88 (Glow) tensors. randflow-plain uses the same fused Adam over '
          "the tensors as they are (`flat=False`, `fit`'s default).",
          '- **The CPU allocator** (`randflow.fast.tune_cpu_allocator`, applied by `randflow.fast.prepare` on CPU with the '
          "switch on): glibc malloc's mmap and trim thresholds raised to 64 and 256 MiB, so a step's megabyte-sized "
          'activations reuse memory freed by the previous step instead of faulting in fresh pages (thousands of page faults '
          'per Glow step otherwise).',
          '- The mathematics is unchanged: the same parameter counts as the peers (2-D) and float32 round trips below 1e-5 '
          '(the table), with float64 round-trip and log-determinant-versus-autograd-Jacobian tests in `nbs/01_bijections.ipynb` '
          '(plain layers) and `nbs/00c_fast.ipynb` (the same checks with the fast layers, which also match the plain ones).',
          '',
          '## Targets of issue 8', '',
          'Each target compares a randflow row with the same run\'s peers: its median throughput against the fastest '
          "peer's (at least the ratio given), the Glow's training peak RSS delta against the lowest peer's, and the float32 "
          'round trip against 1e-5.', '',
          'Compiled (row randflow, `fit` with `TrainConfig(fast=True)`):', '',
          target_lines(recs, rounds) if speed else '_no speed cells in this run._', '',
          'Eager (row randflow-eager):', '',
          target_lines(recs, rounds, 'randflow-eager') if speed else '_no speed cells in this run._', '',
          'Per model (row randflow for the 2-D RealNVP, row randflow-eager for the Glow). The 2-D step is many small '
          'operations, which compilation fuses; the compiled Glow step keeps the compiler\'s state resident while it trains '
          '(see "Compilation" below), which counts against the Glow training memory target. This is a choice made per model '
          'for the targets, shown as such; it is not a setting of `randflow.training.fit`, which trains both models with '
          'the compiled step under `TrainConfig(fast=True)` (row randflow) and the plain way by default (row '
          'randflow-plain):', '',
          target_lines(recs, rounds, PER_MODEL) if speed else '_no speed cells in this run._', '',
          'What the allocator setting alone gives (medians over rounds; a ratio above 1 for the control is the share of '
          "randflow's lead that any library would get from the same setting):", '',
          allocator_lines(speed, rounds) if speed else '_no speed cells in this run._', '',
          '## Compilation (one-time cost, in the warm-up)', '',
          "Inductor keeps compiled graphs in an on-disk cache that later processes reuse, so a cell compiles from scratch "
          "only when no earlier process on the machine compiled the same graph; warm-up times therefore depend on what ran "
          "before. " + (f"At the start of this run the cache held {head['inductor_cache_mib_at_start']:.0f} MiB "
                       "(0 = every first cell compiled cold)." if head.get('inductor_cache_mib_at_start') is not None else
                       "This run did not record the cache's size at its start; it was not emptied, so the figures can be "
                       "those of a warm cache, and a cold compilation takes longer.") + ' Median [min–max] over rounds.', '',
          compile_lines(speed), '']
    for model, title in [('2d', '2-D RealNVP (batch 512)'), ('glow', 'Small Glow, 1×28×28 (batch 64)')]:
        if cells_of(speed, model=model):
            md += [f'## {title}', '', speed_table(speed, model, rounds), '']
    md += ['## Rounds', '', rounds_table(recs_all, rounds), '',
           '## Every full run in this folder', '',
           'The same per-model targets (row randflow for the 2-D RealNVP, row randflow-eager for the Glow) computed from each '
           'raw-records file beside this one, oldest first, with the code version and the CPU it ran on, so that this '
           'run\'s verdict can be read against the spread between hosts and versions.', '',
           history_table(path), '',
           '## Equal-time quality (2-D RealNVP on 8gaussians)', '', quality_table(recs), '',
           '## Cost of randomness', '', randomness_section(recs_all, recs), '']
    out.write_text('\n'.join(md))
    print(f'wrote {out.relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out}', flush=True)
    return out

# ---------------------------------------------------------------------------------------------------- command line

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('action', choices=['setup', 'run', 'report', 'all'])
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--smoke', action='store_true', help='few iterations, 1 round, 2 s quality budget, K up to 10')
    ap.add_argument('--models', nargs='+', default=MODELS, choices=MODELS)
    ap.add_argument('--libs', nargs='+', default=LIBS, choices=LIBS)
    ap.add_argument('--phases', nargs='+', default=PHASES, choices=PHASES)
    ap.add_argument('--budget-s', type=float, default=8.0, help='equal-time quality: training budget per library, seconds')
    ap.add_argument('--size', default='base', help='cost of randomness: size preset of randflow.models.build')
    ap.add_argument('--baseline', default=None, help='cost of randomness: the deterministic method to compare with '
                    '(default: randflow.models.baseline(data), else the fastest exact method registered)')
    ap.add_argument('--retries', type=int, default=2, help='reruns of a cell that ran while other processes used the CPU')
    ap.add_argument('--retry-wait-s', type=float, default=20.0)
    ap.add_argument('--max-wait-s', type=float, default=60.0, help='before each cell, wait up to this long for the machine to be quiet')
    ap.add_argument('--skip-speed', action='store_true')
    ap.add_argument('--skip-quality', action='store_true')
    ap.add_argument('--skip-randomness', action='store_true')
    ap.add_argument('--iwk', type=int, nargs='*', default=IWK, help='cost of randomness: the K of the IW-K timing cells (none: skip them)')
    ap.add_argument('--results', type=Path, default=None, help='report: the raw records (default: the newest full run)')
    ap.add_argument('--out', type=Path, default=REPORT, help='report: where to write the Markdown (default: reports/benchmarks.md)')
    ap.add_argument('--force-setup', action='store_true')
    a = ap.parse_args(argv)
    a.command = 'python3 benchmarks/driver.py ' + ' '.join(shlex.quote(v) for v in (argv if argv is not None else sys.argv[1:]))
    if a.smoke: a.rounds, a.budget_s, a.retries, a.max_wait_s = 1, 2.0, 0, 0.0
    if a.action == 'setup': print(setup(force=a.force_setup)); return
    if a.action == 'report':
        report(a.results or latest_results(include_smoke=True), a.out.resolve()); return
    path = run(a)
    report(path, a.out.resolve())

if __name__ == '__main__': main()
