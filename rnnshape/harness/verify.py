"""Settle static findings by running the model: reproduced, not reproduced, fixed."""
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
from rnnshape.files import read_source
from rnnshape.harness.bindings import Bindings
from rnnshape.harness.plan import Run, collect_dims, plan
from rnnshape.rules.layout_fix import LayoutData
from rnnshape.shapes.axes import axes, layout_conflict
from rnnshape.shapes.facts import LayerCall

SHAPE_CODES = {"RNN001", "RNN002", "RNN004"}


@dataclass
class FindingVerdict:
    code: str
    row: int
    column: int
    message: str
    verdict: str
    detail: str = ""
    static_shape: str = ""
    runtime_shape: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Report:
    filename: str
    device: Optional[str] = None
    bindings: dict = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)
    findings: list[FindingVerdict] = field(default_factory=list)
    pairs: list[dict] = field(default_factory=list)
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
                "pairs": self.pairs, "error": self.error, "exit_code": self.exit_code}


def _row(analysis: Analysis, node) -> tuple[int, int]:
    pos = analysis.positions[node].start
    return pos.line, pos.column + 1


def _inside(analysis: Analysis, node, container) -> bool:
    if container is None:
        return False
    outer, inner = analysis.positions[container], analysis.positions[node]
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and \
        (inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column)


def _runs_for(finding, analysis: Analysis, runs: list[Run]) -> list[Run]:
    nodes = {step.node for step in finding.trace}
    return [r for r in runs if nodes & r.trace_nodes or _inside(analysis, finding.node, r.owner)
            or r.call in nodes]


def _call_of(finding):
    """The recurrent call (RNN001) or layer call (RNN004) a shape finding is about."""
    if isinstance(finding.data, LayoutData):
        return finding.data.call
    return finding.data if isinstance(finding.data, LayerCall) else None


def _attribute(label: str) -> str:
    return label.split(".", 1)[1] if label.startswith("self.") else label


def _hooks_for(result: dict, module_label: str, is_top_level: bool) -> list[dict]:
    wanted = "<model>" if is_top_level else _attribute(module_label)
    return [c for c in result.get("recurrent", []) if c["module"] == wanted]


def _describe_swap(call, runtime: list[int], bindings: Bindings) -> str:
    batch_first = bool(call.module.flag("batch_first"))
    pos = axes(batch_first).batch
    dims = call.shape.dims
    value = runtime[pos]
    for dim in dims:
        if bindings.value(dim) == value and dim.role and dim.role != "batch":
            return (f"{call.module.kind} ran with batch = {value}, which is {dim} "
                    f"[{dim.role}]: the batch and time axes are swapped")
    return f"{call.module.kind} ran on {tuple(runtime)}, the wrong layout for batch_first={batch_first}"


def _static(shape, bindings: Bindings) -> str:
    bound = bindings.shape(shape.dims) if shape is not None else None
    return f"{shape} = {tuple(bound)}" if bound else str(shape)


# What torch says when each shape mistake makes a run fail (lower case, any one matches).  A
# rule whose mistake is silent (the wrong step, the wrong direction) predicts no exception.
_CRASHES = {
    "RNN001": ("input.size(-1)", "expected hidden", "input_size", "expected input batch_size",
               "shape", "size mismatch"),
    "RNN002": ("input.size(-1)", "input_size"),
    "RNN003": ("expected hidden", "hidden size", "hx", "batch size"),
    "RNN004": ("mat1 and mat2", "cannot be multiplied", "size mismatch"),
    "RNN006": ("view size is not compatible", "shape", "expected input batch_size"),
    "RNN007": ("expected target size", "target", "only batches of spatial targets"),
    "RNN008": ("lengths", "batch_size", "packed", "pack"),
    "RNN009": ("values to unpack", "has no attribute", "tuple", "not subscriptable"),
}


def _predicts(code: str, error: str) -> bool:
    """Whether the exception is the failure the finding says the code will hit."""
    text = error.lower()
    return any(word in text for word in _CRASHES.get(code, ()))


