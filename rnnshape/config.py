"""Project configuration: ``[tool.rnnshape]`` in ``pyproject.toml``, or ``rnnshape.toml``.

Usage::

    config = load_config(".", known_codes=set(REGISTRY))          # ConfigError on a bad file
    config = config.merged_with(select=args_select, ignore=args_ignore,
                                output_format=args.output_format, unsafe_fixes=...)
    if not config.is_excluded(path):
        codes = config.enabled_codes(path, all_codes=set(REGISTRY))   # -> Settings(select=codes)

Finding the file: from the start directory upwards, the first directory holding an
``rnnshape.toml`` (always used, top-level keys) or a ``pyproject.toml`` with a
``[tool.rnnshape]`` table (a ``pyproject.toml`` without that table is passed over, as ruff
does).  In one directory ``rnnshape.toml`` wins over ``pyproject.toml``.  No file: defaults,
``Config.path`` None, patterns relative to the start directory.

Keys (kebab-case, as in the docs): ``select``, ``extend-select``, ``ignore`` (lists of codes or
prefixes, ``ALL`` meaning every rule), ``per-file-ignores`` (glob -> list of codes),
``exclude``, ``extend-exclude`` (gitignore-style patterns), ``output-format`` (one of
OUTPUT_FORMATS), ``unsafe-fixes`` (bool).  Unknown keys, wrong types and codes that match no
known rule raise ConfigError, whose ``str`` is one line naming the file and the key.

Rule selection follows ruff.  The file and the command line are two layers, applied in order.
A layer's ``select`` (when given) starts from exactly the codes it matches; ``extend-select``
adds, ``ignore`` removes; within a layer, for each code the *longest* matching prefix decides
(``select = ["RNN0"]`` with ``ignore = ["RNN001"]`` drops RNN001; ``--select RNN001`` beats a
file's ``ignore = ["RNN0"]``), a tie going to ``ignore``.  A file's ``ignore`` stays in force
under a command-line ``--select`` unless the file also had ``select`` (then the command line
replaces the whole selection).  ``per-file-ignores`` are applied last and always win.

Patterns (``exclude``, ``extend-exclude``, ``per-file-ignores`` keys) use gitignore rules,
relative to the config file's directory: a pattern without a slash matches a name at any
depth (``__init__.py``, ``*.ipynb``, ``build``), one with a slash is anchored (``/docs``,
``tests/data/*.py``; ``./docs`` means ``/docs``, as in ruff), a trailing slash matches only
directories, ``**`` spans directories, ``!`` re-includes (for per-file-ignores: applies to
files *not* matching).  A path under an excluded directory is excluded.  ``exclude``
replaces DEFAULT_EXCLUDE (the usual virtualenv, VCS and build folders); ``extend-exclude``
adds to it.  Patterns are translated by ``pathspec``.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable, Optional, Union

OUTPUT_FORMATS = ("full", "concise", "json", "sarif", "github", "json-lines", "junit", "gitlab")

# Same folders as rnnshape.files.SKIP_DIRS, as patterns (kept here so exclude can replace them).
DEFAULT_EXCLUDE = (
    ".git/", ".hg/", ".svn/", "__pycache__/", ".venv/", "venv/", "env/", ".env/", ".tox/",
    ".nox/", "build/", "dist/", "node_modules/", ".mypy_cache/", ".pytest_cache/",
    ".ruff_cache/", ".rnnshape_cache/", "site-packages/", ".eggs/", ".ipynb_checkpoints/",
    "*.egg-info/",
)

KEYS = ("select", "extend-select", "ignore", "per-file-ignores", "exclude", "extend-exclude",
        "output-format", "unsafe-fixes")

PathLike = Union[str, os.PathLike]


class ConfigError(Exception):
    """A configuration file we refuse to guess about; ``str`` is one line."""

    def __init__(self, path: str, key: Optional[str], reason: str):
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        return (ConfigError, (self.path, self.key, self.reason))


# -- gitignore-style patterns ---------------------------------------------------------------

@dataclass(frozen=True)
class Pattern:
    text: str
    regex: re.Pattern  # pathspec's translation; matched at the start of a relative path
    negated: bool
    dir_only: bool
    floating: bool  # no slash in the pattern: matches a name at any depth

    def matches(self, relpath: str, is_dir: bool) -> bool:
        if self.dir_only:
            # pathspec's regex for ``build/`` wants the slash; only a directory has one.
            return is_dir and self.regex.match(relpath + "/") is not None
        # A directory is tested without its slash: ``a/**`` matches what is inside ``a``, not
        # ``a`` itself, so ``!a/keep.py`` can still re-include a file there (as in git).
        return self.regex.match(relpath) is not None


def compile_pattern(text: str) -> Optional[Pattern]:
    """A gitignore pattern over ``/``-separated relative paths; None for blanks and comments.
    pathspec translates it; deciding per directory while walking (a path inside an excluded
    directory stays excluded) is ours, in ``path_matches``."""
    body = text.rstrip(" ") if not text.endswith("\\ ") else text
    body = body[1:] if body.startswith("!") else body
    if not body.strip("/"):
        return None  # "/" or "!": nothing to match (pathspec would match everything, or raise)
    # Imported here: pathspec costs tens of milliseconds, and a run over named files (an
    # editor, pre-commit) may never need a pattern.
    from pathspec.patterns.gitignore.basic import GitIgnoreBasicPattern
    try:
        compiled = GitIgnoreBasicPattern(text)
    except ValueError:  # pathspec's GitIgnorePatternError: git skips such a line, and so do we
        return None
    if compiled.include is None or compiled.regex is None:
        return None
    return Pattern(text, compiled.regex, not compiled.include, body.endswith("/"),
                   "/" not in body.rstrip("/"))


def _config_pattern(text: str) -> Optional[Pattern]:
    """A pattern from the configuration.  ``./x`` is read as ``/x`` (relative to the config
    file's directory, as ruff reads it): in gitignore syntax it would silently match nothing."""
    bang = "!" if text.startswith("!") else ""
    body = text[len(bang):]
    if body.startswith("./"):
        while body.startswith("./"):
            body = body[2:]
        text = bang + "/" + body
    return compile_pattern(text)


def path_matches(patterns: Iterable[Pattern], relpath: str, is_dir: bool) -> bool:
    """gitignore semantics: the last matching pattern decides, and a path inside an
    excluded directory stays excluded whatever later patterns say about the path itself."""
    patterns = list(patterns)
    parts = [p for p in relpath.split("/") if p]
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        prefix_is_dir = is_dir if depth == len(parts) else True
        state = False
        for pattern in patterns:
            if pattern.matches(prefix, prefix_is_dir):
                state = not pattern.negated
        if state:
            return True
    return False


# -- the configuration -------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleLayer:
    select: Optional[tuple[str, ...]] = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    path: Optional[Path] = None
    root: Path = field(default_factory=Path.cwd)
    layers: tuple[RuleLayer, ...] = (RuleLayer(),)
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: Optional[tuple[str, ...]] = None
    extend_exclude: tuple[str, ...] = ()
    output_format: Optional[str] = None
    unsafe_fixes: Optional[bool] = None

    def merged_with(self, select: Optional[Iterable[str]] = None,
                    extend_select: Optional[Iterable[str]] = None,
                    ignore: Optional[Iterable[str]] = None,
                    output_format: Optional[str] = None,
                    unsafe_fixes: Optional[bool] = None) -> "Config":
        """This configuration with command-line values on top (None: not given).  Codes are
        not validated here: the command line does that against its own registry."""
        layers = self.layers
        if select is not None or extend_select is not None or ignore is not None:
            layers = layers + (RuleLayer(
                select=None if select is None else _normalize(select),
                extend_select=_normalize(extend_select or ()),
                ignore=_normalize(ignore or ())),)
        return dataclasses.replace(
            self, layers=layers,
            output_format=output_format if output_format is not None else self.output_format,
            unsafe_fixes=unsafe_fixes if unsafe_fixes is not None else self.unsafe_fixes)

    def enabled_codes(self, filename: PathLike, all_codes: Iterable[str]) -> set[str]:
        """The codes to run on ``filename``, out of ``all_codes``."""
        codes = set(self._selected(frozenset(all_codes)))
        if self._per_file_patterns:
            where = self._locate(filename)
            for pattern, negated, ignored in self._per_file_patterns:
                if self._matches([pattern], where) != negated:
                    codes = {c for c in codes if _longest(ignored, c) is None}
        return codes

    def is_excluded(self, path: PathLike, root: Optional[PathLike] = None) -> bool:
        """Whether discovery skips ``path`` found while walking ``root``.

        A tree named explicitly is walked even when it sits under an excluded folder
        (``rnnshape check .../site-packages/torch``): then only what lies below it counts.
        """
        if root is not None and self._matches(self._exclude_patterns, self._locate(root)):
            rel = Path(os.path.relpath(os.path.abspath(path), os.path.abspath(root))).as_posix()
            floating = [p for p in self._exclude_patterns if p.floating]
            return path_matches(floating, rel, os.path.isdir(path))
        return self._matches(self._exclude_patterns, self._locate(path))

    @property
    def exclude_patterns(self) -> tuple[str, ...]:
        return (self.exclude if self.exclude is not None else DEFAULT_EXCLUDE) + self.extend_exclude

    # -- internals -------------------------------------------------------------------------

    @cached_property
    def _exclude_patterns(self) -> list[Pattern]:
        return [p for p in map(_config_pattern, self.exclude_patterns) if p is not None]

    @cached_property
    def _per_file_patterns(self) -> list[tuple[Pattern, bool, tuple[str, ...]]]:
        # (the glob without its "!", whether it had one, codes): "!glob" applies to the files
        # the glob does not match.
        out = []
        for glob, codes in self.per_file_ignores:
            pattern = _config_pattern(glob)
            if pattern is not None:
                out.append((dataclasses.replace(pattern, negated=False), pattern.negated, codes))
        return out

    @cached_property
    def _selection_cache(self) -> dict:
        return {}

    def _selected(self, all_codes: frozenset) -> frozenset:
        cached = self._selection_cache.get(all_codes)
        if cached is None:
            cached = self._selection_cache[all_codes] = frozenset(_resolve(self.layers, all_codes))
        return cached

    @staticmethod
    def _matches(patterns: list[Pattern], where: tuple[Optional[str], str, bool]) -> bool:
        rel, absolute, is_dir = where
        if rel is None:
            # Outside the project only the patterns that match at any depth can apply.
            return path_matches([p for p in patterns if p.floating], absolute, is_dir)
        return path_matches(patterns, rel, is_dir)

    def _locate(self, path: PathLike) -> tuple[Optional[str], str, bool]:
        """(path relative to root, or None outside it; absolute posix path; is a directory)."""
        absolute = os.path.abspath(path)
        is_dir = os.path.isdir(absolute)
        posix = Path(absolute).as_posix().lstrip("/")
        try:
            rel = Path(os.path.relpath(absolute, os.path.abspath(self.root))).as_posix()
        except ValueError:  # another drive on Windows
            return None, posix, is_dir
        if rel == ".." or rel.startswith("../"):
            return None, posix, is_dir
        return ("" if rel == "." else rel), posix, is_dir


def _normalize(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in codes if c.strip())


def _prefix(code: str) -> str:
    return "" if code == "ALL" else code


def _longest(selectors: Iterable[str], code: str) -> Optional[str]:
    best = None
    for selector in selectors:
        prefix = _prefix(selector)
        if code.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def _resolve(layers: tuple[RuleLayer, ...], all_codes: frozenset) -> set[str]:
    state = {code: True for code in all_codes}
    carried: tuple[str, ...] = ()
    for layer in layers:
        enablers = (layer.select or ()) + layer.extend_select
        disablers = layer.ignore + (carried if layer.select is not None else ())
        for code in all_codes:
            on, off = _longest(enablers, code), _longest(disablers, code)
            if on is None and off is None:
                if layer.select is not None:
                    state[code] = False
                continue
            state[code] = on is not None and (off is None or len(on) > len(off))
        carried = carried + layer.ignore if layer.select is None else ()
    return {code for code, on in state.items() if on}


# -- loading -----------------------------------------------------------------------------------

def find_config_file(start_dir: PathLike) -> Optional[tuple[Path, dict]]:
    """(file, its rnnshape table) of the nearest configuration, or None."""
    directory = Path(os.path.abspath(start_dir))
    if directory.is_file():
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        own = candidate / "rnnshape.toml"
        if own.is_file():
            return own, _read_toml(own)
        project = candidate / "pyproject.toml"
        if project.is_file() and _mentions_rnnshape(project):
            data = _read_toml(project)
            tool = data.get("tool")
            if isinstance(tool, dict) and "rnnshape" in tool:
                table = tool["rnnshape"]
                if not isinstance(table, dict):
                    raise ConfigError(str(project), "[tool.rnnshape]", "must be a table")
                return project, table
    return None


def _mentions_rnnshape(path: Path) -> bool:
    """Whether a pyproject.toml can hold our table at all: most do not, and reading TOML
    costs more than the rest of a one-file check's start."""
    try:
        with open(path, "rb") as handle:
            return b"rnnshape" in handle.read()
    except OSError:
        return True  # let the reader report it


def _read_toml(path: Path) -> dict:
    # Imported here: most runs find no configuration file, and need no TOML reader.
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), None, f"invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), None, "not valid UTF-8") from None


