"""Checks of the prose a long thought is written in: LaTeX outside its delimiters, doubled words, stutters.

A rewriter or expander that moves `\\frac` outside `$…$` breaks every renderer; one that writes "First, first",
"So so", "Alternatively, thus," or retypes "John has" as "First, john has" teaches a model to stutter. These
checks read text only (no model, no eval of anything) and return the offending snippets, so an audit can count them
and a test can show which one it found. `lead_in` is the writers' side of the same rule: every writer that opens a
step with a connective (the oracle's rewriter and expander, protocols.render) asks it, so none stacks or stutters. Math is what sits between `$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]` or in a
math environment (`\\begin{align*}…`); a `$` before a number followed by prose ("$30 every day") or by another
price ("$10 x 1.2 = $12") is a dollar sign.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_MATH_ENV = re.compile(r"\\begin\{(align|equation|gather|multline|eqnarray|displaymath|math|flalign|alignat)"
                       r"(\*?)\}")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
# Commands that belong in running text (LaTeX text mode, or Markdown-rendered prose): `\$ \%` are not letters.
TEXT_COMMANDS = frozenset({
    "text", "textbf", "textit", "textrm", "textsf", "texttt", "emph", "underline", "mbox", "hbox", "ldots", "dots",
    "quad", "qquad", "newline", "noindent", "item", "begin", "end", "S", "P", "LaTeX", "TeX", "textdollar",
    "textdegree", "hspace", "vspace", "par", "indent",
})
# Two or more words running on before the next `$`: the first `$` was a dollar sign, not a delimiter.
_PROSE_RUN = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,} [A-Za-z]{2,}(?![A-Za-z]*\})")
# The words a sentence opens with to link it to the one before (what a rewriter adds, and must not stack).
CONNECTIVE_WORDS = frozenset({
    "so", "then", "thus", "therefore", "hence", "alternatively", "instead", "next", "now", "first", "finally",
    "also", "again", "similarly", "meanwhile", "consequently", "afterwards", "second", "third", "lastly",
})
_CONNECTIVE = "|".join(sorted(CONNECTIVE_WORDS, key=len, reverse=True))
_DOUBLED = re.compile(r"(?<![\\\w])([A-Za-z]{2,})[,;:]?\s+\1\b", re.IGNORECASE)
# Stacked only where a sentence or step opens: "as long as the first, so it rang 12" is plain prose (GSM8K).
_STACKED = re.compile(rf"(?:^|(?<=\n)|(?<=[.!?]\s)|(?<=\d\.\s))(?:{_CONNECTIVE}),\s+(?:{_CONNECTIVE})\b",
                      re.IGNORECASE)
# A sentence that starts lower case with a connective: a retyped step ("Let me try another way. therefore, ...").
_LOWER_OPENING = re.compile(rf"(?:[.!?]\s+)((?:{_CONNECTIVE})\b[^.!?\n]{{0,20}})")
_OPENING = re.compile(rf"(?:^|\n|[.!?]\s+)(?:\d+\.\s+)?(?:{_CONNECTIVE})\b,?\s+([a-z][a-z']+)", re.IGNORECASE)
# Words that open a sentence capitalised and may be written lower case after a connective: never names.
COMMON_WORDS = frozenset("""
a an the this that these those there here it its we our us you your he she his her they their them i one each every
all both some any no none if in on at for from by with to of as since because when while after before once given
let let's using adding subtracting multiplying dividing squaring factoring solving setting substituting plugging
putting combining simplifying expanding applying taking noting note notice to find compute computing consider
considering writing rewriting looking checking counting finding since dividing we'll we're it's that's there's
add subtract multiply divide square factor solve substitute plug combine simplify expand apply distribute evaluate
use recall write rewrite check count calculate multiplying calculating evaluating distributing
""".split())  # the imperatives a solution opens a step with ("Divide both sides by 2"), never names
# Words that open a sentence as a link to the one before: nothing more may be put in front of them.
OPENING_WORDS = CONNECTIVE_WORDS | {"but", "however"}
MATH = "\x00"  # what a math span becomes in the prose view: no word, no sentence end


def math_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every math span, delimiters included, in order."""
    spans: list[tuple[int, int]] = []
    position = 0
    while position < len(text):
        environment = _MATH_ENV.match(text, position)
        two = text[position:position + 2]
        if environment is not None:
            close = f"\\end{{{environment.group(1)}{environment.group(2)}}}"
        elif two in ("$$", "\\[", "\\("):
            close = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}[two]
        elif text[position] == "$" and text[position - 1:position] != "\\":
            close = "$"
        else:
            position += 1 + (text[position] == "\\")  # `\$` is an escaped dollar, never a delimiter
            continue
        opening = environment.end() if environment is not None else position + len(close if close != "$" else "$")
        end = _closing(text, opening, close)
        if end is None or (close == "$" and _is_dollar_sign(text, position, end)):
            position += 1
            continue
        spans.append((position, end))
        position = end
    return spans


