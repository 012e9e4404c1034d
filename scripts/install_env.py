"""Install randflow with the locked dev environment into a virtual environment, with uv where it can, else pip.

    python scripts/install_env.py .venv          # what `make env` runs (RANDFLOW_INSTALLER=pip: pip only)

Why uv: the environment is about 6 GB (torch and its CUDA libraries, even on a CPU machine) and pip unpacks and
byte-compiles it on one core: about 75 s on 2 cores, against about 35 s for uv (measured in two fresh venvs on
the same machine, uv's cache empty; both installs give the same versions). The byte-compile matters where
PYTHONDONTWRITEBYTECODE is set: without .pyc files every process compiles torch's Python again.

uv does not read pip's configuration, so the package sources pip is set up with (`pip config list`: index-url,
extra-index-url, find-links, constraint, cert, no-index) are passed to it, and like pip it takes the best version
from any index (`--index-strategy unsafe-best-match`). If uv cannot be installed or fails, pip installs instead,
exactly as before: the result is the same environment, only slower.
"""
import os, shlex, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = 'uv==0.13.9'                                    # the installer's own version, pinned like everything else
TARGET = ['-c', 'requirements-lock.txt', '-e', '.[dev]']

def run(*cmd, env=None):
    "Run a command in the repo root; True when it succeeded."
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env).returncode == 0

def pip_config(py):
    "pip's configured package sources as {key: [values]} (environment variables win over files, as in pip)."
    out = subprocess.run([str(py), '-m', 'pip', 'config', 'list'], capture_output=True, text=True).stdout
    conf = {}
    for line in sorted(out.splitlines(), key=lambda l: l.startswith(':env:')):
        key, _, val = line.partition('=')
        name = key.rsplit('.', 1)[-1]
        if name in ('index-url', 'extra-index-url', 'find-links', 'constraint', 'cert', 'no-index'):
            conf[name] = shlex.split(val.strip().strip("'").strip('"').replace('\\n', ' '))
    return conf

def uv_args(conf):
    "uv command-line options and environment that give it pip's package sources."
    args, env = [], dict(os.environ)
    for u in conf.get('index-url', [])[:1]: args += ['--index-url', u]
    for u in conf.get('extra-index-url', []): args += ['--extra-index-url', u]
    for u in conf.get('find-links', []): args += ['--find-links', u]
    for c in conf.get('constraint', []): args += ['-c', c]
    if conf.get('no-index', ['false'])[0].lower() in ('1', 'true', 'yes', 'on'): args += ['--no-index']
    if conf.get('cert'): env.setdefault('SSL_CERT_FILE', conf['cert'][0])
    return args, env

def install_uv(venv):
    "Install randflow with uv (itself pip-installed into the venv); False if any step fails."
    py = venv / 'bin' / 'python'
    if not run(py, '-m', 'pip', 'install', '-q', UV): return False
    args, env = uv_args(pip_config(py))
    return run(venv / 'bin' / 'uv', 'pip', 'install', '-q', '--python', py, '--index-strategy', 'unsafe-best-match',
               '--compile-bytecode', *args, *TARGET, env=env)

def install_pip(venv):
    "Install randflow with pip alone."
    py = venv / 'bin' / 'python'
    return run(py, '-m', 'pip', 'install', '-q', '-U', 'pip') and run(py, '-m', 'pip', 'install', '-q', *TARGET)

def main():
    venv = (ROOT / (sys.argv[1] if len(sys.argv) > 1 else '.venv')).absolute()
    if not (venv / 'bin' / 'python').exists(): sys.exit(f'{venv} is not a virtual environment (no bin/python): create it first')
    choice = os.environ.get('RANDFLOW_INSTALLER', 'uv')
    if choice not in ('uv', 'pip'): sys.exit(f"RANDFLOW_INSTALLER={choice!r}: allowed are 'uv' (default, pip if uv fails) and 'pip'")
    if choice == 'uv' and install_uv(venv): return
    if choice == 'uv': print('install_env: uv failed; installing with pip instead', file=sys.stderr)
    if not install_pip(venv): sys.exit('install_env: pip install failed (see above)')

if __name__ == '__main__': main()
