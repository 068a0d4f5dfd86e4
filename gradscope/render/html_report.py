"""The HTML report: one self-contained page (figures as data: URIs, inline CSS, no scripts, no network).

Built from the report dict, like the terminal views, so the page shows what the JSON says: what was run, the
command's own results (the gate's checks, the comparison, the learning-rate sweep), then per run the loss curve,
the per-layer gradient norms (heatmap and lines, log scale), the update/weight ratios and the findings with their
evidence. Numbers are formatted by render/format.py, the same as in the terminal.
"""

from __future__ import annotations

import html
import json
from typing import Any, Iterable

from gradscope.render import figures
from gradscope.table.numbers import decode_number, num, percent, sci
from gradscope.table.summaries import summarize_layer

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
h3{margin-bottom:.3em}.meta{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.n{text-align:right;font-family:ui-monospace,monospace;white-space:nowrap}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(500px,1fr));gap:.6em}
.figs img{max-width:100%;border:1px solid #eee}
.finding{border-left:4px solid #999;padding:.3em .8em;margin:.6em 0;background:#fafafa}
.error{border-color:#c62828}.warning{border-color:#ef8f00}.info{border-color:#1565c0}
.passed{color:#2e7d32}.failed{color:#c62828;font-weight:bold}.skipped{color:#888}.best{background:#e8f5e9}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.85em}details{margin:.4em 0}
"""


def html_report(report: dict[str, Any]) -> str:
    body = [_header(report)]
    body += _command_sections(report)
    runs = report.get("runs", [])
    many = len(runs) > 1 and report["command"] in ("compare", "sweep-lr")
    if many:
        body.append("<h2>loss of every run</h2>")
        body.append(_img(figures.loss_curves({r["variant"]: r["losses"] for r in runs}), "loss of every run"))
    for run in runs:
        section = _run_section(run)
        # compare and sweep-lr train many runs: each one folded, so the page opens on the comparison
        body.append(f"<details><summary>{_e(run['variant'])}</summary>{section}</details>" if many else section)
    title = f"gradscope {report['command']}: {report['source']}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _header(report: dict[str, Any]) -> str:
    settings = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in report.get("settings", {}).items()
                       if v not in (None, "", [], {}))
    interrupted = "<p class=\"failed\">interrupted: the report covers what ran before Ctrl-C</p>" \
        if report.get("interrupted") else ""
    return (f"<h1>gradscope {_e(report['command'])}: {_e(report['source'])}</h1>"
            f"<p class=\"meta\">{_e(report.get('created', ''))} · gradscope {_e(report.get('gradscope_version'))} · "
            f"{_e(report.get('schema'))}</p>{interrupted}<details><summary>settings</summary><table>{settings}"
            "</table></details>")


def _command_sections(report: dict[str, Any]) -> list[str]:
    parts = []
    if report.get("checks"):
        parts.append(_checks(report["checks"], report.get("gate") or {}))
    if report.get("script") and report.get("sweep"):  # a swept script: whether its runs are comparable
        s = report["script"]
        cls = "meta" if s.get("deterministic", True) else "failed"
        parts.append(f"<p>script {_e(s.get('target'))}, run {_e(s.get('runs'))} times</p>"
                     f"<p class=\"{cls}\">{_e(s.get('not_controlled'))}</p>")
    elif report.get("script"):
        s = report["script"]
        parts.append(f"<p>script {_e(s.get('target'))}: {_e(s.get('ended'))} after {_e(s.get('steps'))} optimizer "
                     f"steps{_e(': ' + s['error'] if s.get('error') else '')}</p>")
    if report.get("comparison"):
        parts.append(_comparison(report["comparison"]))
    if report.get("sweep"):
        parts.append(_sweep(report))
    return parts


def _checks(checks: list[dict[str, Any]], gate: dict[str, Any]) -> str:
    rows = []
    for c in checks:
        state = "skipped" if c.get("skipped") else "passed" if c["passed"] else "failed"
        details = "<br>".join(_e(d) for d in c.get("details", []))
        rows.append(f"<tr><td class=\"{state}\">{state}</td><td>{_e(c['name'])}</td><td>{_e(c['message'])}"
                    f"{'<br><small>' + details + '</small>' if details else ''}</td></tr>")
    verdict = "PASSED" if gate.get("passed", all(c["passed"] for c in checks)) else "FAILED"
    return (f"<h2>checks: <span class=\"{verdict.lower()}\">{verdict}</span></h2>"
            f"<table><tr><th></th><th>check</th><th>result</th></tr>{''.join(rows)}</table>")


def _comparison(comparison: dict[str, Any]) -> str:
    head = ("<tr><th>variant</th><th>final loss</th><th>loss change</th><th>|g| first</th><th>|g| last</th>"
            "<th>first/last</th><th>max total |g|</th><th>NaN/Inf</th><th>findings</th><th>verdict</th></tr>")
    rows = []
    for r in comparison["rows"]:
        median = lambda key: decode_number(r[key].get("median"))  # noqa: E731
        cells = [num(median("final_loss")), percent(median("loss_change")),
                 *(sci(median(k)) for k in ("first_grad", "last_grad", "grad_ratio", "max_total_grad")),
                 str(r["nonfinite"])]
        findings = ", ".join(r["findings"]) or "none"
        rows.append(f"<tr{' class=best' if r['best'] else ''}><td>{_e(r['variant'])}</td>"
                    + "".join(f"<td class=n>{_e(c)}</td>" for c in cells)
                    + f"<td>{_e(findings)}</td><td>{_e(('best: ' if r['best'] else '') + r['verdict'])}</td></tr>")
    notes = "".join(f"<li><b>{_e(r['variant'])}</b>: {_e(n)}</li>" for r in comparison["rows"] for n in r["notes"])
    return (f"<h2>remedies side by side</h2>{_img(figures.comparison_bars(comparison['rows']), 'remedies')}"
            f"<table>{head}{''.join(rows)}</table>"
            f"<p><b>recommendation:</b> {_e(comparison['recommendation'])}</p>"
            + (f"<h3>what each remedy changed</h3><ul>{notes}</ul>" if notes else ""))


def _sweep(report: dict[str, Any]) -> str:
    sweep, suggestion = report["sweep"], report.get("suggestion") or {}
    parts = [f"<h2>learning-rate sweep ({_e(sweep['mode'])})</h2>"]
    if suggestion:
        lr = suggestion.get("lr")
        parts.append(f"<p><b>learning rate: {_e(f'{lr:.2e}' if lr else 'inconclusive')}</b>. "
                     f"{_e(suggestion.get('reason', ''))}</p>")
    if sweep.get("table") or (sweep["mode"] == "range" and sweep.get("range_test")):
        parts.append(_img(figures.data_uri(figures.sweep_curve(report)), "loss against learning rate"))
    if sweep.get("table"):
        parts.append(_sweep_table(sweep, suggestion, "train loss" if report.get("script") else "eval loss"))
    parts += [f"<p class=\"meta\">note: {_e(n)}</p>" for n in sweep.get("notes", [])]
    return "".join(parts)


def _sweep_table(sweep: dict[str, Any], suggestion: dict[str, Any], score: str = "eval loss") -> str:
    """The sweep's table; `score` heads the score's column (a swept script's is its own training loss)."""
    rungs = [f"loss@{r['horizon']}" for r in sweep["schedule"]]
    head = "".join(f"<th>{_e(h)}</th>" for h in ["lr", *rungs, score, "regret", "diverged", "max |g|", "findings"])
    rows = []
    for r in sweep["table"]:
        cells = [f"{r['lr']:.2e}", *(num(v) for v in r["rung_losses"]), num(r["eval_loss"]),
                 num(r["regret"]) if r["regret"] is not None else "-", "yes" if r["diverged"] else "no",
                 sci(r["max_grad_norm"])]
        best = " class=best" if r["lr"] == suggestion.get("lr") else ""
        rows.append(f"<tr{best}>" + "".join(f"<td class=n>{_e(c)}</td>" for c in cells)
                    + f"<td>{_e(', '.join(dict.fromkeys(r['findings'])) or '-')}</td></tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _run_section(run: dict[str, Any]) -> str:
    layers = run["layers"]
    parts = [f"<h2>run: {_e(run['variant'])}</h2>",
             f"<p class=\"meta\">{_e(run['meta'].get('model', ''))} · {_e(run['steps_recorded'])} steps recorded</p>"]
    if run.get("error"):
        parts.append(f"<p class=\"failed\">the run stopped: {_e(run['error'])}</p>")
    figs = [(figures.loss_curves({run["variant"]: run["losses"]}), "loss curve")]
    if layers:
        figs += [(figures.grad_heatmap(layers), "gradient norm heatmap"),
                 (figures.grad_lines(layers), "gradient norm per layer"),
                 (figures.update_ratio_lines(layers), "update/weight ratio per layer")]
    parts.append(_findings(run["findings"]))  # the diagnosis first, then the pictures and numbers behind it
    parts.append("<div class=\"figs\">" + "".join(_img(uri, alt) for uri, alt in figs) + "</div>")
    parts.append(_layer_table(layers))
    return "".join(parts)


def _layer_table(layers: list[dict[str, Any]]) -> str:
    rows = []
    for i, layer in enumerate(layers):
        s = summarize_layer(layer)
        cells = (sci(s.first), sci(s.median), sci(s.last), sci(s.update_ratio))
        rows.append(f"<tr><td class=n>{i}</td><td>{_e(s.name)}</td><td>{_e(s.type)}</td>"
                    + "".join(f"<td class=n>{c}</td>" for c in cells) + "</tr>")
    return ("<table><tr><th>#</th><th>layer</th><th>type</th><th>|g| first</th><th>|g| median</th><th>|g| last</th>"
            f"<th>upd/param</th></tr>{''.join(rows)}</table>")


def _findings(findings: Iterable[dict[str, Any]]) -> str:
    findings = list(findings)
    if not findings:
        return "<h3>findings</h3><p class=\"passed\">no findings: gradients look healthy</p>"
    parts = ["<h3>findings</h3>"]
    for f in findings:
        where = ", ".join(p for p in (f"layer {f['layer']}" if f.get("layer") else "",
                                       f"step {f['step']}" if f.get("step") is not None else "") if p)
        hint = f"<br><i>→ {_e(f['hint'])}</i>" if f.get("hint") else ""
        evidence = json.dumps(f.get("evidence") or {}, indent=1, default=str)
        parts.append(f"<div class=\"finding {_e(f['severity'])}\"><b>{_e(f['severity'])}: {_e(f['rule'])}</b> "
                     f"<span class=\"meta\">{_e(where)}</span><br>{_e(f['message'])}{hint}"
                     f"<details><summary>evidence</summary><pre>{_e(evidence)}</pre></details></div>")
    return "".join(parts)


def _img(uri: str, alt: str) -> str:
    return f"<img src=\"{uri}\" alt=\"{_e(alt)}\">"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))
