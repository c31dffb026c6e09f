"""The Unicode math of the checks' prose (a proof's name: ``σ_0 = σ_max, σ_{N−1} = σ_min; ρ = 1 is linear``) as
Markdown with the math typeset: words stay words, each run of math becomes inline LaTeX ($...$, rendered by the
site's MathJax).

A name is split at spaces into words and math tokens (a token with a math sign, a single letter, a number, a
function applied with parentheses); consecutive math tokens form one run, converted by :func:`to_latex`. A run is
cut at its top-level commas and semicolons (and before a relation when it is long) so a line can wrap between the
pieces. :func:`check` raises where a piece would leave Unicode or unbalanced braces to MathJax: the docs build runs it
on every proof it writes."""
from __future__ import annotations

import re
import unicodedata

from genspec.spec.errors import GenspecError

SYMBOLS = {
    "−": "-", "·": r"\cdot ", "×": r"\times ", "≤": r"\le ", "≥": r"\ge ", "≠": r"\ne ", "≈": r"\approx ",
    "→": r"\to ", "←": r"\leftarrow ", "⇒": r"\Rightarrow ", "∞": r"\infty ", "∇": r"\nabla ", "∂": r"\partial ",
    "∫": r"\int ", "∘": r"\circ ", "‖": r"\| ", "⟂": r"\perp ", "⊥": r"\perp ", "∥": r"\parallel ",
    "⟨": r"\langle ", "⟩": r"\rangle ", "∅": r"\varnothing ", "∝": r"\propto ", "~": r"\sim ", "ℓ": r"\ell ",
    "⊆": r"\subseteq ", "⊂": r"\subset ", "∈": r"\in ", "∉": r"\notin ", "∀": r"\forall ", "∃": r"\exists ",
    "∪": r"\cup ", "∩": r"\cap ", "±": r"\pm ", "≡": r"\equiv ", "≪": r"\ll ", "≫": r"\gg ", "÷": r"\div ",
    "⌊": r"\lfloor ", "⌋": r"\rfloor ", "⌈": r"\lceil ", "⌉": r"\rceil ", "∑": r"\sum ", "∏": r"\prod ",
    "…": r"\ldots ", "′": "'", "″": "''", "½": r"\tfrac{1}{2}", "%": r"\%", "#": r"\#", "&": r"\&", "*": "^{*}",
    "Σ": r"\Sigma ", "Π": r"\Pi ", "\x01": r"\quad ", "\x02": r"\, ",
}
SUPERSCRIPTS = {**{c: str(d) for d, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}, "⁻": "-", "⁺": "+", "ᵀ": r"\top ", "ᵗ": "t",
                "ⁿ": "n", "ⁱ": "i"}
SUBSCRIPTS = {**{c: str(d) for d, c in enumerate("₀₁₂₃₄₅₆₇₈₉")}, "ₜ": "t", "ᵢ": "i", "ⱼ": "j", "ₖ": "k"}
ACCENTS = {"\u0302": r"\hat", "\u0303": r"\tilde", "\u0304": r"\bar", "\u0305": r"\overline", "\u0307": r"\dot"}
OPERATORS = {w: "\\" + w + " " for w in ("log", "ln", "exp", "sin", "cos", "tan", "det", "max", "min", "Pr", "lim")}
NAMED = {"logit", "sigmoid", "softmax", "erf", "erfc", "std", "Var", "sg", "KL", "LN", "BCE", "JSD", "SNR", "ELBO",
         "argmin", "argmax", "odds", "clip", "shift", "combine", "forward", "diag", "tr", "rf", "vp", "ve", "fm", "cfg"}
"""upright words in math (a function or a named quantity); other words of three letters or more are upright too"""
ENGLISH_SHORT = {"a", "an", "as", "at", "be", "by", "do", "if", "in", "is", "it", "no", "of", "on", "or", "so", "to",
                 "up", "we", "vs", "go", "rf", "vp", "ve", "fm"}
"""short words that are words in prose (family names included: 'rf velocity', 'on rf and vp')"""
MATH_WORDS = {"log", "ln", "logvar", "exp", "sin", "cos", "det", "Pr", "E", "KL", "LN", "BCE", "JSD", "SNR", "ELBO",
              "HWC", "Var", "sg", "std", "erf", "erfc", "logit", "sigmoid", "softmax", "argmin"}
