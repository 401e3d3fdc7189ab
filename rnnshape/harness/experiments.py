"""The subprocess side of the checks that settle silent mistakes: torch is passed in, never
imported here (only ``child.py`` imports it, inside the subprocess).

Each experiment answers one question about the model the file defines, on synthetic inputs:
- ``perturb``: does the value at a line (or the model's output) change when one sample's
  input at one step changes?  (which step an index reads)
- ``grad``: does each direction of a bidirectional module get gradient from that value?
- ``dropout``: in train mode, does a recurrent module's ``dropout`` change anything?
- ``same``: do two programs, on the same weights and inputs, compute the same outputs?
- ``pairing``: after the file's flatten expressions, which (sample, step) does each row of the
  logits and of the targets come from?
- ``index``: which (sample, step) positions does an index of the file pick?
- ``feedback``: do two training steps run when the state the model returns is fed back in?
- ``device``: does the model, moved to CUDA, run on a tensor made where the code makes it?
"""
from __future__ import annotations

import contextlib
from typing import Optional

from rnnshape.harness.instrument import PROBE


class Probes:
    """``_rnnshape_probe_(key, value)`` in the user's code: keeps the first value per key."""

    def __init__(self, detach: bool = True):
        self.values = {}
        self.detach = detach

    def __call__(self, key, value):
        if key not in self.values and hasattr(value, "detach"):
            self.values[key] = value.detach().clone() if self.detach else value
        return value


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def make_input(torch, spec, generator, device, high):
    shape = spec["shape"]
    if spec.get("integer"):
        return torch.randint(0, max(1, high), shape, generator=generator).to(device)
    if spec.get("canonical"):
        data = torch.randn(spec["canonical"], generator=generator)
        return data.permute(*spec["perm"]).contiguous().to(device)
    return torch.randn(shape, generator=generator).to(device)


def first_tensor(torch, value):
    found = tensors(torch, value)
    return found[0] if found else None


def tensors(torch, value) -> list:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in tensors(torch, item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in tensors(torch, item)]
    return []


def vocabulary(torch, model) -> int:
    """The largest token id every embedding of the model accepts."""
    return min([m.num_embeddings for m in model.modules() if isinstance(m, torch.nn.Embedding)]
               or [2])


def _inputs(torch, model, run, seed, device):
    generator = torch.Generator().manual_seed(seed)
    high = vocabulary(torch, model)
    return [make_input(torch, spec, generator, device, high) for spec in run["inputs"]], high


def _build(torch, ns, run, seed, device):
    torch.manual_seed(seed)
    return eval(run["build"], ns).to(device)


def _observed(torch, probes: Probes, key, output):
    """What an experiment watches: the probed value, or every tensor the model returned."""
    if key is not None:
        value = probes.values.get(key)
        return [value] if value is not None else None
    return [t.detach() for t in tensors(torch, output)]


def _differ(torch, a, b) -> bool:
    if len(a) != len(b):
        return True
    return any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(a, b))


@contextlib.contextmanager
def _probing(ns, probes: Probes):
    previous = ns.get(PROBE)
    ns[PROBE] = probes
    try:
        yield probes
    finally:
        ns[PROBE] = previous


def _changed(torch, ns, model, inputs, high, key, where) -> Optional[tuple]:
    """(changed, max |diff|, shape) of the watched value when one input is nudged at one
    position; None when the run never produced it."""
    changed = [x.clone() for x in inputs]
    target = changed[where["input"]]
    index = tuple(where["index"].get(str(axis), slice(None)) for axis in range(target.dim()))
    if target.dtype.is_floating_point:
        target[index] = target[index] + 1.0
    else:
        target[index] = (target[index] + 1) % max(2, high)
    seen = []
    for xs in (inputs, changed):
        with _probing(ns, Probes()) as probes, torch.no_grad():
            output = model(*xs)
        seen.append(_observed(torch, probes, key, output))
    if not seen[0] or not seen[1]:
        return None
    diff = max((float((a - b).abs().max()) for a, b in zip(*seen)
                if a.shape == b.shape and a.numel()), default=0.0)
    return _differ(torch, *seen), diff, list(seen[0][0].shape)


def perturb(torch, ns, check, device, seed):
    """Nudge sample 0 at the last step (what an index of the last step must see); with a
    ``control``, also the last sample there (what shows the input reaches the value at all)."""
    run = check["run"]
    model = _build(torch, ns, run, seed, device).eval()
    inputs, high = _inputs(torch, model, run, seed, device)
    key = check.get("probe")
    out = {"reached": False}
    # each input whose dims are known, until one is shown to reach the value (the control)
    for where in check["at"]:
        at = _changed(torch, ns, model, inputs, high, key, where["at"])
        if at is None:
            return out
        out = {"reached": True, "changed": at[0], "max_diff": at[1], "shape": at[2],
               "input": where["at"]["input"]}
        if where.get("control") is None:
            return out
        control = _changed(torch, ns, model, inputs, high, key, where["control"])
        out["control_changed"] = bool(control and control[0])
        if out["control_changed"]:
            return out
    return out


