"""Speed, memory and robustness benchmark of rnnshape over a large real tree, next to TorchFix.

Usage: python bench/bench.py [--tree PATH] [--quick N] [--single] [--skip-torchfix] [--torchfix EXE]

The default tree is the installed torch package: thousands of real files, and the design
promises no crash on any of them.  It is located with find_spec so that torch is never imported
(importing it takes seconds and hundreds of MiB, and would pollute the measurements of a tool
that must not need it).  Every measured command is a child process timed from spawn to exit,
with its peak RSS read from os.wait4; results are printed and written to bench/out/results.json.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # bench the working tree, not some installed copy
OUT = REPO / "bench" / "out"

SINGLE_FILE = REPO / "examples" / "seed" / "onehot_lstm_bug.py"
SINGLE_RUNS = 7  # interpreter start varies by tens of milliseconds run to run: take a median
# The floor a one-file check is measured against: a fresh interpreter importing libcst and
# parsing the same file.
BARE_PARSE_ONE = "import libcst, sys; libcst.parse_module(open(sys.argv[1]).read())"
VERIFY_RUNS = 3  # each verify run imports torch (seconds); fewer runs
# TorchFix pins libcst<1.6 and the project needs a newer one, so it lives in its own venv.
TORCHFIX_VENV = Path("/tmp/torchfix-venv")

TARGETS = {  # what the design asks for; printed as met / not met next to the numbers
    "cold_vs_torchfix": 10.0,      # x TorchFix's files/s, same cores
    "warm_files_per_s": 1000.0,
    "single_file_s": 0.35,         # including interpreter start
    "single_file_x_parse": 1.5,    # one-file check / bare libcst parse of the same file
    "peak_rss_bytes": 1.5e9,
}


def torch_dir() -> str:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("bench: torch is not installed; pass --tree PATH")
    return list(spec.submodule_search_locations)[0]


def source_files(tree: str) -> list[str]:
    """Every .py/.pyi file under ``tree``, walked here and not by the CLI's discovery, which
    may skip parts of a tree (.gitignore files above it, folders named build/env/...).
    Every tool then sees exactly these files."""
    found = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        found.extend(os.path.join(dirpath, f) for f in filenames if f.endswith((".py", ".pyi")))
    return sorted(found)


def discovered_count(tree: str) -> int:
    from rnnshape.diagnostic import FileError
    from rnnshape.files import discover
    return sum(1 for f in discover([tree]) if not isinstance(f, FileError))


def default_jobs() -> int:
    from rnnshape.parallel import default_jobs as jobs
    return jobs()


def tree_pss_kib(root: int) -> int:
    """Proportional set size of ``root`` and all its descendants, in KiB.  ru_maxrss is the
    largest single process, but a pool's workers are alive together: their sum is what the
    machine has to hold.  PSS, not RSS, so pages shared after fork are counted once."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except OSError:
            pass
    return total


def measure(cmd: list[str], cwd: str, env: dict | None = None) -> dict:
    """Run ``cmd``; wall and CPU seconds, exit code, peak RSS (wait4), sampled peak tree PSS,
    output.  Linux starts a child's ru_maxrss at this process's own peak (it is carried over
    fork/vfork and exec), so this process must stay small: see the bare-parse loop."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load = os.getloadavg()[0]
        peak_pss = [0]
        start = time.perf_counter()
        # Output goes to files: a pipe nobody reads would stall a tool that prints a lot.
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        done = threading.Event()
        sampling = os.path.exists("/proc/self/smaps_rollup")

        def sample():  # every 0.2 s: a peak shorter than that can be missed
            while not done.wait(0.2):
                peak_pss[0] = max(peak_pss[0], tree_pss_kib(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        if sampling:
            sampler.start()
        # wait4 gives the child's rusage; its ru_maxrss covers the child and the descendants
        # it reaped (pool workers): the largest single process, in KiB on Linux.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        if sampling:
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        # A run of a few samples says nothing about its peak: left blank rather than misread.
        pss = peak_pss[0] * 1024 if sampling and seconds >= 1 else None
        # CPU time (children reaped by the child included) hardly moves with other load on
        # the machine, where wall time does: the fairer comparison on a shared machine.
        cpu = usage.ru_utime + usage.ru_stime
        return {"seconds": seconds, "cpu_s": cpu, "rc": proc.returncode, "rss_bytes": rss,
                "tree_pss_bytes": pss, "load1": load,
                "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace")}


def median_wall(cmd: list[str], cwd: str, runs: int, env: dict | None = None) -> list[float]:
    return [measure(cmd, cwd, env)["seconds"] for _ in range(runs)]


# libcst.parse_module over the files, in one process on one core: the floor under any
# LibCST-based linter.  Reading and decoding are included, as the tools do them too.  It runs
# in a child: in this process it would grow the bench to hundreds of MiB, and every later
# child's ru_maxrss would start there.
BARE_PARSE = """
import sys, libcst
from rnnshape.files import read_source
failed = 0
for path in open(sys.argv[1], encoding="utf-8").read().splitlines():
    try:
        libcst.parse_module(read_source(path))
    except Exception:  # only the time matters here; failures are counted, not analysed
        failed += 1
