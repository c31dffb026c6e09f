"""Markdown helpers: LaTeX as math (arithmatex, rendered by the shipped MathJax), prose escaped, tables."""
from __future__ import annotations

import re

_LATEX = re.compile(r"\\[A-Za-z]+|\\[,;:! ]")


def is_latex(s: str) -> bool:
    """Whether a string carries LaTeX commands (``\\frac``, ``\\,``) with balanced braces, rather than words (a
    docstring's ``Σ_{j≤k}`` is Unicode text, not TeX)."""
    return bool(_LATEX.search(s)) and s.count("{") == s.count("}")


def _table_safe(latex: str) -> str:
    """``|`` would split a Markdown table cell: the same glyphs via \\vert / \\Vert."""
    return latex.replace(r"\|", r"\Vert ").replace("|", r"\vert ")


def math(latex: str, table: bool = False) -> str:
    """Inline math."""
    s = " ".join(latex.split())
    return "$" + (_table_safe(s) if table else s) + "$" if s else ""


def display(latex: str, narrow: bool = False) -> str:
    """Display math on its own lines; a statement of several parts (``a;\\quad b``) one part per line; ``narrow``
    (a column beside code): a long part also one line per ``=`` (an aligned chain)."""
    parts = split_parts(latex.strip())
    if narrow:
        parts = [_chain(p) for p in parts]
    body = parts[0] if len(parts) == 1 else "\\begin{gathered}" + " \\\\ ".join(parts) + "\\end{gathered}"
    return "\n$$\n" + body + "\n$$\n"


def _chain(part: str, width: int = 40) -> str:
    """A long part for a narrow column: its top-level ``,``/``;`` items one per line, and an item ``a = b = c``
    as an aligned chain (``a &= b \\\\ &= c``); brace and bracket depth 0 only (``\\,`` is a space, not a
    comma)."""
    if len(part) <= width:
        return part
    items = _top_level(part, ",;")
    if len(items) > 1:
        return "\\begin{gathered}" + " \\\\ ".join(_chain(x, width) for x in items) + "\\end{gathered}"
    pieces = _top_level(part, "=", keep_left=False)
    if len(pieces) == 1:
        return part
    return "\\begin{aligned}" + " \\\\ ".join(
        ("" if k else pieces[0].strip() + " ") + "&" + q.strip() for k, q in enumerate(pieces[1:])) + "\\end{aligned}"


def _top_level(s: str, marks: str, keep_left: bool = True) -> list[str]:
    """``s`` cut before (or, ``keep_left``, just after) each of ``marks`` at depth 0 that is not a macro (``\\,``,
    ``\\;``) nor part of ``<=``, ``>=``, ``!=``."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif ch in marks and depth == 0 and s[i - 1:i] not in ("\\", "<", ">", "!") and i > start:
            cut = i + 1 if keep_left else i
            out.append(s[start:cut].strip())
            start = cut
    out.append(s[start:].strip())
    return [x for x in (re.sub(r"^(?:\\[ ,;:!]|\\q?quad(?![A-Za-z]))\s*", "", x) for x in out) if x]


def split_parts(latex: str) -> list[str]:
    """The parts of a statement separated at brace depth 0 by ``;\\quad`` or ``,\\quad`` (the separator's
    punctuation stays with the part before it)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(latex):
        ch = latex[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and ch in ";," and re.match(r"[;,]\s*\\quad(?![A-Za-z])", latex[i:]):
            m = re.match(r"[;,]\s*\\quad", latex[i:])
            assert m is not None
            parts.append(latex[start:i + 1].strip())
            i += m.end()
            start = i
            continue
        i += 1
    parts.append(latex[start:].strip())
    return [p for p in parts if p]


def prose(s: str, table: bool = False) -> str:
    """Plain text as Markdown: ``$...$`` spans (a quote of the notes) and LaTeX-looking runs as math, characters
    Markdown or arithmatex would read escaped."""
    out = []
    for j, chunk in enumerate(re.split(r"(`[^`]+`)", " ".join(s.split()))):
        if j % 2:                        # a code span stays one
            out.append(chunk.replace("|", r"\|") if table else chunk)
            continue
        parts = re.split(r"\$+([^$]+)\$+", chunk)
        out += [math(p, table) if i % 2 else _words(p, table) for i, p in enumerate(parts)]
    return "".join(out)


def _words(s: str, table: bool) -> str:
    if not s.strip():
        return s
    lead, trail = s[:len(s) - len(s.lstrip())], s[len(s.rstrip()):]
    s = s.strip()
    out = []
    # a sentence-ish part (split after . ; :) that carries LaTeX is math; words stay words
    for part in re.split(r"(?<=[.;:])\s+", s):
        if is_latex(part) and not re.search(r"[A-Za-z]{4,}\s+[A-Za-z]{4,}\s+[A-Za-z]{4,}", re.sub(
                r"\\[A-Za-z]+|\\text\{[^}]*\}", "", part)):
            tail = part[-1] if part[-1] in ".;:," else ""
            out.append(math(part[:-1] if tail else part, table) + tail)
        else:
            out.append(_escape(part, table))
    return lead + " ".join(out) + trail


def _escape(s: str, table: bool) -> str:
    s = s.replace("\\", "\\\\").replace("*", r"\*").replace("$", r"\$").replace("<", "&lt;").replace("`", r"\`")
    s = s.replace("_", r"\_")
    return s.replace("|", r"\|") if table else s


def code_span(s: str) -> str:
    return f"`{s}`" if "`" not in s else f"`` {s} ``"


def table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(c.replace("\n", " ") for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"
