"""Settle static findings by running the model: reproduced, not reproduced, fixed.

This module plans (the programs, the runs, the experiments and their probes), runs the child
once, and assembles the report; ``judge.py`` reads what the runs showed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rnnshape.api import Analysis, FixOptions, analyze, fix_source
from rnnshape.diagnostic import FileError
from rnnshape.files import read_source
from rnnshape.harness import checks
from rnnshape.harness.bindings import Bindings
from rnnshape.harness.instrument import Instrument
from rnnshape.harness import crash_checks
from rnnshape.harness.judge import (_CRASHES, NOT_CHECKABLE, FindingVerdict, Planning, _row,
                                    _runs_for, _static, judge_fixed, judge_original)
from rnnshape.harness.plan import Run, collect_dims, plan

__all__ = ["FindingVerdict", "Report", "verify"]


@dataclass
class Report:
    filename: str
    device: Optional[str] = None
    bindings: dict = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)
    findings: list[FindingVerdict] = field(default_factory=list)
    pairs: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    error: Optional[str] = None
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.error:
            return 2
        bad = {"reproduced", "not fixed", "error"}
        return 1 if any(f.verdict in bad for f in self.findings) else 0

    def to_json(self) -> dict:
        return {"filename": self.filename, "device": self.device, "bindings": self.bindings,
                "runs": self.runs, "findings": [f.to_json() for f in self.findings],
                "pairs": self.pairs, "checks": self.checks, "error": self.error, "exit_code": self.exit_code}


def _compiles(analysis: Analysis, probes: dict) -> dict:
    if probes:
        try:  # a probe where Python wants a target (``del out[-1]``) would break the program
            compile(analysis.module.visit(Instrument(probes)).code, "<rnnshape-probes>", "exec")
        except SyntaxError:
            return {}
    return probes


def plan_probes(analysis: Analysis) -> dict:
    """A probe on each silent finding's expression inside a def (top-level code never runs)."""
    probes = {}
    for index, finding in enumerate(analysis.findings):
        if finding.code in ("RNN005", "RNN010") and \
                checks.in_function(analysis.module, analysis.positions, finding.node):
            probes[id(finding.node)] = f"p{index}"
    return _compiles(analysis, probes)


def plan_fixed_probes(planning: "Planning", analysis: Analysis, fixed: Analysis) -> dict:
    """A probe on the expression that replaced each probed one in the fixed program."""
    probes = {}
    for index, finding in enumerate(analysis.findings):
        if id(finding.node) in planning.probes:
            node = checks.fixed_node(analysis, fixed, finding.node)
            if node is not None:
                probes[id(node)] = planning.fixed_keys[index] = f"q{index}"
    probes = _compiles(fixed, probes)
    if not probes:
        planning.fixed_keys.clear()
    return probes


def plan_checks(planning: Planning, analysis: Analysis, runs: list[Run], bindings: Bindings,
                known: set, fixed_runs: Optional[list[Run]] = None,
                fixed: Optional[Analysis] = None) -> None:
    for index, finding in enumerate(analysis.findings):
        row = _row(analysis, finding.anchor or finding.node)[0]
        if checks.is_pairing(finding):
            spec, why = checks.plan_pairing(finding, analysis, bindings, known)
            if spec is None:
                planning.why_not[index] = f"{NOT_CHECKABLE} by running: {why}"
            else:
                planning.original[index] = checks.Planned(finding, spec, row, standalone=True)
            continue
        if finding.code in crash_checks.CODES:
            _plan_standalone(planning, index, finding, analysis, bindings, row, fixed)
            continue
        if finding.code not in checks.EXPERIMENT_CODES:
            continue
        key = planning.probes.get(id(finding.node))
        if key is None and finding.code == "RNN005":
            # top-level code never runs, but the index itself can: on a tensor whose every
            # entry holds its own (sample, step)
            spec = checks.plan_index(finding, analysis, bindings, known)
            if spec is not None:
                planned = planning.original[index] = checks.Planned(finding, spec, row,
                                                                    standalone=True)
                if fixed is not None:
                    again = checks.plan_fixed_index(planned, analysis, fixed)
                    if again is not None:
                        planning.fixed[index] = again
                continue
        if key is None and finding.code != "RNN104":
            planning.why_not[index] = (f"{NOT_CHECKABLE} by running: line {row} is top-level "
                                       f"code, which verify never runs")
            continue
        related = _runs_for(finding, analysis, runs)
        if not related:
            continue
        spec = checks.plan_original(finding, key, related[0], key is not None)
        if spec is None:
            planning.why_not[index] = (f"{NOT_CHECKABLE} by running: no input of the run says "
                                       f"which of its dims are batch and time")
            continue
        planning.original[index] = checks.Planned(finding, spec, row)
        twin = next((r for r in fixed_runs or () if r.build == related[0].build), None)
        if twin is not None:
            fixed_spec = checks.plan_fixed(finding, related[0], twin,
                                           planning.fixed_keys.get(index))
            if fixed_spec is not None:
                planning.fixed[index] = checks.Planned(finding, fixed_spec, row)


