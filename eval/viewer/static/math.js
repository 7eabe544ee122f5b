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

// Render every delimited formula inside `element` (already filled with text nodes); returns the element.
function renderMath(element) {
  if (katexLoaded()) renderMathInElement(element, MATH_OPTIONS);
  return element;
}

// A bare answer such as "\frac{\pi}{2}" (no delimiters): the whole string is one formula.
function mathAnswer(text, attrs = {}) {
  const span = el("span", { ...attrs, "data-tex": text }, text);
  if (!katexLoaded() || /[$]|\\\(|\\\[/.test(text)) return renderMath(span);
  katex.render(text, span, { throwOnError: false, trust: false, strict: "ignore" });
  return span;
}