def judge_original(analysis: Analysis, runs: list[Run], results: dict, bindings: Bindings):
    verdicts = []
    for finding in analysis.findings:
        row, col = _row(analysis, finding.anchor or finding.node)
        verdict = FindingVerdict(finding.code, row, col, finding.message, "static only",
                                 "a usage finding: nothing to run")
        verdicts.append(verdict)
        if finding.code not in SHAPE_CODES:
            continue
        related = _runs_for(finding, analysis, runs)
        call = _call_of(finding)
        if call is not None and hasattr(call, "shape"):
            verdict.static_shape = _static(call.shape, bindings)
        if not related:
            verdict.verdict, verdict.detail = "not run", "no call of the model with fully known input shapes"
            continue
        outcome = [results.get(r.id) for r in related]
        if any(o is None for o in outcome):
            verdict.verdict, verdict.detail = "error", "the model did not run"
            continue
        failed = [o for o in outcome if not o["ok"]]
        if failed:
            error = failed[0]["error"] or ""
            if _predicts(finding.code, error):
                verdict.verdict, verdict.detail = "reproduced", error
            else:
                verdict.verdict = "error"
                verdict.detail = f"the run raised {error}, which is not what {finding.code} predicts"
            continue
        if finding.code == "RNN001" and call is not None and hasattr(call, "module"):
            expected = bindings.shape(call.shape.dims)
            top = not call.module.label.startswith("self.")
            for result in outcome:
                for hook in _hooks_for(result, call.module.label, top):
                    if hook["input"] == expected:
                        verdict.verdict = "reproduced"
                        verdict.runtime_shape = str(tuple(hook["input"]))
                        verdict.detail = _describe_swap(call, hook["input"], bindings)
                        break
                if verdict.verdict == "reproduced":
                    break
            if verdict.verdict == "reproduced":
                continue
        verdict.verdict = "not reproduced"
        verdict.detail = "the model ran and its shapes do not show the problem: a static false positive"
    return verdicts


def judge_fixed(original: list[FindingVerdict], fixed: Analysis, runs: list[Run], results: dict,
                bindings: Bindings, pairs: list[dict]):
    remaining = {f.code for f in fixed.findings}
    run_ok = all(results.get(r.id, {}).get("ok") for r in runs)
    contract = _contract_holds(fixed, runs, results, bindings)
    for verdict in original:
        if verdict.code in remaining:
            verdict.verdict, verdict.detail = "not fixed", "the finding is still there after the fix"
            continue
        if verdict.code not in SHAPE_CODES:
            verdict.verdict, verdict.detail = "fixed", "gone after the fix"
            continue
        if not runs:
            verdict.verdict, verdict.detail = "not fixed", "the fixed model could not be run"
            continue
        if not run_ok:
            failed = next(results[r.id] for r in runs if not results.get(r.id, {}).get("ok"))
            verdict.verdict, verdict.detail = "not fixed", failed.get("error") or "the fixed model failed"
            continue
        if contract is not True:
            verdict.verdict, verdict.detail = "not fixed", contract
            continue
        verdict.verdict, verdict.detail = "fixed", "runs clean; every recurrent input matches its contract"
        if verdict.code == "RNN001" and pairs:
            equal = [p for p in pairs if p.get("equal")]
            if len(equal) == len(pairs):
                worst = max(p["max_diff"] for p in pairs)
                verdict.detail += f"; permute and batch_first=True agree (max |diff| {worst:.1e})"
            else:
                bad = next(p for p in pairs if not p.get("equal"))
                verdict.verdict = "not fixed"
                verdict.detail = f"the two strategies disagree: {bad.get('error') or bad.get('max_diff')}"


def _contract_holds(analysis: Analysis, runs, results, bindings: Bindings):
    """True when each recurrent call ran on exactly the shape the tracker predicts, in order."""
    for call in analysis.facts.recurrent_calls:
        if layout_conflict(call) is not None:
            return f"line {_row(analysis, call.node)[0]}: still the wrong layout"
        expected = bindings.shape(call.shape.dims)
        if expected is None:
            continue
        top = not call.module.label.startswith("self.")
        seen = [h["input"] for r in runs if r.id in results
                for h in _hooks_for(results[r.id], call.module.label, top)]
        if seen and expected not in seen:
            return f"line {_row(analysis, call.node)[0]}: ran on {seen[0]}, expected {expected}"
    return True


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


