"""[tool.rnnshape] / rnnshape.toml: finding, validating, merging, selecting, excluding."""
import pickle
from pathlib import Path

import pytest

from rnnshape.config import (DEFAULT_EXCLUDE, Config, ConfigError, compile_pattern,
                             load_config, path_matches)

KNOWN = {"RNN001", "RNN002", "RNN003", "RNN010", "RNN101", "RNN102"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- finding the file --------------------------------------------------------------------------

def test_nearest_pyproject_with_the_table_is_found_from_a_subdirectory(tmp_path):
    project = write(tmp_path / "pyproject.toml", '[tool.rnnshape]\nignore = ["RNN101"]\n')
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    config = load_config(tmp_path / "src" / "pkg", KNOWN)
    assert config.path == project
    assert config.root == tmp_path
    assert config.enabled_codes("x.py", KNOWN) == KNOWN - {"RNN101"}


def test_pyproject_without_the_table_is_passed_over(tmp_path):
    outer = write(tmp_path / "pyproject.toml", '[tool.rnnshape]\nselect = ["RNN0"]\n')
    write(tmp_path / "sub" / "pyproject.toml", '[project]\nname = "sub"\n')
    assert load_config(tmp_path / "sub", KNOWN).path == outer


def test_rnnshape_toml_wins_over_pyproject_in_the_same_directory(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.rnnshape]\nselect = ["RNN0"]\n')
    own = write(tmp_path / "rnnshape.toml", 'select = ["RNN1"]\n')
    config = load_config(tmp_path, KNOWN)
    assert config.path == own
    assert config.enabled_codes("a.py", KNOWN) == {"RNN101", "RNN102"}


def test_no_file_gives_defaults_rooted_at_the_start_directory(tmp_path):
    config = load_config(tmp_path, KNOWN)
    assert config.path is None and config.root == tmp_path
    assert config.enabled_codes("a.py", KNOWN) == KNOWN
    assert config.output_format is None and config.unsafe_fixes is None


def test_values_are_read(tmp_path):
    write(tmp_path / "rnnshape.toml", 'output-format = "sarif"\nunsafe-fixes = true\n'
                                      'extend-exclude = ["legacy/"]\n')
    config = load_config(tmp_path, KNOWN)
    assert (config.output_format, config.unsafe_fixes) == ("sarif", True)
    assert config.exclude_patterns == DEFAULT_EXCLUDE + ("legacy/",)


# -- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    ('selct = ["RNN001"]',
     '[tool.rnnshape]: unknown key "selct" (did you mean "select"?)'),
    ('extend_select = ["RNN001"]',
     '[tool.rnnshape]: unknown key "extend_select" (did you mean "extend-select"?)'),
    ('select = ["RNN999"]', '[tool.rnnshape] select: unknown rule code or prefix "RNN999"'),
    ('ignore = "RNN001"', "[tool.rnnshape] ignore: must be a list of strings"),
    ('per-file-ignores = {"tests/*" = ["XYZ1"]}',
     '[tool.rnnshape] per-file-ignores."tests/*": unknown rule code or prefix "XYZ1"'),
    ('per-file-ignores = ["tests/*"]', "[tool.rnnshape] per-file-ignores: must be a table"),
    ('output-format = "xml"', "[tool.rnnshape] output-format: must be one of full, concise"),
    ('unsafe-fixes = "yes"', "[tool.rnnshape] unsafe-fixes: must be true or false"),
    ('exclude = [1]', "[tool.rnnshape] exclude: must be a list of strings"),
])
def test_bad_pyproject_values_name_file_and_key(tmp_path, body, message):
    project = write(tmp_path / "pyproject.toml", f"[tool.rnnshape]\n{body}\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, KNOWN)
    text = str(info.value)
    assert text.startswith(f"{project}: {message}")
    assert "\n" not in text


def test_rnnshape_toml_errors_name_the_bare_key(tmp_path):
    own = write(tmp_path / "rnnshape.toml", 'ignore = ["RNN9"]\n')
    with pytest.raises(ConfigError, match="^" + str(own) + r': ignore: unknown rule code or prefix "RNN9"$'):
        load_config(tmp_path, KNOWN)


def test_invalid_toml_is_a_config_error(tmp_path):
    own = write(tmp_path / "rnnshape.toml", "select = [\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, KNOWN)
    assert str(info.value).startswith(f"{own}: invalid TOML: ")
    assert pickle.loads(pickle.dumps(info.value)).reason == info.value.reason


def test_prefixes_all_and_lower_case_codes_are_accepted(tmp_path):
    write(tmp_path / "rnnshape.toml", 'select = ["all"]\nignore = ["rnn1", "RNN01"]\n')
    assert load_config(tmp_path, KNOWN).enabled_codes("a.py", KNOWN) == {"RNN001", "RNN002", "RNN003"}


# -- selection ---------------------------------------------------------------------------------

def config_with(tmp_path, body):
    write(tmp_path / "rnnshape.toml", body)
    return load_config(tmp_path, KNOWN)


def test_more_specific_ignore_beats_select_within_a_layer(tmp_path):
    config = config_with(tmp_path, 'select = ["RNN0"]\nextend-select = ["RNN102"]\nignore = ["RNN001"]\n')
    assert config.enabled_codes("a.py", KNOWN) == {"RNN002", "RNN003", "RNN010", "RNN102"}


def test_more_specific_select_beats_a_broader_ignore_and_ties_go_to_ignore(tmp_path):
    config = config_with(tmp_path, 'select = ["RNN001", "RNN1"]\nignore = ["RNN0", "RNN1"]\n')
    assert config.enabled_codes("a.py", KNOWN) == {"RNN001"}


def test_command_line_select_replaces_the_files_selection(tmp_path):
    config = config_with(tmp_path, 'select = ["RNN0"]\nignore = ["RNN002"]\n')
    assert config.merged_with(select=["RNN002", "RNN101"]).enabled_codes("a.py", KNOWN) == {"RNN002", "RNN101"}


def test_files_plain_ignore_survives_a_command_line_select_unless_more_specific(tmp_path):
    config = config_with(tmp_path, 'ignore = ["RNN0"]\n')
    assert config.merged_with(select=["RNN"]).enabled_codes("a.py", KNOWN) == {"RNN101", "RNN102"}
    assert config.merged_with(select=["rnn001"]).enabled_codes("a.py", KNOWN) == {"RNN001"}


def test_command_line_ignore_and_extend_select_apply_on_top_of_the_file(tmp_path):
    config = config_with(tmp_path, 'select = ["RNN0"]\n')
    merged = config.merged_with(ignore=["RNN003"], extend_select=["RNN101"])
    assert merged.enabled_codes("a.py", KNOWN) == {"RNN001", "RNN002", "RNN010", "RNN101"}
    assert config.enabled_codes("a.py", KNOWN) == {"RNN001", "RNN002", "RNN003", "RNN010"}


def test_merged_with_overrides_scalars_only_when_given(tmp_path):
    config = config_with(tmp_path, 'output-format = "github"\nunsafe-fixes = true\n')
    assert config.merged_with().output_format == "github"
    merged = config.merged_with(output_format="json", unsafe_fixes=False)
    assert (merged.output_format, merged.unsafe_fixes) == ("json", False)
    assert merged.path == config.path


def test_per_file_ignores_match_relative_to_the_config_directory(tmp_path, monkeypatch):
    config = config_with(tmp_path, '[per-file-ignores]\n'
                                   '"tests/*.py" = ["RNN1"]\n'
                                   '"__init__.py" = ["RNN001"]\n'
                                   '"notebooks/" = ["RNN002"]\n'
                                   '"!src/**" = ["RNN003"]\n')
    monkeypatch.chdir(tmp_path / "..")  # paths relative to the cwd, not to the config
    base = Path(tmp_path.name)
    everything = set(KNOWN)

    def enabled(rel):
        return everything - config.enabled_codes(base / rel, everything)

    assert enabled("tests/test_a.py") == {"RNN101", "RNN102", "RNN003"}
    assert enabled("tests/unit/test_a.py") == {"RNN003"}
    assert enabled("src/pkg/__init__.py") == {"RNN001"}
    assert enabled("notebooks/deep/a.ipynb") == {"RNN002", "RNN003"}
    assert enabled("src/model.py") == set()
    assert enabled(tmp_path / "tests" / "x.py") == {"RNN101", "RNN102", "RNN003"}


# -- exclusion ---------------------------------------------------------------------------------

def test_default_exclusions_and_extend_exclude(tmp_path):
    config = config_with(tmp_path, 'extend-exclude = ["/generated", "*_pb2.py"]\n')
    assert config.is_excluded(tmp_path / ".venv" / "lib" / "x.py")
    assert config.is_excluded(tmp_path / "pkg" / "rnnshape.egg-info" / "x.py")
    assert config.is_excluded(tmp_path / "generated" / "x.py")
    assert not config.is_excluded(tmp_path / "src" / "generated" / "x.py")
    assert config.is_excluded(tmp_path / "src" / "m_pb2.py")
    assert not config.is_excluded(tmp_path / "src" / "model.py")


def test_exclude_replaces_the_defaults(tmp_path):
    config = config_with(tmp_path, 'exclude = ["data/", "!data/keep.py"]\n')
    assert not config.is_excluded(tmp_path / ".venv" / "x.py")
    assert config.is_excluded(tmp_path / "data" / "x.py")
    # As in git: nothing inside an excluded directory can be re-included.
    assert config.is_excluded(tmp_path / "data" / "keep.py")


def test_negation_re_includes_a_file(tmp_path):
    config = config_with(tmp_path, 'exclude = ["*.ipynb", "!keep.ipynb"]\n')
    assert config.is_excluded(tmp_path / "a.ipynb")
    assert not config.is_excluded(tmp_path / "nb" / "keep.ipynb")


def test_directory_only_pattern_needs_a_directory(tmp_path):
    (tmp_path / "cache").mkdir()
    write(tmp_path / "cache2", "")
    config = config_with(tmp_path, 'exclude = ["cache/", "cache2/"]\n')
    assert config.is_excluded(tmp_path / "cache")
    assert not config.is_excluded(tmp_path / "cache2")


def test_paths_outside_the_project_only_meet_floating_patterns(tmp_path):
    config = config_with(tmp_path / "proj", 'exclude = ["/other", "*.gen.py"]\n')
    assert not config.is_excluded(tmp_path / "other" / "a.py")
    assert config.is_excluded(tmp_path / "other" / "a.gen.py")


def test_config_pickles_for_worker_processes(tmp_path):
    config = config_with(tmp_path, 'exclude = ["x/"]\n[per-file-ignores]\n"a.py" = ["RNN001"]\n')
    config.is_excluded(tmp_path / "x")  # fills the caches
    config.enabled_codes(tmp_path / "a.py", KNOWN)
    copy = pickle.loads(pickle.dumps(config))
    assert copy.is_excluded(tmp_path / "x" / "y.py")
    assert copy.enabled_codes(tmp_path / "a.py", KNOWN) == KNOWN - {"RNN001"}


# -- the pattern matcher -----------------------------------------------------------------------

PATTERNS = ["build/", "*.ipynb", "/docs", "tests/data/*.py", "**/gen/*.py", "a/**/b", "foo/**",
            "[!a]x.py", "[]x]y", "d?c", "__init__.py", "src/*", "*.egg-info/", "x\\*y"]
PATHS = ["build/a.py", "src/build/a.py", "nb/a.ipynb", "a.ipynb", "docs/x.py", "src/docs/x.py",
         "tests/data/x.py", "tests/data/sub/x.py", "x/tests/data/x.py", "gen/a.py", "z/gen/a.py",
         "a/b", "a/x/y/b", "foo/x", "bx.py", "ax.py", "]y", "xy", "doc", "dxc/q",
         "pkg/__init__.py", "src/a/b.py", "src/a.py", "x.egg-info/PKG", "x*y", "xzy"]

EXPECTED = {
    "build/": {"build/a.py", "src/build/a.py"},
    "*.ipynb": {"nb/a.ipynb", "a.ipynb"},
    "/docs": {"docs/x.py"},
    "tests/data/*.py": {"tests/data/x.py"},
    "**/gen/*.py": {"gen/a.py", "z/gen/a.py"},
    "a/**/b": {"a/b", "a/x/y/b"},
    "foo/**": {"foo/x"},
    "[!a]x.py": {"bx.py"},
    "[]x]y": {"]y", "xy"},
    "d?c": {"doc", "dxc/q"},
    "__init__.py": {"pkg/__init__.py"},
    "src/*": {"src/build/a.py", "src/docs/x.py", "src/a/b.py", "src/a.py"},
    "*.egg-info/": {"x.egg-info/PKG"},
    "x\\*y": {"x*y"},
}


@pytest.mark.parametrize("pattern", PATTERNS)
def test_gitignore_patterns(pattern):
    compiled = compile_pattern(pattern)
    assert {p for p in PATHS if path_matches([compiled], p, is_dir=False)} == EXPECTED[pattern]


def test_a_directory_star_star_pattern_leaves_room_to_re_include_a_file():
    patterns = [compile_pattern("a/**"), compile_pattern("!a/keep.py")]
    assert path_matches(patterns, "a/drop.py", is_dir=False)
    assert not path_matches(patterns, "a/keep.py", is_dir=False)
    assert path_matches([compile_pattern("build/")], "build/x.py", is_dir=False)
    assert not path_matches([compile_pattern("build/")], "build", is_dir=False)


def test_blank_and_comment_patterns_are_ignored():
    assert compile_pattern("") is None and compile_pattern("# note") is None
    # Lines git cannot use match nothing, rather than everything or an exception.
    assert [compile_pattern(p) for p in ("/", "!", "!/", "\\")] == [None] * 4
    assert Config(exclude=("", "# x"), root=Path("/proj")).is_excluded("/proj/a.py") is False
