// Maths in model text, rendered by the vendored KaTeX (static/katex/, see its README.md).
// Text always enters the page as text nodes first; KaTeX's auto-render then walks those text nodes and builds
// each formula with DOM calls, so model text never becomes markup. trust: false refuses \href, \includegraphics
// and friends; throwOnError: false shows a formula KaTeX cannot parse as its source (class katex-error).
"use strict";

const MATH_OPTIONS = {
  delimiters: [
    // Longest first: "$$" must not be read as two empty "$" formulas.
    { left: "$$", right: "$$", display: true }, { left: "\\[", right: "\\]", display: true },
    { left: "\\(", right: "\\)", display: false }, { left: "$", right: "$", display: false },
    ...["equation", "equation*", "align", "align*", "alignat", "alignat*", "gather", "gather*", "CD"].map(
      (name) => ({ left: `\\begin{${name}}`, right: `\\end{${name}}`, display: true })),
  ],
  // KaTeX's default also skips <pre>; the shortcut is shown in one and holds maths too.
  ignoredTags: ["script", "noscript", "style", "textarea", "code", "option"],
  throwOnError: false, trust: false, strict: "ignore",
  errorCallback: () => {},  // a formula that fails stays as its source; no console noise per bad formula
};

function katexLoaded() {
  return typeof katex === "object" && typeof renderMathInElement === "function";
}

// Models (and the attempts' own "So ... = \boxed{4}" lines) often write a bare \boxed{...} outside any delimiters.
// In a text node with no delimiters at all, such a box cannot be inside a formula, so it is delimited here.
const DELIMITED = /\$|\\\(|\\\[|\\begin\{/;

function delimitBareBoxes(text) {
  let out = "", done = 0;
  for (let start = text.indexOf("\\boxed{", done); start !== -1; start = text.indexOf("\\boxed{", done)) {
    let depth = 0, end = start + "\\boxed".length;
    for (; end < text.length; end++) {
      if (text[end] === "\\") end++;  // an escaped brace does not count
      else if (text[end] === "{") depth++;
      else if (text[end] === "}" && --depth === 0) break;
    }
    if (end >= text.length) break;  // unbalanced: left as written
    out += `${text.slice(done, start)}\\(${text.slice(start, end + 1)}\\)`;
    done = end + 1;
  }
  return out + text.slice(done);
}

// Render every formula inside `element` (already filled with text nodes); returns the element.
function renderMath(element) {
  if (!katexLoaded()) return element;
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.data.includes("\\boxed{") && !DELIMITED.test(node.data)) node.data = delimitBareBoxes(node.data);
  }
  renderMathInElement(element, MATH_OPTIONS);
  return element;
}

// A bare answer such as "\frac{\pi}{2}" (no delimiters): the whole string is one formula.
function mathAnswer(text, attrs = {}) {
  const span = el("span", { ...attrs, "data-tex": text }, text);
  if (!katexLoaded() || /[$]|\\\(|\\\[/.test(text)) return renderMath(span);
  katex.render(text, span, { throwOnError: false, trust: false, strict: "ignore" });
  return span;
}
