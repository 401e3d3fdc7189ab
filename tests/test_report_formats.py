"""SARIF and GitHub Actions output."""
import json
import os

import pytest

from rnnshape import __version__
from rnnshape.diagnostic import Diagnostic, Edit, FileError, Fix, Span, TraceLine
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
               filename="nb/Model Run.ipynb", row=2, column=1, end_row=2, end_column=5, cell=4,
               file_span=Span(40, 6, 40, 10))]
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
    assert note["properties"] == {"cell": 4, "row": 2, "column": 1}
    assert note["message"]["text"] == "cell 4, line 2, column 1: two\nlines"
    assert note["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "nb/Model%20Run.ipynb"},
        "region": {"startLine": 40, "startColumn": 6, "endLine": 40, "endColumn": 10}}


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


def test_sarif_fix_is_a_sarif_fix_of_the_file_and_the_trace_a_code_flow(in_tmp):
    d = diag(trace=[TraceLine(5, "torch.zeros(4, 12, 8)", "(4, 12, 8)"),
                    TraceLine(30, "self.lstm(x)", "LSTM expects (time, batch, 8)", path="lib/model.py")],
             fix=Fix("unsafe", "replace `x` with `x.permute(1, 0, 2)`",
                     (Edit(12, 9, 12, 10, "x.permute(1, 0, 2)"), Edit(20, 1, 20, 1, "# check\n"))))
    result = check_sarif(json.loads(render_sarif([d], all_rules())))["results"][0]
    assert result["fixes"] == [{
        "description": {"text": "replace `x` with `x.permute(1, 0, 2)`"},
        "artifactChanges": [{"artifactLocation": {"uri": "src/train.py"}, "replacements": [
            {"deletedRegion": {"startLine": 12, "startColumn": 9, "endLine": 12, "endColumn": 10},
             "insertedContent": {"text": "x.permute(1, 0, 2)"}},
            {"deletedRegion": {"startLine": 20, "startColumn": 1, "endLine": 20, "endColumn": 1},
             "insertedContent": {"text": "# check\n"}}]}],
        "properties": {"applicability": "unsafe"}}]
    assert result["codeFlows"] == [{"threadFlows": [{"locations": [
        {"location": {"physicalLocation": {"artifactLocation": {"uri": "src/train.py"},
                                           "region": {"startLine": 5}},
                      "message": {"text": "`torch.zeros(4, 12, 8)`: (4, 12, 8)"}}},
        {"location": {"physicalLocation": {"artifactLocation": {"uri": "lib/model.py"},
                                           "region": {"startLine": 30}},
                      "message": {"text": "`self.lstm(x)`: LSTM expects (time, batch, 8)"}}},
    ]}]}]


def test_sarif_notebook_fix_uses_the_edits_of_the_json_text(in_tmp):
    json_edit = Edit(37, 1, 38, 1, '    "out = f(y)"\n')
    d = diag(filename="nb.ipynb", cell=3, row=4, column=1, end_row=4, end_column=5,
             file_span=Span(37, 6, 37, 10),
             trace=[TraceLine(2, "y", "(4, 8)", cell=3, file_row=35),
                    TraceLine(1, "g()", "(8,)", cell=2)],
             fix=Fix("safe", "use y", (Edit(4, 1, 4, 5, "f(y)", cell=3),), (json_edit,)))
    result = check_sarif(json.loads(render_sarif([d], all_rules())))["results"][0]
    [change] = result["fixes"][0]["artifactChanges"]
    assert change["replacements"] == [
        {"deletedRegion": {"startLine": 37, "startColumn": 1, "endLine": 38, "endColumn": 1},
         "insertedContent": {"text": '    "out = f(y)"\n'}}]
    steps = [s["location"] for s in result["codeFlows"][0]["threadFlows"][0]["locations"]]
    assert steps[0]["physicalLocation"]["region"] == {"startLine": 35}
    assert steps[0]["properties"] == {"cell": 3, "row": 2}
    # a step whose line of the JSON is not known points at the file, not at a wrong line
    assert "region" not in steps[1]["physicalLocation"] and steps[1]["properties"] == {"cell": 2, "row": 1}
    # edits in cell rows only are no edits of the file: no SARIF fix rather than a wrong one
    cells_only = diag(filename="nb.ipynb", cell=3, file_span=Span(37, 6, 37, 10),
                      fix=Fix("safe", "use y", (Edit(4, 1, 4, 5, "f(y)", cell=3),)))
    assert "fixes" not in json.loads(render_sarif([cells_only], all_rules()))["runs"][0]["results"][0]


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


