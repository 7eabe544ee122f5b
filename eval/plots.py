"""The report's figures (matplotlib, Agg): distributions per attempt rather than one bar of means, and accuracy per
model stage with its 95% interval."""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

from eval.run_cards import STAGE_LABELS

COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
FEW_POINTS = 60  # up to this many thoughts per attempt, every one is drawn over its box
TITLES = {
    "tokens_per_thought": "tokens per long thought",
    "backtracks_per_thought": "backtracks per long thought",
    "reflection_keywords": "reflection keywords per 1k tokens: written by the model vs by our templates",
    "accuracy": "accuracy by model stage (95% Wilson interval)",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _readable(axis, decimals: int = 0) -> None:
    from matplotlib.ticker import StrMethodFormatter

    # 2,240 rather than 2.24e+03.
    axis.yaxis.set_major_formatter(StrMethodFormatter(f"{{x:,.{decimals}f}}"))
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="y", alpha=0.3)


def _boxes(axis, groups: list[list[float]], positions: list[float], colours: list[str], width: float = 0.6) -> None:
    import numpy as np

    parts = axis.boxplot(groups, positions=positions, widths=width, patch_artist=True, showfliers=False,
                         medianprops={"color": "black"})
    for patch, colour in zip(parts["boxes"], colours):
        patch.set(facecolor=colour, alpha=0.35)
    rng = np.random.default_rng(0)  # the same jitter every time: the figure is reproducible
    for values, position, colour in zip(groups, positions, colours):
        if len(values) <= FEW_POINTS:
            axis.scatter(position + rng.uniform(-width / 4, width / 4, len(values)), values, s=14, color=colour,
                         alpha=0.8, zorder=3, linewidths=0)


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path)
    _pyplot().close(figure)
    return path


def _distribution(values: dict[str, dict[str, list[float]]], measure: str, name: str, out: Path, unit: str,
                  decimals: int = 0) -> Path:
    plt = _pyplot()
    attempts = list(values)
    figure, axis = plt.subplots(figsize=(7, 3.6), dpi=110)
    groups = [values[attempt][measure] for attempt in attempts]
    _boxes(axis, groups, list(range(len(attempts))), [COLOURS[i % len(COLOURS)] for i in range(len(attempts))])
    axis.set_xticks(range(len(attempts)), [f"{a}\n(n = {len(g):,})" for a, g in zip(attempts, groups)])
    for position, group in enumerate(groups):
        if group:
            middle = median(group)
            # Beside the box, not on it: the points drawn over the box would hide it.
            axis.annotate(f"median {middle:,.{decimals}f}", (position + 0.3, middle), xytext=(4, 0),
                          textcoords="offset points", fontsize=8, va="center")
    axis.set_title(TITLES[name])
    axis.set_ylabel(unit)
    if measure == "backtracks":
        from matplotlib.ticker import MaxNLocator

        axis.yaxis.set_major_locator(MaxNLocator(integer=True))  # a thought has 0, 1, 2 ... backtracks
    axis.set_xlim(-0.6, len(attempts) - 0.1)  # room for the last median's label
    _readable(axis, 0 if measure == "backtracks" else decimals)
    return _save(figure, out / f"{name}.png")


def _reflection(values: dict[str, dict[str, list[float]]], out: Path) -> Path:
    plt = _pyplot()
    attempts = list(values)
    figure, axis = plt.subplots(figsize=(7, 3.6), dpi=110)
    for offset, which, colour in ((-0.2, "model", COLOURS[0]), (0.2, "template", COLOURS[1])):
        groups = [values[attempt][f"reflection_{which}_per_1k"] for attempt in attempts]
        _boxes(axis, groups, [i + offset for i in range(len(attempts))], [colour] * len(attempts), width=0.35)
        axis.plot([], [], color=colour, linewidth=8, alpha=0.5, label=f"written by the {which}" if which == "model"
                  else "inserted by our templates")
    axis.set_xticks(range(len(attempts)), attempts)
    axis.set_ylabel("keywords per 1k tokens")
    axis.legend(frameon=False, fontsize=8)
    axis.set_title(TITLES["reflection_keywords"], fontsize=10)
    _readable(axis, 1)
    return _save(figure, out / "reflection_keywords.png")


def _accuracy(rows: list[dict[str, Any]], out: Path) -> Path:
    plt = _pyplot()
    rows = [row for row in rows if row["accuracy"] is not None]
    figure, axis = plt.subplots(figsize=(7, 0.9 + 0.45 * len(rows)), dpi=110)
    for position, row in enumerate(rows):
        accuracy, low, high = (100 * row[key] for key in ("accuracy", "ci_low", "ci_high"))
        axis.errorbar(accuracy, position, xerr=[[accuracy - low], [high - accuracy]], fmt="o", capsize=4,
                      color=COLOURS[position % len(COLOURS)])
        axis.annotate(f"{accuracy:.1f}%  [{low:.1f}, {high:.1f}]", (high, position), xytext=(6, 0),
                      textcoords="offset points", fontsize=8, va="center")
    labels = [f"{STAGE_LABELS[row['stage']]}" + (f": {row['model']}" if row["stage"] == "base/other" else "")
              + f"\n{row['problem_set']}, n = {row['problems']:,}" for row in rows]
    axis.set_yticks(range(len(rows)), labels, fontsize=8)
    axis.invert_yaxis()  # the recipe's order, top to bottom
    axis.set_xlim(0, 105)
    axis.set_xlabel("accuracy (%)")
    axis.set_title(TITLES["accuracy"], fontsize=10)
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(axis="x", alpha=0.3)
    return _save(figure, out / "accuracy.png")


def plot_all(values: dict[str, dict[str, list[float]]], accuracy: list[dict[str, Any]], out: Path) -> list[Path]:
    """Every figure there is data for, as PNGs in `out`."""
    files = []
    if values:
        files.append(_distribution(values, "tokens", "tokens_per_thought", out, "tokens (cl100k)"))
        files.append(_distribution(values, "backtracks", "backtracks_per_thought", out, "backtracks", decimals=1))
        files.append(_reflection(values, out))
    if any(row["accuracy"] is not None for row in accuracy):
        files.append(_accuracy(accuracy, out))
    return files
