"""REPORT.pdf (recognition/report_pdf.py): a REPORT.md that the real report writer wrote, laid out
for print, read back with pypdf."""

import re
import shutil
import subprocess
import sys

import pytest
from PIL import Image
from pypdf import PdfReader

import reproduce
from models import Net
from recognition import files, paths, report, report_pdf

A4 = (595, 842)  # points
FIGURES = {  # figure in the report's folder <- a real figure of the repository's, full size
    "task1/fig05_loss_curves.png": "docs/fig05_loss_curves.png",
    "task1/fig08_handwritten_digits.png": "docs/fig08_handwritten_digits.png",
}


@pytest.fixture
def report_md(tmp_path):
    """REPORT.md as report.write sets it out for a Task 1 and Task 3 run: two PNG figures, a text
    figure, the table of numbers."""
    for name, source in FIGURES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(paths.ROOT / source, tmp_path / name)
    (tmp_path / "task1" / "fig03_network.txt").write_text(str(Net()))
    task1 = {"test_correct": 9819, "test_n": 10000, "test_accuracy": 0.9819, "test_loss": 0.0569}
    files.write_json({**task1, "first_ten_correct": 10}, tmp_path / "task1" / "metrics.json")
    files.write_json({"test_accuracy": 29 / 30}, tmp_path / "task3" / "metrics.json")
    results = {
        "task1": {"title": "Task 1", "returncode": 0, "seconds": 61.0, "note": None, "error": None}
    }
    return report.write(tmp_path, results, quick=False)


def text_of(pdf):
    """The PDF's text, its words one space apart (a table cell may wrap anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())


def test_the_pdf_has_the_reports_pages_figures_and_numbers(report_md):
    pdf = report_pdf.write(report_md)
    assert pdf == report_md.with_name("REPORT.pdf")
    reader = PdfReader(pdf)
    # a heading per task, two figures, three tables: a few pages, not one, not dozens
    assert 3 <= len(reader.pages) <= 12
    assert all(tuple(round(x) for x in page.mediabox[2:]) == A4 for page in reader.pages)
    # each figure embedded once, at its full resolution, and drawn on a page
    embedded = {i.name.removesuffix(".png"): i.image.size for p in reader.pages for i in p.images}
    assert sorted(embedded.values()) == sorted(
        Image.open(report_md.parent / n).size for n in FIGURES
    )
    drawn = {
        name.decode()
        for page in reader.pages
        for name in re.findall(rb"/(\S+) Do\b", page.get_contents().get_data())
    }
    assert set(embedded) <= drawn
    text = text_of(pdf)
    for heading in report.FIGURES:
        assert heading in text
    for number in ("9819/10000 (98.19 %)", "0.0569", "96.67 %", "9799/10000 (97.99 %)"):
        assert number in text
    assert "Fig 5." in text and "Fig 8." in text and "(conv1): Conv2d(1, 10" in text


def right_edge(md_path, style):
    """The right edge of the rightmost text, table or image that WeasyPrint lays out for
    `md_path`, and the page's width (CSS px).  The page's boxes are WeasyPrint's private
    `_page_box` (weasyprint is pinned)."""
    import weasyprint
    from weasyprint.formatting_structure import boxes

    page = weasyprint.HTML(string=report_pdf.html_of(md_path.read_text()), base_url=md_path.parent)
    laid_out = page.render(stylesheets=[weasyprint.CSS(string=style)]).pages
    kinds = (boxes.TextBox, boxes.TableBox, boxes.InlineReplacedBox, boxes.BlockReplacedBox)
    right = max(
        box.position_x + box.margin_width()
        for p in laid_out
        for box in p._page_box.descendants()
        if isinstance(box, kinds)
    )
    return right, laid_out[0].width


def test_tables_wrap_inside_the_page(report_md):
    right, width = right_edge(report_md, report_pdf.STYLE)
    assert right < width
    # the check can fail: cells that do not wrap run off the page
    unwrapped, _ = right_edge(report_md, report_pdf.STYLE + "td { white-space: nowrap; }")
    assert unwrapped > width
    # and the longest cells are all there, their words in order
    words = text_of(report_pdf.write(report_md))
    assert "— (course reproductions of the template: 98.7–98.95 % after 15 epochs)" in words
    assert "— (a public reproduction: 98.23 % vs 97.93 %, one seed)" in words


@pytest.mark.slow
def test_the_command_writes_the_pdf_quietly_and_refuses_a_missing_report(report_md, tmp_path):
    command = [sys.executable, "-m", "recognition.report_pdf"]
    run = subprocess.run(
        [*command, report_md, "--pdf", tmp_path / "print.pdf"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert run.stdout == f"wrote {tmp_path / 'print.pdf'}\n"
    assert "9819/10000" in text_of(tmp_path / "print.pdf")
    missing = subprocess.run(
        [*command, tmp_path / "absent.md"], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2
    assert (
        missing.stderr
        == f"error: no report at {tmp_path / 'absent.md'}: run `python reproduce.py` first\n"
    )


def test_reproduce_writes_the_pdf_beside_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        reproduce, "run_step", lambda step, flags, progress, t0, threads=None: (0, "done")
    )
    monkeypatch.setattr(
        reproduce, "steps", lambda out: [reproduce.Step("task2", "Task 2", "task2_examine.py")]
    )
    reproduce.main(["--out-dir", str(tmp_path)])
    assert re.search(r"Task 2 ok \d+ s", text_of(tmp_path / "REPORT.pdf"))
    assert f"wrote {tmp_path / 'REPORT.md'} and REPORT.pdf" in capsys.readouterr().out
