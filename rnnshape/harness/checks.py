"""Which experiment settles each silent finding, and what its result means.

A crash settles itself (``judge._CRASHES``); one that needs a second training step or a GPU has
an experiment of its own (``crash_checks.py``).  A silent mistake needs a question the run can
answer: which sample a time-step index reads (RNN005), whether both directions of a
bidirectional module reach the head (RNN010), whether a one-layer module's dropout changes
anything (RNN104), which (sample, step) each flattened logit row is scored against (RNN006).
The code of each experiment runs in the child (``experiments.py``); this side only plans and
reads the answers.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Optional

import libcst as cst

from rnnshape.harness import crash_checks
from rnnshape.harness.plan import batch_time_axes
from rnnshape.shapes.facts import LayoutUse, ModuleInfo, StatePick, ViewCall
from rnnshape.shapes.values import TensorV

EXPERIMENT_CODES = {"RNN005", "RNN010", "RNN104"}
STANDALONE_CODES = crash_checks.CODES  # an experiment that builds and runs the model itself
# methods that only reorder or reshape: the only calls a flatten expression may make for the
# harness to evaluate it outside the file's own (never executed) top-level code
_RESHAPES = {"view", "reshape", "transpose", "permute", "contiguous", "flatten", "t", "size",
             "squeeze", "unsqueeze", "float", "long"}
_NOT_CHECKABLE = "not checkable"


@dataclass
class Planned:
    """One finding's experiment: the child's spec, and what the finding claims."""

    finding: object
    spec: dict
    row: int
    standalone: bool = False  # evaluates the file's expression on tagged tensors: no model run
    predicts: tuple = ()  # the exception text the finding predicts (lower case, any one)


def in_function(module: cst.Module, positions, node) -> bool:
    """Whether the node is in a def (the harness runs those) and not in top-level code."""
    inner = positions[node]
    for stmt in module.body:
        if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        outer = positions[stmt]
        if (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and \
                (inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column):
            return True
    return False


def module_name(info: Optional[ModuleInfo]) -> Optional[str]:
    """The name the model's ``named_modules`` gives a module the code calls ``self.lstm``."""
    if info is None:
        return None
    label = info.label or ""
    if label.startswith("self.") and label.count(".") == 1:
        return label.split(".", 1)[1]
    return "<model>" if label and "." not in label else None


def _module_of(finding) -> Optional[ModuleInfo]:
    data = finding.data
    if isinstance(data, (StatePick, LayoutUse)):
        return data.module
    return data if isinstance(data, ModuleInfo) else None


def _perturb_at(run) -> list[dict]:
    """For each input whose dims say which are batch and time: sample 0 at the last step (what
    reading the last step of every sample must see), and the last sample there (a control:
    what shows the input reaches the value at all)."""
    out = []
    for i, spec in enumerate(run.inputs):
        axes = spec.get("axes")
        if not axes:
            continue
        steps, samples = spec["shape"][axes["time"]], spec["shape"][axes["batch"]]
        at = {"input": i, "index": {str(axes["batch"]): 0, str(axes["time"]): steps - 1}}
        last = {"input": i, "index": {str(axes["batch"]): samples - 1, str(axes["time"]): steps - 1}}
        out.append({"at": at, "control": last})
    return out


def plan_original(finding, key: str, run, probed: bool) -> Optional[dict]:
    """The experiment on the file's own program that settles a silent finding."""
    code = finding.code
    if code == "RNN005" and probed:
        at = _perturb_at(run)
        if at:
            return {"kind": "perturb", "run": run.spec(), "probe": key, "at": at}
    if code == "RNN010" and probed:
        return {"kind": "grad", "run": run.spec(), "probe": key,
                "module": module_name(_module_of(finding))}
    if code == "RNN104":
        name = module_name(_module_of(finding))
        if name is not None:
            return {"kind": "dropout", "run": run.spec(), "module": name}
    return None


def plan_fixed(finding, original_run, fixed_run, key: Optional[str]) -> Optional[dict]:
    """The experiment on the fixed program that shows the fix did what it says: on the fixed
    expression (probed as ``key``) where the finding was."""
    code = finding.code
    if code == "RNN005" and key is not None:
        at = _perturb_at(fixed_run)
        if at:
            return {"kind": "perturb", "program": "fixed", "run": fixed_run.spec(), "probe": key,
                    "at": at}
    if code == "RNN010" and key is not None:
        return {"kind": "grad", "program": "fixed", "run": fixed_run.spec(), "probe": key,
                "module": module_name(_module_of(finding))}
    if code == "RNN104":
        return {"kind": "same", "mode": "train", "runs": [original_run.spec(), fixed_run.spec()]}
    return None