def verify(path: str, device: str = "cpu", fixed: bool = False, batch_first: bool = False,
           seed: int = 0, timeout: float = 60.0) -> Report:
    started = time.perf_counter()
    report = Report(path)
    text = read_source(path)
    analysis = analyze(text, path)
    if analysis is None or not analysis.facts.model_calls and not analysis.findings:
        report.seconds = time.perf_counter() - started
        return report
    analyses = {"original": analysis}
    if fixed:
        for name, strategy in (("fixed", batch_first), ("other", not batch_first)):
            new = fix_source(text, path, options=FixOptions(batch_first=strategy, unsafe=True)).text
            fixed_analysis = analyze(new, path)
            if fixed_analysis is not None:
                analyses[name] = fixed_analysis
    dims = []
    for item in analyses.values():
        dims.extend(collect_dims(item, item.scope))
    bindings = Bindings(dims)
    report.bindings = dict(bindings.values)
    programs, runs = {}, {}
    for name, item in analyses.items():
        programs[name], runs[name] = plan(item, item.scope, name, bindings, None)
    pairs = []
    if fixed and "fixed" in runs and "other" in runs:
        for a, b in zip(runs["fixed"], runs["other"]):
            if a.build == b.build:
                pairs.append({"runs": [a.spec(), b.spec()]})
    all_runs = [r for name in analyses for r in runs[name]]
    spec = {"filename": os.path.abspath(path), "device": device, "seed": seed,
            "programs": programs, "runs": [r.spec() for r in all_runs], "pairs": pairs,
            "sys_path": [os.path.dirname(os.path.abspath(path))]}
    with tempfile.TemporaryDirectory(prefix="rnnshape-verify-") as workdir:
        out = run_child(spec, timeout, workdir)
    report.error = out.get("error")
    report.device = out.get("device")
    results = {r["id"]: r for r in out.get("runs", [])}
    report.pairs = out.get("pairs", [])
    for run in all_runs:
        result = results.get(run.id, {})
        report.runs.append({
            "id": run.id, "program": run.program, "row": _row(analyses[run.program], run.call)[0],
            "call": analyses[run.program].module.code_for_node(run.call),
            "static_inputs": [_static(a.shape, bindings) for a in run.static],
            "runtime": result.get("recurrent", []), "output": result.get("output"),
            "ok": result.get("ok", False), "error": result.get("error")})
    report.findings = judge_original(analysis, runs["original"], results, bindings)
    if fixed and "fixed" in analyses:
        judge_fixed(report.findings, analyses["fixed"], runs["fixed"], results, bindings,
                    report.pairs)
    if not report.error:
        report.error = _unexplained_crash(report)
    if report.error:
        for verdict in report.findings:
            if verdict.verdict in ("reproduced", "not reproduced", "not run", "fixed"):
                verdict.verdict, verdict.detail = "error", report.error
    report.seconds = time.perf_counter() - started
    return report


def _unexplained_crash(report: Report) -> Optional[str]:
    """A run that raised is never a pass: unless a finding it reproduces (or a fix it shows
    not to work) explains the exception, the whole verification is an error naming it."""
    verdicts = {f.verdict for f in report.findings}
    # the original program's crash is what a reproduced (or since fixed) finding predicted; a
    # fixed program's crash is a fix shown not to work
    explains = {"reproduced", "fixed", "not fixed"}
    for run in report.runs:
        error = run["error"]
        wanted = explains if run["program"] == "original" else {"not fixed", "error"}
        if not run["ok"] and error and not verdicts & wanted:
            return (f"the {run['program']} program raised at line {run['row']} "
                    f"({run['call']}): {error}; no finding explains it")
    return None
