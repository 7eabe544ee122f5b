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
const reasonWords = (reason) => REASON_WORDS[reason] ?? String(reason).replaceAll("_", " ");
// {"terminated": 2, "max_turns": 1} -> "terminated by the critic: 2, max turns: 1"
const countWords = (counts) => Object.entries(counts).map(([reason, n]) => `${reasonWords(reason)}: ${n}`).join(", ") || "none";
// Children for replaceChildren/append, which (unlike el) would print a null as the text "null".
const present = (...nodes) => nodes.filter((node) => node !== null && node !== undefined);

function el(tag, attrs = {}, ...children) {
  const node = tag === "svg" || ["g", "line", "circle", "text", "title"].includes(tag)
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
  };
}

async function refreshList() {
  // The header too: a run that is still being written may have grown since the last look.
  const [stats, data] = await Promise.all([api("/api/stats"), api("/api/problems", filters())]);
  state.stats = stats;
  renderStats();
  const attempts = [...new Set(state.stats.flatMap((run) => run.attempts))];
  fillSelect(document.getElementById("f-outcome"), ["correct", "incorrect", "no_answer"], data.counts.outcome);
  fillSelect(document.getElementById("f-attempt"), attempts, data.counts.attempt);
  fillSelect(document.getElementById("f-run"), state.stats.map((run) => String(run.run)), data.counts.run,
    Object.fromEntries(state.stats.map((run) => [String(run.run), run.path])));
  fillSelect(document.getElementById("f-action"), ["backtrack", "reflect"], data.counts.action);
  fillSelect(document.getElementById("f-cut"), ["yes", "no"], data.counts.cut);
  document.getElementById("total").textContent = `${data.total} problems`;
  const list = document.getElementById("problems");
  list.replaceChildren(...data.problems.map((p) => el("li", {},
    el("button", { "data-run": p.run, "data-id": p.id, class: "problem", onclick: () => openProblem(p.run, p.id) },
      el("span", { class: `dot ${p.outcome}` }), `${p.id}`, el("br"),
      el("small", {}, p.kind === "samples"
        ? `${p.model} · run ${p.run} · ${p.correct_samples}/${p.samples} correct${p.cut ? " · cut" : ""}`
        : `${p.attempt} · run ${p.run} · ${reasonWords(p.stop_reason)}`)))));
}

function renderStats() {
  const header = document.getElementById("stats");
  header.replaceChildren(...state.stats.map((run) => el("span", { class: "run" },
    el("b", {}, `run ${run.run}`), ` ${run.path}`, run.kind === "samples" ? ` (${run.attempts.join(", ")}: ${run.models.join(", ")})` : "",
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
  const x = (id) => 20 + depth.get(id) * 90, y = (id) => 20 + rows.get(id) * 28;
  // Extra width on the right for the last level's labels.
  const svg = el("svg", { width: 120 + Math.max(...depth.values()) * 90, height: 40 + nextRow * 28, id: "tree-svg" });
  for (const node of nodes) {
    if (node.parent === null) continue;
    const cls = onPath.has(node.id) && onPath.has(node.parent) ? "edge shortcut" : "edge";
    svg.append(el("line", { class: cls, x1: x(node.parent), y1: y(node.parent), x2: x(node.id), y2: y(node.id) }));
  }
  for (const node of nodes) {
    const label = node.score === null || node.score === undefined ? (node.action ?? "") : node.score.toFixed(2);
    const circle = el("circle", { class: "node", r: 8, cx: x(node.id), cy: y(node.id), fill: nodeColour(node),
      "data-node": node.id, onclick: () => onSelect(node.id) },
      el("title", {}, node.step ? node.step.text : "problem"));
    svg.append(circle, el("text", { x: x(node.id) + 10, y: y(node.id) - 8 }, `${node.id} ${label}`));
  }
  return svg;
}

function selectNode(record, id, panel) {
  const node = record.tree.nodes[id];
  document.querySelectorAll("#tree-svg .node").forEach((c) => c.classList.toggle("selected", Number(c.dataset.node) === id));
  const verdict = node.verdict || {};
  panel.replaceChildren(...present(
    el("b", {}, `node ${node.id} · ${node.kind}${node.action ? " · " + node.action : ""}`
      + `${node.score !== null && node.score !== undefined ? " · score " + node.score.toFixed(3) : ""}`
      + `${node.correct === null || node.correct === undefined ? "" : node.correct ? " · correct" : " · wrong"}`),
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

function thoughtView(record, onSelect) {
  const steps = record.tree.nodes.filter((n) => n.step && n.step.text.trim().length > 3);
  return renderMath(el("div", { class: "thought" }, record.long_thought.split(/\n\s*\n/).map((paragraph) => {
    const node = steps.find((n) => paragraph.includes(n.step.text.trim()));
    return el("p", node ? { class: "linked", "data-node": node.id, onclick: () => onSelect(node.id) } : {},
      ...highlighted(paragraph));
  })));
}

function recordView(record, runIndex) {
  const nodePanel = el("div", { class: "node-detail", id: runIndex === null ? "node" : `node-${runIndex}` }, "Click a node.");
  const onSelect = (id) => selectNode(record, id, nodePanel);
  const ok = record.correct === true;
  return el("div", { class: "record" },
    el("p", {}, `${record.attempt} · stop: ${reasonWords(record.stop_reason)} · `,
      el("span", { class: `answer ${ok ? "ok" : "bad"}` }, "answer ", answerView(record.final_answer)),
      " vs gold ", answerView(record.problem.answer, "unknown")),
    drawTree(record, onSelect), nodePanel,
    el("h3", {}, "Long thought"), thoughtView(record, onSelect),
    el("h3", {}, "Shortcut"), renderMath(el("pre", { class: "shortcut" }, record.shortcut ?? "(no correct path)")),
    el("h3", {}, "Turns"), renderMath(el("div", { class: "turns" }, record.turns.map((turn) => el("div", {
      class: `turn ${turn.role}`, onclick: () => turn.node_id !== null && onSelect(turn.node_id) },
      el("span", { class: "badge" }, `${turn.role}${turn.action ? " · " + turn.action : ""}`
        + `${turn.finish_reason === "length" ? " · cut at the token cap" : ""}`), turn.content)))));
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
  return el("div", { class: "samples" },
    el("p", {}, `${row.model} · ${correct}/${row.samples.length} samples correct · gold `,
      answerView(row.problem.answer, "unknown"), row.samples.length > 1 ? el("span", {}, " · show ", show) : null),
    cards);
}

function rowView(row, runIndex) {
  return row.kind === "samples" ? samplesView(row) : recordView(row, runIndex);
}

async function openProblem(run, id) {
  document.querySelectorAll("button.problem").forEach((b) =>
    b.classList.toggle("active", b.dataset.run === String(run) && b.dataset.id === id));
  const record = await api("/api/record", { run, id });
  state.current = { run, id };
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
  for (const id of ["f-outcome", "f-attempt", "f-run", "f-action", "f-cut"]) document.getElementById(id).addEventListener("change", refreshList);
  let timer = null;
  document.getElementById("f-q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refreshList, 200); });
  await refreshList();
}

main();
