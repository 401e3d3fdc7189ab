"""What to run: one spec per model call the file makes with fully known input shapes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import libcst as cst

from rnnshape.harness.bindings import Bindings
from rnnshape.harness.extract import build_program, module_expression
from rnnshape.harness.instrument import Instrument
from rnnshape.shapes.axes import complete
from rnnshape.shapes.dims import BATCH, FEATURE, TIME, Dim
from rnnshape.shapes.values import InstV, IntV, Lit, ModV, TensorV

CANONICAL = (BATCH, TIME, FEATURE)


@dataclass
class Run:
    id: str
    program: str
    build: str
    inputs: list[dict]
    call: cst.Call
    label: str  # how the file names the model: ``net``, ``lstm``
    static: list  # the input shapes the tracker claims, as TensorV
    owner: Optional[cst.ClassDef] = None
    loss: Optional[dict] = None
    trace_nodes: set = field(default_factory=set)
    loss_node: Optional[cst.Call] = None  # the file's loss call fed by this run's output

    def spec(self) -> dict:
        return {"id": self.id, "program": self.program, "build": self.build,
                "inputs": self.inputs, "loss": self.loss}


def collect_dims(analysis, scope) -> list[Dim]:
    dims: list[Dim] = []
    for call in analysis.facts.model_calls:
        for value in list(call.args) + list(getattr(call.callee, "ctor_args", ())):
            if isinstance(value, TensorV) and value.shape.dims is not None:
                dims.extend(value.shape.dims)
            elif isinstance(value, IntV):
                dims.append(value.dim)
        if isinstance(call.callee, ModV):
            dims.extend(v for v in call.callee.info.cfg.values() if isinstance(v, Dim))
    for value in scope.values():
        if isinstance(value, IntV):
            dims.append(value.dim)
        elif isinstance(value, ModV):
            dims.extend(v for v in value.info.cfg.values() if isinstance(v, Dim))
    for call in analysis.facts.recurrent_calls:
        dims.extend(v for v in call.module.cfg.values() if isinstance(v, Dim))
    return dims


def _literal(value, node, module: cst.Module, bindings: Bindings) -> Optional[str]:
    if isinstance(value, IntV):
        number = bindings.value(value.dim)
        if number is not None:
            return str(number)
    if isinstance(value, Lit) and isinstance(value.value, (bool, int, float)) or \
            (isinstance(value, Lit) and value.value is None):
        return repr(value.value)
    return module.code_for_node(node) if node is not None else None


def build_expression(callee, module: cst.Module, bindings: Bindings) -> Optional[str]:
    if isinstance(callee, ModV):
        return module_expression(callee.info, bindings)
    if not isinstance(callee, InstV) or callee.ctor is None:
        return None
    ctor = callee.ctor
    parts = []
    positional = [a for a in ctor.args if a.keyword is None]
    for i, arg in enumerate(ctor.args):
        if arg.star:
            return None
        if arg.keyword is None:
            index = positional.index(arg)
            value = callee.ctor_args[index] if index < len(callee.ctor_args) else None
            text = _literal(value, arg.value, module, bindings)
            parts.append(text)
        else:
            value = callee.ctor_kwargs.get(arg.keyword.value)
            text = _literal(value, arg.value, module, bindings)
            parts.append(f"{arg.keyword.value}={text}")
    if any(p is None for p in parts):
        return None
    return f"{module.code_for_node(ctor.func)}({', '.join(parts)})"


def batch_time_axes(dims) -> Optional[dict]:
    """Where batch and time are in a tensor whose dims say so (one of the two may be implied
    by the other in a 2-d tensor, or by the feature dim in a 3-d one)."""
    if not dims or len(dims) not in (2, 3):
        return None
    roles = [d.role for d in dims]
    if len(dims) == 3:
        roles = complete(roles)
    elif roles.count(None) == 1 and {r for r in roles if r} <= {BATCH, TIME}:
        known = next(r for r in roles if r)
        roles[roles.index(None)] = TIME if known == BATCH else BATCH
    if roles.count(BATCH) != 1 or roles.count(TIME) != 1:
        return None
    return {"batch": roles.index(BATCH), "time": roles.index(TIME)}


def input_spec(value, bindings: Bindings) -> Optional[dict]:
    if not isinstance(value, TensorV):
        return None
    shape = bindings.shape(value.shape.dims)
    if shape is None:
        return None
    spec = {"shape": shape, "integer": bool(value.integer)}
    dims = value.shape.dims
    axes = batch_time_axes(dims)
    if axes is not None:
        spec["axes"] = axes
    if len(dims) == 3 and not value.integer:
        roles = complete([d.role for d in dims])
        if None not in roles and len(set(roles)) == 3:
            # The same data in every layout: both fix strategies then see identical numbers.
            by_role = dict(zip(roles, shape))
            spec["canonical"] = [by_role[r] for r in CANONICAL]
            spec["perm"] = [CANONICAL.index(r) for r in roles]
    return spec


def plan(analysis, scope, program_name: str, bindings: Bindings, classes,
         probes: Optional[dict] = None) -> tuple[str, list[Run]]:
    """The program text and its runs; ``probes`` (id(node) -> key): expressions the program
    records as it computes them (``checks.Instrument``)."""
    module = analysis.module
    instrumented = module.visit(Instrument(probes)) if probes else module
    program = build_program(instrumented, scope, bindings)
    runs: list[Run] = []
    seen = set()
    for call in analysis.facts.model_calls:
        build = build_expression(call.callee, module, bindings)
        if build is None or call.kwargs:
            continue
        inputs = [input_spec(a, bindings) for a in call.args]
        if not inputs or any(i is None for i in inputs):
            continue
        key = (build, repr(inputs))
        if key in seen:
            continue
        seen.add(key)
        label = getattr(call.callee, "label", "") or getattr(getattr(call.callee, "info", None), "label", "")
        owner = call.callee.cls.node if isinstance(call.callee, InstV) else None
        trace_nodes = {step.node for a in call.args if isinstance(a, TensorV) for step in a.trace}
        run = Run(f"{program_name}-{len(runs) + 1}", program_name, build, inputs, call.node, label,
                  list(call.args), owner, None, trace_nodes)
        for loss in analysis.facts.loss_calls:
            if isinstance(loss.input, TensorV) and any(s.node is call.node for s in loss.input.trace):
                run.loss = {"kind": loss.loss.kind}
                run.loss_node = loss.node
                # the file's own shapes: the loss runs only when its input is the model's output
                # as it is, and then against a target of the shape the file gives it
                for key, value in (("input", loss.input), ("target", loss.target)):
                    if isinstance(value, TensorV):
                        run.loss[key] = bindings.shape(value.shape.dims)
                break
        runs.append(run)
    return program, runs