def grad(torch, ns, check, device, seed):
    run = check["run"]
    model = _build(torch, ns, run, seed, device).eval()
    inputs, _ = _inputs(torch, model, run, seed, device)
    # cuDNN refuses a backward pass through an RNN in eval mode
    flags = torch.backends.cudnn.flags(enabled=False)
    with flags, _probing(ns, Probes(detach=False)) as probes:
        output = model(*inputs)
        watched = _observed_live(torch, probes, check.get("probe"), output)
        if watched is None:
            return {"reached": False}
        generator = torch.Generator().manual_seed(seed + 1)
        total = sum((t * torch.randn(t.shape, generator=generator).to(t.device)).sum()
                    for t in watched if t.is_floating_point() and t.requires_grad)
        if not hasattr(total, "backward"):
            return {"reached": True, "modules": {}, "no_grad": True}
        total.backward()
    modules = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.modules.rnn.RNNBase) and module.bidirectional:
            last = module.num_layers - 1
            modules[name or "<model>"] = {
                direction: {kind: _norm(getattr(module, f"weight_{kind}_l{last}{suffix}").grad)
                            for kind in ("ih", "hh")}
                for direction, suffix in (("forward", ""), ("reverse", "_reverse"))}
    return {"reached": True, "modules": modules}


def _observed_live(torch, probes, key, output):
    if key is not None:
        value = probes.values.get(key)
        return [value] if value is not None else None
    return tensors(torch, output)


def _norm(tensor) -> float:
    return 0.0 if tensor is None else float(tensor.norm())


def dropout(torch, ns, check, device, seed):
    run = check["run"]
    model = _build(torch, ns, run, seed, device).train()
    inputs, _ = _inputs(torch, model, run, seed, device)
    wanted = check["module"]
    targets = [(name or "<model>", m) for name, m in model.named_modules()
               if isinstance(m, torch.nn.modules.rnn.RNNBase) and m.dropout > 0 and
               _names(name, wanted)]
    if not targets:
        return {"found": False}

    def forward():
        torch.manual_seed(seed)
        with torch.no_grad():
            return [t.detach().clone() for t in tensors(torch, model(*inputs))]

    with_dropout = forward()
    again = forward()
    saved = [(m, m.dropout) for _, m in targets]
    for module, _ in saved:
        module.dropout = 0.0
    without = forward()
    for module, value in saved:
        module.dropout = value
    return {"found": True, "modules": [n for n, _ in targets],
            "dropout": [v for _, v in saved], "deterministic": not _differ(torch, with_dropout, again),
            "equal": not _differ(torch, with_dropout, without)}


def _names(name: str, wanted: str) -> bool:
    if wanted == "<model>":
        return name == ""
    return name == wanted or name.endswith("." + wanted)


def same(torch, namespaces, check, device, seed):
    """Two programs, the second loaded with the first's weights: equal outputs?"""
    first, second = check["runs"]
    mode = check.get("mode", "eval")
    model_a = _build(torch, namespaces[first["program"]], first, seed, device)
    model_b = _build(torch, namespaces[second["program"]], second, seed, device)
    model_b.load_state_dict(model_a.state_dict())
    for model in (model_a, model_b):
        model.train(mode == "train")
    inputs, _ = _inputs(torch, model_a, first, seed, device)
    outs = []
    for model in (model_a, model_b):
        torch.manual_seed(seed)
        with torch.no_grad():
            outs.append([t.detach() for t in tensors(torch, model(*inputs))])
    if _differ(torch, *outs):
        diff = max((float((a - b).abs().max()) for a, b in zip(*outs)
                    if a.shape == b.shape and a.numel()), default=None)
        return {"equal": False, "max_diff": diff}
    return {"equal": True, "max_diff": 0.0}


def _tags(torch, spec, device, integer: bool):
    """A tensor whose every entry holds ``sample * steps + step`` of its own position."""
    shape, b, t = spec["shape"], spec["batch"], spec["time"]
    steps = shape[t]
    view = [1] * len(shape)
    view[b] = shape[b]
    samples = torch.arange(shape[b]).reshape(view)
    view = [1] * len(shape)
    view[t] = steps
    times = torch.arange(steps).reshape(view)
    code = (samples * steps + times).expand(shape).contiguous()
    return (code if integer else code.float()).to(device)


