"""Imports: library names become references (``torch.nn.LSTM``), the project's own modules are
read and run when a name from them is first used, so a class defined in ``model.py`` is the
same class in ``train.py``."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from rnnshape.shapes.interp.scope import Frame, Scope, dotted
from rnnshape.shapes.values import LazyV, ModuleV, Ref

TORCH = ("torch", "torch.")


class Imports:
    """The import half of the interpreter (see ``Interpreter``).  ``self.loader`` resolves a
    module name to a local file and reads it (``project.Sources``), or is None."""

    def exec_import(self, small: cst.Import, frame: Frame):
        for alias in small.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if full == "torch" or full.startswith("torch."):
                self.recorder.imports_torch()
            local = self._resolve(frame, full, 0)
            if alias.asname is not None:
                frame.scope.vars[alias.asname.name.value] = LazyV(local) if local else Ref(full)
            else:
                top = full.split(".")[0]
                local_top = self._resolve(frame, top, 0) if local else None
                frame.scope.vars[top] = LazyV(local_top) if local_top else Ref(top)

    def exec_import_from(self, small: cst.ImportFrom, frame: Frame):
        mod = dotted(small.module) if small.module is not None else ""
        level = len(small.relative)
        star = isinstance(small.names, cst.ImportStar)
        local = self._resolve(frame, mod or "", level) if mod is not None else None
        if local is not None:
            self._bind_local(small, local, star, frame)
            return
        if not mod or level:
            self.star_imported |= star
            for alias in ([] if star else small.names):
                frame.scope.vars[(alias.asname.name if alias.asname else alias.name).value] = None
            return
        if mod.startswith(TORCH) or mod == "torch":
            self.recorder.imports_torch()
        if star:
            self.star_imported = True
            return
        for alias in small.names:
            name = dotted(alias.name)
            bound = alias.asname.name.value if alias.asname else name
            frame.scope.vars[bound] = Ref(f"{mod}.{name}")

    def _bind_local(self, small: cst.ImportFrom, path: str, star: bool, frame: Frame):
        if star:
            module = self.load_module(path)
            if module is None:
                self.star_imported = True
                return
            for name, value in list(module.scope.vars.items()):
                if not name.startswith("_"):
                    frame.scope.vars[name] = value
            return
        for alias in small.names:
            name = alias.name.value if isinstance(alias.name, cst.Name) else dotted(alias.name)
            bound = alias.asname.name.value if alias.asname else name
            frame.scope.vars[bound] = LazyV(path, name)

    def _resolve(self, frame: Frame, module: str, level: int) -> Optional[str]:
        unit = frame.unit
        if self.loader is None or unit is None:
            return None
        return self.loader.resolve(unit.path, module, level)

    # -------------------------------------------------------------- reading modules
    def force(self, value, name: Optional[str] = None, scope: Optional[Scope] = None):
        """The value behind a lazy import (read and run its module now), rebound in ``scope``
        under ``name`` so the module is asked once."""
        if not isinstance(value, LazyV):
            return value
        module = self.load_module(value.path)
        if value.name is None or module is None:
            found = module
        else:
            found = self.module_attribute(module, value.name)
        if scope is not None and name is not None:
            scope.owner_of(name).vars[name] = found
        return found

    def load_module(self, path: str) -> Optional[ModuleV]:
        if path in self.modules:
            return self.modules[path]  # read already, or being read (an import cycle)
        unit = self.loader.unit(path) if self.loader is not None else None
        if unit is None:
            self.modules[path] = None
            return None
        module = ModuleV(unit, Scope(unit=unit))
        self.modules[path] = module
        saved = self._current_scope
        try:
            self.exec_block(unit.module.body, Frame(module.scope))
        finally:
            self._current_scope = saved
        return module

    def module_attribute(self, module: ModuleV, name: str):
        if name in module.scope.vars:
            return self.force(module.scope.vars[name], name, module.scope)
        sub = self.loader.submodule(module.unit.path, name) if self.loader is not None else None
        return self.load_module(sub) if sub is not None else None

    def is_main_guard(self, test, frame: Frame) -> bool:
        """``if __name__ == "__main__":`` in a module that was imported: its body does not run."""
        if frame.unit is None or frame.unit is self.entry:
            return False
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return False
        sides = [test.left, test.comparisons[0].comparator]
        names = {s.value for s in sides if isinstance(s, cst.Name)}
        strings = {s.evaluated_value for s in sides if isinstance(s, cst.SimpleString)}
        return names == {"__name__"} and strings == {"__main__"}