def _row_after(before: list[str], after: list[str], row: int) -> Optional[int]:
    """Where a line of the original is in the fixed text: a line a fix edited in place keeps
    its place among lines that did not move."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 <= row - 1 < i2:
            if tag == "equal" or i2 - i1 == j2 - j1:
                return j1 + (row - 1 - i1) + 1
            return None
    return None


def fixed_node(original, fixed, node) -> Optional[cst.CSTNode]:
    """The expression of the fixed program that replaced ``node``: the outermost one that
    starts where it started (``out[-1]`` became ``out[:, -1]``, ``h_n[-1]`` a ``torch.cat``)."""
    start = original.positions[node].start
    row = _row_after(original.module.code.splitlines(), fixed.module.code.splitlines(), start.line)
    if row is None:
        return None
    found: list = []

    class Finder(cst.CSTVisitor):
        def on_visit(self, candidate) -> bool:
            if found:
                return False
            if isinstance(candidate, cst.BaseExpression):
                where = fixed.positions[candidate].start
                if (where.line, where.column) == (row, start.column):
                    found.append(candidate)
                    return False
            return True

    fixed.module.visit(Finder())
    return found[0] if found else None


# -- RNN006: logits and targets flattened in different orders ---------------------------------

def _root(node) -> Optional[str]:
    """The one name a chain of reshape methods and constant subscripts starts from."""
    while True:
        if isinstance(node, cst.Name):
            return node.value
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                node.func.attr.value in _RESHAPES:
            node = node.func.value
        elif isinstance(node, cst.Subscript):
            node = node.value
        else:
            return None


def _simple(node, root: str, known: set) -> bool:
    """Arguments a flatten may use: numbers, kept constants, arithmetic, sizes of the root."""
    if isinstance(node, cst.Integer):
        return True
    if isinstance(node, cst.Name):
        return node.value in known or node.value == root
    if isinstance(node, cst.UnaryOperation):
        return _simple(node.expression, root, known)
    if isinstance(node, cst.BinaryOperation):
        return _simple(node.left, root, known) and _simple(node.right, root, known)
    if isinstance(node, cst.Attribute) and node.attr.value == "shape":
        return _simple(node.value, root, known)
    if isinstance(node, cst.Subscript):
        return _simple(node.value, root, known) and all(
            isinstance(e.slice, cst.Index) and _simple(e.slice.value, root, known)
            for e in node.slice)
    if isinstance(node, cst.Call):
        return _chain(node, root, known)
    return False


def _chain(node, root: str, known: set) -> bool:
    if isinstance(node, cst.Name):
        return node.value == root
    if isinstance(node, cst.Call):
        if not (isinstance(node.func, cst.Attribute) and node.func.attr.value in _RESHAPES):
            return False
        return all(not a.star and (a.keyword is None or a.keyword.value == "dim") and
                   _simple(a.value, root, known) for a in node.args) and \
            _chain(node.func.value, root, known)
    if isinstance(node, cst.Subscript):
        return all(isinstance(e.slice, cst.Index) and _simple(e.slice.value, root, known) or
                   isinstance(e.slice, cst.Slice) and all(
                       p is None or _simple(p, root, known)
                       for p in (e.slice.lower, e.slice.upper, e.slice.step))
                   for e in node.slice) and _chain(node.value, root, known)
    return False


def plan_pairing(finding, analysis, bindings, known: set) -> tuple[Optional[dict], str]:
    """Tag every entry of the logits and of the targets with the (sample, step) it belongs to,
    evaluate the file's own flatten expressions on them, and compare row by row."""
    loss = next((c for c in analysis.facts.loss_calls if c.node is finding.node), None)
    if loss is None or len(loss.node.args) < 2:
        return None, "the loss call's arguments are not both given"
    sides = {}
    for side, arg in (("logits", loss.node.args[0].value), ("target", loss.node.args[1].value)):
        root = _root(arg)
        if root is None or not _chain(arg, root, known):
            return None, (f"`{analysis.module.code_for_node(arg)}` is more than a reshape of a "
                          f"named tensor")
        value = analysis.scope.get(root)
        if not isinstance(value, TensorV) or value.shape.dims is None:
            return None, f"the shape of `{root}` is not known at module level"
        shape = bindings.shape(value.shape.dims)
        axes = batch_time_axes(value.shape.dims)
        if shape is None or axes is None:
            return None, f"which dims of `{root}` are batch and time is not known"
        sides[side] = {"expr": analysis.module.code_for_node(arg), "root": root,
                       "shape": shape, **axes}
    if sides["logits"]["root"] == sides["target"]["root"]:
        return None, "logits and targets are the same tensor"
    return {"kind": "pairing", **sides}, ""


