"""Printing documents to PDF with headless Chromium (no network, no header or footer)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lib.reports.data import FeedbackData
from lib.reports.feedback import feedback_file_name, feedback_html, feedback_parts, zip_files

__all__ = ["pdf_browser", "html_to_pdf", "feedback_pdf_zip"]


def pdf_browser() -> str | None:
    """A Chromium that can print PDFs, or None."""
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def html_to_pdf(html: str, browser: str, timeout: float = 90.0) -> bytes:
    """Print an HTML document to PDF with headless Chromium (no network, no header/footer)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp, "doc.html"), Path(tmp, "doc.pdf")
        src.write_text(html, encoding="utf-8")
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"Chromium did not finish printing within {timeout:g} s") from None
        if not out.exists() or out.stat().st_size == 0:
            raise RuntimeError("Chromium did not write a PDF")
        return out.read_bytes()


def feedback_pdf_zip(fd: FeedbackData, browser: str, workers: int = 4) -> bytes:
    """Every panelist's feedback as PDF files in one ZIP (printed by headless Chromium)."""
    parts = feedback_parts(fd)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pdfs = dict(
            zip(
                fd.panelists,
                pool.map(lambda p: html_to_pdf(feedback_html(fd, p, parts), browser), fd.panelists),
                strict=True,
            )
        )
    return zip_files(
        {feedback_file_name(fd, p, "pdf"): pdfs[p] for p in fd.panelists}, fd.snapshot["created_at"]
    )
