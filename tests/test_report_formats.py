"""SARIF and GitHub Actions output."""
import json
import os

import pytest

from rnnshape import __version__
from rnnshape.diagnostic import Diagnostic, FileError
from rnnshape.report.github import render_github
from rnnshape.report.sarif import render_sarif
from types import SimpleNamespace

# Stand-ins with the attributes the renderer reads, so these tests do not move with the rules;
# one test below runs the real registry.
RULES = [
    SimpleNamespace(code="RNN001", name="layout-mismatch", summary="Recurrent input in the wrong order",
                    what="Finds the input of an `nn.LSTM` whose dims are\nin the wrong order.",
                    severity="error"),
    SimpleNamespace(code="RNN002", name="input-size-mismatch", summary="Last dim differs",
                    what="Finds a mismatch.", severity="error"),
    SimpleNamespace(code="RNN101", name="eval-without-no-grad", summary="Eval outside no_grad",
                    what="Finds model calls in eval mode.", severity="warning"),
]


def all_rules():
    return RULES


def diag(**kw):
    base = dict(code="RNN001", name="layout-mismatch", message="batch and time swapped",
                severity="error", filename="src/train.py", row=12, column=9, end_row=12,
                end_column=31)
    base.update(kw)
    return Diagnostic(**base)


# -- SARIF -------------------------------------------------------------------------------------

def require(obj, keys, where):
    assert isinstance(obj, dict), where
    missing = [k for k in keys if k not in obj]
    assert not missing, f"{where} lacks {missing}"


def text_of(obj, where):
    require(obj, ["text"], where)
    assert isinstance(obj["text"], str) and obj["text"], where


def positive_int(value, where):
    assert isinstance(value, int) and not isinstance(value, bool) and value >= 1, where


def check_sarif(log):
    """The parts of SARIF 2.1.0 that code scanning and viewers rely on."""
    require(log, ["$schema", "version", "runs"], "log")
    assert log["version"] == "2.1.0"
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    require(run, ["tool", "results"], "run")
    driver = run["tool"]["driver"]
    require(driver, ["name", "informationUri", "version", "rules"], "driver")
    ids = []
    for i, rule in enumerate(driver["rules"]):
        where = f"rules[{i}]"
        require(rule, ["id", "name", "shortDescription", "fullDescription", "helpUri",
                       "defaultConfiguration"], where)
        text_of(rule["shortDescription"], where)
        text_of(rule["fullDescription"], where)
        assert rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
        ids.append(rule["id"])
    assert len(ids) == len(set(ids))
    for i, result in enumerate(run["results"]):
        where = f"results[{i}]"
        require(result, ["ruleId", "level", "message", "locations"], where)
        if "ruleIndex" in result:
            assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        text_of(result["message"], where)
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert isinstance(uri, str) and "\\" not in uri and " " not in uri
        region = physical["region"]
        require(region, ["startLine", "startColumn", "endLine", "endColumn"], where)
        for key in ("startLine", "startColumn", "endLine", "endColumn"):
            positive_int(region[key], f"{where}.{key}")
        assert (region["endLine"], region["endColumn"]) >= (region["startLine"], region["startColumn"])
    return run


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_sarif_lists_every_rule_and_points_results_at_them(in_tmp):
    rules = all_rules()
    warning = next(r for r in rules if r.severity == "warning")
    ds = [diag(),
          diag(code=warning.code, name=warning.name, severity="warning", message="two\nlines",
               filename="nb/Model Run.ipynb", row=2, column=1, end_row=2, end_column=5, cell=4)]
    run = check_sarif(json.loads(render_sarif(ds, rules)))
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("rnnshape", __version__)
    assert [r["id"] for r in driver["rules"]] == [r.code for r in rules]
    first = driver["rules"][0]
    assert first == {
        "id": "RNN001", "name": "layout-mismatch",
        "shortDescription": {"text": "Recurrent input in the wrong order"},
        "fullDescription": {"text": "Finds the input of an `nn.LSTM` whose dims are\nin the wrong order."},
        "helpUri": "https://github.com/rnnshape/rnnshape/blob/main/docs/rules.md#rnn001-layout-mismatch",
        "defaultConfiguration": {"level": "error"},
    }
    assert driver["rules"][2]["defaultConfiguration"] == {"level": "warning"}
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["invocations"] == [{"executionSuccessful": True, "toolExecutionNotifications": []}]
    error, note = run["results"]
    assert error == {
        "ruleId": "RNN001", "ruleIndex": 0, "level": "error",
        "message": {"text": "batch and time swapped"},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": "src/train.py"},
            "region": {"startLine": 12, "startColumn": 9, "endLine": 12, "endColumn": 31}}}],
    }
    assert note["level"] == "warning"
    assert note["ruleIndex"] == 2
    assert note["properties"] == {"cell": 4}
    assert note["message"]["text"] == "two\nlines"
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "nb/Model%20Run.ipynb"