def plan_index(finding, analysis, bindings, known: set) -> Optional[dict]:
    """RNN005 in top-level code: the file's index, evaluated on a tensor of the indexed
    output's shape whose every entry holds its own (sample, step).  Which dims those are is
    what the module's ``batch_first`` makes of its output."""
    node, use = finding.node, finding.data
    if not isinstance(use, LayoutUse) or not isinstance(node, cst.Subscript) or \
            not isinstance(node.value, cst.Name) or not _chain(node, node.value.value, known):
        return None
    batch_first = use.module.flag("batch_first")
    shape = bindings.shape(use.shape.dims)
    if batch_first is None or shape is None or len(shape) != 3:
        return None
    return {"kind": "index", "expr": analysis.module.code_for_node(node),
            "root": node.value.value, "shape": shape, "batch": 0 if batch_first else 1,
            "time": 1 if batch_first else 0}


# -- reading the answers ----------------------------------------------------------------------

def judge(planned: Planned, result: Optional[dict], fixed: bool = False) -> tuple[str, str]:
    """(verdict, detail) for one finding from its experiment's result."""
    if result is None:
        return "error", "the experiment did not report"
    if result.get("error"):
        return "error", f"the experiment raised {result['error']}"
    kind = planned.spec["kind"]
    reader = _FIXED if fixed else _ORIGINAL
    return reader[kind](planned, result)


def _perturb(planned: Planned, result: dict) -> tuple[str, str]:
    if not result.get("reached"):
        return _NOT_CHECKABLE, f"not checkable by running: the run never reached line {planned.row}"
    if result["changed"]:
        return "not reproduced", (f"the value at line {planned.row} changes when sample 0's last "
                                  f"step changes: it does read every sample's last step")
    if not result.get("control_changed"):
        return _NOT_CHECKABLE, (f"not checkable by running: the value at line {planned.row} does "
                                f"not change with the input the run can nudge")
    return "reproduced", (f"changing sample 0's input at the last step leaves the value at line "
                          f"{planned.row} {tuple(result['shape'])} unchanged, while changing the "
                          f"last sample's changes it: it reads one sample, not the last step of "
                          f"each")


def _module_grads(planned: Planned, result: dict) -> Optional[tuple[str, dict]]:
    modules = result.get("modules") or {}
    wanted = planned.spec.get("module")
    named = {n: g for n, g in modules.items() if wanted and (n == wanted or n.endswith("." + wanted))}
    if not named and len(modules) == 1:
        named = modules
    if len(named) != 1:
        return None
    return next(iter(named.items()))


def _starved(grads: dict) -> list[str]:
    """The directions whose recurrent weights get no gradient while the other's do."""
    top = max(g["hh"] for g in grads.values())
    return [d for d, g in grads.items() if top > 0 and g["hh"] <= 1e-12 * top]


def _grad(planned: Planned, result: dict) -> tuple[str, str]:
    if not result.get("reached"):
        return _NOT_CHECKABLE, f"not checkable by running: the run never reached line {planned.row}"
    found = _module_grads(planned, result)
    if found is None:
        return _NOT_CHECKABLE, "not checkable by running: the bidirectional module was not found"
    name, grads = found
    starved = _starved(grads)
    norms = ", ".join(f"{d} {g['hh']:.1e}" for d, g in grads.items())
    if not starved:
        return "not reproduced", (f"both directions of `{name}` get gradient from the value at "
                                  f"line {planned.row} (recurrent weights |grad|: {norms})")
    direction = starved[0]
    if grads[direction]["ih"] <= 0:
        how = "gets no gradient at all: that direction is not used"
    else:
        how = "gets gradient only through its input weights: that direction has read one step"
    return "reproduced", (f"the {direction} direction of `{name}` {how} (recurrent weights "
                          f"|grad| from the value at line {planned.row}: {norms})")


