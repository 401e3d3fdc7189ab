"""The subprocess side of ``verify``: the only place rnnshape imports torch.

Reads a JSON spec on stdin, runs each requested model on synthetic tensors, and prints one
JSON object with what happened.  Errors of the user's code are data, not crashes.
"""
from __future__ import annotations

import json
import socket
import sys
import traceback
import types

from rnnshape.harness.experiments import (PROBE, Probes, first_line, first_tensor, make_input,
                                          run_check, vocabulary)


def _no_network(*args, **kwargs):
    raise OSError("rnnshape verify: network access is disabled while running user code")


class Recorder:
    """Forward hooks on every recurrent submodule: input/output shapes, and who failed."""

    def __init__(self, torch, model):
        self.calls = []
        self.stack = []
        self.handles = []
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.modules.rnn.RNNBase):
                self.handles.append(module.register_forward_pre_hook(self._pre(name or "<model>")))
                self.handles.append(module.register_forward_hook(self._post(name or "<model>")))
        self.torch = torch

    def _pre(self, name):
        def hook(module, inputs):
            x = inputs[0] if inputs else None
            shape = list(x.shape) if hasattr(x, "shape") else None
            self.stack.append(name)
            self.calls.append({"module": name, "kind": type(module).__name__,
                               "batch_first": bool(getattr(module, "batch_first", False)),
                               "input": shape, "output": None})
        return hook

    def _post(self, name):
        def hook(module, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            for call in reversed(self.calls):
                if call["module"] == name and call["output"] is None:
                    call["output"] = list(out.shape) if hasattr(out, "shape") else None
                    break
            if self.stack:
                self.stack.pop()
        return hook


def run_one(torch, ns, run, device, seed):
    torch.manual_seed(seed)
    result = {"id": run["id"], "ok": False, "error": None, "recurrent": [], "output": None}
    try:
        model = eval(run["build"], ns)
    except BaseException as exc:  # the user's constructor failed: that is a finding of its own
        result["error"] = "building the model: " + first_line(exc)
        return result
    model = model.to(device)
    model.eval()  # dropout off, so two strategies can be compared number for number
    recorder = Recorder(torch, model)
    generator = torch.Generator().manual_seed(seed)
    high = vocabulary(torch, model)
    inputs = [make_input(torch, spec, generator, device, high) for spec in run["inputs"]]
    ns[PROBE] = Probes()
    try:
        with torch.no_grad():
            output = model(*inputs)
    except BaseException as exc:
        where = recorder.stack[-1] if recorder.stack else None
        result["error"] = first_line(exc) + (f" (in {where})" if where else "")
        return result
    finally:
        result["recurrent"] = recorder.calls
    result["ok"] = True
    tensor = first_tensor(torch, output)
    result["output"] = list(tensor.shape) if tensor is not None else None
    if run.get("loss") and tensor is not None:
        _loss(torch, run["loss"], tensor, result, generator, device)
    return result


# The harness guesses each synthetic input's dtype from what the tracker saw; when the model's
# first layer rejects the guess, the guess was wrong, not the user's code: one retry with the
# other dtype (an input the tracker did not know as token ids, or indexed by them).
_DTYPE_GUESSES = (("expected tensor for argument #1 'indices'", True),
                  ("input dtype (torch.int64) does not match weight dtype", False))


def run_dtypes(torch, ns, run, device, seed):
    result = run_one(torch, ns, run, device, seed)
    error = (result.get("error") or "").lower()
    for text, integer in _DTYPE_GUESSES:
        if text in error and any(bool(i.get("integer")) != integer for i in run["inputs"]):
            dtypes = [integer if _dtype_free(i) else bool(i.get("integer")) for i in run["inputs"]]
            retry = run_one(torch, ns, _set_integer(dict(run, inputs=[dict(i) for i in run["inputs"]]),
                                                    dtypes), device, seed)
            retry["dtypes"] = dtypes
            retry["dtype_note"] = f"inputs rebuilt as {'integer' if integer else 'float'} after: {result['error']}"
            return retry
    return result


def _dtype_free(spec) -> bool:
    """An input whose dtype is only the harness's guess (a layout-tagged float can be ids too)."""
    return len(spec["shape"]) <= 3


def _set_integer(run, dtypes):
    for spec, integer in zip(run["inputs"], dtypes):
        spec["integer"] = integer
        if integer:
            spec.pop("canonical", None)
            spec.pop("perm", None)
    return run


def _loss(torch, loss, tensor, result, generator, device):
    """The file's loss on the model's output and a target of the file's shape: only when the
    loss is fed the output as it is (a flatten in between would change what it sees)."""
    if loss.get("input") is not None and loss["input"] != list(tensor.shape):
        return
    try:
        with torch.no_grad():
            criterion = getattr(torch.nn, loss["kind"])()
            if loss["kind"] in ("CrossEntropyLoss", "NLLLoss"):
                classes = tensor.shape[1] if tensor.dim() > 1 else tensor.shape[0]
                shape = loss.get("target") or \
                    ([tensor.shape[0]] + list(tensor.shape[2:]) if tensor.dim() > 1 else [])
                target = torch.randint(0, classes, shape, generator=generator).to(device)
            else:
                target = torch.randn(loss.get("target") or tensor.shape, generator=generator).to(device)
            result["loss"] = float(criterion(tensor, target))
    except BaseException as exc:
        result["loss_error"] = first_line(exc)


def main() -> int:
    spec = json.load(sys.stdin)
    out = {"device": None, "runs": [], "pairs": [], "error": None}
    try:
        import torch
    except ImportError as exc:
        out["error"] = f"torch is not importable: {exc}"
        print(json.dumps(out))
        return 0
    # Blocked after torch is imported (its imports subclass socket); user code cannot connect.
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    socket.socket.connect_ex = _no_network  # type: ignore[method-assign]
    socket.create_connection = _no_network  # type: ignore[assignment]
    sys.path[:0] = spec.get("sys_path", [])  # the file's own sibling modules stay importable
    device = spec["device"]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        out["error"] = "--device cuda, but torch sees no CUDA device"
        print(json.dumps(out))
        return 0
    out["device"] = device
    namespaces = {}
    for name, program in spec["programs"].items():
        # a real module object: ``@dataclass`` (and pickling) look the class's module up
        module = types.ModuleType(f"rnnshape_verify_{name}")
        module.__file__ = spec["filename"]
        sys.modules[module.__name__] = module
        ns = module.__dict__
        ns[PROBE] = Probes()  # the probes a check puts in the model's code record nothing here
        try:
            exec(compile(program, spec["filename"], "exec"), ns)
        except BaseException as exc:
            out["error"] = f"loading the model code ({name}): {first_line(exc)}"
            out["traceback"] = traceback.format_exc(limit=3)
            print(json.dumps(out))
            return 0
        namespaces[name] = ns
    for run in spec["runs"]:
        out["runs"].append(run_dtypes(torch, namespaces[run["program"]], run, device, spec["seed"]))
    # what a run learned about its inputs' dtypes holds for every experiment on the same call
    fixed_dtypes = {r["id"]: r["dtypes"] for r in out["runs"] if "dtypes" in r}
    for check in spec.get("checks", []):
        for run in [check.get("run")] + list(check.get("runs", [])):
            if run and run["id"] in fixed_dtypes:
                _set_integer(run, fixed_dtypes[run["id"]])
    out["checks"] = [run_check(torch, namespaces, check, device, spec["seed"])
                     for check in spec.get("checks", [])]
    for pair in spec.get("pairs", []):
        for run in pair["runs"]:
            if run["id"] in fixed_dtypes:
                _set_integer(run, fixed_dtypes[run["id"]])
        out["pairs"].append(compare(torch, namespaces, spec, pair, device))
    print(json.dumps(out))
    return 0


def compare(torch, namespaces, spec, pair, device):
    """Same weights, same data: do the two fixed programs compute the same thing?"""
    first, second = pair["runs"]
    result = {"ids": [first["id"], second["id"]], "equal": None, "max_diff": None, "error": None}
    try:
        torch.manual_seed(spec["seed"])
        model_a = eval(first["build"], namespaces[first["program"]]).to(device).eval()
        model_b = eval(second["build"], namespaces[second["program"]]).to(device).eval()
        model_b.load_state_dict(model_a.state_dict())
        gen_a = torch.Generator().manual_seed(spec["seed"])
        gen_b = torch.Generator().manual_seed(spec["seed"])
        high = 2
        xs_a = [make_input(torch, s, gen_a, device, high) for s in first["inputs"]]
        xs_b = [make_input(torch, s, gen_b, device, high) for s in second["inputs"]]
        with torch.no_grad():
            out_a = first_tensor(torch, model_a(*xs_a))
            out_b = first_tensor(torch, model_b(*xs_b))
        if out_a.shape != out_b.shape and out_a.dim() == out_b.dim() == 3 and \
                out_a.shape == out_b.transpose(0, 1).shape:
            out_b = out_b.transpose(0, 1)
        if out_a.shape != out_b.shape:
            result["error"] = f"outputs differ in shape: {list(out_a.shape)} vs {list(out_b.shape)}"
            return result
        result["max_diff"] = float((out_a - out_b).abs().max()) if out_a.numel() else 0.0
        result["equal"] = bool(torch.allclose(out_a, out_b, atol=1e-5, rtol=1e-4))
    except BaseException as exc:
        result["error"] = first_line(exc)
    return result


if __name__ == "__main__":
    sys.exit(main())