print(failed)
"""


def single_file_walls(check: list[str], cwd: str, env: dict) -> tuple[list[float], list[float]]:
    """One-file check and the bare parse of the same file, alternated so that a change in the
    machine's load hits both alike."""
    single, bare = [], []
    for _ in range(SINGLE_RUNS):
        single += median_wall([*check, "--no-cache", str(SINGLE_FILE)], cwd, 1, env)
        bare += median_wall([sys.executable, "-c", BARE_PARSE_ONE, str(SINGLE_FILE)], cwd, 1, env)
    return single, bare


def report_single(single: list[float], bare: list[float], python_pass: list[float]):
    single_med, bare_med = statistics.median(single), statistics.median(bare)
    ratio = single_med / bare_med
    print(f"\nsingle file `rnnshape check --no-cache {SINGLE_FILE.relative_to(REPO)}`: median of"
          f" {SINGLE_RUNS} {single_med:.3f} s  (runs: {', '.join(f'{s:.3f}' for s in single)})")
    print(f"bare `{BARE_PARSE_ONE}` on it: median {bare_med:.3f} s"
          f"  (runs: {', '.join(f'{s:.3f}' for s in bare)})")
    print(f"one-file check / bare parse: {ratio:.2f}x (target <= {TARGETS['single_file_x_parse']}x)")
    print(f"`python -c pass`: median of {SINGLE_RUNS} {statistics.median(python_pass):.3f} s")
    return single_med, ratio