def pairing(torch, ns, check, device, seed):
    scope = dict(ns)
    flat = {}
    for side in ("logits", "target"):
        spec = check[side]
        scope[spec["root"]] = _tags(torch, spec, device, side == "target")
        flat[side] = eval(spec["expr"], scope)
    logits, target = flat["logits"], flat["target"]
    if logits.dim() != 2 or target.dim() != 1 or logits.shape[0] != target.shape[0]:
        return {"rows": None, "shapes": [list(logits.shape), list(target.shape)]}
    rows = logits[:, 0].round().long().cpu()
    wanted = target.long().cpu()
    wrong = (rows != wanted).nonzero().flatten().tolist()
    steps = check["logits"]["shape"][check["logits"]["time"]]
    out = {"rows": int(logits.shape[0]), "wrong": len(wrong)}
    if wrong:
        i = wrong[0]
        out["first"] = {"row": i, "logits": divmod(int(rows[i]), steps),
                        "target": divmod(int(wanted[i]), steps)}
    return out


def index(torch, ns, check, device, seed):
    """Which (sample, step) positions the file's index picks, read off the tags it returns."""
    scope = dict(ns)
    scope[check["root"]] = _tags(torch, check, device, integer=False)
    picked = eval(check["expr"], scope)
    steps = check["shape"][check["time"]]
    codes = sorted({int(c) for c in picked.round().long().flatten().tolist()})
    return {"samples": sorted({c // steps for c in codes}),
            "steps": sorted({c % steps for c in codes})}


def _detached(torch, value):
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(_detached(torch, v) for v in value)
    return value


def feedback(torch, ns, check, device, seed):
    """Two training steps as the file's loop takes them: forward, a loss on every output, backward,
    an optimizer step, then again with the state the first forward returned (detached first
    when ``detach``, as the fix does).  The first state is None, which every recurrent module
    takes as zeros, unless the file's own first state has a known shape: then zeros of it.
    Only the second step's backward is the mistake's to raise."""
    run = check["run"]
    model = _build(torch, ns, run, seed, device).train()
    inputs, _ = _inputs(torch, model, run, seed, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    shapes = check.get("state_shapes")
    if isinstance(shapes, dict):
        state = tuple(torch.zeros(s, device=device) for s in shapes["tuple"])
    else:
        state = None if shapes is None else torch.zeros(shapes, device=device)
    for step in range(2):
        if check.get("detach"):
            state = _detached(torch, state)
        args = list(inputs)
        args.insert(check["state_arg"], state)
        output = model(*args)
        out = check["state_out"]
        state = output if out is None else output[out]
        live = [t for t in tensors(torch, output) if t.is_floating_point() and t.requires_grad]
        if not live:
            return {"no_grad": True}
        loss = sum(t.sum() for t in live)
        optimizer.zero_grad()
        if step == 0:
            loss.backward()
        else:
            try:
                loss.backward()
            except RuntimeError as exc:
                return {"steps": 1, "raised": first_line(exc)}
        optimizer.step()
    return {"steps": 2, "raised": None}


def cuda_target(device: str, available: bool) -> tuple[Optional[str], str]:
    """Where an RNN106 experiment runs (``device``: the one the child resolved from
    ``--device``), or why it cannot run."""
    if not available:
        return None, "needs a CUDA device (this machine has none)"
    if device != "cuda":
        return None, "needs a CUDA device (run verify with --device cuda or auto)"
    return "cuda", ""


def device(torch, ns, check, device, seed):
    target, why = cuda_target(device, torch.cuda.is_available())
    if target is None:
        return {"skipped": why}
    if check.get("run") is None:
        return {"skipped": check["why"]}
    return on_device(torch, ns, check, target, seed)


def on_device(torch, ns, check, target: str, seed):
    """The model on ``target``, each input there too but those the code leaves on the CPU."""
    run = check["run"]
    model = _build(torch, ns, run, seed, target).eval()
    inputs, _ = _inputs(torch, model, run, seed, "cpu")
    inputs = [x if i in check["cpu_args"] else x.to(target) for i, x in enumerate(inputs)]
    try:
        with torch.no_grad():
            model(*inputs)
    except (RuntimeError, TypeError, ValueError) as exc:
        return {"device": target, "raised": first_line(exc)}
    return {"device": target, "raised": None}


KINDS = {"perturb": perturb, "grad": grad, "dropout": dropout, "pairing": pairing,
         "index": index, "feedback": feedback, "device": device}


def run_check(torch, namespaces, check, device, seed) -> dict:
    result = {"id": check["id"]}
    try:
        if check["kind"] == "same":
            result.update(same(torch, namespaces, check, device, seed))
        else:
            ns = namespaces[check.get("program", "original")]
            result.update(KINDS[check["kind"]](torch, ns, check, device, seed))
    except BaseException as exc:  # the user's code failed inside the experiment
        result["error"] = first_line(exc)
    return result
