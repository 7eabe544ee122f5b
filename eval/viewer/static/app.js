// The longthought viewer. Model text only ever enters the page as text nodes (never innerHTML),
// so a long thought containing <script> shows as text; math.js then renders its formulas with KaTeX.
"use strict";

const state = { stats: [], current: null, selectedNode: null };
// Never spans a formula: a mark splits the text nodes KaTeX reads, so "let me go back to $x=1.5$" must not lose a $.
const KEYWORDS = /(wait|alternatively|let me go back(?: to step \d+ and redo it)?|let me start over|hold on|hmm)/gi;
const BACKTRACK_WORDS = /^(let me go back|let me start over)/i;
// Stop reasons (protocols.types.StopReason) and finish reasons (the model API's) as words.
const REASON_WORDS = {
  terminated: "terminated by the critic", max_turns: "max turns", max_backtracks: "max backtracks",
  max_tokens: "token budget spent", correct_leaf_found: "correct leaf found", no_correct_leaf: "no correct leaf",
  no_steps: "no steps", expanded: "expanded faithfully", expansion_unfaithful: "expansion unfaithful",
  stop: "stopped", length: "cut at the token cap", None: "finish unknown", null: "finish unknown",
};
// Rehearsal data says what it is (protocols.rehearsal): a badge wherever a run or a row used the oracle.
const ORACLE_NOTICE = "a rehearsal, not a model's results: the oracle answers from the reference solutions with "
  + "injected, checked errors, so its correct shares, costs and judge scores prove the pipeline, never a model's quality";
const oracleBadge = (roles) => roles && roles.length
  ? el("span", { class: "oracle-badge", title: ORACLE_NOTICE }, `ORACLE DATA (${roles.join(", ")})`) : null;
const reasonWords = (reason) => REASON_WORDS[reason] ?? String(reason).replaceAll("_", " ");
// {"terminated": 2, "max_turns": 1} -> "terminated by the critic: 2, max turns: 1"
const countWords = (counts) => Object.entries(counts).map(([reason, n]) => `${reasonWords(reason)}: ${n}`).join(", ") || "none";
// Children for replaceChildren/append, which (unlike el) would print a null as the text "null".
const present = (...nodes) => nodes.filter((node) => node !== null && node !== undefined);

function el(tag, attrs = {}, ...children) {
  const node = tag === "svg" || ["g", "line", "circle", "text", "title", "tspan"].includes(tag)
    ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  const response = await fetch(`${path}?${query}`);
  return response.json();
}

function fillSelect(select, values, counts, labels = {}) {
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"));
  for (const value of values) {
    const count = counts[value] ?? 0;
    select.append(el("option", { value }, `${labels[value] ?? value} (${count})`));
  }
  select.value = chosen;
}

function filters() {
  return {
    outcome: document.getElementById("f-outcome").value, attempt: document.getElementById("f-attempt").value,
    run: document.getElementById("f-run").value, action: document.getElementById("f-action").value,
    cut: document.getElementById("f-cut").value, q: document.getElementById("f-q").value,
    checkers: document.getElementById("f-checkers").value,
  };
}

let listRequests = 0;

