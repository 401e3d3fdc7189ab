"""Findings whose mistake raises only where the plain run never goes: a second training step
(RNN107: the state fed back still holds the graph the first ``backward()`` freed) and a CUDA
device (RNN106: a tensor made on the CPU meets a model moved to the GPU).

Each gets its own experiment (``experiments.feedback``, ``experiments.device``), planned here
from the finding, run in the child, and read here against the exception text the rule predicts
(``judge._CRASHES``, handed in as ``Planned.predicts``).
"""
from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from rnnshape.harness.plan import build_expression, input_spec
from rnnshape.rules.devices import MadeOnCpu
from rnnshape.shapes.facts import StateFeedback, UnmovedInput
from rnnshape.shapes.values import InstV, TensorV, TupleV

NOT_CHECKABLE = "not checkable"
CODES = {"RNN106", "RNN107"}


def _model_call(analysis, node):
    return next((c for c in analysis.facts.model_calls if c.node is node), None)


def _run(analysis, call, bindings, skip: Optional[int], name: str) -> tuple[Optional[dict], str]:
    """The child's run spec for a model call: how to build the model, and every positional
    input but ``skip`` (the state the experiment passes itself)."""
    args = call.node.args
    if call.kwargs or any(a.star or a.keyword is not None for a in args) or \
            len(call.args) != len(args):
        return None, "the model call has keyword or starred arguments"
    build = build_expression(call.callee, analysis.module, bindings)
    if build is None:
        return None, "how the model is built is not known"
    inputs = []
    for i, value in enumerate(call.args):
        if i == skip:
            continue
        spec = input_spec(value, bindings)
        if spec is None:
            return None, f"the shape of argument {i + 1} of the model call is not known"
        inputs.append(spec)
    return {"id": name, "program": "original", "build": build, "inputs": inputs,
            "loss": None}, ""


def _returned_at(loop, node, name: str) -> Union[int, None, bool]:
    """Which item of the model call's result the loop binds to ``name``: an index, None for
    the whole result, False when no single plain assignment says."""
    found = []

    class Finder(cst.CSTVisitor):
        def visit_Assign(self, assign: cst.Assign) -> None:
            if assign.value is node:
                found.append(assign)

    loop.visit(Finder())
    if len(found) != 1 or len(found[0].targets) != 1:
        return False
    target = found[0].targets[0].target
    if isinstance(target, cst.Name):
        return None if target.value == name else False
    if isinstance(target, (cst.Tuple, cst.List)):
        names = [e.value.value if isinstance(e.value, cst.Name) else None
                 for e in target.elements]
        if names.count(name) == 1:
            return names.index(name)
    return False


def plan_feedback(finding, analysis, bindings) -> tuple[Optional[dict], str]:
    """RNN107: two training steps, the state the model returned fed back into the second."""
    fed = finding.data
    if not isinstance(fed, StateFeedback):
        return None, "the finding names no state"
    call = _model_call(analysis, finding.node)
    if call is None:
        return None, "the call is not a model verify can rebuild"
    state = next((i for i, a in enumerate(finding.node.args)
                  if isinstance(a.value, cst.Name) and a.value.value == fed.name), None)
    if state is None:
        return None, f"`{fed.name}` is not an argument of the model call"
    returned = _returned_at(fed.loop, finding.node, fed.name)
    if returned is False:
        return None, f"no plain assignment of the model call's result binds `{fed.name}`"
    run, why = _run(analysis, call, bindings, state, "feedback")
    if run is None:
        return None, why
    return {"kind": "feedback", "run": run, "state_arg": state, "state_out": returned,
            "state_shapes": _state_shapes(call.args[state], bindings)}, ""


def _state_shapes(value, bindings):
    """The first state as the file makes it: a shape, a list of shapes for a tuple, or None
    (the file's ``None``, or a state whose shape is not known: every recurrent module takes
    None as zeros)."""
    if isinstance(value, TensorV):
        return bindings.shape(value.shape.dims)
    if isinstance(value, TupleV) and all(isinstance(v, TensorV) for v in value.items):
        shapes = [bindings.shape(v.shape.dims) for v in value.items]
        return None if any(s is None for s in shapes) else {"tuple": shapes}
    return None


