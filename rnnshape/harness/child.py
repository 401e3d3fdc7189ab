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


def _no_network(*args, **kwargs):
    raise OSError("rnnshape verify: network access is disabled while running user code")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


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


def _make_input(torch, spec, generator, device, high):
    shape = spec["shape"]
    if spec.get("integer"):
        return torch.randint(0, max(1, high), shape, generator=generator).to(device)
    if spec.get("canonical"):
        data = torch.randn(spec["canonical"], generator=generator)
        return data.permute(*spec["perm"]).contiguous().to(device)
    return torch.randn(shape, generator=generator).to(device)


def _first_tensor(torch, value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(torch, item)
            if found is not None:
                return found
    return None


def run_one(torch, ns, run, device, seed):
    torch.manual_seed(seed)
    result = {"id": run["id"], "ok": False, "error": None, "recurrent": [], "output": None}
    try:
        model = eval(run["build"], ns)
    except BaseException as exc:  # the user's constructor failed: that is a finding of its own
        result["error"] = "building the model: " + _first_line(exc)
        return result, None, None
    model = model.to(device)
    model.eval()  # dropout off, so two strategies can be compared number for number
    recorder = Recorder(torch, model)
    high = min([m.num_embeddings for m in model.modules() if isinstance(m, torch.nn.Embedding)]
               or [2])
    generator = torch.Generator().manual_seed(seed)
    inputs = [_make_input(torch, spec, generator, device, high) for spec in run["inputs"]]
    try:
        with torch.no_grad():
            output = model(*inputs)
            result["ok"] = True
            tensor = _first_tensor(torch, output)
            result["output"] = list(tensor.shape) if tensor is not None else None
            loss = run.get("loss")
            if loss and tensor is not None:
                criterion = getattr(torch.nn, loss["kind"])()
                if loss["kind"] in ("CrossEntropyLoss", "NLLLoss"):
                    classes = tensor.shape[1] if tensor.dim() > 1 else tensor.shape[0]
                    target_shape = [tensor.shape[0]] + list(tensor.shape[2:]) if tensor.dim() > 1 else []
                    target = torch.randint(0, classes, target_shape, generator=generator).to(device)
                else:
                    target = torch.randn(tensor.shape, generator=generator).to(device)
                result["loss"] = float(criterion(tensor, target))
    except BaseException as exc:
        result["ok"] = False
        where = recorder.stack[-1] if recorder.stack else None
        result["error"] = _first_line(exc) + (f" (in {where})" if where else "")
        return result, None, inputs
    finally:
        result["recurrent"] = recorder.calls
    return result, (model, output), inputs


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
        try:
            exec(compile(program, spec["filename"], "exec"), ns)
        except BaseException as exc:
            out["error"] = f"loading the model code ({name}): {_first_line(exc)}"
            out["traceback"] = traceback.format_exc(limit=3)
            print(json.dumps(out))
            return 0
        namespaces[name] = ns
    built = {}
    for run in spec["runs"]:
        result, model_output, _ = run_one(torch, namespaces[run["program"]], run, device, spec["seed"])
        out["runs"].append(result)
        built[run["id"]] = model_output
    for pair in spec.get("pairs", []):
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
        xs_a = [_make_input(torch, s, gen_a, device, high) for s in first["inputs"]]
        xs_b = [_make_input(torch, s, gen_b, device, high) for s in second["inputs"]]
        with torch.no_grad():
            out_a = _first_tensor(torch, model_a(*xs_a))
            out_b = _first_tensor(torch, model_b(*xs_b))
        if out_a.shape != out_b.shape and out_a.dim() == out_b.dim() == 3 and \
                out_a.shape == out_b.transpose(0, 1).shape:
            out_b = out_b.transpose(0, 1)
        if out_a.shape != out_b.shape:
            result["error"] = f"outputs differ in shape: {list(out_a.shape)} vs {list(out_b.shape)}"
            return result
        result["max_diff"] = float((out_a - out_b).abs().max()) if out_a.numel() else 0.0
        result["equal"] = bool(torch.allclose(out_a, out_b, atol=1e-5, rtol=1e-4))
    except BaseException as exc:
        result["error"] = _first_line(exc)
    return result


if __name__ == "__main__":
    sys.exit(main())