async function refreshList() {
  // The header too: a run that is still being written may have grown since the last look.
  const request = ++listRequests;
  const [stats, data] = await Promise.all([api("/api/stats"), api("/api/problems", filters())]);
  // Filters changed quickly send several requests, and the server answers them in any order: only the latest one's
  // answer may draw the list (an older one drew a run the user had just unselected).
  if (request !== listRequests) return;
  state.stats = stats;
  renderStats();
  const attempts = [...new Set(state.stats.flatMap((run) => run.attempts))];
  fillSelect(document.getElementById("f-outcome"), ["correct", "incorrect", "no_answer"], data.counts.outcome);
  fillSelect(document.getElementById("f-attempt"), attempts, data.counts.attempt);
  fillSelect(document.getElementById("f-run"), state.stats.map((run) => String(run.run)), data.counts.run,
    Object.fromEntries(state.stats.map((run) => [String(run.run), run.path])));
  fillSelect(document.getElementById("f-action"), ["backtrack", "reflect"], data.counts.action);
  fillSelect(document.getElementById("f-cut"), ["yes", "no"], data.counts.cut);
  fillSelect(document.getElementById("f-checkers"), ["disagree", "agree"], data.counts.checkers);
  document.getElementById("total").textContent = `${data.total} problems`;
  const list = document.getElementById("problems");
  list.replaceChildren(...data.problems.map((p) => el("li", {},
    el("button", { "data-run": p.run, "data-id": p.id, class: "problem", onclick: () => openProblem(p.run, p.id, true) },
      el("span", { class: `dot ${p.outcome}` }), `${p.id}`,
      p.oracle_roles && p.oracle_roles.length ? el("span", { class: "oracle-tag", title: ORACLE_NOTICE }, "oracle") : null,
      el("br"),
      el("small", {}, p.kind === "samples"
        ? `${p.model} · run ${p.run} · ${p.correct_samples}/${p.samples} correct${p.cut ? " · cut" : ""}`
        : `${p.attempt} · run ${p.run} · ${reasonWords(p.stop_reason)}`)))));
}

function renderStats() {
  const header = document.getElementById("stats");
  header.replaceChildren(...state.stats.map((run) => el("span", { class: "run", "data-run": run.run },
    el("b", {}, `run ${run.run}`), ` ${run.path}`, oracleBadge(run.oracle_roles) ? " " : "", oracleBadge(run.oracle_roles), run.kind === "samples" ? ` (${run.attempts.join(", ")}: ${run.models.join(", ")})` : "",
    `: ${run.problems} problems, `, run.kind === "samples"
      ? `${run.samples} samples, ${Math.round(run.share_correct * 100)}% of samples correct, `
      : `${Math.round(run.share_correct * 100)}% correct, `,
    `${run.tokens} tokens, cost ${run.cost === null ? "unknown" : "$" + run.cost}, `,
    run.kind === "samples" ? `finish ${countWords(run.finish_reasons)}` : `stops ${countWords(run.stop_reasons)}`,
    run.bad_lines ? el("span", { class: "bad-lines", title: `first at ${run.first_bad_line}` },
      `, ${run.bad_lines} malformed line(s) skipped`) : null)));
}

function shortcutIds(record) {
  const nodes = record.tree.nodes;
  const leaf = [...nodes].reverse().find((n) => n.kind === "answer" && n.correct === true);
  const ids = new Set();
  for (let id = leaf ? leaf.id : null; id !== null && id !== undefined; id = nodes[id].parent) ids.add(id);
  return ids;
}

function nodeColour(node) {
  if (node.kind === "root") return "#333";
  if (node.kind === "reflection" || node.kind === "note") return "#f2c94c";
  if (node.correct === true) return "#2e9d4f";
  if (node.correct === false) return "#d2453b";
  return "#aaa";
}

function drawTree(record, onSelect) {
  const nodes = record.tree.nodes;
  const depth = new Map([[0, 0]]);
  const rows = new Map();
  let nextRow = 0;
  const place = (id) => {
    const node = nodes[id];
    for (const child of node.children) { depth.set(child, depth.get(id) + 1); place(child); }
    rows.set(id, node.children.length ? rows.get(node.children[0]) : nextRow++);
  };
  place(0);
  const onPath = shortcutIds(record);
  const x = (id) => 20 + depth.get(id) * COLUMN, y = (id) => 24 + rows.get(id) * 30;
  // Extra width on the right for the last level's labels.
  const svg = el("svg", { width: 60 + (Math.max(...depth.values()) + 1) * COLUMN, height: 44 + nextRow * 30, id: "tree-svg" });
  const narratedWrong = new Set((record.view || {}).narrated_wrong || []);
  for (const node of nodes) {
    if (node.parent === null) continue;
    const cls = onPath.has(node.id) && onPath.has(node.parent) ? "edge shortcut" : "edge";
    svg.append(el("line", { class: cls, x1: x(node.parent), y1: y(node.parent), x2: x(node.id), y2: y(node.id) }));
  }
  for (const node of nodes) {
    // A wrong step the long thought tells gets a dashed ring: the journey shows this mistake.
    if (narratedWrong.has(node.id)) {
      svg.append(el("circle", { class: "narrated-ring", r: 12, cx: x(node.id), cy: y(node.id), "data-ring": node.id }));
    }
    const circle = el("circle", { class: "node", r: 8, cx: x(node.id), cy: y(node.id), fill: nodeColour(node),
      "data-node": node.id, onclick: () => onSelect(node.id) },
      el("title", {}, node.step ? `step ${node.step.index}: ${node.step.text}` : "problem"));
    svg.append(circle, el("text", { x: x(node.id) + 10, y: y(node.id) - 9, class: "node-label", "data-label": node.id },
      el("tspan", { class: "node-index" }, nodeIndex(node)), ` ${snippet(node)}`));
  }
  return svg;
}