def find_torchfix(option: str | None) -> str | None:
    for candidate in (option, str(TORCHFIX_VENV / "bin" / "torchfix"), shutil.which("torchfix")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def torchfix_versions(exe: str) -> str:
    # The venv's own python knows its libcst, which is not the project's.
    python = Path(exe).with_name("python")
    code = "import importlib.metadata as m; print(m.version('torchfix'), m.version('libcst'))"
    found = subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.split()
    return f"TorchFix {found[0]} (libcst {found[1]})" if len(found) == 2 else "TorchFix ?"


def fmt_mib(value) -> str:
    return "-" if value is None else f"{value / 2**20:.0f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", help="tree to check (default: the installed torch package)")
    parser.add_argument("--quick", type=int, metavar="N", help="only the first N files")
    parser.add_argument("--single", action="store_true",
                        help="only the one-file start time and its ratio to a bare parse")
    parser.add_argument("--skip-torchfix", action="store_true", help="do not run TorchFix")
    parser.add_argument("--torchfix", metavar="EXE",
                        help=f"TorchFix executable (default: {TORCHFIX_VENV}/bin/torchfix, "
                             "else `torchfix` on PATH)")
    args = parser.parse_args()

    tree = os.path.abspath(args.tree or torch_dir())  # the CLI runs in a scratch folder
    files = source_files(tree)
    discovered = discovered_count(tree)
    if discovered != len(files):
        print(f"note: `rnnshape check {tree}` discovers {discovered} of {len(files)} files"
              " (.gitignore, skipped folders); the CLI runs below are given the files by name")
    same_files = discovered == len(files) and not args.quick
    files = files[:args.quick] if args.quick else files
    # rnnshape gets the tree itself, as a user would, unless its discovery would pick other
    # files.  TorchFix always gets the files by name: given a folder it would drop the .pyi
    # stubs (libcst's gather_files), which are among the largest files of the torch tree.
    cli_paths = [tree] if same_files else files
    n, jobs = len(files), default_jobs()
    if not files:
        print(f"tree: {tree}: no files")
        return 2
    torchfix = None if args.skip_torchfix else find_torchfix(args.torchfix)
    if not args.skip_torchfix and torchfix is None:
        sys.exit(f"bench: TorchFix not found; install it with `python -m venv {TORCHFIX_VENV} && "
                 f"{TORCHFIX_VENV}/bin/pip install torchfix`, or pass --skip-torchfix")

    load_before = os.getloadavg()
    meta = {"tree": tree, "files": n, "cores": os.cpu_count(), "jobs": jobs,
            "python": platform.python_version(), "libcst": importlib.metadata.version("libcst"),
            "torchfix": torchfix_versions(torchfix) if torchfix else None,
            "loadavg_before": load_before, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"tree: {tree}  ({n} files)   cores: {os.cpu_count()}, rnnshape default jobs: {jobs}")
    print(f"python {meta['python']}, libcst {meta['libcst']}"
          + (f"; {meta['torchfix']} from {torchfix}" if torchfix else "; TorchFix skipped"))
    print("load average before: " + " ".join(f"{x:.2f}" for x in load_before), flush=True)

    env = dict(os.environ, PYTHONPATH=str(REPO))
    rnnshape = [sys.executable, "-m", "rnnshape"]
    check = [*rnnshape, "check", "--output-format", "concise"]
    scratch = tempfile.mkdtemp(prefix="rnnshape-bench-")  # cwd: where .rnnshape_cache/ goes

    def progress(what: str) -> None:
        print(f"  running: {what}", file=sys.stderr, flush=True)

    # --- one file, interpreter start included ---------------------------------------------
    progress("single-file check and `python -c pass`")
    python_pass = median_wall([sys.executable, "-c", "pass"], scratch, SINGLE_RUNS)
    single, bare_single = single_file_walls(check, scratch, env)
    if args.single:
        report_single(single, bare_single, python_pass)
        return 0

    # --- the tree ---------------------------------------------------------------------------
    runs: list[dict] = []

    def run(name: str, tool: str, njobs: int, cmd: list[str], cwd: str = scratch) -> dict:
        progress(name)
        result = measure(cmd, cwd, env)
        result.update(name=name, tool=tool, jobs=njobs)
        runs.append(result)
        return result

    file_list = os.path.join(scratch, "files.txt")
    Path(file_list).write_text("\n".join(files) + "\n", encoding="utf-8")
    parse = run("bare libcst.parse_module", "libcst", 1,
                [sys.executable, "-c", BARE_PARSE, file_list])
    parse["failed"] = int(parse["stdout"].strip() or -1)

    cold1 = run("rnnshape cold", "rnnshape", 1, [*check, "--jobs", "1", "--no-cache", *cli_paths])
    coldn = run("rnnshape cold", "rnnshape", jobs, [*check, "--no-cache", *cli_paths])
    # The first cached run fills the scratch cache (its time is cold plus the writes); the
    # warm runs read it.  The cache key does not depend on --jobs, so one fill serves both.
    warm_dir = tempfile.mkdtemp(prefix="rnnshape-bench-warm-")
    run("rnnshape cache fill", "rnnshape", jobs, [*check, *cli_paths], warm_dir)
    warm1 = run("rnnshape warm", "rnnshape", 1, [*check, "--jobs", "1", *cli_paths], warm_dir)
    warmn = run("rnnshape warm", "rnnshape", jobs, [*check, *cli_paths], warm_dir)
    tf1 = tfn = None
    if torchfix:
        # TorchFix (libcst's parallel codemod runner) takes -j; -j 1 runs in process.
        tf1 = run("TorchFix", "torchfix", 1, [torchfix, "-j", "1", *files])
        tfn = run("TorchFix", "torchfix", jobs, [torchfix, "-j", str(jobs), *files])

    # --- verify: wall time minus one torch import ---------------------------------------------
    progress("`import torch` and verify")
    torch_import = median_wall([sys.executable, "-c", "import torch"], scratch, VERIFY_RUNS)
    verify_cmd = [*rnnshape, "verify", "--device", "cpu", str(SINGLE_FILE)]
    verify = median_wall(verify_cmd, scratch, VERIFY_RUNS, env)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(warm_dir, ignore_errors=True)
    load_after = os.getloadavg()

    # --- table -------------------------------------------------------------------------------
    for r in runs:
        r["files_per_s"] = n / r["seconds"]
        r["x_parse"] = parse["seconds"] / r["seconds"]
    print(f"\n{'run':<26}{'jobs':>5}{'files':>7}{'wall s':>9}{'files/s':>10}{'x parse':>9}"
          f"{'CPU s':>9}{'RSS MiB':>9}{'PSS MiB':>9}{'load1':>7}{'rc':>4}")
    for r in runs:
        print(f"{r['name']:<26}{r['jobs']:>5}{n:>7}{r['seconds']:>9.2f}{r['files_per_s']:>10.1f}"
              f"{r['x_parse']:>8.2f}x{r['cpu_s']:>9.2f}{fmt_mib(r['rss_bytes']):>9}"
              f"{fmt_mib(r['tree_pss_bytes']):>9}{r['load1']:>7.2f}{r['rc']:>4}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print("  wall s: spawn to exit, interpreter start included.  x parse: wall throughput relative"
          " to the bare parse loop (1 process).\n  CPU s: user + system of the run's whole"
          " process tree.  RSS MiB: ru_maxrss from os.wait4, the largest single process of the"
          f" run\n  (never below this bench's own {own} MiB, Linux carries it into the child)."
          "  PSS MiB: peak sum over the process tree, sampled every 0.2 s (blank under 1 s).\n"
          "  load1: 1-minute load average when the run started.")

    single_med, single_ratio = report_single(single, bare_single, python_pass)
    verify_med, import_med = statistics.median(verify), statistics.median(torch_import)
    print(f"`rnnshape verify --device cpu` on it: median of {VERIFY_RUNS} {verify_med:.2f} s,"
          f" `python -c 'import torch'` {import_med:.2f} s;\n  verify minus one torch import:"
          f" {verify_med - import_med:.2f} s (the import time is subtracted once, as measured"
          " on its own; verify's own import may differ)")

    # --- ratios and targets -------------------------------------------------------------------
    rnn_rss = max(r["rss_bytes"] for r in runs if r["tool"] == "rnnshape")
    rnn_pss = max((r["tree_pss_bytes"] or 0) for r in runs if r["tool"] == "rnnshape") or None
    targets = {
        "warm_files_per_s": (warmn["files_per_s"], warmn["files_per_s"] >= TARGETS["warm_files_per_s"]),
        "single_file_s": (single_med, single_med < TARGETS["single_file_s"]),
        "single_file_x_parse": (single_ratio, single_ratio <= TARGETS["single_file_x_parse"]),
        "peak_rss_bytes": (rnn_rss, rnn_rss < TARGETS["peak_rss_bytes"]),
    }
    print("\nratios")
    print(f"  rnnshape cold, {jobs} jobs vs bare parse (1 core): {coldn['x_parse']:.2f}x the"
          f" throughput; 1 job vs bare parse: {cold1['x_parse']:.2f}x;"
          f" CPU time, 1 job vs bare parse: {parse['cpu_s'] / cold1['cpu_s']:.2f}x")
    if tfn:
        vs_tf = tfn["seconds"] / coldn["seconds"]
        targets["cold_vs_torchfix"] = (vs_tf, vs_tf >= TARGETS["cold_vs_torchfix"])
        print(f"  rnnshape cold vs TorchFix, {jobs} jobs each: {vs_tf:.2f}x the throughput;"
              f" 1 job each: {tf1['seconds'] / cold1['seconds']:.2f}x\n"
              f"  by CPU time (insensitive to other load): {jobs} jobs each"
              f" {tfn['cpu_s'] / coldn['cpu_s']:.2f}x, 1 job each {tf1['cpu_s'] / cold1['cpu_s']:.2f}x")
        print(f"  TorchFix: {' | '.join(line for line in tfn['stderr'].splitlines() if 'Finished' in line)}"
              " (it parses only files that mention `torch`)")
    print(f"  rnnshape warm: {warm1['files_per_s']:.0f} files/s with 1 job,"
          f" {warmn['files_per_s']:.0f} files/s with {jobs} jobs")
    print("\ntargets")
    if "cold_vs_torchfix" in targets:
        value, ok = targets["cold_vs_torchfix"]
        print(f"  cold throughput >= 10x TorchFix, same cores ({jobs}): {value:.2f}x  {verdict(ok)}"
              " (wall time; see the CPU-time ratios above)")
    else:
        print("  cold throughput >= 10x TorchFix: not measured (--skip-torchfix)")
    value, ok = targets["warm_files_per_s"]
    print(f"  warm >= 1000 files/s ({jobs} jobs, the default): {value:.0f}  {verdict(ok)}")
    value, ok = targets["single_file_s"]
    print(f"  one-file check < 0.35 s with interpreter start: {value:.3f} s  {verdict(ok)}")
    value, ok = targets["single_file_x_parse"]
    print(f"  one-file check <= 1.5x a bare libcst parse of it (same run): {value:.2f}x  {verdict(ok)}")
    value, ok = targets["peak_rss_bytes"]
    print(f"  peak RSS < 1.5 GB on the tree (largest process, any rnnshape run): {value / 1e9:.2f} GB"
          f"  {verdict(ok)}" + (f"; whole process tree PSS peak {rnn_pss / 1e9:.2f} GB"
                                if rnn_pss else ""))
    if args.quick or args.tree:
        print("  (not the torch tree: targets are indicative only)")

    # --- robustness: from the cold 1-job run's output -----------------------------------------
    codes = Counter(re.findall(r":\d+:\d+: (RNN\d{3}) ", cold1["stdout"]))
    errors = [line for line in cold1["stderr"].splitlines() if ": error:" in line]
    internal = [line for line in errors if "internal error" in line]
    crashed = [r for r in runs if "Traceback" in r.get("stderr", "") and r["tool"] == "rnnshape"]
    print("\nrobustness (rnnshape cold, 1 job)")
    print("  findings per code: " + (", ".join(f"{c} {k}" for c, k in sorted(codes.items())) or "none"))
    print(f"  file errors: {len(errors) - len(internal)}; internal errors: {len(internal)};"
          f" bare-parse failures: {parse['failed']}")
    for line in errors:
        print(f"    {line}")
    for r in crashed:  # a traceback is a crash outside the per-file isolation: a run was lost
        print(f"  {r['name']} ({r['jobs']} jobs) crashed:\n{r['stderr'][-2000:]}")
    print("load average after: " + " ".join(f"{x:.2f}" for x in load_after))

    OUT.mkdir(parents=True, exist_ok=True)
    meta["loadavg_after"] = load_after
    results = {
        "meta": meta,
        "runs": [{k: v for k, v in r.items() if k not in ("stdout", "stderr")} for r in runs],
        "single_file_s": single, "bare_parse_single_file_s": bare_single,
        "python_pass_s": python_pass,
        "verify_s": verify, "import_torch_s": torch_import,
        "verify_minus_import_s": verify_med - import_med,
        "targets": {k: {"value": v, "target": TARGETS[k], "met": ok}
                    for k, (v, ok) in targets.items()},
        "findings": dict(codes), "file_errors": errors, "internal_errors": len(internal),
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"written: {(OUT / 'results.json').relative_to(REPO)}")
    return 1 if internal or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