def _plan_standalone(planning: Planning, index: int, finding, analysis: Analysis,
                     bindings: Bindings, row: int, fixed: Optional[Analysis]) -> None:
    """RNN106/RNN107: an experiment that builds the model and runs it the way the mistake
    needs (on CUDA; two training steps), on the original program and, with ``--fixed``, on the
    fixed one."""
    if finding.code == "RNN107":
        spec, why = crash_checks.plan_feedback(finding, analysis, bindings)
    else:
        spec, why = crash_checks.plan_device(finding, analysis, bindings), ""
    if spec is None:
        planning.why_not[index] = f"{NOT_CHECKABLE} by running: {why}"
        return
    predicts = _CRASHES[finding.code]
    planning.original[index] = checks.Planned(finding, spec, row, standalone=True,
                                              predicts=predicts)
    if fixed is not None:
        planning.fixed[index] = checks.Planned(finding, crash_checks.fixed_spec(spec), row,
                                               standalone=True, predicts=predicts)


def run_child(spec: dict, timeout: float, workdir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP", "HTTPS", "http"))}
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH", "")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        proc = subprocess.run([sys.executable, "-m", "rnnshape.harness.child"],
                              input=json.dumps(spec), capture_output=True, text=True,
                              timeout=timeout, cwd=workdir, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"the model run timed out after {timeout:g} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"the model run crashed (exit {proc.returncode}): {tail}"}
    return json.loads(lines[-1])


def _program_of(path: str, text: Optional[str]):
    """The text verify analyses, and the notebook it came from (None for a script)."""
    if text is None:
        text = read_source(path)
    if not path.endswith(".ipynb"):
        return text, None
    from rnnshape.notebook import load_notebook  # only notebooks pay for the reader
    notebook = load_notebook(text, path)
    if not notebook.is_python:
        raise FileError(path, f"the notebook's kernel is {notebook.language}, not Python")
    return notebook.program(), notebook


def verify(path: str, device: str = "cpu", fixed: bool = False, batch_first: bool = False,
           seed: int = 0, timeout: float = 60.0, text: Optional[str] = None,
           unsafe_only: Optional[frozenset] = None) -> Report:
    """``text``: verify this source instead of the file's; ``unsafe_only``: with ``fixed``,
    the (code, row) pairs whose unsafe fixes the fixed program applies (None: all)."""
    started = time.perf_counter()
    report = Report(path)
    text, notebook = _program_of(path, text)
    analysis = analyze(text, path)
    if analysis is None or not analysis.facts.model_calls and not analysis.findings:
        report.seconds = time.perf_counter() - started
        return report
    analyses = {"original": analysis}
    if fixed:
        for name, strategy in (("fixed", batch_first), ("other", not batch_first)):
            options = FixOptions(batch_first=strategy, unsafe=True, unsafe_only=unsafe_only)
            new = fix_source(text, path, options=options).text
            fixed_analysis = analyze(new, path)
            if fixed_analysis is not None:
                analyses[name] = fixed_analysis
    dims = []
    for item in analyses.values():
        dims.extend(collect_dims(item, item.scope))
    bindings = Bindings(dims)
    report.bindings = dict(bindings.values)
    planning = Planning(probes=plan_probes(analysis))
    probes = {"original": planning.probes}
    if "fixed" in analyses:
        probes["fixed"] = plan_fixed_probes(planning, analysis, analyses["fixed"])
    programs, runs = {}, {}
    for name, item in analyses.items():
        programs[name], runs[name] = plan(item, item.scope, name, bindings, None,
                                          probes.get(name))
    plan_checks(planning, analysis, runs["original"], bindings, kept_names(programs["original"]),
                runs.get("fixed"), analyses.get("fixed"))
    pairs = []
    if fixed and "fixed" in runs and "other" in runs:
        for a, b in zip(runs["fixed"], runs["other"]):
            if a.build == b.build:
                pairs.append({"runs": [a.spec(), b.spec()]})
    all_runs = [r for name in analyses for r in runs[name]]
    spec = {"filename": os.path.abspath(path), "device": device, "seed": seed,
            "programs": programs, "runs": [r.spec() for r in all_runs], "pairs": pairs,
            "checks": planning.specs(), "sys_path": [os.path.dirname(os.path.abspath(path))]}
    with tempfile.TemporaryDirectory(prefix="rnnshape-verify-") as workdir:
        out = run_child(spec, timeout, workdir)
    report.error = out.get("error")
    report.device = out.get("device")
    results = {r["id"]: r for r in out.get("runs", [])}
    checked = {c["id"]: c for c in out.get("checks", [])}
    report.pairs = out.get("pairs", [])
    for run in all_runs:
        result = results.get(run.id, {})
        report.runs.append({
            "id": run.id, "program": run.program, "row": _row(analyses[run.program], run.call)[0],
            "call": analyses[run.program].module.code_for_node(run.call),
            "static_inputs": [_static(a.shape, bindings) for a in run.static],
            "runtime": result.get("recurrent", []), "output": result.get("output"),
            "ok": result.get("ok", False), "error": result.get("error"),
            "loss_error": result.get("loss_error"), "note": result.get("dtype_note")})
    if notebook is not None:
        for run in report.runs:
            run["cell"], run["row"] = notebook.locate(run["row"])
    report.checks = list(checked.values())
    report.findings = judge_original(analysis, runs["original"], results, bindings, planning,
                                     checked)
    if fixed and "fixed" in analyses:
        judge_fixed(report.findings, analyses["fixed"], runs["fixed"], results, bindings,
                    report.pairs, planning, checked)
    if not report.error:
        report.error = _unexplained_crash(report)
    if report.error:
        for verdict in report.findings:
            if verdict.verdict in ("reproduced", "not reproduced", "not run", "fixed"):
                verdict.verdict, verdict.detail = "error", report.error
    if notebook is not None:
        _in_cells(report, notebook)
    report.seconds = time.perf_counter() - started
    return report


def kept_names(program: str) -> set:
    """The module-level names the extracted program binds (what a flatten may refer to)."""
    names = set()
    for line in program.splitlines():
        head = line.split("=", 1)[0] if "=" in line and not line.startswith((" ", "\t")) else ""
        names.update(n.strip() for n in head.split(",") if n.strip().isidentifier())
    return names


def _in_cells(report: Report, notebook) -> None:
    """A finding's row in a notebook's program becomes (cell, row in the cell)."""
    for verdict in report.findings:
        program_row = verdict.row
        verdict.cell, verdict.row = notebook.locate(program_row)
        verdict.detail = verdict.detail.replace(f"line {program_row}",
                                                f"cell {verdict.cell}, line {verdict.row}")


def _unexplained_crash(report: Report) -> Optional[str]:
    """A run that raised is never a pass: unless a finding it reproduces (or a fix it shows
    not to work) explains the exception, the whole verification is an error naming it."""
    verdicts = {f.verdict for f in report.findings}
    # the original program's crash is what a reproduced (or since fixed) finding predicted; a
    # fixed program's crash is a fix shown not to work
    explains = {"reproduced", "fixed", "not fixed"}
    for run in report.runs:
        wanted = explains if run["program"] == "original" else {"not fixed", "error"}
        for error in (run["error"], run.get("loss_error")):
            if error and not verdicts & wanted:
                where = "the loss of " if error == run.get("loss_error") else ""
                line = f"cell {run['cell']}, line {run['row']}" if run.get("cell") else \
                    f"line {run['row']}"
                return (f"{where}the {run['program']} program raised at {line} "
                        f"({run['call']}): {error}; no finding explains it")
    if all(run["ok"] for run in report.runs):
        for check in report.checks:
            if check.get("error"):
                return f"an experiment on the model raised {check['error']}"
    return None