const COLUMN = 210;  // px per tree level: room for a node's index and the start of its step text
// "#3 · s2" (node 3, step 2 on its path): the same words the node table and the node panel use.
function nodeIndex(node) {
  return node.step ? `#${node.id} · s${node.step.index}` : `#${node.id}`;
}

// The start of a node's step text, one line: an SVG label cannot wrap or render maths (the table below does both).
function snippet(node, chars = 26) {
  if (!node.step) return node.kind === "root" ? "problem" : node.kind;
  const flat = node.step.text.replace(/\s+/g, " ").trim();
  const score = node.score === null || node.score === undefined ? "" : ` (${node.score.toFixed(2)})`;
  return (flat.length > chars ? flat.slice(0, chars - 1) + "…" : flat) + score;
}

const LABEL_WORDS = (node) => node.kind === "reflection" || node.kind === "note" ? node.kind
  : node.correct === true ? "correct" : node.correct === false ? "wrong" : "unknown";

// What each colour and mark in the tree and the long thought means.
function legend() {
  const item = (cls, words) => el("span", { class: "legend-item" }, el("span", { class: cls }), words);
  return el("div", { class: "legend", id: "legend" }, el("b", {}, "Legend: "),
    item("swatch correct-node", "correct step"), item("swatch wrong-node", "wrong step"),
    item("swatch unknown-node", "not judged"), item("swatch reflection-node", "reflection / note"),
    item("swatch root-node", "problem (root)"), item("swatch narrated", "wrong step the long thought narrates"),
    item("swatch shortcut-edge", "shortcut path"),
    item("swatch wrong-paragraph", "long thought: a wrong step's paragraph"),
    el("span", { class: "legend-item" }, "#3 · s2 = node 3, step 2 of its path"));
}

// Every node with its index, step number, label, whether the long thought tells it, and its text (maths rendered).
function nodeTable(record, onSelect) {
  const view = record.view || {};
  const narrated = new Set(view.narrated || []), asWrong = new Set(view.narrated_as_wrong || []);
  const told = (node) => node.kind === "root" ? "" : narrated.has(node.id)
    ? (asWrong.has(node.id) ? "yes, as a wrong trial" : "yes") : "no";
  const head = el("tr", {}, ["node", "step", "kind", "label", "action", "score", "narrated", "text"].map((h) => el("th", {}, h)));
  const rows = record.tree.nodes.map((node) => el("tr", {
    class: `node-row label-${LABEL_WORDS(node)}${narrated.has(node.id) && node.correct === false ? " narrated-wrong" : ""}`,
    "data-node": node.id, onclick: () => onSelect(node.id) },
    el("td", {}, `#${node.id}`), el("td", {}, node.step ? String(node.step.index) : "–"), el("td", {}, node.kind),
    el("td", { class: "label" }, LABEL_WORDS(node)), el("td", {}, node.action ?? "–"),
    el("td", {}, node.score === null || node.score === undefined ? "–" : node.score.toFixed(3)),
    el("td", {}, told(node)), renderMath(el("td", { class: "node-text" }, node.step ? node.step.text : "(the problem)"))));
  return el("details", { class: "node-table", open: "" }, el("summary", {}, `Nodes (${record.tree.nodes.length})`),
    el("table", {}, el("thead", {}, head), el("tbody", {}, rows)));
}