def test_sarif_paths_are_relative_to_the_base_with_forward_slashes(in_tmp):
    absolute = str(in_tmp / "pkg" / "m.py")
    outside = str(in_tmp.parent / "elsewhere.py")
    log = json.loads(render_sarif([diag(filename=absolute), diag(filename=outside),
                                   diag(filename=os.path.join(".", "pkg", "n.py"))], all_rules()))
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]]
    assert uris[0] == "pkg/m.py"
    assert uris[1].startswith("file:///") and uris[1].endswith("/elsewhere.py")
    assert uris[2] == "pkg/n.py"
    sub = json.loads(render_sarif([diag(filename=absolute)], all_rules(), base_dir=str(in_tmp / "pkg")))
    assert sub["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "m.py"


def test_sarif_regions_are_made_valid(in_tmp):
    log = json.loads(render_sarif([diag(row=3, column=7, end_row=2, end_column=0)], all_rules()))
    region = check_sarif(log)["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 7, "endLine": 3, "endColumn": 7}


def test_sarif_unknown_code_has_no_rule_index_and_file_errors_fail_the_invocation(in_tmp):
    log = json.loads(render_sarif([diag(code="RNN999", severity="info")], all_rules(),
                                  errors=[FileError("bad.py", "syntax error: invalid syntax", 3),
                                          FileError("gone.py", "no such file or directory")]))
    run = check_sarif(log)
    result = run["results"][0]
    assert "ruleIndex" not in result and result["level"] == "note"
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [
        {"level": "error", "message": {"text": "syntax error: invalid syntax"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "bad.py"},
                                             "region": {"startLine": 3}}}]},
        {"level": "error", "message": {"text": "no such file or directory"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "gone.py"}}}]},
    ]


def test_sarif_describes_every_registered_rule(in_tmp):
    from rnnshape.rules import all_rules as registered
    rules = registered()
    run = check_sarif(json.loads(render_sarif([diag()], rules)))
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.code for r in rules]
    assert run["results"][0]["ruleIndex"] == [r.code for r in rules].index("RNN001")


def test_sarif_with_no_results_is_still_a_complete_log(in_tmp):
    log = json.loads(render_sarif([], all_rules()))
    assert check_sarif(log)["results"] == []
    assert log["$schema"].endswith("sarif-2.1.0.json")


# -- GitHub ------------------------------------------------------------------------------------

def test_github_error_and_warning_lines():
    out = render_github([
        diag(),
        diag(code="RNN101", name="eval-without-no-grad", severity="warning",
             message="model called in eval mode", filename="train.py", row=40, column=5,
             end_row=41, end_column=2),
    ])
    assert out == (
        "::error file=src/train.py,line=12,col=9,endLine=12,endColumn=31,"
        "title=RNN001 layout-mismatch::batch and time swapped\n"
        "::warning file=train.py,line=40,col=5,endLine=41,endColumn=2,"
        "title=RNN101 eval-without-no-grad::model called in eval mode\n"
    )


def test_github_escapes_message_and_properties():
    out = render_github([diag(message="100% wrong:\r\nsee `x[:, -1]`, not x[-1]",
                              filename=".\\dir,a\\b:c.py", name="odd,name")])
    assert out == (
        "::error file=dir%2Ca/b%3Ac.py,line=12,col=9,endLine=12,endColumn=31,"
        "title=RNN001 odd%2Cname::100%25 wrong:%0D%0Asee `x[:, -1]`, not x[-1]\n"
    )


def test_github_notebook_diagnostic_is_a_file_annotation_naming_the_cell():
    out = render_github([diag(filename="nb.ipynb", cell=3, row=2, column=4, severity="hint")])
    assert out == ("::notice file=nb.ipynb,title=RNN001 layout-mismatch::"
                   "cell 3, line 2, column 4: batch and time swapped\n")


def test_github_nothing_to_say_is_empty():
    assert render_github([]) == ""