def test_github_notebook_diagnostic_is_on_its_line_of_the_json_and_names_the_cell():
    out = render_github([diag(filename="nb.ipynb", cell=3, row=2, column=4, severity="hint",
                              file_span=Span(37, 26, 37, 42))])
    assert out == ("::notice file=nb.ipynb,line=37,col=26,endLine=37,endColumn=42,"
                   "title=RNN001 layout-mismatch::cell 3, line 2, column 4: batch and time swapped\n")


def test_github_notebook_diagnostic_without_its_json_place_is_a_file_annotation():
    out = render_github([diag(filename="nb.ipynb", cell=3, row=2, column=4, severity="hint")])
    assert out == ("::notice file=nb.ipynb,title=RNN001 layout-mismatch::"
                   "cell 3, line 2, column 4: batch and time swapped\n")


def test_github_nothing_to_say_is_empty():
    assert render_github([]) == ""


# -- rule documentation links ------------------------------------------------------------------

def github_anchor(heading: str) -> str:
    """GitHub's id for a Markdown heading: lower case, punctuation but ``-`` dropped, spaces
    become ``-``."""
    kept = "".join(c for c in heading.strip().lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def test_every_rule_url_is_an_anchor_of_the_rules_page():
    from pathlib import Path

    from rnnshape.rule_docs import RULES_PAGE, rule_url
    from rnnshape.rules import all_rules as registered
    page = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    anchors = {github_anchor(line.lstrip("#")) for line in page.splitlines()
               if line.startswith("## ")}
    for rule in registered():
        url = rule_url(rule.code, rule.name)
        page_url, anchor = url.split("#")
        assert page_url == RULES_PAGE
        assert anchor in anchors, rule.code
    assert rule_url("RNN001", "layout-mismatch").endswith("/docs/rules.md#rnn001-layout-mismatch")


# -- JSON and JSON lines -----------------------------------------------------------------------

URL_001 = "https://github.com/rnnshape/rnnshape/blob/main/docs/rules.md#rnn001-layout-mismatch"


def test_json_objects_name_their_rule_url_after_the_rule():
    from rnnshape.report.json_report import render_json
    [item] = json.loads(render_json([diag()]))
    assert list(item)[:4] == ["code", "name", "url", "message"]
    assert item["url"] == URL_001
    assert {k: v for k, v in item.items() if k != "url"} == diag().to_json()


def test_json_lines_is_one_compact_object_per_finding():
    from rnnshape.report.json_report import render_json, render_json_lines
    ds = [diag(), diag(code="RNN101", name="eval-without-no-grad", severity="warning",
                       message='a "quoted"\nmessage', row=40)]
    out = render_json_lines(ds)
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == 3  # each object ends its line
    assert [json.loads(line) for line in lines[:2]] == json.loads(render_json(ds))
    assert json.loads(lines[1])["location"] == {"row": 40, "column": 9}
    assert render_json_lines([]) == ""


# -- GitLab Code Quality -----------------------------------------------------------------------

def test_gitlab_issue_structure_and_severities(in_tmp):
    from rnnshape.report.gitlab import render_gitlab
    ds = [diag(filename=str(in_tmp / "src" / "train.py"), source_line="    out = x.permute(1, 0, 2)"),
          diag(code="RNN101", name="eval-without-no-grad", severity="warning", row=40,
               message="eval", filename="./a.py", source_line="model(x)"),
          diag(severity="info", filename="a.py", source_line="y")]
    issues = json.loads(render_gitlab(ds))
    assert [sorted(i) for i in issues] == [["check_name", "description", "fingerprint",
                                            "location", "severity"]] * 3
    assert issues[0]["description"] == "batch and time swapped"
    assert issues[0]["check_name"] == "RNN001"
    assert issues[0]["location"] == {"path": "src/train.py", "lines": {"begin": 12}}
    assert issues[1]["location"] == {"path": "a.py", "lines": {"begin": 40}}
    assert [i["severity"] for i in issues] == ["major", "minor", "info"]
    assert all(len(i["fingerprint"]) == 64 for i in issues)
    assert render_gitlab([]) == "[]"


def test_gitlab_fingerprint_follows_the_code_not_the_line_number(in_tmp):
    from rnnshape.report.gitlab import render_gitlab

    def fp(**kw):
        return [i["fingerprint"] for i in json.loads(render_gitlab([diag(**kw)]))][0]
    base = fp(source_line="out = x.permute(1, 0, 2)")
    # Lines added above the finding move it; re-indenting it does not change what it is.
    assert fp(row=30, end_row=30, source_line="    out = x.permute(1, 0, 2)  ") == base
    assert fp(source_line="out = x.permute(0, 2, 1)") != base
    assert fp(code="RNN002", source_line="out = x.permute(1, 0, 2)") != base
    assert fp(filename="other.py", source_line="out = x.permute(1, 0, 2)") != base
    # Two findings of one code on two identical lines stay two issues, in a stable order.
    twins = json.loads(render_gitlab([diag(row=3, source_line="f(x)"), diag(row=9, source_line="f(x)")]))
    again = json.loads(render_gitlab([diag(row=5, source_line="f(x)"), diag(row=11, source_line="f(x)")]))
    assert twins[0]["fingerprint"] != twins[1]["fingerprint"]
    assert [t["fingerprint"] for t in twins] == [a["fingerprint"] for a in again]


# -- JUnit XML ---------------------------------------------------------------------------------

def parse_junit(text):
    import xml.etree.ElementTree as ET
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def test_junit_one_suite_per_file_clean_files_pass():
    from rnnshape.report.junit import render_junit
    ds = [diag(), diag(code="RNN101", name="eval-without-no-grad", severity="warning", row=40,
                       column=5, message="eval mode")]
    root = parse_junit(render_junit(ds, files=["clean.py", "src/train.py"],
                                    errors=[FileError("bad.py", "syntax error: invalid syntax", 3)]))
    assert root.tag == "testsuites"
    assert root.attrib == {"name": "rnnshape", "tests": "4", "failures": "2", "errors": "1"}
    clean, train, bad = root
    assert [s.get("name") for s in root] == ["clean.py", "src/train.py", "bad.py"]
    assert clean.attrib == {"name": "clean.py", "tests": "1", "failures": "0", "errors": "0"}
    [case] = clean
    assert case.attrib == {"name": "rnnshape", "classname": "clean.py", "file": "clean.py"}
    assert list(case) == []
    assert train.attrib == {"name": "src/train.py", "tests": "2", "failures": "2", "errors": "0"}
    first, second = train
    assert first.attrib == {"name": "RNN001 layout-mismatch at 12:9", "classname": "src/train.py",
                            "file": "src/train.py", "line": "12"}
    [failure] = first
    assert failure.tag == "failure"
    assert failure.attrib == {"type": "RNN001", "message": "batch and time swapped"}
    assert failure.text == "src/train.py:12:9: RNN001 batch and time swapped"
    assert second.get("name") == "RNN101 eval-without-no-grad at 40:5"
    [case] = bad
    assert bad.attrib == {"name": "bad.py", "tests": "1", "failures": "0", "errors": "1"}
    assert case.get("line") == "3"
    assert case[0].tag == "error" and case[0].get("message") == "syntax error: invalid syntax"
    assert case[0].text == "bad.py:3: error: syntax error: invalid syntax"


def test_junit_failure_text_has_trace_fix_and_escaped_user_text():
    from rnnshape.diagnostic import Edit, Fix, TraceLine
    from rnnshape.report.junit import render_junit
    message = 'x[<&>] "q" \x1b[31m bad\x00'
    d = diag(message=message, filename="a&b.py", cell=3, row=2, column=4,
             trace=[TraceLine(7, "h = x<y", "(a, b)", cell=2), TraceLine(4, "f()", "(b,)", path="lib.py")],
             fix=Fix("safe", "use `y & z`", (Edit(2, 4, 2, 9, "y"),)))
    root = parse_junit(render_junit([d]))
    case = root[0][0]
    assert case.get("name") == "RNN001 layout-mismatch at cell 3:2:4"
    assert case.get("classname") == "a&b.py"
    failure = case[0]
    shown = 'x[<&>] "q" \\x1b[31m bad\\x00'
    assert failure.get("message") == shown
    assert failure.text.splitlines() == [
        f"a&b.py:cell 3:2:4: RNN001 {shown}",
        "shape trace:",
        "  a&b.py:cell 2:7  h = x<y  (a, b)",
        "  lib.py:4  f()  (b,)",
        "safe fix: use `y & z`",
    ]


def test_junit_with_nothing_checked_is_an_empty_report():
    from rnnshape.report.junit import render_junit
    root = parse_junit(render_junit([]))
    assert root.attrib == {"name": "rnnshape", "tests": "0", "failures": "0", "errors": "0"}
    assert list(root) == []


# -- the new formats from the command line -----------------------------------------------------

def cli(args, cwd):
    import subprocess
    import sys

    from cli_env import cli_env
    return subprocess.run([sys.executable, "-m", "rnnshape", *args, "--no-cache"] if args[0] == "check"
                          else [sys.executable, "-m", "rnnshape", *args], cwd=cwd, env=cli_env(),
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


@pytest.fixture
def project(tmp_path):
    import shutil
    from pathlib import Path
    seed = Path(__file__).resolve().parent.parent / "examples" / "seed"
    shutil.copy(seed / "onehot_lstm_bug.py", tmp_path / "bug.py")
    shutil.copy(seed / "onehot_lstm_ok.py", tmp_path / "ok.py")
    return tmp_path


def test_check_junit_reports_each_file_with_clean_ones_passing(project):
    result = cli(["check", "--output-format", "junit", "--select", "RNN001", "bug.py", "ok.py"],
                 project)
    assert result.returncode == 1, result.stderr
    root = parse_junit(result.stdout.rstrip("\n"))
    assert [s.get("name") for s in root] == ["bug.py", "ok.py"]
    bug, ok = root
    codes = [case[0].get("type") for case in bug]
    assert codes == ["RNN001", "RNN001", "RNN001"]
    assert [case.get("line") for case in bug] == ["92", "103", "121"]
    assert root.get("failures") == "3" and ok.get("tests") == "1" and ok.get("failures") == "0"
    assert "All checks passed" not in result.stdout


def test_check_json_lines_and_gitlab_agree_with_json(project):
    as_json = json.loads(cli(["check", "--output-format", "json", "bug.py"], project).stdout)
    lines = cli(["check", "--output-format", "json-lines", "bug.py"], project)
    assert lines.returncode == 1
    assert [json.loads(line) for line in lines.stdout.splitlines()] == as_json
    gitlab = json.loads(cli(["check", "--output-format", "gitlab", "bug.py"], project).stdout)
    assert [(g["check_name"], g["location"]["lines"]["begin"]) for g in gitlab] == \
        [(j["code"], j["location"]["row"]) for j in as_json]
    stats = cli(["check", "--output-format", "json-lines", "--statistics", "bug.py"], project)
    assert [json.loads(line) for line in stats.stdout.splitlines()] == [
        {"code": "RNN001", "name": "layout-mismatch", "count": 3},
        {"code": "RNN101", "name": "eval-without-no-grad", "count": 1},
        {"code": "RNN103", "name": "unseeded-torch", "count": 1}]


def test_fix_reports_what_remains_in_the_new_formats(project):
    (project / "pyproject.toml").write_text('[tool.rnnshape]\noutput-format = "junit"\n')
    result = cli(["fix", "--select", "RNN001", "bug.py", "ok.py"], project)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("Fixed 3 findings (RNN001: 3) in 1 file.")
    root = parse_junit(result.stdout.rstrip("\n"))
    assert root.attrib == {"name": "rnnshape", "tests": "2", "failures": "0", "errors": "0"}
    result = cli(["fix", "--output-format", "gitlab", "--select", "RNN101", "bug.py"], project)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
