"""The report files of an evidence package, written a row at a time: CSV per section, one
JSON document, one HTML page and the PDF (parts), all with the same rows."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import IO, Any

from markupsafe import escape

from secmonkey.api.evidence.pdf import PdfReport
from secmonkey.api.evidence.rows import ChangeRow, FindingRow, StateRow
from secmonkey.common.chain import plain

SECTIONS: dict[str, tuple[str, type[Any]]] = {
    "changes": ("Changes in scope, with their reviews", ChangeRow),
    "groups": ("Each group's state at the end of the period", StateRow),
    "findings": ("Findings open at the end of the period", FindingRow),
    "justifications": ("Justifications in force at the end of the period", FindingRow),
}
HTML_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:13px system-ui,sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:2px 5px;vertical-align:top;text-align:left}}
pre{{margin:0;font-size:11px}}</style></head><body>
<h1>{title}</h1>
"""


def _cell(value: Any) -> str:
    """A CSV cell: lists one per line; a leading formula character neutralised."""
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value)
    text = "" if value is None else str(plain(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _html_cell(name: str, value: Any) -> str:
    if isinstance(value, list):
        return "<br>".join(str(escape(v)) for v in value)
    if name == "diff" and value:
        return f"<pre>{escape(value)}</pre>"
    return str(escape("" if value is None else plain(value)))


class ReportFiles:
    """The open report files of one package; `row` writes a row to every one of them."""

    def __init__(self, folder: Path, title: str, about: dict[str, Any], pdf_rows: int) -> None:
        self.folder = folder
        self.counts: dict[str, int] = {}
        self._csv: IO[str] | None = None
        self._writer: Any = None
        self._json = (folder / "evidence.json").open("w", encoding="utf-8")
        self._html = (folder / "report.html").open("w", encoding="utf-8")
        self._pdf = PdfReport(folder, title, pdf_rows)
        self._section = ""
        self._json.write(json.dumps(plain(about), sort_keys=True)[:-1])
        self._html.write(HTML_HEAD.format(title=escape(title)))
        self._html.write("<dl>")
        for key, value in about.items():
            self._html.write(f"<dt>{escape(key)}</dt><dd>{escape(str(plain(value)))}</dd>")
        self._html.write("</dl>\n")
        self._pdf.text([f"{key}: {plain(value)}" for key, value in about.items()])

    def begin(self, section: str) -> None:
        intro, kind = SECTIONS[section]
        self._section = section
        self.counts[section] = 0
        columns = [f.name for f in dataclasses.fields(kind)]
        self._csv = (self.folder / f"{section}.csv").open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._csv)
        self._writer.writerow(columns)
        self._json.write(f', "{section}": [')
        head = "".join(f"<th scope='col'>{escape(c)}</th>" for c in columns)
        self._html.write(f"<h2>{escape(intro)}</h2>\n<table><thead><tr>{head}</tr></thead><tbody>")
        self._pdf.section(intro, f"{section}.csv holds the same rows.")

    def row(self, row: Any) -> None:
        values = dataclasses.asdict(row)
        first = self.counts[self._section] == 0
        self.counts[self._section] += 1
        self._writer.writerow([_cell(v) for v in values.values()])
        self._json.write(("" if first else ",") + json.dumps(plain(values), sort_keys=True))
        cells = "".join(f"<td>{_html_cell(k, v)}</td>" for k, v in values.items())
        self._html.write(f"<tr>{cells}</tr>\n")
        self._pdf.row(self._section, row)

    def end(self) -> None:
        if self._csv is not None:
            self._csv.close()
        if self.counts[self._section] == 0:
            self._html.write("<tr><td colspan='99'>None.</td></tr>")
            self._pdf.text(["None."])
        self._json.write("]")
        self._html.write("</tbody></table>\n")

    def close(self, verification: dict[str, Any]) -> list[Path]:
        """Finish every file; the report files written (the PDF may be in parts)."""
        verdict = "intact" if verification["ok"] else f"{len(verification['breaks'])} break(s)"
        self._json.write(f', "chain_verification": {json.dumps(verification)}}}')
        self._json.close()
        self._html.write(f"<h2>Chain verification</h2><p>{escape(verdict)}</p>")
        for b in verification["breaks"]:
            self._html.write(f"<p>BREAK {escape(b['chain'])} {escape(b['record'])}: ")
            self._html.write(f"{escape(b['reason'])}</p>")
        self._html.write("</body></html>\n")
        self._html.close()
        self._pdf.section("Chain verification", verdict)
        self._pdf.text(
            [f"BREAK {b['chain']} {b['record']}: {b['reason']}" for b in verification["breaks"]]
        )
        pdfs = self._pdf.close()
        csvs = [self.folder / f"{s}.csv" for s in SECTIONS if s in self.counts]
        return [self.folder / "report.html", *pdfs, self.folder / "evidence.json", *csvs]
