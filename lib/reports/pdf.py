"""Printing documents to PDF with headless Chromium (no network, no header or footer)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from lib.reports.data import FeedbackData
from lib.reports.feedback import (
    Progress,
    feedback_file_name,
    feedback_html,
    feedback_parts,
    own_answers,
    write_zip,
)

__all__ = ["pdf_browser", "html_to_pdf", "feedback_pdf_zip", "write_feedback_pdf_zip"]


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


def write_feedback_pdf_zip(
    fd: FeedbackData,
    browser: str,
    out: BinaryIO,
    progress: Progress | None = None,
    workers: int = 4,
) -> None:
    """Every panelist's feedback as PDF files in a ZIP written on ``out`` (printed by headless
    Chromium, ``workers`` at a time), each written as soon as it and those before it are
    printed; ``progress(done, total)`` after each.

    If ``progress`` raises (the page's Cancel button stops the script there), the documents
    not yet started are never printed: the pool is shut down with its queue cancelled, and at
    most ``workers`` prints already running finish on their own.
    """
    parts, answers = feedback_parts(fd), own_answers(fd)

    def printed(p: str) -> bytes:
        return html_to_pdf(feedback_html(fd, p, parts, answers.get(p, {})), browser)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        pdfs = pool.map(printed, fd.panelists)  # taken in order, each as soon as it is printed
        files = (
            (feedback_file_name(fd, p, "pdf"), pdf)
            for p, pdf in zip(fd.panelists, pdfs, strict=True)
        )
        write_zip(out, files, fd.snapshot["created_at"], progress, len(fd.panelists))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def feedback_pdf_zip(fd: FeedbackData, browser: str, workers: int = 4) -> bytes:
    """Every panelist's feedback as PDF files in one ZIP (printed by headless Chromium)."""
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as tmp:
        write_feedback_pdf_zip(fd, browser, tmp, workers=workers)
        tmp.seek(0)
        return tmp.read()
