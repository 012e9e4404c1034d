"""Benchmark worker: times one (model, library, phase) cell, or one cost-of-randomness / equal-time-quality cell,
in its own process, and prints one JSON record on the last line of stdout.

The driver (`benchmarks/driver.py`) launches one fresh process per cell so that peak memory belongs to one phase
and no state leaks between libraries; run this file by hand only to debug one cell, e.g.

    benchmarks/.venv-peers/bin/python benchmarks/bench.py speed --model 2d --lib randflow --phase train --smoke

Method (the same for every library): 2 threads, fixed seed, batch 512 (2-D) / 64 (Glow) in every
phase, a fresh clone of the batch each iteration, a warm-up of at least 5 iterations and 1 s (it also runs any
data-dependent initialisation), then `reps x iters` iterations timed one by one; throughput = batch / median time.
"""
import argparse, json, math, os, platform, resource, sys, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))   # randflow from this checkout, not an installed copy

THREADS = 2
BATCH = {'2d': 512, 'glow': 64}
GLOW_SHAPE = (1, 28, 28)
LIBS = ['randflow', 'randflow-eager', 'randflow-adam', 'randflow-plain', 'normflows', 'nflows', 'zuko', 'FrEIA', 'pyro', 'survae']
PEERS = ['normflows', 'nflows', 'zuko', 'FrEIA', 'pyro', 'survae']
MODELS = ['2d', 'glow']
PHASES = ['train', 'density', 'sample']

# ---------------------------------------------------------------------------------------------------- small helpers

def set_threads(n:int=THREADS, # intra-op threads
               ):
    "Pin torch (and OpenMP/MKL, for libraries that read the environment) to `n` threads."
    for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ[k] = str(n)
    import torch
    torch.set_num_threads(n)
    return torch

def rss_mib()->float:
    "Current resident set size of this process in MiB (from /proc/self/statm)."
    with open('/proc/self/statm') as fh: pages = int(fh.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20

def peak_rss_mib()->float:
    "Peak resident set size of this process so far, in MiB (`ru_maxrss` is in KiB on Linux)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def reset_peak_rss()->bool:
    "Reset this process's peak RSS to its current RSS (Linux `clear_refs` 5); False where that is not possible."
    try:
        with open('/proc/self/clear_refs', 'w') as fh: fh.write('5')
        return True
    except OSError: return False

def loadavg()->list:
    "The 1/5/15-minute load averages."
    return list(os.getloadavg())

def cpu_snapshot()->tuple:
    "(busy CPU seconds of the whole machine, CPU seconds of this process, wall seconds) for `foreign_cpu`."
    with open('/proc/stat') as fh: f = [int(v) for v in fh.readline().split()[1:]]
    busy = (sum(f[:8]) - f[3] - f[4]) / os.sysconf('SC_CLK_TCK')   # all but idle and iowait
    t = os.times()
    return busy, t.user + t.system, time.perf_counter()

def foreign_cpu(a:tuple, b:tuple)->float:
    "Share of the machine's CPU capacity used by *other* processes between two `cpu_snapshot`s (0 = quiet)."
    wall = b[2] - a[2]
    if wall < 0.3: return None   # the counters tick every 10 ms: too coarse for a shorter window
    return max(0.0, ((b[0] - a[0]) - (b[1] - a[1])) / (wall * (os.cpu_count() or 1)))

class NotAvailable(Exception):
    "A library cannot express this model (recorded as `n/a` with the reason)."

def moons(n:int, # number of points
          noise:float=0.05, # std of the Gaussian noise
          seed:int=0, # numpy seed
         ):
    "Two moons (the sklearn construction) as float32 `[n, 2]`: the 2-D timing data."
    import numpy as np, torch
    rng = np.random.default_rng(seed)
    n_out = n // 2; n_in = n - n_out
    a, b = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(a), np.sin(a)], 1), np.stack([1 - np.cos(b), 1 - np.sin(b) - 0.5], 1)])
    X = X + noise * rng.standard_normal(X.shape)
    return torch.from_numpy(X[rng.permutation(n)].astype(np.float32))

def glow_batch(n:int, # number of images
               seed:int=0, # torch seed
              ):
    "Random 8-bit images, uniformly dequantised, scaled to [-0.5, 0.5): the Glow timing data `[n, 1, 28, 28]`."
    import torch
    g = torch.Generator().manual_seed(seed)
    x8 = torch.randint(0, 256, (n, *GLOW_SHAPE), generator=g).float()
    return (x8 + torch.rand(x8.shape, generator=g)) / 256 - 0.5

