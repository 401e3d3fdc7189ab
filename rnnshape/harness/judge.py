"""What each finding's runs show: the verdict per finding, on the file's program and on the
fixed one (``verify.py`` plans and runs; this module reads the results)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from rnnshape.api import Analysis
from rnnshape.harness import checks
from rnnshape.harness.bindings import Bindings
from rnnshape.harness.plan import Run
from rnnshape.rules.layout_fix import LayoutData
from rnnshape.rules.packing import PackData
from rnnshape.shapes.axes import axes, layout_conflict
from rnnshape.shapes.facts import LayerCall

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
    cell: Optional[int] = None  # a notebook's cell (1-based, counting every cell); row is in it

    def to_json(self) -> dict:
        return dict(self.__dict__)


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
    "RNN006": ("view size is not compatible",),
    "RNN007": ("expected target size", "only batches of spatial targets"),
    "RNN008": ("`len(lengths)`", "batch_size"),
    "RNN009": ("values to unpack", "has no attribute", "not subscriptable"),
    # settled by their own experiments (``checks.plan_feedback``, ``checks.plan_device``)
    "RNN106": ("expected all tensors to be on the same device", "can't convert cuda",
               "not at the same device", "expected object of device type cuda",
               "weight type (torch.cuda"),
    "RNN107": ("backward through the graph a second time", "modified by an inplace operation"),
}
# Rules whose mistake always raises (the bindings are distinct, so no size coincides): a run
# that goes through clean shows the finding false.  The others can be silent.
_ALWAYS_RAISES = {"RNN002", "RNN003", "RNN004", "RNN006", "RNN007"}
RUN_CODES = (set(_CRASHES) - checks.STANDALONE_CODES) | checks.EXPERIMENT_CODES
NOT_CHECKABLE = "not checkable"


def _predicts(code: str, error: str) -> bool:
    """Whether the exception is the failure the finding says the code will hit."""
    text = error.lower()
    return any(word in text for word in _CRASHES.get(code, ()))


def _always_raises(finding) -> bool:
    if finding.code == "RNN008":  # packing batch as time hands pack a lengths of the wrong size
        return isinstance(finding.data, PackData) and finding.data.call.kind == "pack" and \
            finding.data.batch_first is not None
    return finding.code in _ALWAYS_RAISES


@dataclass
class Planning:
    """What the child is asked besides the plain runs, and for which finding."""

    probes: dict = field(default_factory=dict)  # id(node) -> probe key
    original: dict = field(default_factory=dict)  # finding index -> checks.Planned
    fixed: dict = field(default_factory=dict)  # finding index -> checks.Planned
    why_not: dict = field(default_factory=dict)  # finding index -> why nothing can be run
    fixed_keys: dict = field(default_factory=dict)  # finding index -> its probe in the fixed program

    def specs(self) -> list[dict]:
        out = []
        for prefix, table in (("o", self.original), ("f", self.fixed)):
            for index, planned in table.items():
                planned.spec["id"] = f"{prefix}{index}"
                out.append(planned.spec)
        return out


def _stopped(finding, analysis: Analysis, related: list[Run], outcome: list[dict]) -> Optional[str]:
    """The crash of a run that another finding on the same run predicts."""
    for run, result in zip(related, outcome):
        error = result.get("error") or ""
        if result["ok"] or not error:
            continue
        for other in analysis.findings:
            if other is not finding and _predicts(other.code, error) and \
                    run in _runs_for(other, analysis, [run]):
                return f"{NOT_CHECKABLE} by running: the run stopped first at {error} ({other.code})"
    return None


def _judge_crash(finding, verdict: FindingVerdict, analysis: Analysis, related: list[Run],
                 outcome: list[dict], bindings: Bindings) -> None:
    call = _call_of(finding)
    if finding.code == "RNN007":
        fed = [(r, o) for r, o in zip(related, outcome) if r.loss_node is finding.node]
        if not fed:
            verdict.verdict = NOT_CHECKABLE
            verdict.detail = f"{NOT_CHECKABLE} by running: the loss is not fed a model's output"
            return
        related, outcome = [r for r, _ in fed], [o for _, o in fed]
    failed = [o for o in outcome if not o["ok"]]
    if failed:
        error = failed[0]["error"] or ""
        if _predicts(finding.code, error):
            verdict.verdict, verdict.detail = "reproduced", error
        else:
            stopped = _stopped(finding, analysis, related, outcome)
            if stopped:
                verdict.verdict, verdict.detail = NOT_CHECKABLE, stopped
            else:
                verdict.verdict = "error"
                verdict.detail = f"the run raised {error}, which is not what {finding.code} predicts"
        return
    if finding.code == "RNN007":
        ran = [o for o in outcome if "loss" in o or "loss_error" in o]
        if not ran:
            verdict.verdict = NOT_CHECKABLE
            verdict.detail = f"{NOT_CHECKABLE} by running: the loss is not fed the model's output as it is"
            return
        error = next((o["loss_error"] for o in ran if o.get("loss_error")), None)
        if error is not None:
            if _predicts("RNN007", error):
                verdict.verdict, verdict.detail = "reproduced", error
            else:
                verdict.verdict = "error"
                verdict.detail = f"the loss raised {error}, which is not what RNN007 predicts"
            return
    if finding.code == "RNN001" and call is not None and hasattr(call, "module"):
        expected = bindings.shape(call.shape.dims)
        top = not call.module.label.startswith("self.")
        for result in outcome:
            for hook in _hooks_for(result, call.module.label, top):
                if hook["input"] == expected:
                    verdict.verdict = "reproduced"
                    verdict.runtime_shape = str(tuple(hook["input"]))
                    verdict.detail = _describe_swap(call, hook["input"], bindings)
                    return
    if finding.code == "RNN001" or _always_raises(finding):
        verdict.verdict = "not reproduced"
        verdict.detail = "the model ran and its shapes do not show the problem: a static false positive"
    else:
        verdict.verdict = NOT_CHECKABLE
        verdict.detail = (f"{NOT_CHECKABLE} by running: the model ran clean, and this mistake "
                          f"can be silent")


def judge_original(analysis: Analysis, runs: list[Run], results: dict, bindings: Bindings,
                   planning: Optional[Planning] = None, checked: Optional[dict] = None):
    planning = planning or Planning()
    checked = checked or {}
    verdicts = []
    for index, finding in enumerate(analysis.findings):
        row, col = _row(analysis, finding.anchor or finding.node)
        verdict = FindingVerdict(finding.code, row, col, finding.message, NOT_CHECKABLE,
                                 f"{NOT_CHECKABLE} by running: a usage finding, not a property "
                                 f"of what the model computes")
        verdicts.append(verdict)
        if index in planning.why_not:
            verdict.detail = planning.why_not[index]
            continue
        planned = planning.original.get(index)
        if planned is not None and planned.standalone:  # needs no run of the model
            verdict.verdict, verdict.detail = checks.judge(planned, checked.get(planned.spec["id"]))
            continue
        if finding.code not in RUN_CODES:
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
        if finding.code in checks.EXPERIMENT_CODES:
            failed = next((o for o in outcome if not o["ok"]), None)
            planned = planning.original.get(index)
            if failed is not None:
                verdict.verdict = NOT_CHECKABLE
                verdict.detail = f"{NOT_CHECKABLE} by running: the run raised {failed['error']} first"
            elif planned is not None:
                verdict.verdict, verdict.detail = checks.judge(planned, checked.get(planned.spec["id"]))
            continue
        _judge_crash(finding, verdict, analysis, related, outcome, bindings)
    return verdicts


def judge_fixed(original: list[FindingVerdict], fixed: Analysis, runs: list[Run], results: dict,
                bindings: Bindings, pairs: list[dict], planning: Optional[Planning] = None,
                checked: Optional[dict] = None):
    planning = planning or Planning()
    checked = checked or {}
    remaining = {f.code for f in fixed.findings}
    run_ok = all(results.get(r.id, {}).get("ok") and not results[r.id].get("loss_error")
                 for r in runs)
    contract = _contract_holds(fixed, runs, results, bindings)
    for index, verdict in enumerate(original):
        if verdict.code in remaining:
            verdict.verdict, verdict.detail = "not fixed", "the finding is still there after the fix"
            continue
        planned = planning.fixed.get(index)
        if planned is not None and planned.standalone:  # the fixed expression on the same tags
            verdict.verdict, verdict.detail = checks.judge(planned, checked.get(planned.spec["id"]),
                                                           fixed=True)
            continue
        if verdict.code not in RUN_CODES:
            verdict.verdict = NOT_CHECKABLE
            verdict.detail = "gone after the fix; running cannot show that the fix is right"
            continue
        if not runs:
            verdict.verdict, verdict.detail = "not fixed", "the fixed model could not be run"
            continue
        if not run_ok:
            failed = next(results.get(r.id, {}) for r in runs if not results.get(r.id, {}).get("ok")
                          or results[r.id].get("loss_error"))
            verdict.verdict = "not fixed"
            verdict.detail = failed.get("error") or failed.get("loss_error") or "the fixed model failed"
            continue
        if contract is not True:
            verdict.verdict, verdict.detail = "not fixed", contract
            continue
        planned = planning.fixed.get(index)
        if planned is not None:
            verdict.verdict, verdict.detail = checks.judge(planned, checked.get(planned.spec["id"]),
                                                           fixed=True)
            continue
        if verdict.code == "RNN007" and not any("loss" in results.get(r.id, {}) for r in runs):
            verdict.verdict = NOT_CHECKABLE
            verdict.detail = "gone after the fix; the fixed loss is not fed the model's output as it is"
            continue
        if verdict.code in checks.EXPERIMENT_CODES:
            verdict.verdict = NOT_CHECKABLE
            verdict.detail = ("gone after the fix, and the fixed run clean; no experiment could "
                              "be aimed at the fixed expression")
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
