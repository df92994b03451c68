"""REPORT.pdf: REPORT.md laid out for print, as the course hands the report in.

    python -m recognition.report_pdf outputs/REPORT.md    # writes outputs/REPORT.pdf

Markdown (tables, fenced code) becomes HTML, and WeasyPrint lays that out on A4 pages: the same
headings, figures, tables and numbers, each figure scaled down to the page's width, tables in a
small font whose cells wrap, the text figures (the network's printout) as wrapped code.  The
figures' relative paths are read from the report's own folder.  reproduce.py calls `write` after
report.write.
"""

import argparse
from pathlib import Path

import markdown

from recognition import cli, files
from recognition.errors import UsageError, first_line

PDF_SUFFIX = ".pdf"
STYLE = """
@page {
  size: A4;
  margin: 16mm 15mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; }
}
body { font-family: sans-serif; font-size: 10pt; line-height: 1.35; }
h1 { font-size: 17pt; }
h2 { font-size: 13.5pt; margin-top: 1.4em; break-after: avoid; }
h3 { font-size: 11.5pt; break-after: avoid; }
/* at most the page's width, and short enough to leave room for its caption */
img {
  display: block; max-width: 100%; max-height: 115mm; width: auto; height: auto;
  margin: 0 auto; break-inside: avoid;
}
p { orphans: 3; widows: 3; }
table { border-collapse: collapse; width: 100%; font-size: 7.5pt; margin: 0.5em 0; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td {
  border: 0.5pt solid #aaa; padding: 2pt 4pt; vertical-align: top; text-align: left;
  overflow-wrap: anywhere;
}
th { background: #eee; }
pre {
  font-size: 7pt; white-space: pre-wrap; overflow-wrap: anywhere;
  background: #f5f5f5; padding: 4pt 6pt; break-inside: avoid;
}
code { font-size: 90%; }
"""


def html_of(text):
    """The HTML page of the Markdown `text`, titled by its first heading."""
    body = markdown.markdown(text, extensions=["tables", "fenced_code"])
    title = next((line[2:] for line in text.splitlines() if line.startswith("# ")), "Report")
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{body}</body></html>"
    )


def write(md_path, pdf_path=None):
    """Write the PDF of the Markdown report at `md_path` (default: beside it, REPORT.pdf) and
    return its path; UsageError in one line if WeasyPrint cannot load its system libraries."""
    md_path = Path(md_path)
    pdf_path = Path(pdf_path) if pdf_path is not None else md_path.with_suffix(PDF_SUFFIX)
    weasyprint = _weasyprint()
    page = weasyprint.HTML(string=html_of(md_path.read_text()), base_url=str(md_path.parent))
    with files.atomic_path(pdf_path) as tmp:
        page.write_pdf(tmp, stylesheets=[weasyprint.CSS(string=STYLE)])
    return pdf_path


def _weasyprint():
    """The weasyprint module, imported only when a PDF is written: it loads Pango at import."""
    try:
        import weasyprint
    except OSError as e:  # Pango or its fonts missing on this system
        raise UsageError(
            f"cannot write the PDF: WeasyPrint cannot load its system libraries ({first_line(e)}): "
            "install Pango, as WeasyPrint's installation notes say"
        ) from e
    return weasyprint  # it logs to a NullHandler: a run's output stays clean with no set-up


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("report", type=Path, help="the Markdown report, e.g. outputs/REPORT.md")
    p.add_argument(
        "--pdf",
        type=Path,
        default=None,
        help="where to write the PDF (default: the report's name with .pdf, beside it)",
    )
    args = p.parse_args(argv)
    if not args.report.is_file():
        raise UsageError(f"no report at {args.report}: run `python reproduce.py` first")
    print(f"wrote {write(args.report, args.pdf)}")


if __name__ == "__main__":
    cli.run(main)
