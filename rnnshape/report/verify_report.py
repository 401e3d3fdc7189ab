"""How ``verify`` shows its results: a table of runs and a table of findings."""
from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

_STYLE = {"reproduced": "bold red", "not reproduced": "yellow", "fixed": "bold green",
          "not fixed": "bold red", "error": "bold red", "not run": "dim", "not checkable": "dim"}


def _runtime(run: dict) -> str:
    parts = [f"{c['module']}: {tuple(c['input']) if c['input'] else '?'}"
             for c in run["runtime"]]
    return "\n".join(parts) or "-"


def _where(cell, row) -> str:
    return f"cell {cell}, line {row}" if cell is not None else str(row)


def render_verify(console: Console, report) -> None:
    where = f" on {report.device}" if report.device else ""
    console.print(f"[bold]{escape(report.filename)}[/]{where}", highlight=False)
    if report.bindings:
        bound = ", ".join(f"{k}={v}" for k, v in sorted(report.bindings.items()))
        console.print(f"symbols bound to: {bound}", highlight=False, markup=False)
    if report.runs:
        table = Table(title="model runs", title_justify="left")
        for column in ("program", "call site", "static input", "recurrent input at run time", "result"):
            table.add_column(column)
        for run in report.runs:
            result = "[green]ok[/]" if run["ok"] else f"[red]{escape(run['error'] or 'failed')}[/]"
            if run.get("note"):
                result += f"\n[dim]{escape(run['note'])}[/]"
            table.add_row(run["program"], escape(f"{_where(run.get('cell'), run['row'])}: {run['call']}"),
                          escape("\n".join(run["static_inputs"])), escape(_runtime(run)), result)
        console.print(table)
    if report.findings:
        table = Table(title="findings", title_justify="left")
        for column in ("code", "line", "static shape", "runtime shape", "verdict", "detail"):
            table.add_column(column)
        for f in report.findings:
            style = _STYLE.get(f.verdict, "")
            table.add_row(f.code, _where(f.cell, f.row), escape(f.static_shape or "-"),
                          escape(f.runtime_shape or "-"),
                          f"[{style}]{f.verdict}[/]" if style else f.verdict, escape(f.detail))
        console.print(table)
    elif not report.error:
        console.print("No findings to verify.")
    if report.error:
        console.print(f"[bold red]error:[/] {escape(report.error)}", highlight=False)
    console.print(f"verified in {report.seconds:.2f} s", highlight=False)


def render_verify_json(report) -> str:
    return json.dumps(report.to_json(), indent=2)