def _closing(text: str, start: int, close: str) -> int | None:
    """Where the span that opened before `start` ends (after `close`), skipping escaped dollars."""
    position = start
    while (found := text.find(close, position)) != -1:
        if close == "$" and text[found - 1:found] == "\\":
            position = found + 1
            continue
        return found + len(close)
    return None


def _is_dollar_sign(text: str, start: int, end: int) -> bool:
    """`$30 every day ... $`: money, when a number follows the `$` and prose runs on before the next one."""
    inside = re.sub(r"\\text\w*\{[^{}]*\}", "", text[start + 1:end - 1])
    # "$10 x 1.2 = $12": a span that ends on an operator or runs into a number is two prices, not math; an `x`
    # is "times" only standing apart ("$4x$ more dogs" is a variable)
    ends_open = re.search(r"(?:[=+*-]|\sx)\s*$", inside) is not None or text[end:end + 1].isdigit()
    return inside[:1].isdigit() and (ends_open or _PROSE_RUN.search(inside) is not None)


def prose(text: str) -> str:
    """`text` with each math span replaced by one `MATH` character (offsets change; words and sentences do not)."""
    pieces, last = [], 0
    for start, end in math_spans(text):
        pieces += [text[last:start], MATH]
        last = end
    return "".join(pieces + [text[last:]])


def latex_outside(text: str) -> list[str]:
    """Math commands written in running text (`\\frac{1}{2}` outside `$…$`), with a little context each."""
    view = prose(text)
    return [view[max(0, match.start() - 12):match.end() + 12].replace(MATH, "$…$")
            for match in _COMMAND.finditer(view) if match.group(1) not in TEXT_COMMANDS]


def doubled_words(text: str) -> list[str]:
    """A word written twice in a row ("So so", "First, first"), in running text."""
    return [match.group(0) for match in _DOUBLED.finditer(prose(text))]


def stutters(text: str, context: str = "") -> list[str]:
    """Stacked connectives ("Alternatively, thus,"), a sentence retyped lower case after a connective ("... way.
    therefore, ..."), and a name lower-cased behind a connective ("First, john has"); `context` (the question)
    tells names from words: a capitalised word that also appears capitalised inside a sentence."""
    view = prose(text)
    found = [match.group(0) for match in _STACKED.finditer(view)]
    found += [match.group(1) for match in _LOWER_OPENING.finditer(view) if match.group(1)[0].islower()]
    openings = list(_OPENING.finditer(view))
    both = view + "\n" + prose(context)
    lower = Counter(re.findall(r"(?<![\\\w])[a-z][a-z']+", both))
    for match in openings:
        word = match.group(1)
        # a name: written capitalised somewhere, never lower case except behind these connectives
        behind = sum(other.group(1) == word for other in openings)
        if word not in COMMON_WORDS and re.search(rf"\b{re.escape(word.capitalize())}\b", both) and lower[word] == behind:
            found.append(match.group(0).lstrip(".!? \n"))
    return found


@dataclass(frozen=True)
class ProseIssues:
    """What the checks found in one text; empty lists when it reads clean."""

    latex_outside: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    stutters: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.latex_outside or self.doubled or self.stutters)


def check_prose(text: str, context: str = "") -> ProseIssues:
    """Every check above on one text (`context`: the question, to tell names in it)."""
    return ProseIssues(latex_outside(text), doubled_words(text), stutters(text, context))


def _first_sentence_words(body: str) -> list[str]:
    return re.findall(r"[A-Za-z']+", body.split(".", 1)[0])


def opens_with_connective(body: str) -> bool:
    """Whether `body` opens with a word that links it to what came before ("Therefore, ...", "But ...")."""
    words = _first_sentence_words(body)
    return bool(words) and words[0].lower() in OPENING_WORDS


def lead_in(body: str, connective: str) -> str:
    """`body` opened by `connective` where that reads well; `body` unchanged where it would stutter ("So so"), stack
    ("Then, thus"), repeat a word ("First, ... First let's", "With that, that gives") or lower-case a name
    ("First, john has")."""
    words = _first_sentence_words(body)
    if not connective or not words:
        return body
    first = words[0]
    # the connective's own key words ("first", "begin", "building"): "First, ... First let's" repeats one
    own = {word for word in re.findall(r"[a-z]+", connective.lower()) if word in CONNECTIVE_WORDS or len(word) >= 5}
    said = re.findall(r"[a-z]+", connective.lower())
    if opens_with_connective(body) or own & {word.lower() for word in words}:
        return body
    if said and said[-1] == first.lower().split("'")[0]:  # "Redoing it, it's", "With that, that gives"
        return body
    if body[0] in "$\\(" or body[0].isdigit() or first in ("I", "I'll", "I'm", "I've", "I'd"):
        return connective + body
    if body.startswith(first) and first.lower() in COMMON_WORDS:
        return connective + body[0].lower() + body[1:]
    return body  # a name or a word we cannot tell from one: no connective rather than "First, john"


_FINAL = re.compile(r"\bfinal\s+(?:answer|result)\b", re.IGNORECASE)


def final_statements(text: str) -> int:
    """How many times the text says it is giving its final answer ("the final answer is ...")."""
    return len(_FINAL.findall(prose(text)))