# ---------------------------------------------------------------------------------------------------- model adapters
# Every adapter returns a dict: module (an nn.Module holding all parameters), params, log_prob(x) -> [B],
# sample(n) -> [n, *shape], roundtrip(x) -> x' (inverse of forward, or None), and optionally make_opt(params)
# (randflow's own optimizer; the peers use torch.optim.Adam(lr=1e-3) with its defaults), loss(x) (the training
# loss, default -log_prob(x).mean()), density(x) (default log_prob) and make_step() (a whole training step,
# train(x) -> loss, used instead of make_opt and loss: the randflow row's compiled step).

def _mlp(n_in, n_out, hidden=(128, 128)):
    "The 2-D benchmark conditioner for the peers: Linear-ReLU-Linear-ReLU-Linear, n_in -> 128 -> 128 -> n_out."
    from torch import nn
    dims, layers = (n_in, *hidden), []
    for a, b in zip(dims[:-1], dims[1:]): layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(dims[-1], n_out))

def _glow_cnn(c_in, c_out, hidden=64):
    "The Glow benchmark conditioner for the peers: conv3x3 c_in->64, ReLU, conv1x1 64->64, ReLU, conv3x3 64->c_out (last zeroed)."
    from torch import nn
    last = nn.Conv2d(hidden, c_out, 3, padding=1)
    nn.init.zeros_(last.weight); nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)

def randflow_2d():
    "randflow's 2-D RealNVP, `models.build('realnvp', (2,), 'base')`: 8 split affine couplings (conditioner 1 -> 128 -> 128 -> 2), alternating parity."
    import randflow.models as rm
    return rm.build('realnvp', data=(2,), size='base', seed=None)   # seed=None: the caller's torch seed

def randflow_glow():
    "randflow's small Glow, `models.build('glow', (1, 28, 28), 'small')`: squeeze, 4 steps at 4x14x14, factor out, squeeze, 4 steps at 8x7x7."
    import randflow.models as rm, randflow.core as rc, randflow.bijections as rb
    flow = rm.build('glow', data=GLOW_SHAPE, size='small', seed=None)
    # the benchmark feeds every library the same dequantised images scaled to [-0.5, 0.5), so randflow's own
    # preprocessing of raw pixels (Dequantize, Logit) is left out; the layers after it are the built model's
    layers = [l for l in flow.transform.layers if not isinstance(l, (rb.Dequantize, rb.Logit))]
    return rc.Flow(layers, flow.base, event_shape=GLOW_SHAPE)

def _randflow(model, optimizer, compile=True, fast=True):
    "randflow's adapter: `fast` is the speed switch (`randflow.fast.prepare`), `compile` the compiled step and functions, `optimizer` 'randflow' or the peers' 'torch'."
    import torch
    import randflow.fast as rf, randflow.training as rt
    flow = randflow_2d() if model == '2d' else randflow_glow()
    def roundtrip(x):
        z, _ = flow(x)
        return flow.transform.inverse(z)
    # randflow's one speed switch, as `randflow.training.fit` applies it (TrainConfig.fast): the fast layers, the
    # optimizer over one flat parameter and, on CPU, glibc keeping freed tensor memory for reuse; off: plain layers
    setup = rf.prepare(flow, fast, 'cpu')
    d = dict(module=flow, params=[p for p in flow.parameters() if p.requires_grad], log_prob=flow.log_prob,
             allocator_tuned=setup['allocator'], sample=flow.sample, roundtrip=roundtrip, no_grad=torch.inference_mode)
    # the float32 product kernels randflow timed and chose in this process: (M, N, K, a transposed, b transposed, bias, threads, oneDNN)
    d['kernel_choices'] = lambda: rf.kernel_state()['choices']
    if optimizer == 'randflow':   # the optimizer of `fit`'s eager step (`EagerStep`): torch's fused Adam, over one flat parameter when fast
        d['make_opt'] = lambda ps: rt.make_optimizer('adam', ps, lr=1e-3, flat=setup['flat'])
    if compile:   # the loss (what randflow-adam trains), log_prob and sample under torch.compile (randflow.fast.compiled); compiled in the warm-up
        d.update(loss=rf.compiled(lambda x: -flow.log_prob(x).mean()), density=rf.compiled(flow.log_prob),
                 sample=rf.compiled(flow.sample))
        if optimizer == 'randflow':   # `fit`'s own step with TrainConfig(fast=True): loss, gradient and Adam update as one compiled graph
            def make_step():
                step = rt.make_step(flow, rt.TrainConfig(lr=1e-3, fast=True, device='cpu', dtype='float32'))
                assert type(step).__name__ == 'CompiledStep', type(step)
                first = [True]
                def train(x):
                    if first[0]:   # the data-dependent initialisation pass `fit` makes before its first step (ActNorm)
                        with torch.no_grad(): flow.log_prob(x)
                        first[0] = False
                    return step(x, 1e-3)[0][0]
                return train
            d['make_step'] = make_step
    return d

