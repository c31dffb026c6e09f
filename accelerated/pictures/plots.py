"""The jobs' plots (matplotlib): loss curves per training stage, metrics against the guidance weight or the number of
sampling steps with their standard errors, NLL bars, and 2-D sample scatter panels with axes.

Every function writes one PNG and returns nothing; `accelerated.pictures.grids.figure` makes the Figure (object API,
no pyplot state).
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np

from genspec.accelerated.pictures.grids import figure

SMOKE_NOTE = "tiny preset: a smoke test; these pictures mean nothing"


def _smoke(fig, smoke: bool) -> None:
    if smoke:
        fig.text(0.5, 0.5, SMOKE_NOTE, ha="center", va="center", fontsize=11, color="red", alpha=0.5, rotation=20)


def _as_floats(values) -> np.ndarray:
    return np.array([float(v) for v in values], dtype=np.float64)


def loss_curve(path: str, curves: Mapping[str, Sequence[float]], title: str, xlabel: str = "step",
               smoke: bool = False, log_scale: bool = True, panels: bool = False) -> None:
    """One training stage's losses against the step: each curve raw (thin) and its moving average over ~2 % of the
    steps (bold); log y where every value is positive. panels: a panel per curve (terms of different scales, e.g.
    reconstruction, KL and adversarial), else all in one (rounds of one loss)."""
    if panels and len(curves) > 1:
        fig = figure(6.4, 0.4 + 2.2 * len(curves))
        axes = list(fig.subplots(len(curves), 1, sharex=True, squeeze=False)[:, 0])
    else:
        fig = figure(6.4, 3.6)
        axes = [fig.add_subplot()] * max(len(curves), 1)
    positive = True
    for k, ((name, values), ax) in enumerate(zip(curves.items(), axes, strict=False)):
        y = _as_floats(values)
        if y.size == 0:
            continue
        if panels and len(curves) > 1:
            if log_scale and (y > 0).all():
                ax.set_yscale("log")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        positive &= bool((y > 0).all())
        x = np.arange(1, y.size + 1)
        color = f"C{k}"
        ax.plot(x, y, color=color, alpha=0.25, linewidth=0.7)
        win = max(1, y.size // 50)
        if win > 1:
            smooth = np.convolve(y, np.ones(win) / win, mode="valid")
            ax.plot(x[win - 1:], smooth, color=color, linewidth=1.6, label=f"{name} (mean of {win})")
        else:
            ax.plot(x, y, color=color, linewidth=1.6, label=name)
    if panels and len(curves) > 1:
        axes[-1].set_xlabel(xlabel)
        fig.suptitle(title, fontsize=10)
        for ax in axes:
            ax.legend(fontsize=7)
    else:
        ax = axes[0]
        if positive and log_scale:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _smoke(fig, smoke)
    fig.savefig(path)


def versus(path: str, x: Sequence[float], series: Mapping[str, tuple[Sequence[float], Sequence[float] | None]],
           title: str, xlabel: str, ylabel: str, lines: Mapping[str, float] | None = None, smoke: bool = False,
           log_x: bool = False, ylim: tuple[float, float] | None = None) -> None:
    """Metrics against a swept setting: each series (values, standard errors or None) as a line with error bars;
    `lines` as dashed horizontal references (a ceiling)."""
    fig = figure(6.0, 3.8)
    ax = fig.add_subplot()
    xs = _as_floats(x)
    for k, (name, (y, err)) in enumerate(series.items()):
        ax.errorbar(xs, _as_floats(y), yerr=None if err is None else _as_floats(err), marker="o", capsize=3,
                    color=f"C{k}", label=name)
    for k, (name, v) in enumerate((lines or {}).items()):
        ax.axhline(float(v), linestyle="--", color=f"C{k + len(series)}", alpha=0.8, label=name)
    if log_x:
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
    else:
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _smoke(fig, smoke)
    fig.savefig(path)


def panels_versus(path: str, x: Sequence[float], panels: Mapping[str, Mapping[str, Sequence[float]]], title: str,
                  xlabel: str, smoke: bool = False, log_x: bool = True,
                  log_y: Sequence[str] = ()) -> None:
    """Side-by-side panels (one per metric, its name the y label), each with a line per method against x."""
    fig = figure(max(4.0 * len(panels), 0.075 * len(title) + 0.6), 3.6 if len(panels) > 1 else 4.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    xs = _as_floats(x)
    for ax, (metric, lines) in zip(axes, panels.items(), strict=True):
        for k, (name, y) in enumerate(lines.items()):
            ax.plot(xs[:len(y)], _as_floats(y), marker="o", color=f"C{k}", label=name)
        if log_x:
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
        if metric in log_y:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _smoke(fig, smoke)
    fig.savefig(path)


def bars(path: str, values: Mapping[str, float], title: str, ylabel: str, smoke: bool = False,
         note: str = "") -> None:
    """One bar per named value, the value written on it."""
    fig = figure(6.4, 4.0)
    ax = fig.add_subplot()
    names = list(values)
    ys = _as_floats(values.values())
    rects = ax.bar(range(len(names)), ys, color=[f"C{k}" for k in range(len(names))])
    ax.bar_label(rects, labels=[f"{v:.2f}" for v in ys], fontsize=8)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if note:
        ax.set_xlabel(textwrap.fill(note, 80), fontsize=8)
    _smoke(fig, smoke)
    fig.savefig(path)


def scatter_panels(path: str, rows: Sequence[Sequence[tuple[np.ndarray, str]]], title: str, extent: float = 3.5,
                   smoke: bool = False) -> None:
    """2-D point sets as scatter panels with axes on [−extent, extent]², one figure row per `rows` entry, each
    panel titled."""
    ncols = max(len(r) for r in rows)
    fig = figure(2.6 * ncols, 2.5 * len(rows) + 0.4)
    axes = fig.subplots(len(rows), ncols, squeeze=False, sharex=True, sharey=True)
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i][j]
            if j >= len(row):
                ax.set_visible(False)
                continue
            pts, name = row[j]
            pts = np.asarray(pts, dtype=np.float64)
            ax.scatter(pts[:, 0], pts[:, 1], s=1.5, alpha=0.5, color=f"C{i}", linewidths=0)
            ax.set_xlim(-extent, extent)
            ax.set_ylim(-extent, extent)
            ax.set_aspect("equal")
            ax.set_title(name, fontsize=9)
            ax.grid(alpha=0.3)
            if i == len(rows) - 1:
                ax.set_xlabel("x₁")
            if j == 0:
                ax.set_ylabel("x₂")
    fig.suptitle(title, fontsize=10)
    _smoke(fig, smoke)
    fig.savefig(path)


def binomial_se(p: float, n: int) -> float:
    """Standard error sqrt(p(1 − p)/n) of a proportion p measured on n samples."""
    return math.sqrt(max(p * (1 - p), 0.0) / max(n, 1))
