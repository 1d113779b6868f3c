"""The PDF of the evidence report (fpdf2, pure Python): the same rows as the HTML, as
lines of text, so `pdftotext` gives back what the auditor reads.

fpdf2 keeps a document in memory until it is written, so a long report is cut into parts
of at most `rows_per_part` rows (`report.pdf`, `report-2.pdf`, …): memory stays bounded
whatever the period. The built-in Helvetica covers Latin-1 only; any other character is
shown as `?` here (the HTML, CSV and JSON hold the exact text).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpdf import FPDF

from secmonkey.api.evidence.rows import ChangeRow, FindingRow, StateRow
from secmonkey.common.chain import plain

DIFF_LINES = 40
WRAP = 140  # characters of 7 pt Helvetica on a line of A4


def latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _when(value: Any) -> str:
    return str(plain(value)) if value is not None else "-"


def change_lines(row: ChangeRow) -> list[str]:
    hours = "-" if row.hours_to_review is None else f"{row.hours_to_review:g} h"
    lines = [
        f"{_when(row.observed_at)}  {row.name} ({row.group_id})  {row.account_id} "
        f"{row.region}  revision {row.seq}  {row.change_type}",
        f"made by: {row.changed_by or 'unknown'}",
        f"review: {row.status}  ticket: {row.ticket or '-'}  reviewer: {row.reviewer or '-'}"
        f"{' (auto)' if row.auto else ''}  decided: {_when(row.decided_at)}  "
        f"time to review: {hours}",
    ]
    if row.comment:
        lines.append(f"comment: {row.comment}")
    lines.extend(f"  {c}" for c in row.changes)
    diff = row.diff.splitlines()
    lines.extend(f"    {d}" for d in diff[:DIFF_LINES])
    if len(diff) > DIFF_LINES:
        lines.append(f"    ({len(diff) - DIFF_LINES} more diff lines in changes.csv)")
    return lines


def state_lines(row: StateRow) -> list[str]:
    head = (
        f"{row.name} ({row.group_id})  {row.account_id} {row.region}  revision {row.seq} "
        f"of {_when(row.as_of)}  {row.state}"
    )
    return [head, *(f"  {r}" for r in row.rules)]


def finding_lines(row: FindingRow) -> list[str]:
    lines = [
        f"{row.severity}  {row.rule_id}  {row.group_name} ({row.group_id}): {row.message}",
        f"  compliance: {', '.join(row.compliance) or '-'}  opened: {_when(row.opened_at)}",
    ]
    if row.justified_by:
        until = _when(row.until) if row.until else "withdrawn"
        lines.append(f"  justified by {row.justified_by} until {until}: {row.reason}")
    return lines


LINES: dict[str, Callable[[Any], list[str]]] = {
    "changes": change_lines,
    "groups": state_lines,
    "findings": finding_lines,
    "justifications": finding_lines,
}


class PdfReport:
    """Writes the report's sections a row at a time into one or more PDF parts."""

    def __init__(self, folder: Path, title: str, rows_per_part: int) -> None:
        self.folder = folder
        self.title = title
        self.rows_per_part = rows_per_part
        self.parts: list[Path] = []
        self._pdf: FPDF | None = None
        self._rows = 0
        self._section = ""

    def _open(self) -> FPDF:
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(auto=True, margin=12)
        pdf.set_title(latin1(self.title))
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 13)
        part = f" (part {len(self.parts) + 1})" if self.parts else ""
        pdf.multi_cell(0, 6, latin1(self.title + part), new_x="LMARGIN", new_y="NEXT")
        return pdf

    def _current(self, row: bool = False) -> FPDF:
        """The part being written; a row past its limit starts the next part."""
        if row and self._pdf is not None and self._rows >= self.rows_per_part:
            self._close()
        if self._pdf is None:
            self._pdf = self._open()
            self._rows = 0
            if self._section:
                self._heading(self._pdf, f"{self._section} (continued)")
        return self._pdf

    @staticmethod
    def _heading(pdf: FPDF, text: str) -> None:
        pdf.set_font("Helvetica", "B", 11)
        pdf.ln(2)
        pdf.multi_cell(0, 6, latin1(text), new_x="LMARGIN", new_y="NEXT")

    def section(self, name: str, intro: str) -> None:
        self._section = name
        pdf = self._current()
        self._heading(pdf, name)
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(0, 4, latin1(intro), new_x="LMARGIN", new_y="NEXT")

    @staticmethod
    def _lines(pdf: FPDF, lines: list[str]) -> None:
        """Small text, wrapped here: fpdf2's `multi_cell` breaks lines a character at a
        time (about 20 ms a row), so it is kept for the rare piece still too wide."""
        pdf.set_font("Helvetica", "", 7)
        for line in lines:
            text = latin1(line[:2000])
            pieces = textwrap.wrap(text, WRAP, subsequent_indent="      ", drop_whitespace=False)
            for piece in pieces or [""]:
                if pdf.get_string_width(piece) <= pdf.epw:
                    pdf.cell(0, 3.2, piece, new_x="LMARGIN", new_y="NEXT")
                else:
                    pdf.multi_cell(0, 3.2, piece, new_x="LMARGIN", new_y="NEXT")

    def text(self, lines: list[str]) -> None:
        self._lines(self._current(), lines)

    def row(self, kind: str, row: Any) -> None:
        pdf = self._current(row=True)
        pdf.ln(1)
        self._lines(pdf, LINES[kind](row))
        self._rows += 1

    def _close(self) -> None:
        if self._pdf is None:
            return
        n = len(self.parts) + 1
        path = self.folder / ("report.pdf" if n == 1 else f"report-{n}.pdf")
        self._pdf.output(str(path))
        self.parts.append(path)
        self._pdf = None

    def close(self) -> list[Path]:
        self._current()
        self._close()
        return self.parts