# the four randflow rows: `fit`'s compiled step with the switch on; the switch on, nothing compiled; the compiled loss
# with the peers' torch.optim.Adam; the switch off (plain layers, fused Adam per tensor: `fit`'s default)
def adapt_randflow(model): return _randflow(model, 'randflow')
def adapt_randflow_eager(model): return _randflow(model, 'randflow', compile=False)
def adapt_randflow_adam(model): return _randflow(model, 'torch')
def adapt_randflow_plain(model): return _randflow(model, 'randflow', compile=False, fast=False)

def adapt_normflows(model):
    import normflows as nf
    if model == '2d':
        flows = []
        for _ in range(8):
            net = nf.nets.MLP([1, 128, 128, 2], init_zeros=True)
            flows += [nf.flows.AffineCouplingBlock(net, scale=True, scale_map='exp', split_mode='channel'),
                      nf.flows.Permute(2, mode='swap')]
        m = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), flows)
    else:
        L, K, C = 2, 4, GLOW_SHAPE[0]
        q0, merges, flows = [], [], []
        for i in range(L):   # levels from the latent side, as in normflows' Glow example
            flows.append([nf.flows.GlowBlock(C * 2 ** (L + 1 - i), 64, split_mode='channel', scale=True) for _ in range(K)]
                         + [nf.flows.Squeeze()])
            if i > 0:
                merges.append(nf.flows.Merge())
                shape = (C * 2 ** (L - i), GLOW_SHAPE[1] // 2 ** (L - i), GLOW_SHAPE[2] // 2 ** (L - i))
            else: shape = (C * 2 ** (L + 1), GLOW_SHAPE[1] // 2 ** L, GLOW_SHAPE[2] // 2 ** L)
            q0.append(nf.distributions.DiagGaussian(shape, trainable=False))
        m = nf.MultiscaleFlow(q0, flows, merges, class_cond=False)
    log_prob = m.log_prob if model == '2d' else (lambda x: m.log_prob(x, None))   # MultiscaleFlow takes a label
    return dict(module=m, params=[p for p in m.parameters() if p.requires_grad], log_prob=log_prob,
                sample=lambda n: m.sample(n)[0], roundtrip=lambda x: m.forward_and_log_det(m.inverse_and_log_det(x)[0])[0])

def adapt_nflows(model):
    import torch
    from torch import nn
    from nflows import transforms as T
    from nflows.flows import Flow
    from nflows.distributions import StandardNormal
    from nflows.utils import torchutils
    class Net(nn.Module):
        "nflows calls conditioners with (inputs, context); this one ignores the context."
        def __init__(self, net): super().__init__(); self.net = net
        def forward(self, x, context=None): return self.net(x)
    if model == '2d':
        ts = [T.AffineCouplingTransform(torch.tensor([1, 0] if i % 2 == 0 else [0, 1]), lambda i, o: Net(_mlp(i, o)))
              for i in range(8)]
        flow = Flow(T.CompositeTransform(ts), StandardNormal([2]))
    else:
        mct = T.MultiscaleCompositeTransform(num_transforms=2, split_dim=1)
        c, h, w = GLOW_SHAPE
        for level in range(2):
            sq = T.SqueezeTransform(); c, h, w = sq.get_output_shape(c, h, w)
            steps = [sq]
            for _ in range(4):
                steps += [T.ActNorm(c), T.OneByOneConvolution(c),
                          T.AffineCouplingTransform(torchutils.create_mid_split_binary_mask(c), lambda i, o: Net(_glow_cnn(i, o)))]
            new = mct.add_transform(T.CompositeTransform(steps), (c, h, w))
            if new is not None: c, h, w = new
        flow = Flow(mct, StandardNormal([int(math.prod(GLOW_SHAPE))]))
    tr = flow._transform
    def sample(n):
        return flow.sample(n)
    return dict(module=flow, params=[p for p in flow.parameters() if p.requires_grad], log_prob=flow.log_prob,
                sample=sample, roundtrip=lambda x: tr.inverse(tr(x)[0])[0])

def adapt_zuko(model):
    if model != '2d': raise NotAvailable(UNAVAILABLE[('zuko', model)])
    import zuko
    flow = zuko.flows.NICE(features=2, transforms=8, hidden_features=(128, 128))
    def roundtrip(x):
        t = flow().transform
        return t.inv(t(x))
    return dict(module=flow, params=[p for p in flow.parameters() if p.requires_grad], log_prob=lambda x: flow().log_prob(x),
                sample=lambda n: flow().sample((n,)), roundtrip=roundtrip)

def adapt_FrEIA(model):
    import torch
    import FrEIA.framework as Ff, FrEIA.modules as Fm
    if model == '2d':
        inn = Ff.SequenceINN(2)
        for _ in range(4): inn.append(Fm.GLOWCouplingBlock, subnet_constructor=_mlp, clamp=2.0)
        shapes = [(2,)]
    else:
        block = dict(subnet_constructor=_glow_cnn, affine_clamping=2.0, permute_soft=True)
        inp = Ff.InputNode(*GLOW_SHAPE, name='in')
        nodes = [inp, Ff.Node(inp, Fm.IRevNetDownsampling, {})]
        for _ in range(4): nodes.append(Ff.Node(nodes[-1], Fm.AllInOneBlock, block))
        split = Ff.Node(nodes[-1], Fm.Split, {'section_sizes': [2, 2], 'dim': 0})
        out_early = Ff.OutputNode(split.out1, name='out_2x14x14')
        nodes += [split, out_early, Ff.Node(split.out0, Fm.IRevNetDownsampling, {})]
        for _ in range(4): nodes.append(Ff.Node(nodes[-1], Fm.AllInOneBlock, block))
        nodes.append(Ff.OutputNode(nodes[-1], name='out_8x7x7'))
        inn = Ff.GraphINN(nodes)
        shapes = [(2, 14, 14), (8, 7, 7)]
    def std_lp(z): return -0.5 * (z ** 2).flatten(1).sum(1) - 0.5 * math.log(2 * math.pi) * z[0].numel()
    def log_prob(x):
        z, ljd = inn(x)
        zs = z if isinstance(z, (list, tuple)) else [z]
        return sum(std_lp(zi) for zi in zs) + ljd
    def sample(n):
        zs = [torch.randn(n, *s) for s in shapes]
        return inn(zs if len(zs) > 1 else zs[0], rev=True)[0]
    return dict(module=inn, params=[p for p in inn.parameters() if p.requires_grad], log_prob=log_prob, sample=sample,
                roundtrip=lambda x: inn(inn(x)[0], rev=True)[0])

def adapt_pyro(model):
    if model != '2d': raise NotAvailable(UNAVAILABLE[('pyro', model)])
    import torch
    import pyro.distributions as dist
    import pyro.distributions.transforms as T
    from torch import nn
    ts = []
    for _ in range(8): ts += [T.affine_coupling(2, hidden_dims=[128, 128]), T.Permute(torch.tensor([1, 0]))]
    base = dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1)
    d = dist.TransformedDistribution(base, ts)
    module = nn.ModuleList([t for t in ts if isinstance(t, nn.Module)])
    comp = T.ComposeTransform(ts)
    # pyro caches transform results by tensor identity: always hand it fresh tensors
    return dict(module=module, params=[p for p in module.parameters() if p.requires_grad],
                log_prob=lambda x: d.log_prob(x.clone()), sample=lambda n: d.sample((n,)),
                roundtrip=lambda x: comp(comp.inv(x.clone()).clone()))

# models a library cannot express, known without importing anything (the cell then costs no torch import)
UNAVAILABLE = {('zuko', 'glow'): 'zuko has no image/multi-scale flows (zuko issue #6)',
               ('pyro', 'glow'): 'pyro has no squeeze/split multi-scale machinery',
               ('survae', '2d'): 'survae_flows is not on the package registry and git hosts are unreachable here',
               ('survae', 'glow'): 'survae_flows is not on the package registry and git hosts are unreachable here'}

def adapt_survae(model): raise NotAvailable(UNAVAILABLE[('survae', model)])

def adapt_FrEIA_tuned(model):
    "Control row: FrEIA unchanged, in a process with randflow's allocator setting (what part of a gap is the allocator)."
    import randflow.fast as rf
    return dict(adapt_FrEIA(model), allocator_tuned=rf.tune_cpu_allocator())

ADAPTERS = {'randflow': adapt_randflow, 'randflow-eager': adapt_randflow_eager, 'randflow-adam': adapt_randflow_adam,
            'randflow-plain': adapt_randflow_plain, 'normflows': adapt_normflows,
            'nflows': adapt_nflows, 'zuko': adapt_zuko, 'FrEIA': adapt_FrEIA, 'pyro': adapt_pyro, 'survae': adapt_survae,
            'FrEIA-tuned': adapt_FrEIA_tuned}

def build(lib:str, # a name from `ADAPTERS`
          model:str, # '2d' or 'glow'
         )->dict:
    "Build `lib`'s version of the benchmark `model` (seeded), or raise `NotAvailable`."
    if lib not in ADAPTERS: raise ValueError(f"lib={lib!r} is not allowed; choose one of {list(ADAPTERS)}")
    if model not in MODELS: raise ValueError(f"model={model!r} is not allowed; choose one of {MODELS}")
    import torch
    torch.manual_seed(0)
    try: d = ADAPTERS[lib](model)
    except ImportError as e: raise NotAvailable(f'{lib} is not installed here ({e})')
    d.setdefault('no_grad', torch.no_grad)
    d.setdefault('make_opt', lambda ps: torch.optim.Adam(ps, lr=1e-3))
    return d

def version_of(lib:str)->str:
    "Installed version of `lib` (randflow: the package version plus the git commit of this checkout)."
    from importlib import metadata
    if lib.startswith('randflow'):
        import subprocess, randflow
        try: commit = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
        except OSError: commit = ''
        dirty = subprocess.run(['git', '-C', str(ROOT), 'status', '--porcelain', '--untracked-files=no'], capture_output=True, text=True).stdout.strip()
        return f"{randflow.__version__}@{commit}{'+dirty' if dirty else ''}"
    dist = {'pyro': 'pyro-ppl', 'FrEIA': 'FrEIA', 'FrEIA-tuned': 'FrEIA'}.get(lib, lib)
    try: return metadata.version(dist)
    except metadata.PackageNotFoundError: return 'not installed'

# ---------------------------------------------------------------------------------------------------- the timed phases

def make_phase(m:dict, # adapter dict
               phase:str, # 'train', 'density' or 'sample'
               x, # the batch
              ):
    "A zero-argument callable doing one iteration of `phase`, returning a tensor to check (loss or output)."
    import torch
    n = x.shape[0]
    if phase == 'train' and m.get('make_step'):   # a training-step object: step(x) trains on x, returns the loss
        train_step = m['make_step']()
        return lambda: train_step(x.clone())
    if phase == 'train':
        opt = m['make_opt'](m['params'])
        loss_fn = m.get('loss') or (lambda x: -m['log_prob'](x).mean())
        def step():
            loss = loss_fn(x.clone())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.detach()
        return step
    if phase == 'density':
        density = m.get('density') or m['log_prob']
        def dens():
            with m['no_grad'](): return density(x.clone())
        return dens
    if phase == 'sample':
        def samp():
            with m['no_grad'](): return m['sample'](n)
        return samp
    raise ValueError(f"phase={phase!r} is not allowed; choose one of {PHASES}")

def time_iterations(fn, # the iteration
                    reps:int, iters:int, # timed iterations = reps * iters
                    warmup_iters:int=5, warmup_s:float=1.0, # warm-up: at least this many iterations and seconds
                   ): # (per-iteration seconds, warm-up iterations, warm-up seconds, first output, last output)
    "Warm up, then time `reps * iters` iterations one by one with `perf_counter`."
    t0, n_warm, first = time.perf_counter(), 0, None
    while n_warm < warmup_iters or time.perf_counter() - t0 < warmup_s:
        out = fn(); n_warm += 1
        if first is None: first = out
    warm_s = time.perf_counter() - t0
    # the warm-up's peak (it includes any one-time compilation) is kept apart from the peak of the timed iterations
    time_iterations.warm_peak, time_iterations.peak_reset = peak_rss_mib(), reset_peak_rss()
    times, c0 = [], cpu_snapshot()
    for _ in range(reps * iters):
        t = time.perf_counter(); out = fn(); times.append(time.perf_counter() - t)
    time_iterations.foreign = foreign_cpu(c0, cpu_snapshot())   # contention by other processes while timing
    return times, n_warm, warm_s, first, out

def _quantile(v, q):
    s = sorted(v); i = q * (len(s) - 1); lo = int(math.floor(i)); hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (i - lo)

def _max_err(a, b):
    import torch
    if isinstance(a, (list, tuple)): return max(_max_err(u, v) for u, v in zip(a, b))
    return float((a - b).abs().max())

def roundtrip_error(m:dict, # adapter dict
                    x, # float32 batch
                   ):
    "float32 max |x - f^-1(f(x))| over the first 16 items of `x` (None when the library has no exact inverse)."
    import torch
    if m.get('roundtrip') is None: return None
    xs = x[:16].clone()
    with torch.no_grad(): return _max_err(m['roundtrip'](xs), xs)

def run_speed(a)->dict:
    "One speed cell: build, initialise, warm up, time, measure memory and the sanity checks."
    rec = dict(kind='speed', model=a.model, lib=a.lib, phase=a.phase, round=a.round, version=version_of(a.lib))
    if (a.lib, a.model) in UNAVAILABLE: return dict(rec, status='n/a', reason=UNAVAILABLE[(a.lib, a.model)])
    torch = set_threads(a.threads)
    torch.manual_seed(a.seed)
    try: m = build(a.lib, a.model)
    except NotAvailable as e: return dict(rec, status='n/a', reason=str(e))
    B = BATCH[a.model]
    x = moons(B, seed=a.seed) if a.model == '2d' else glow_batch(B, seed=a.seed)
    rec['params'] = sum(p.numel() for p in m['params'])
    rec['allocator_tuned'] = bool(m.get('allocator_tuned', False))
    with torch.no_grad(): lp0 = m['log_prob'](x.clone())   # data-dependent initialisation (ActNorm), outside timing
    rec['init_logprob_finite'] = bool(torch.isfinite(lp0).all())
    if a.phase != 'train': m['module'].eval()
    fn = make_phase(m, a.phase, x)
    rss_build = rss_mib()
    times, n_warm, warm_s, first, last = time_iterations(fn, a.reps, a.iters, a.warmup_iters, a.warmup_s)
    peak = peak_rss_mib()
    med = _quantile(times, 0.5)
    thr = [B / t for t in times]
    rec.update(status='ok', batch=B, n_warmup=n_warm, n_timed=len(times), warmup_s=warm_s, median_ms=1e3 * med,
               samples_per_s=B / med, mean_samples_per_s=sum(thr) / len(thr), p10_samples_per_s=_quantile(thr, 0.1),
               p90_samples_per_s=_quantile(thr, 0.9), rss_build_mib=rss_build, peak_rss_mib=peak,
               rss_delta_mib=max(0.0, peak - rss_build), warmup_peak_rss_mib=time_iterations.warm_peak,
               warmup_rss_delta_mib=max(0.0, time_iterations.warm_peak - rss_build), peak_reset=time_iterations.peak_reset,
               loadavg=loadavg(), foreign_cpu=time_iterations.foreign)
    if m.get('kernel_choices'): rec['kernel_choices'] = m['kernel_choices']()
    if a.phase == 'train':
        rec.update(first_loss=float(first), final_loss=float(last), final_loss_finite=bool(torch.isfinite(last)))
        m['module'].eval()
        rec['roundtrip_trained'] = roundtrip_error(m, x)   # after the warm-up and timed steps: non-trivial parameters
    if a.phase == 'sample':
        rec.update(sample_shape=list(last.shape), sample_finite=bool(torch.isfinite(last).all()),
                   sample_shape_ok=tuple(last.shape) == (B, *x.shape[1:]))
    if a.phase == 'density':
        rec['density_finite'] = bool(torch.isfinite(last).all())
        rec['roundtrip_init'] = roundtrip_error(m, x)
    return rec

# ---------------------------------------------------------------------------------------------------- equal-time quality

def run_quality(a)->dict:
    "Train `lib`'s 2-D RealNVP on 8gaussians for `budget_s` seconds of wall clock, then its test NLL (nats)."
    torch = set_threads(a.threads)
    rec = dict(kind='quality', model='2d', lib=a.lib, round=a.round, data='8gaussians', budget_s=a.budget_s, version=version_of(a.lib))
    if (a.lib, '2d') in UNAVAILABLE: return dict(rec, status='n/a', reason=UNAVAILABLE[(a.lib, '2d')])
    import randflow.data as rd
    torch.manual_seed(a.seed)
    try: m = build(a.lib, '2d')
    except NotAvailable as e: return dict(rec, status='n/a', reason=str(e))
    sp = rd.toy_splits('8gaussians', seed=a.seed)
    train, test = sp['train'], sp['test']
    B, n = BATCH['2d'], train.shape[0]
    g = torch.Generator().manual_seed(a.seed)
    opt = m['make_opt'](m['params'])
    steps, t0, c0 = 0, time.perf_counter(), cpu_snapshot()
    while time.perf_counter() - t0 < a.budget_s:
        x = train[torch.randint(0, n, (B,), generator=g)]
        loss = -m['log_prob'](x).mean()
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        steps += 1
    wall, foreign = time.perf_counter() - t0, foreign_cpu(c0, cpu_snapshot())
    m['module'].eval()
    with m['no_grad'](): lp = torch.cat([m['log_prob'](c.clone()) for c in test.split(1000)])
    finite = torch.isfinite(lp)
    rec.update(status='ok', steps=steps, train_wall_s=wall, samples_seen=steps * B, test_n=int(test.shape[0]),
               test_nll=float(-lp[finite].mean()) if finite.any() else float('nan'), test_nonfinite=int((~finite).sum()),
               test_nll_se=float(lp[finite].std() / math.sqrt(max(1, int(finite.sum())))),
               true_entropy=_true_entropy(rd, test), loadavg=loadavg(), foreign_cpu=foreign)
    return rec

def _true_entropy(rd, test):
    "Monte-Carlo entropy of 8gaussians from its true density on the test points (the best reachable test NLL)."
    lp = rd.true_log_prob('8gaussians')   # a callable, or None where there is no closed form
    return None if lp is None else float(-lp(test.double()).mean())

# ---------------------------------------------------------------------------------------------------- cost of randomness

def run_randomness(a)->dict:
    "One cost-of-randomness cell: `train`/`sample` throughput of one method, or IW-K evaluation time for one K."
    torch = set_threads(a.threads)
    rec = dict(kind='randomness', method=a.method, phase=a.phase, K=a.K, round=a.round, data='8gaussians',
               size=a.size, version=version_of('randflow'))
    import randflow.data as rd, randflow.models as rm, randflow.training as rt, randflow.fast as rf
    torch.manual_seed(a.seed)
    flow = rm.build(a.method, data='8gaussians', size=a.size)
    B = BATCH['2d']
    x = rd.toy('8gaussians', B, seed=a.seed)
    setup = rf.prepare(flow, False, 'cpu')   # as `fit` trains by default: the speed switch off (randflow.fast)
    params = [p for p in flow.parameters() if p.requires_grad]
    rec.update(params=sum(p.numel() for p in params), exact=bool(flow.exact))
    # the objective and estimator the method is trained with in the experiments (IWAE-4 + VIMCO for designs A and B)
    cfg = rt.TrainConfig(**rm.train_settings(a.method))
    with torch.no_grad(): flow.elbo(x)   # data-dependent initialisation
    if a.phase == 'train':
        opt = rt.make_optimizer('adam', params, lr=1e-3, flat=setup['flat'])
        def fn():
            loss, _ = rt.objective(flow, x.clone(), cfg)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            return loss.detach()
        rec['objective'] = 'exact log-likelihood' if flow.exact else f'{cfg.objective}, K={cfg.n_train_samples}, {cfg.estimator}'
        rec['draws'] = 1 if flow.exact else cfg.n_train_samples   # model passes per item in one training step
    elif a.phase == 'sample':
        flow.eval()
        def fn():
            with torch.inference_mode(): return flow.sample(B)
    elif a.phase == 'iwk':
        flow.eval()
        def fn():
            with torch.inference_mode(): return flow.log_prob(x.clone(), n_samples=a.K)
    else: raise ValueError(f"phase={a.phase!r} is not allowed for randomness; choose train, sample or iwk")
    rss_build = rss_mib()
    times, n_warm, warm_s, first, last = time_iterations(fn, a.reps, a.iters, a.warmup_iters, a.warmup_s)
    med = _quantile(times, 0.5)
    rec.update(status='ok', batch=B, n_warmup=n_warm, n_timed=len(times), median_ms=1e3 * med, samples_per_s=B / med,
               rss_delta_mib=max(0.0, peak_rss_mib() - rss_build), finite=bool(torch.isfinite(last).all()), loadavg=loadavg(),
               foreign_cpu=time_iterations.foreign)
    return rec

def run_list_methods(a)->dict:
    "The registered random and deterministic methods (and their exactness), for the driver to plan the randomness grid."
    torch = set_threads(a.threads)
    import randflow.models as rm
    out = []
    for name in rm.available():
        try: f = rm.build(name, data='8gaussians', size=a.size); out.append(dict(method=name, exact=bool(f.exact), params=f.n_params()))
        except Exception as e: out.append(dict(method=name, error=f'{type(e).__name__}: {e}'))
    base = rm.baseline('8gaussians')   # the deterministic baseline for vectors
    return dict(kind='methods', status='ok', size=a.size, methods=out, baseline=base)

# ---------------------------------------------------------------------------------------------------- command line

def machine()->dict:
    "CPU model, core count, torch version and thread settings of this machine."
    torch = set_threads(THREADS)
    info = {}   # the first processor's fields of /proc/cpuinfo
    try:
        for line in open('/proc/cpuinfo'):
            k, _, v = line.partition(':'); info.setdefault(k.strip(), v.strip())
            if 'flags' in info: break
    except OSError: pass
    cpu, flags = info.get('model name', platform.processor()), set(info.get('flags', '').split())
    # the vector instruction set decides how fast GEMMs and generated kernels run (AVX2 against AVX-512: up to 2x)
    isa = [f for f in ('avx2', 'fma', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'amx_tile') if f in flags]
    cap = getattr(getattr(torch.backends, 'cpu', None), 'get_cpu_capability', lambda: None)()
    return dict(kind='machine', cpu=cpu, cpu_isa=isa, torch_cpu_capability=cap, cores=os.cpu_count(), python=platform.python_version(), torch=torch.__version__,
                torch_threads=torch.get_num_threads(), omp=os.environ.get('OMP_NUM_THREADS'), mkl=os.environ.get('MKL_NUM_THREADS'),
                platform=platform.platform(), loadavg=loadavg(), mem_gib=os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)

def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('task', choices=['speed', 'quality', 'randomness', 'methods', 'machine'])
    ap.add_argument('--model', default='2d', choices=MODELS)
    ap.add_argument('--lib', default='randflow', choices=list(ADAPTERS))
    ap.add_argument('--phase', default='train')
    ap.add_argument('--method', default=None, help='randomness: a name from randflow.models.available()')
    ap.add_argument('--size', default='base', help='randomness: the size preset passed to randflow.models.build')
    ap.add_argument('--K', type=int, default=1, help='randomness, phase iwk: number of importance samples')
    ap.add_argument('--round', type=int, default=0)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=THREADS)
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--iters', type=int, default=20)
    ap.add_argument('--warmup-iters', type=int, default=5)
    ap.add_argument('--warmup-s', type=float, default=1.0)
    ap.add_argument('--budget-s', type=float, default=10.0, help='quality: wall-clock training budget in seconds')
    ap.add_argument('--smoke', action='store_true', help='2 reps of 3 (2-D) / 1 (Glow) iterations, 1 warm-up iteration')
    a = ap.parse_args(argv)
    if a.smoke: a.reps, a.iters, a.warmup_iters, a.warmup_s = 2, (3 if a.model == '2d' else 1), 1, 0.0
    return a

def main(argv=None):
    a = parse(argv)
    task = dict(speed=run_speed, quality=run_quality, randomness=run_randomness, methods=run_list_methods,
                machine=lambda a: machine())[a.task]
    try: rec = task(a)
    except Exception as e:
        rec = dict(kind=a.task, model=a.model, lib=a.lib, phase=a.phase, method=a.method, K=a.K, round=a.round,
                   status='error', reason=f'{type(e).__name__}: {e}', traceback=traceback.format_exc(limit=6))
    print(json.dumps(rec))

if __name__ == '__main__': main()