def plan_device(finding, analysis, bindings) -> dict:
    """RNN106: the model moved to CUDA, the tensor where the code makes it.  Always a spec:
    without a GPU the child says so first, whatever else stands in the way."""
    data = finding.data
    run, why, cpu_args = None, "", []
    if isinstance(data, MadeOnCpu):
        owner = data.made.owner
        calls = [c for c in analysis.facts.model_calls
                 if isinstance(c.callee, InstV) and id(c.callee.cls.node) == owner]
        why = "no call of the model with known input shapes"
        for call in calls:
            run, why = _run(analysis, call, bindings, None, "device")
            if run is not None:
                break
    elif isinstance(data, UnmovedInput) and (data.loss or data.pair):
        why = "the CPU tensor is a loss target or a state tuple, which verify does not rebuild"
    elif isinstance(data, UnmovedInput):
        call = _model_call(analysis, data.node)
        position = next((i for i, a in enumerate(data.node.args) if a.value is data.arg), None)
        if call is None or position is None:
            why = "the call is not a model verify can rebuild"
        else:
            run, why = _run(analysis, call, bindings, None, "device")
            cpu_args = [position]
    else:
        why = "`.numpy()` on a device tensor is in code verify does not run"
    return {"kind": "device", "run": run, "cpu_args": cpu_args, "why": why}


def fixed_spec(spec: dict) -> dict:
    """The same experiment on the fixed program, the way the fix leaves it: the state detached
    at the top of each step, every tensor made (or moved) where the model is."""
    if spec["kind"] == "feedback":
        return dict(spec, program="fixed", detach=True)
    return dict(spec, program="fixed", cpu_args=[])


def _first_sentence(error: str) -> str:
    """torch's messages run on with advice; the verdict keeps what went wrong."""
    return error.partition(". ")[0]


def _predicted(planned, error: str) -> bool:
    text = error.lower()
    return any(word in text for word in planned.predicts)


def read_feedback(planned, result: dict) -> tuple[str, str]:
    raised = result.get("raised")
    raised = raised and _first_sentence(raised)
    if raised is None:
        if result.get("no_grad"):
            return NOT_CHECKABLE, f"{NOT_CHECKABLE} by running: the model's output has no gradient"
        return "not reproduced", ("two training steps ran clean with the returned state fed "
                                  "back: a static false positive")
    if _predicted(planned, raised):
        return "reproduced", (f"the second training step's backward() raised {raised}: the "
                              f"state fed back still holds the first step's freed graph")
    return "error", f"the second training step raised {raised}, which is not what RNN107 predicts"


def read_fixed_feedback(planned, result: dict) -> tuple[str, str]:
    if result.get("raised"):
        return "not fixed", (f"with the state detached, a training step still raised "
                             f"{result['raised']}")
    return "fixed", ("with the state detached at the top of each step, as the fix does, two "
                     "training steps run clean")


def read_device(planned, result: dict) -> tuple[str, str]:
    if result.get("skipped"):
        return NOT_CHECKABLE, f"{NOT_CHECKABLE} by running: {result['skipped']}"
    raised = result.get("raised")
    where = result.get("device", "cuda")
    if raised is None:
        return "not reproduced", (f"the model ran on {where} with the tensor made where the code "
                                  f"makes it: no device error, a static false positive")
    if _predicted(planned, raised):
        return "reproduced", f"with the model on {where}: {raised}"
    return "error", f"the run on {where} raised {raised}, which is not what RNN106 predicts"


def read_fixed_device(planned, result: dict) -> tuple[str, str]:
    if result.get("skipped"):
        return NOT_CHECKABLE, f"{NOT_CHECKABLE} by running: {result['skipped']}"
    if result.get("raised"):
        return "not fixed", f"the fixed model on {result.get('device')} raised {result['raised']}"
    return "fixed", f"the fixed model runs on {result.get('device')} with no device error"