def load_config(start_dir: PathLike, known_codes: Iterable[str]) -> Config:
    """The configuration that applies to ``start_dir``; ConfigError if it is invalid."""
    found = find_config_file(start_dir)
    if found is None:
        root = Path(os.path.abspath(start_dir))
        return Config(path=None, root=root.parent if root.is_file() else root)
    path, table = found
    return parse_config(table, path, set(known_codes))


def load_config_file(path: PathLike, known_codes: Iterable[str]) -> Config:
    """The configuration in ``path`` itself (``--config``), no search: a ``pyproject.toml``
    for its ``[tool.rnnshape]`` table (none: the defaults), any other file as an
    ``rnnshape.toml``.  Patterns are relative to the file's folder.  ConfigError when the file
    cannot be read or is invalid."""
    file = Path(os.path.abspath(path))
    if not file.is_file():
        reason = "not a file" if file.exists() else "no such file"
        raise ConfigError(str(path), None, f"cannot read: {reason}")
    data = _read_toml(file)
    table = data
    if file.name == "pyproject.toml":
        tool = data.get("tool")
        table = tool.get("rnnshape", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise ConfigError(str(file), "[tool.rnnshape]", "must be a table")
    return parse_config(table, file, set(known_codes))


def parse_config(table: dict, path: Path, known_codes: set[str]) -> Config:
    """A Config from an already-read table (the ``[tool.rnnshape]`` contents)."""
    label = "[tool.rnnshape]" if path.name == "pyproject.toml" else ""
    where = str(path)

    def key_name(key: str) -> str:
        return f"{label} {key}".strip()

    for key in table:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            raise ConfigError(where, label or None, f'unknown key "{key}"{hint}')

    def strings(key: str, value) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(where, key_name(key), "must be a list of strings")
        return tuple(value)

    def codes(key: str, value) -> tuple[str, ...]:
        out = _normalize(strings(key, value))
        for code in out:
            if code != "ALL" and not any(known.startswith(code) for known in known_codes):
                raise ConfigError(where, key_name(key), f'unknown rule code or prefix "{code}"')
        return out

    select = codes("select", table["select"]) if "select" in table else None
    extend_select = codes("extend-select", table.get("extend-select", []))
    ignore = codes("ignore", table.get("ignore", []))
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise ConfigError(where, key_name("per-file-ignores"), "must be a table of glob = [codes]")
    per_file_ignores = tuple(
        (glob, codes(f'per-file-ignores."{glob}"', value)) for glob, value in per_file.items())
    exclude = strings("exclude", table["exclude"]) if "exclude" in table else None
    extend_exclude = strings("extend-exclude", table.get("extend-exclude", []))
    output_format = table.get("output-format")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise ConfigError(where, key_name("output-format"),
                          f"must be one of {', '.join(OUTPUT_FORMATS)}, not {output_format!r}")
    unsafe_fixes = table.get("unsafe-fixes")
    if unsafe_fixes is not None and not isinstance(unsafe_fixes, bool):
        raise ConfigError(where, key_name("unsafe-fixes"), "must be true or false")
    return Config(path=path, root=path.parent,
                  layers=(RuleLayer(select, extend_select, ignore),),
                  per_file_ignores=per_file_ignores, exclude=exclude,
                  extend_exclude=extend_exclude, output_format=output_format,
                  unsafe_fixes=unsafe_fixes)
