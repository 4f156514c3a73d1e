"""Bench: pitstop's static Django migration analysis against `manage.py makemigrations --check --dry-run`.

Generates a project with 2,000 migrations (several apps with real AddField/CreateModel operations,
cross-app and swappable dependencies, run_before, a squash) whose models match its migrations, then
times, each in a fresh process:

- Django: `python manage.py makemigrations --check --dry-run` (sqlite settings in a temp dir);
- pitstop cold: `find_projects` + `analyze` with an empty cache;
- pitstop warm: the same with the cache filled and the tree unchanged (answered from the clean stamp);
- pitstop warm, graph rebuilt: parse cache filled but no clean stamp, as for a tree with problems.

Usage: python bench/migrations.py [--migrations 2000] [--apps 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.diagnostics import migration_projects as mp  # noqa: E402

PITSTOP = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from diagnostics.migrations import django as dj
projects = dj.find_projects(Path(sys.argv[1]))
problems = [p for project in projects for p in dj.analyze(project)]
elapsed = time.perf_counter() - start
print(len(projects), len(problems), f"{elapsed:.4f}", int("networkx" in sys.modules))
"""


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--migrations", type=int, default=2000)
    parser.add_argument("--apps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pitstop-bench-"))
    try:
        per_app = args.migrations // args.apps
        while True:  # squashes that delete what they replace leave fewer files: top up to the target
            spec = mp.generate_django(
                2000,
                apps=args.apps,
                per_app=per_app,
                branch_rate=0.0,
                operations=True,
                odd_names=False,
                models_per_app=6,
            )
            files = sum(1 for m in spec.migrations if m.key not in spec.deleted)
            if files >= args.migrations:
                break
            per_app += 1
        project = mp.write_django(work / "project", spec)
        squashes = [m.name for m in spec.migrations if m.replaces]
        print(f"project: {files} migration files in {args.apps} apps, squashes: {', '.join(squashes)}")

        base_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "XDG_CACHE", "PYTHONDONTWRITEBYTECODE"))
        }
        django_env = {**base_env, "DJANGO_SETTINGS_MODULE": "proj.settings.dev", "PYTHONPATH": str(project)}
        cache = work / "cache"
        # pitstop runs as installed: its own modules byte-compiled (pip does that at install time)
        pitstop_env = {**base_env, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-c", "import diagnostics.migrations.django"], cwd=ROOT, env=pitstop_env, check=True
        )

        django_cold, django_times, cold_times, warm_times, parsed_times = [], [], [], [], []
        inner_cold, inner_warm, inner_parsed = [], [], []
        makemigrations = [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"]
        for _ in range(args.repeat):
            # without bytecode (as in containers with PYTHONDONTWRITEBYTECODE=1), then with it cached
            elapsed, proc = run(makemigrations, project, {**django_env, "PYTHONDONTWRITEBYTECODE": "1"})
            if proc.returncode != 0:
                raise SystemExit(f"makemigrations --check failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
            django_cold.append(elapsed)
            run(makemigrations, project, django_env)  # writes the .pyc files
            elapsed, proc = run(makemigrations, project, django_env)
            django_times.append(elapsed)
            for pycache in project.rglob("__pycache__"):
                shutil.rmtree(pycache)

            shutil.rmtree(cache, ignore_errors=True)
            elapsed, proc = run([sys.executable, "-c", PITSTOP, str(project)], ROOT, pitstop_env)
            if proc.returncode != 0:
                raise SystemExit(proc.stderr)
            cold_times.append(elapsed)
            inner_cold.append(float(proc.stdout.split()[2]))

            elapsed, proc = run([sys.executable, "-c", PITSTOP, str(project)], ROOT, pitstop_env)
            warm_times.append(elapsed)
            _, problems, inner, nx_loaded = proc.stdout.split()
            inner_warm.append(float(inner))
            if problems != "0" or nx_loaded != "0":
                raise SystemExit(f"expected a clean graph without networkx, got {proc.stdout}")

            # the parse cache alone, graph rebuilt: what a tree with problems (or just changed) costs
            for stamp in cache.rglob("*.clean"):
                stamp.unlink()
            elapsed, proc = run([sys.executable, "-c", PITSTOP, str(project)], ROOT, pitstop_env)
            parsed_times.append(elapsed)
            inner_parsed.append(float(proc.stdout.split()[2]))

        django_c = statistics.median(django_cold)
        django_t = statistics.median(django_times)
        cold_t = statistics.median(cold_times)
        warm_t = statistics.median(warm_times)
        parsed_t = statistics.median(parsed_times)
        print(f"django makemigrations --check --dry-run, no .pyc:     {django_c:7.3f} s")
        print(f"django makemigrations --check --dry-run, .pyc cached: {django_t:7.3f} s  (the baseline below)")
        print(
            f"pitstop analyze, cold (empty cache):      {cold_t:7.3f} s  in-process {statistics.median(inner_cold):.3f} s"
            f"  ratio {django_t / cold_t:5.1f}x  ({django_c / cold_t:.1f}x against no .pyc)"
        )
        print(
            f"pitstop analyze, warm (cache, unchanged): {warm_t:7.3f} s  in-process {statistics.median(inner_warm):.3f} s"
            f"  ratio {django_t / warm_t:5.1f}x  ({django_c / warm_t:.1f}x against no .pyc)"
        )
        print(
            f"pitstop analyze, warm, graph rebuilt:     {parsed_t:7.3f} s  in-process {statistics.median(inner_parsed):.3f} s"
            f"  ratio {django_t / parsed_t:5.1f}x  (parse cache only, no clean stamp)"
        )
        print(
            f"wall times of fresh processes, median of {args.repeat}; python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
