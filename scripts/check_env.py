"""Fail when settings.ini (requirements, dev_requirements), environment.yml and requirements-lock.txt drift apart."""
import configparser, sys
from pathlib import Path
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini', encoding='utf-8'); cfg = cfg['DEFAULT']
errors = []

env = yaml.safe_load((ROOT / 'environment.yml').read_text())
deps = env.get('dependencies', [])
conda = [d for d in deps if isinstance(d, str)]
pip = [d for d in deps if isinstance(d, dict)]
if f"python={cfg['min_python']}" not in conda: errors.append(f"environment.yml must pin python={cfg['min_python']} (settings.ini min_python), has {conda}")
extra = [d for d in conda if d.split('=')[0] not in ('python', 'pip')]
if extra: errors.append(f"environment.yml lists conda packages other than python and pip: {extra}; put requirements in settings.ini")
want_pip = ['-c requirements-lock.txt', '-e .[dev]']
if not pip or pip[0].get('pip') != want_pip: errors.append(f"environment.yml pip section must be exactly {want_pip}, has {pip}")

lock = {}
for line in (ROOT / 'requirements-lock.txt').read_text().splitlines():
    line = line.strip()
    if line and not line.startswith('#') and '==' in line:
        n, v = line.split('==', 1); lock[n.lower().replace('_', '-')] = v
for req in (cfg.get('requirements', '') + ' ' + cfg.get('dev_requirements', '')).split():
    r = Requirement(req); name = r.name.lower().replace('_', '-')
    if name not in lock: errors.append(f"settings.ini requires {req} but requirements-lock.txt has no {name}; run `make lock`")
    elif not r.specifier.contains(lock[name], prereleases=True):
        errors.append(f"lock has {name}=={lock[name]}, settings.ini wants {r.specifier}; run `make lock`")

if errors:
    print('\n'.join('FAIL: ' + e for e in errors), file=sys.stderr); sys.exit(1)
print(f"ok: settings.ini, environment.yml and requirements-lock.txt agree ({len(lock)} locked packages)")
