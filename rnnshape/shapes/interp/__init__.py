"""An abstract interpreter over one module that follows tensor shapes.

It runs the module body in order, binds names to abstract values (``values.py``), walks into
``forward`` when a module instance is called and into local helpers when they are called, and
tells the recorder (``recorder.py``) what it sees; op semantics come from the tables in
``ops/``.  Both branches of an ``if`` run and are joined; loop bodies run once.  Whatever it
does not understand becomes unknown, and unknown never produces a finding.

The interpreter is one object; its parts live in one module each: ``statements``,
``expressions``, ``calls`` and ``functions`` (user code).
"""
from __future__ import annotations

from typing import Any, Union

import libcst as cst

from rnnshape.shapes.evidence import class_input
from rnnshape.shapes.facts import Facts, Step
from rnnshape.shapes.interp.calls import Calls
from rnnshape.shapes.interp.expressions import Expressions
from rnnshape.shapes.interp.functions import UserCode
from rnnshape.shapes.interp.imports import Imports
from rnnshape.shapes.interp.modules import Modules
from rnnshape.shapes.interp.recording import Recording
from rnnshape.shapes.interp.scope import MAX_STEPS, BranchAttrs, Budget, Frame, Scope
from rnnshape.shapes.interp.statements import Statements
from rnnshape.shapes.interp.watch import Watch
from rnnshape.shapes.recorder import Recorder
from rnnshape.shapes.values import ClassV, FuncV, TensorV
from rnnshape.syntax import Unit


INSTANCES_RUN = 3


class Interpreter(Statements, Expressions, Calls, UserCode, Imports, Modules, Recording,
                  Watch):
    max_steps = MAX_STEPS

    def __init__(self, entry: Union[Unit, cst.Module], loader=None, values: bool = False):
        """``entry``: the source to run.  ``loader`` (``project.Sources``) resolves and reads
        the project's own modules that it imports; without one they stay unknown.  ``values``:
        also record the tensor each name, attribute, call and subscript evaluates to (for
        hovers); off by default, so a check pays nothing for it."""
        self.entry = entry if isinstance(entry, Unit) else Unit("<module>", entry.code, entry)
        self.module = self.entry.module
        self.loader = loader
        self.modules: dict = {}  # path -> ModuleV (None: unusable) of what the run imported
        self.recorder = Recorder()
        self.steps = 0
        self.module_scope = Scope(unit=self.entry)
        self.visited_funcs: set[int] = set()
        self.classes: list[ClassV] = []
        self.funcs: list[FuncV] = []
        self.instantiated: set[int] = set()
        self.instances: dict[int, list] = {}  # id(module class) -> the instances built
        self.forwarded: set[int] = set()  # module instances whose forward has run
        self.summaries: dict[tuple, Any] = {}
        self.evidence: dict[int, dict] = {}  # function node id -> its parameters' evidence
        self.unit_mentions: dict = {}  # (id(unit), pattern) -> whether its text matches
        self.carried: list = []  # evaluation regions an if-branch left open (exec_block)
        self.active: list[int] = []  # functions on the abstract call stack
        self.attr_branches: list[BranchAttrs] = []  # one per exec_branches in progress
        self.standalone = False  # True while analysing code nothing in the file calls
        self.grad_mode_known = False  # ... but that runs with autograd on (a test function)
        self.star_imported = False
        self.comprehensions = 0
        # id(scope of a running forward) -> (scope, id(forward), [(index, tensor argument)])
        self.forward_params: dict[int, tuple] = {}
        # model calls from outside model code and what their arguments index (RNN011)
        self.model_inputs: list[tuple] = []
        if values:
            # Instance attributes shadow the methods every handler calls: a run that does not
            # record keeps the plain methods and no per-expression test.
            self._eval = self._eval_recorded
            self.bind_target = self._bind_recorded

    def run(self) -> Facts:
        frame = Frame(self.module_scope)
        try:
            self.exec_block(self.module.body, frame)
            self.run_uncalled(frame)
        except (Budget, RecursionError):
            self.recorder.truncate()
        return self.recorder.finish()

    def run_uncalled(self, frame: Frame) -> None:
        """Code nobody calls in this file (library classes, train() functions) is still
        analysed, with unknown arguments."""
        self.standalone = True
        for cls in list(self.classes):
            if id(cls) not in self.instantiated and cls.is_module:
                self.instantiate(cls, [], {}, frame, label="self")
        self.run_unforwarded(frame)
        for func in list(self.funcs):
            if id(func.node) not in self.visited_funcs:
                # pytest calls ``test*`` functions itself, with autograd on: for grad mode
                # they are entry points like module-level code, not helpers whose caller
                # decides.
                name = getattr(getattr(func.node, "name", None), "value", "")
                self.grad_mode_known = name.startswith("test")
                self.call_function(func, [], {}, frame, bound=None, unknown_args=True)
        self.grad_mode_known = False

    def run_unforwarded(self, frame: Frame) -> None:
        """Modules built (inside another module's ``__init__``, say) but never called: their
        forward runs on the instances built, which know what they were built with, with the
        inputs unknown.  A few instances per class: more say nothing new."""
        for _ in range(3):  # running one may build others
            pending = [(cls, inst) for cls in self.classes if cls.is_module
                       for inst in self.instances.get(id(cls), [])[:INSTANCES_RUN]
                       if id(inst) not in self.forwarded]
            if not pending:
                return
            for cls, inst in pending:
                self.forwarded.add(id(inst))
                if cls.methods.get("forward") is not None:
                    self.call_function(cls.methods["forward"], [], {}, frame, bound=inst,
                                       unknown_args=True)
                elif inst.attrs.get("__children__") is not None:
                    self.run_container(cls, inst, frame)

    def run_container(self, cls, inst, frame: Frame) -> None:
        """A container subclass (``class Model(nn.Sequential)``) runs its children in order on
        the input its docstring describes."""
        described = class_input(cls.node) if cls.node is not None else None
        if described is None:
            return
        name, evidence = described
        shape, notes = evidence.symbolic(name)
        x = TensorV(shape, tuple(Step(node, None, note) for node, note in notes), grad=None)
        self.run_children(inst.attrs["__children__"], [x], {}, cls.node, frame)

    def tick(self):
        self.steps += 1
        if self.steps > self.max_steps:
            raise Budget()

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    @property
    def facts(self) -> Facts:
        return self.recorder.facts