function selectNode(record, id, panel) {
  const node = record.tree.nodes[id];
  document.querySelectorAll("#tree-svg .node").forEach((c) => c.classList.toggle("selected", Number(c.dataset.node) === id));
  document.querySelectorAll(".node-table .node-row").forEach((r) => r.classList.toggle("selected", Number(r.dataset.node) === id));
  const verdict = node.verdict || {};
  const narrated = new Set((record.view || {}).narrated || []);
  panel.replaceChildren(...present(
    el("b", {}, `node ${node.id}${node.step ? " · step " + node.step.index : ""} · ${node.kind}${node.action ? " · " + node.action : ""}`
      + `${node.score !== null && node.score !== undefined ? " · score " + node.score.toFixed(3) : ""}`
      + `${node.correct === null || node.correct === undefined ? "" : node.correct ? " · correct" : " · wrong"}`
      + `${node.kind === "root" ? "" : narrated.has(node.id) ? " · narrated in the long thought" : " · not in the long thought"}`),
    renderMath(el("div", { class: "step-text" }, node.step ? node.step.text : record.problem.question)),
    verdict.reason ? renderMath(el("div", { class: "reason" }, el("i", {}, "reason: "), verdict.reason)) : null));
}

function highlighted(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(KEYWORDS)) {
    parts.push(text.slice(last, match.index));
    parts.push(el("mark", { class: BACKTRACK_WORDS.test(match[0]) ? "backtrack" : "reflect" }, match[0]));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

// The long thought, paragraph by paragraph; a paragraph that tells a step links to its node and takes its colour
// (the server ties paragraphs to nodes: eval/viewer/record_view.py).
function thoughtView(record, onSelect) {
  const paragraphs = (record.view || {}).paragraphs
    || record.long_thought.split(/\n\s*\n/).map((text) => ({ text, node: null, correct: null }));
  return renderMath(el("div", { class: "thought" }, paragraphs.map((paragraph) => {
    // Not "wrong"/"correct": .correct is the list's green dot (style.css).
    const label = paragraph.correct === false ? " is-wrong" : paragraph.correct === true ? " is-right" : "";
    return el("p", paragraph.node === null ? {} : { class: `linked${label}`, "data-node": paragraph.node,
      title: `node #${paragraph.node}`, onclick: () => onSelect(paragraph.node) }, ...highlighted(paragraph.text));
  })));
}

// The draft, what the rewriter (or expander) made of it, and the check between them, side by side.
function faithfulnessView(check) {
  if (!check) return null;
  const verdict = check.faithful === true ? "faithful" : check.faithful === false ? "unfaithful" : "not checked";
  return el("div", { class: "faithfulness" }, el("h3", {}, "Draft · rewrite · faithfulness"),
    el("div", { class: "columns" },
      el("div", { class: "draft-column" }, el("h4", {}, `Draft${check.used === "draft" ? " (the long thought)" : ""}`),
        renderMath(el("div", { class: "draft-text" }, check.draft ?? "(none)"))),
      el("div", { class: "rewrite-column" }, el("h4", {}, `Rewrite${check.used === "rewrite" ? " (the long thought)" : ""}`),
        renderMath(el("div", { class: "rewrite-text" }, check.rewrite ?? "(no rewrite)"))),
      el("div", { class: "check-column" }, el("h4", {}, "Faithfulness"),
        el("p", { class: `verdict ${verdict.replace(" ", "-")}` }, verdict),
        check.reason ? renderMath(el("p", {}, check.reason)) : null,
        check.missing.length ? el("div", {}, el("i", {}, "missing from the rewrite:"),
          el("ul", {}, check.missing.map((item) => renderMath(el("li", {}, item))))) : null)));
}

function recordView(record, runIndex) {
  const nodePanel = el("div", { class: "node-detail", id: runIndex === null ? "node" : `node-${runIndex}` }, "Click a node.");
  const onSelect = (id) => selectNode(record, id, nodePanel);
  const ok = record.correct === true;
  const view = record.view || {};
  return el("div", { class: "record" }, ...present(
    view.oracle_roles && view.oracle_roles.length ? el("p", { class: "oracle-notice" }, oracleBadge(view.oracle_roles),
      ` ${ORACLE_NOTICE}.`) : null,
    el("p", {}, `${record.attempt} · stop: ${reasonWords(record.stop_reason)} · `,
      el("span", { class: `answer ${ok ? "ok" : "bad"}` }, "answer ", answerView(record.final_answer)),
      " vs gold ", answerView(record.problem.answer, "unknown")),
    legend(), el("div", { class: "tree-scroll" }, drawTree(record, onSelect)), nodePanel, nodeTable(record, onSelect),
    el("h3", {}, "Long thought"), thoughtView(record, onSelect), faithfulnessView(view.faithfulness),
    el("h3", {}, "Shortcut"), renderMath(el("pre", { class: "shortcut" }, record.shortcut ?? "(no correct path)")),
    el("h3", {}, "Turns"), renderMath(el("div", { class: "turns" }, record.turns.map((turn) => el("div", {
      class: `turn ${turn.role}`, onclick: () => turn.node_id !== null && onSelect(turn.node_id) },
      el("span", { class: "badge" }, `${turn.role}${turn.action ? " · " + turn.action : ""}`
        + `${turn.finish_reason === "length" ? " · cut at the token cap" : ""}`), turn.content))))));
}

function answerView(answer, missing = "none") {
  return answer === null || answer === undefined ? el("span", { class: "missing" }, missing)
    : mathAnswer(answer, { class: "tex-answer" });
}

// Every sample of one problem (an accuracy or DPO-sampling run): its text, extracted answer, judgment, finish.
function samplesView(row) {
  const correct = row.samples.filter((s) => s.correct).length;
  const cut = row.samples.filter((s) => s.finish_reason === "length").length;
  // DPO sampling keeps 20 per problem: show only the correct, the wrong or the cut ones.
  const keep = { correct: (s) => s.correct, wrong: (s) => !s.correct, cut: (s) => s.finish_reason === "length" };
  const show = el("select", { class: "sample-filter", onchange: () => cards.forEach((card, i) => {
    card.hidden = show.value !== "" && !keep[show.value](row.samples[i]);
  }) }, el("option", { value: "" }, `all (${row.samples.length})`), el("option", { value: "correct" }, `correct (${correct})`),
  el("option", { value: "wrong" }, `wrong (${row.samples.length - correct})`),
  el("option", { value: "cut" }, `cut at the token cap (${cut})`));
  const cards = row.samples.map((sample, index) => el("div", { class: `sample ${sample.correct ? "ok" : "bad"}`, "data-sample": index },
      el("p", { class: "sample-head" }, el("b", {}, `sample ${index + 1}`), " · ",
        el("span", { class: `answer ${sample.correct ? "ok" : "bad"}` }, sample.correct ? "correct" : "wrong",
          " · answer ", answerView(sample.answer)),
        ` · ${reasonWords(sample.finish_reason)}`),
      renderMath(el("div", { class: "sample-text" }, ...highlighted(sample.text)))));
  const roles = (row.view || {}).oracle_roles;
  return el("div", { class: "samples" },
    roles && roles.length ? el("p", { class: "oracle-notice" }, oracleBadge(roles), ` ${ORACLE_NOTICE}.`) : null,
    el("p", {}, `${row.model} · ${correct}/${row.samples.length} samples correct · gold `,
      answerView(row.problem.answer, "unknown"), row.samples.length > 1 ? el("span", {}, " · show ", show) : null),
    cards);
}

function rowView(row, runIndex) {
  return row.kind === "samples" ? samplesView(row) : recordView(row, runIndex);
}

// /problem/<id>?run=N: every problem has a URL, so a page can be linked, reloaded and screenshotted. Ids hold
// slashes (precalculus/190): each part is encoded, the slashes kept.
const PAGE_PREFIX = "/problem/";
const problemPath = (run, id) => `${PAGE_PREFIX}${id.split("/").map(encodeURIComponent).join("/")}?run=${run}`;

function problemFromLocation() {
  if (!location.pathname.startsWith(PAGE_PREFIX)) return null;
  let id;
  try {
    id = location.pathname.slice(PAGE_PREFIX.length).split("/").map(decodeURIComponent).join("/");
  } catch (error) {
    return null;  // a malformed %-escape: no problem to open
  }
  const run = new URLSearchParams(location.search).get("run");
  return { id, run: run === null || run === "" || Number.isNaN(Number(run)) ? null : Number(run) };
}

// The problem a URL names: its run when given, else the first run that has it.
async function openFromLocation() {
  const target = problemFromLocation();
  if (!target || !target.id) {  // back at the list's own URL
    if (state.current) document.getElementById("detail").replaceChildren(el("p", { class: "hint" }, "Pick a problem on the left."));
    state.current = null;
    return;
  }
  const runs = target.run !== null ? [target.run] : state.stats.map((r) => r.run);
  for (const run of runs) {
    const record = await api("/api/record", { run, id: target.id });
    if (!record.error) return openProblem(run, target.id, false, record);
  }
  document.getElementById("detail").replaceChildren(el("h2", {}, target.id),
    el("p", { class: "hint" }, `No record for ${target.id}${target.run !== null ? " in run " + target.run : ""}.`));
}

async function openProblem(run, id, push = false, loaded = null) {
  document.querySelectorAll("button.problem").forEach((b) =>
    b.classList.toggle("active", b.dataset.run === String(run) && b.dataset.id === id));
  const record = loaded ?? await api("/api/record", { run, id });
  state.current = { run, id };
  const path = problemPath(run, id);
  if (push && location.pathname + location.search !== path) history.pushState({ run, id }, "", path);
  else if (!push) history.replaceState({ run, id }, "", path);
  document.title = `${id} · longthought viewer`;
  const others = state.stats.filter((r) => r.run !== run);
  const label = (r) => `run ${r.run}: ${r.path}${r.kind === "samples" ? " (" + r.models.join(", ") + ")" : ""}`;
  const compareSelect = el("select", { id: "compare-run" }, others.map((r) => el("option", { value: r.run }, label(r))),
    others.length > 1 ? el("option", { value: "all" }, "every run") : null);
  const detail = document.getElementById("detail");
  detail.replaceChildren(...present(
    el("h2", {}, id), renderMath(el("p", { class: "question" }, record.problem.question)),
    others.length ? el("p", {}, "Compare with ", compareSelect, " ",
      el("button", { id: "compare", onclick: () => compare(run, id, compareSelect.value === "all"
        ? others.map((r) => r.run) : [Number(compareSelect.value)]) }, "compare")) : null,
    el("div", { id: "single" }, rowView(record, null))));
}

// The same problem in this run and in `others` (other models, other attempts), one column each.
async function compare(run, id, others) {
  const runs = [run, ...others];
  const rows = await Promise.all(runs.map((index) => api("/api/record", { run: index, id })));
  const column = (row, index) => el("div", { class: "compare-column", "data-run": index },
    el("h3", {}, `run ${index}: ${state.stats[index].path}`),
    row.error ? el("p", {}, `no record for ${id} in this run`) : rowView(row, index));
  document.getElementById("single").replaceChildren(el("div", { class: "columns", id: "compare-view" },
    rows.map((row, i) => column(row, runs[i]))));
}

async function main() {
  for (const id of ["f-outcome", "f-attempt", "f-run", "f-action", "f-cut", "f-checkers"]) document.getElementById(id).addEventListener("change", refreshList);
  let timer = null;
  document.getElementById("f-q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refreshList, 200); });
  await refreshList();
  window.addEventListener("popstate", openFromLocation);
  await openFromLocation();
}

main();