def _dropout(planned: Planned, result: dict) -> tuple[str, str]:
    if not result.get("found"):
        return _NOT_CHECKABLE, "not checkable by running: the module with dropout was not found"
    if not result["deterministic"]:
        return _NOT_CHECKABLE, "not checkable by running: the model is not deterministic under a seed"
    names = ", ".join(f"`{n}`" for n in result["modules"])
    if result["equal"]:
        return "reproduced", (f"in train mode {names} gives the same outputs with "
                              f"dropout={result['dropout'][0]} and with dropout=0: it does nothing")
    return "not reproduced", f"in train mode the dropout of {names} changes the outputs"


def _spans(values: list) -> str:
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(map(str, values))


def _index(planned: Planned, result: dict) -> tuple[str, str]:
    spec = planned.spec
    samples, steps = result["samples"], result["steps"]
    every = list(range(spec["shape"][spec["batch"]]))
    last = spec["shape"][spec["time"]] - 1
    read = f"`{spec['expr']}` reads sample(s) {_spans(samples)} at step(s) {_spans(steps)}"
    if samples == every and steps == [last]:
        return "not reproduced", f"{read}: the last step of every sample"
    return "reproduced", f"{read}, not step {last} of every sample (tagged by position)"


def _pairing(planned: Planned, result: dict) -> tuple[str, str]:
    if result.get("rows") is None:
        return _NOT_CHECKABLE, (f"not checkable by running: the flattened logits and targets are "
                                f"{result.get('shapes')}, not (N, C) and (N,)")
    if not result["wrong"]:
        return "not reproduced", f"all {result['rows']} rows of logits and targets come from the same (sample, step)"
    first = result["first"]
    (lb, lt), (tb, tt) = first["logits"], first["target"]
    return "reproduced", (f"{result['wrong']} of {result['rows']} flattened rows pair a logit with "
                          f"another position's target: row {first['row']} is (sample {lb}, step "
                          f"{lt}) in the logits but (sample {tb}, step {tt}) in the targets")


_ORIGINAL = {"perturb": _perturb, "grad": _grad, "dropout": _dropout, "pairing": _pairing,
             "index": _index, "feedback": crash_checks.read_feedback,
             "device": crash_checks.read_device}


def plan_fixed_index(planned: Planned, original, fixed) -> Optional[Planned]:
    """The expression that replaced a top-level index, evaluated on the same tags."""
    node = fixed_node(original, fixed, planned.finding.node)
    if not isinstance(node, cst.Subscript) or not isinstance(node.value, cst.Name):
        return None
    spec = dict(planned.spec, expr=fixed.module.code_for_node(node), root=node.value.value)
    return Planned(planned.finding, spec, planned.row, standalone=True)


def _fixed_index(planned: Planned, result: dict) -> tuple[str, str]:
    verdict, detail = _index(planned, result)
    return ("fixed" if verdict == "not reproduced" else "not fixed"), detail


def _fixed_perturb(planned: Planned, result: dict) -> tuple[str, str]:
    if result.get("reached") and result.get("control_changed") and result["changed"]:
        return "fixed", f"after the fix, sample 0's last step reaches the value at line {planned.row}"
    return "not fixed", f"after the fix, the value at line {planned.row} still ignores sample 0's last step"


def _fixed_grad(planned: Planned, result: dict) -> tuple[str, str]:
    found = _module_grads(planned, result) if result.get("reached") else None
    if found is None:
        return "not fixed", "the bidirectional module was not found in the fixed model"
    name, grads = found
    norms = ", ".join(f"{d} {g['hh']:.1e}" for d, g in grads.items())
    if _starved(grads) or not all(g["hh"] > 0 for g in grads.values()):
        return "not fixed", f"a direction of `{name}` still gets no gradient ({norms})"
    return "fixed", (f"both directions of `{name}` now get gradient from the value at line "
                     f"{planned.row} ({norms})")


def _fixed_same(planned: Planned, result: dict) -> tuple[str, str]:
    if result.get("equal"):
        return "fixed", "same weights, same seed, train mode: the fixed model gives the same outputs"
    return "not fixed", f"the fix changes the outputs (max |diff| {result.get('max_diff')})"


_FIXED = {"perturb": _fixed_perturb, "grad": _fixed_grad, "same": _fixed_same,
          "index": _fixed_index, "feedback": crash_checks.read_fixed_feedback,
          "device": crash_checks.read_fixed_device}


def is_pairing(finding) -> bool:
    return finding.code == "RNN006" and not isinstance(finding.data, ViewCall)