"""words that are math in a name even alone (``KL = 0``, ``log D``)"""
_CODE = re.compile(r"[A-Za-z]{3,}[A-Za-z0-9]*(?:_[A-Za-z0-9]+){2,}|[A-Za-z]{3,}[A-Za-z0-9]*_[A-Za-z0-9]{2,}\w*")
"""a code name (``mse_all_elements``, ``clip_sample``): set in typewriter, underscores literal"""
_DOTTED = re.compile(r"[a-z]+(?:\.[a-z][a-z_]+)+(?='s|\b)")
"""a clause id or a dotted module name (``ddpm.ddim_step``, ``sympy.stats``): code"""
_WORD = re.compile(r"[A-Za-z]\d(?![\d.])|[A-Za-z]+(?![\u0300-\u036f])")
_MATHY = re.compile("[\\[\\]=<>+/^_|√∇∂∫∑∏≤≥≠≈≡≪≫→←⇒∞∘‖⟂⊥∥⟨⟩∅∝~·×÷±−½ℓ*⊆⊂∈∉∀∃∪∩⌊⌋⌈⌉"
                    + "".join(SUPERSCRIPTS) + "".join(SUBSCRIPTS) + "\u0370-\u03ff\u0300-\u036f\u1e00-\u1fff]")


def _greek(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    if not name.startswith("GREEK ") or " LETTER " not in name:
        return None
    word = name.rsplit(" ", 1)[1].lower().replace("lamda", "lambda")
    if "CAPITAL" in name:
        word = word.capitalize()
        latin = {"Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H", "Iota": "I", "Kappa": "K",
                 "Mu": "M", "Nu": "N", "Omicron": "O", "Rho": "P", "Tau": "T", "Chi": "X"}
        if word in latin:
            return latin[word]                           # TeX has no command: the Latin glyph
    else:
        word = {"epsilon": "varepsilon", "phi": "varphi"}.get(word, word)
    return "\\" + word + " "


def _accented(ch: str) -> tuple[str, list[str]] | None:
    """(base letter, accent commands) of a precomposed accented letter (ᾱ, ṽ, ẑ, û)."""
    d = unicodedata.normalize("NFD", ch)
    if len(d) > 1 and all(c in ACCENTS for c in d[1:]):
        return d[0], [ACCENTS[c] for c in d[1:]]
    return None


def _group(s: str, i: int, open_: str, close: str) -> int:
    """The index just after the bracket that closes the one at s[i] (len(s) if unclosed)."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == open_:
            depth += 1
        elif s[j] == close:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(s)


def _script_atom(s: str, i: int) -> int:
    """The end of a sub/superscript written without braces (``x_t``, ``σ_max``, ``x_≤i``, ``v_∅``, ``e^μ``)."""
    j = i
    if j < len(s) and s[j] in "≤<≥>−-":
        j += 1
    if j < len(s) and (s[j].isalnum() or _greek(s[j]) or s[j] in "∅∞⊥⟂"):
        if s[j].isascii() and s[j].isalnum():
            while j < len(s) and s[j].isascii() and s[j].isalnum():
                j += 1
        else:
            j += 1
    return j


def _script(s: str) -> str:
    """A sub/superscript's content: a word of two letters or more is upright."""
    if re.fullmatch(r"[A-Za-z]{2,}", s):
        return r"\mathrm{" + s + "}"
    return to_latex(s)


def to_latex(s: str) -> str:
    """One run of Unicode math as LaTeX (no ``$``)."""
    out: list[str] = []
    i = 0
    s = re.sub(r"(?<=\d),(?=\d{3})", "{,}", s)          # 196,608: a thousands separator, no space after it
    s = re.sub(r"(?<=[\w)\]}'*])\s+(?=\([^()]*=)", "\x01", s)   # w = 0 (s = 1): an aside, set apart
    s = re.sub(r"(?<=[\w)\]}'*])\s+(?=\()", "\x02", s)                  # b (x − μ): a product, a thin space
    while i < len(s):
        ch = s[i]
        if ch in "_^":
            if i + 1 < len(s) and s[i + 1] == "{":
                j = _group(s, i + 1, "{", "}")
                body = to_latex(s[i + 2:j - 1])
            else:
                j = _script_atom(s, i + 1)
                body = _script(s[i + 1:j])
            _attach(out, ch, body)
            i = j
            continue
        if ch in SUPERSCRIPTS or ch in SUBSCRIPTS:
            table, mark = (SUPERSCRIPTS, "^") if ch in SUPERSCRIPTS else (SUBSCRIPTS, "_")
            j = i
            while j < len(s) and s[j] in table:
                j += 1
            _attach(out, mark, "".join(table[c] for c in s[i:j]))
            i = j
            continue
        if ch == "*":
            _attach(out, "^", "*")
            i += 1
            continue
        if ch == "√":
            j = i + 1
            if j < len(s) and s[j] == "(":
                k = _group(s, j, "(", ")")
                out.append(r"\sqrt{" + to_latex(s[j + 1:k - 1]) + "}")
            else:
                k = j
                while k < len(s) and (s[k].isascii() and (s[k].isalnum() or s[k] == ".")):
                    k += 1
                k = max(k, j + 1) if j < len(s) else j
                if k < len(s) and s[k] == "_":          # √α_t: the subscript under the root
                    k = _group(s, k + 1, "{", "}") if s[k + 1:k + 2] == "{" else _script_atom(s, k + 1)
                out.append(r"\sqrt{" + to_latex(s[j:k]) + "}")
            i = k
            continue
        m = _CODE.match(s, i)
        if m and (i == 0 or not s[i - 1].isalnum()):
            out.append(r"\texttt{" + m.group() + "}")
            i = m.end()
            continue
        if i + 1 < len(s) and s[i + 1] in ACCENTS:       # a letter with a combining accent (x̂, μ̃)
            body = (_greek(ch) or ch).strip()
            j = i + 1
            while j < len(s) and s[j] in ACCENTS:
                body = ACCENTS[s[j]] + "{" + body + "}"
                j += 1
            out.append(body)
            i = j
            continue
        m = _WORD.match(s, i)
        if m:
            out.append(_word(m.group(), s[m.end():m.end() + 1]))
            i = m.end()
            continue
        if ch in "⊥∥" and out and out[-1].strip() and (out[-1].strip()[-1].isalpha()):
            _attach(out, "_", SYMBOLS[ch].strip())      # Δ⊥, Δ∥: a subscript
            i += 1
            continue
        acc = _accented(ch)
        if acc is not None:
            base, cmds = acc
            body = _greek(base) or base
            for c in cmds:
                body = c + "{" + body.strip() + "}"
            out.append(body)
            i += 1
            continue
        g = _greek(ch)
        if g:
            out.append(g)
        elif ch in SYMBOLS:
            out.append(SYMBOLS[ch])
        elif ch.isspace():
            out.append(" ")
        else:
            out.append(ch)
        i += 1
    return re.sub(r" +([_^}])", r"\1", re.sub(r" +", " ", "".join(out))).strip()


def _attach(out: list[str], mark: str, body: str) -> None:
    """Append ``mark{body}``; a second superscript (``t*²``) or subscript joins the first."""
    if out and out[-1].startswith(mark + "{") and out[-1].endswith("}"):
        out[-1] = out[-1][:-1] + body + "}"
    else:
        out.append(mark + "{" + body + "}")


def _word(w: str, nxt: str) -> str:
    if w in OPERATORS:
        return OPERATORS[w]
    if w == "E" and nxt in "[_":
        return r"\mathbb{E}"
    if w == "N" and nxt == "(":
        return r"\mathcal{N}"
    if re.fullmatch(r"[A-Za-z]\d", w):                   # x0, x1
        return w[0] + "_{" + w[1] + "}"
    if w in NAMED or (len(w) >= 3 and nxt == "("):
        return r"\operatorname{" + w + "}"
    if len(w) >= 3 or (len(w) == 2 and w.isupper()):
        return r"\mathrm{" + w + "}"
    return w


# ---- words and math runs ------------------------------------------------------------------------------------------
def _is_math(tok: str, nxt: str) -> bool:
    bare = tok.strip("()[]")
    core = tok.strip(".,;:()'[]")
    if not core:
        return False
    if re.fullmatch(r"0\d('s|:)?", bare.rstrip(",.;:")) or "⚠" in tok:
        return False                                     # a source note (03's) or a warning sign
    if bare.startswith("'") and bare.rstrip(".,;:").endswith("'") and len(bare) > 2:
        return False                                     # a quoted name ('rotation', 'w=7.5')
    if bare.startswith("-"):
        return True                                      # -1, -log D: words never start with a minus
    if re.fullmatch(r"[A-Za-z]+(?:-[A-Za-z]+)*(?:'s|')?", core):
        if core in MATH_WORDS:
            return True
        if len(core) == 1:
            after = nxt.strip("().,;:'[]")
            return not (core in {"a", "A"} and re.fullmatch(r"[a-z]{2,}", after) is not None
                        and after not in MATH_WORDS)
        if len(core) == 2 and core.islower() and core not in ENGLISH_SHORT:
            return True                                  # wz, wm, ad, bc: products of single letters
        return False
    if re.fullmatch(r"\d+-[A-Za-z]+|[\u0370-\u03ff]-[a-z]+", core):
        return False                                     # 1-D, ε-prediction: words
    if _CODE.fullmatch(re.sub("'s$", "", core)) or _DOTTED.fullmatch(re.sub("'s$", "", core)):
        return False                                     # a code name or a clause id: code in the words
    return bool(_MATHY.search(tok) or re.search(r"\d", tok) or re.search(r"[A-Za-z]\(", tok)
                or any(_accented(c) for c in tok))


def _tokens(name: str) -> list[str]:
    """The name split at spaces outside braces (``e^{m + s u}`` is one token)."""
    toks, depth, cur = [], 0, ""
    for ch in name:
        depth += (ch == "{") - (ch == "}")
        if ch.isspace() and depth == 0:
            if cur:
                toks.append(cur)
            cur = ""
        else:
            cur += ch
    toks += [cur] if cur else []
    out: list[str] = []
    for t in toks:                                       # a quote over several words ('39 million') is one word
        if out and re.match(r"\(?'", out[-1]) and not re.search(r".'[).,;:]*$", out[-1]):
            out[-1] += " " + t
        else:
            out.append(t)
    return out


def _split_run(run: str) -> list[tuple[str, str]]:
    """A run of math as [(kind, text)]: cut at top-level ``,``/``;``/``:`` (and before a relation in a long piece)
    so that a line can wrap between the pieces; a piece's unmatched brackets and trailing punctuation go to the
    words."""
    pieces: list[tuple[str, str]] = []
    depth, start = 0, 0
    for i, ch in enumerate(run):
        depth += ch in "([{⟨" and 1 or (-1 if ch in ")]}⟩" else 0)
        if depth <= 0 and ch in ",;:" and run[i + 1:i + 2] == " ":
            pieces += [("math", run[start:i].strip()), ("text", ch + " ")]
            start = i + 1
    pieces.append(("math", run[start:].strip()))
    out: list[tuple[str, str]] = []
    for kind, text in pieces:
        if kind == "text":
            out.append((kind, text))
            continue
        lead = trail = ""
        while text and text[0] in "([" and _balance(text) > 0:
            lead, text = lead + text[0], text[1:]
        while text and (text[-1] in ".,;:" or (text[-1] in ")]" and _balance(text) < 0)):
            trail, text = text[-1] + trail, text[:-1]
        out += [("text", lead)] if lead else []
        cut = [m.start() for m in re.finditer(r" (?==|≤|≥|≈|→|⇒|∝) ", text) if _balance(text[:m.start()]) == 0]
        if len(text) <= 40:
            cut = []
        prev = 0
        for c in cut:
            out += [("math", text[prev:c].strip()), ("text", " ")]
            prev = c
        out.append(("math", text[prev:].strip()))
        out += [("text", trail)] if trail else []
    return [(k, t) for k, t in out if t]


def _balance(s: str) -> int:
    return sum(s.count(c) for c in "([") - sum(s.count(c) for c in ")]")


def pieces(name: str) -> list[tuple[str, str]]:
    """[("text", words) | ("math", LaTeX)] of a name."""
    toks = _tokens(name)
    flags = [_is_math(t, toks[k + 1] if k + 1 < len(toks) else "") for k, t in enumerate(toks)]
    for k, t in enumerate(toks):                         # 'a' before a word is the article (a 50-step grid)
        if t.strip("(") in {"a", "A"} and k + 1 < len(toks) and not flags[k + 1]:
            flags[k] = False
    out: list[tuple[str, str]] = []
    k = 0
    while k < len(toks):
        j = k
        while j < len(toks) and flags[j] == flags[k]:
            j += 1
        chunk = " ".join(toks[k:j])
        if flags[k]:
            if out:
                out.append(("text", " "))
            for kind, text in _split_run(chunk):
                out.append((kind, to_latex(text) if kind == "math" else text))
        else:
            out.append(("text", (" " if out else "") + chunk))
        k = j
    merged: list[tuple[str, str]] = []
    for kind, text in out:
        if merged and kind == "text" and merged[-1][0] == "text":
            merged[-1] = ("text", merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def check(latex: str, where: str) -> None:
    """Raise where a piece of math would reach MathJax with Unicode left or braces unbalanced."""
    left = sorted({c for c in latex if not c.isascii()})
    depth = 0
    for c in latex:
        depth += (c == "{") - (c == "}")
        if depth < 0:
            break
    if left or depth != 0 or re.search(r"[_^]\s*$", latex) or re.search(r"\^\{[^{}]*\}\s*\^", latex):
        raise GenspecError(f"docs: {where}: the math {latex!r} cannot be typeset"
                           + (f" (Unicode left: {''.join(left)})" if left else " (braces or scripts)"))


def markdown(name: str, where: str = "") -> str:
    """A name as Markdown, its math as inline ``$...$`` (checked by :func:`check`)."""
    from .text import _escape, math
    out = []
    for kind, text in pieces(name):
        if kind == "math":
            check(text, where or name)
            out.append(math(text))
            continue
        for k, part in enumerate(re.split(f"({_CODE.pattern}|{_DOTTED.pattern})", text)):
            out.append(f"`{part}`" if k % 2 else _escape(part, False))
    return "".join(out)
