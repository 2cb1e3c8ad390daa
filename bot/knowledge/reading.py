"""Reading a document (text, Markdown, PDF) into titled passages the index can hold.

Pure functions, no I/O beyond the bytes given: a PDF is read with `pypdf` (pure Python),
page by page. Sections come from the document's own headings (Markdown `#` lines,
underlined titles, numbered clauses such as "2. Grant of Copyright License."), so a
source can be cited as "document, section". Runs off the event loop (PDFs are slow).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

# Passages are packed from paragraphs up to this size: small enough that three of them
# fit a free tier's budget, large enough to carry a clause whole.
PASSAGE_CHARS = 900
# A paragraph longer than this is cut at sentence ends.
PARAGRAPH_CHARS = 1300

_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^\s*(=+|-+|~+)\s*$")
_NUMBERED = re.compile(r"^\s*((?:\d+\.)+\d*|[A-Z]\.|[IVX]+\.)\s+\S")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class UnreadableDocument(ValueError):
    """The file is not a text, Markdown or PDF document we can read."""


@dataclass(frozen=True)
class Document:
    """A document read: its kind, full text length, and (section, passage) pairs."""

    kind: str
    chars: int
    passages: list[tuple[str, str]]


def kind_of(filename: str) -> str | None:
    """'text', 'markdown' or 'pdf' from a file name; None for anything else."""
    name = filename.lower()
    if name.endswith(".pdf"):
        return "pdf"
    if name.endswith((".md", ".markdown")):
        return "markdown"
    if name.endswith((".txt", ".text")) or "." not in name.rsplit("/", 1)[-1]:
        return "text"
    return None


def read_document(filename: str, data: bytes) -> Document:
    """Read `data` as the kind its name says; UnreadableDocument when it cannot be."""
    kind = kind_of(filename)
    if kind is None:
        raise UnreadableDocument(filename)
    if kind == "pdf":
        pages = _pdf_pages(data)
        text = "\n\n".join(pages)
        passages = [p for number, page in enumerate(pages, start=1)
                    for p in passages_of(page, markdown=False, default=f"page {number}")]
    else:
        text = _decode(data)
        passages = passages_of(text, markdown=kind == "markdown")
    if not passages:
        raise UnreadableDocument(filename)
    return Document(kind, len(text), passages)


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise UnreadableDocument("binary data")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        return [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableDocument(str(exc)) from exc


def _heading(block: list[str], markdown: bool) -> str | None:
    """The section title a paragraph opens, if it opens one."""
    first = block[0].strip()
    if markdown and (match := _MD_HEADING.match(first)):
        return match.group(1)
    if len(block) >= 2 and _UNDERLINE.match(block[1]) and len(first) <= 80:
        return first
    if match := _NUMBERED.match(first):
        # "2. Grant of Copyright License. Subject to..." -> "2. Grant of Copyright License"
        number, rest = first[:match.end(1)], first[match.end(1):].strip()
        title = re.split(r"(?<=[\w”\"'])\.(?:\s|$)", rest, maxsplit=1)[0]
        return f"{number} {title}" if len(title) <= 70 else None
    if len(block) == 1 and 3 < len(first) <= 60 and first.upper() == first and any(
            ch.isalpha() for ch in first):
        return first
    return None


def _split_long(paragraph: str) -> list[str]:
    if len(paragraph) <= PARAGRAPH_CHARS:
        return [paragraph]
    pieces, current = [], ""
    for sentence in _SENTENCE_END.split(paragraph):
        if current and len(current) + len(sentence) > PASSAGE_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    return [*pieces, current] if current else pieces


def passages_of(text: str, *, markdown: bool, default: str = "") -> list[tuple[str, str]]:
    """(section, passage) pairs: paragraphs packed up to PASSAGE_CHARS, never across a
    heading, each labelled with the heading above it (or `default`)."""
    blocks: list[list[str]] = [[]]
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip():
            blocks[-1].append(line.rstrip())
        elif blocks[-1]:
            blocks.append([])
    passages: list[tuple[str, str]] = []
    section, current = default, ""

    def flush() -> None:
        nonlocal current
        if current.strip():
            passages.append((section, current.strip()))
        current = ""

    for block in (b for b in blocks if b):
        title = _heading(block, markdown)
        if title is not None:
            flush()
            section = title
        lines = [ln for ln in block if not _UNDERLINE.match(ln)]
        if markdown and lines and _MD_HEADING.match(lines[0].strip()):
            lines = lines[1:]
        paragraph = " ".join(" ".join(ln.split()) for ln in lines)
        if title is not None and paragraph == " ".join(title.split()):
            continue  # a title alone: it labels what follows, it is no passage itself
        for piece in _split_long(paragraph) if paragraph else []:
            if current and len(current) + len(piece) > PASSAGE_CHARS:
                flush()
            current = f"{current}\n{piece}" if current else piece
    flush()
    return passages
