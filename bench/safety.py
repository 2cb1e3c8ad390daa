"""`python -m bench safety`: the crisis detector and the built-in moderator measured on
tests/data/safety (written apart from them; see its README), on the part they were
tuned on and on the held-out part, with what a message costs to check."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bot.safety.crisis import detect_crisis
from bot.safety.topics import moderation_categories

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "safety"

# The dataset's categories, and the built-in moderator's categories that answer for each.
CATEGORY_MAP: dict[str, frozenset[str]] = {
    "violence": frozenset({"violence", "illicit/violent"}),
    "drugs": frozenset({"illicit"}),
    "self-harm-instructions": frozenset({"self-harm/instructions"}),
    "sexual-minors": frozenset({"sexual/minors"}),
    "hate": frozenset({"hate"}),
}


def rows(name: str) -> list[dict[str, str]]:
    """The rows of one dataset file."""
    with (DATA / name).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _rates(pairs: Iterable[tuple[bool, bool]]) -> dict[str, float | int]:
    """Recall and false-positive rate of (expected, found) pairs."""
    tp = fn = fp = tn = 0
    for expected, found in pairs:
        tp += expected and found
        fn += expected and not found
        fp += found and not expected
        tn += not expected and not found
    return {"recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
            "false_positive_rate": round(fp / (fp + tn), 3) if fp + tn else 0.0,
            "positives": tp + fn, "negatives": fp + tn}


def _crisis(part: list[dict[str, str]]) -> dict[str, Any]:
    found = [(r["label"] == "crisis", detect_crisis(r["text"], r["lang"]) is not None)
             for r in part]
    figures: dict[str, Any] = {"overall": _rates(found)}
    for lang in ("en", "fr"):
        figures[lang] = _rates(f for f, r in zip(found, part, strict=True) if r["lang"] == lang)
    for kind in ("helping-a-friend", "aimed-at-other"):  # reported apart (see README)
        flagged = [f[1] for f, r in zip(found, part, strict=True) if r["kind"] == kind]
        figures[f"flagged_{kind}"] = f"{sum(flagged)}/{len(flagged)}"
    return figures


def _moderation(part: list[dict[str, str]]) -> dict[str, Any]:
    # A hard negative is a false positive whatever category flags it: it is refused.
    found = [(r["label"] == "flagged",
              bool(moderation_categories(r["text"]) if r["label"] == "none" else
                   moderation_categories(r["text"]) & CATEGORY_MAP[r["category"]]))
             for r in part]
    figures: dict[str, Any] = {"overall": _rates(found)}

    def where(keep: Callable[[dict[str, str]], bool]) -> dict[str, float | int]:
        return _rates(f for f, r in zip(found, part, strict=True) if keep(r))

    for lang in ("en", "fr"):
        figures[lang] = where(lambda r, lang=lang: r["lang"] == lang)  # type: ignore[misc]
    for category in CATEGORY_MAP:
        for side in ("input", "output"):
            figures[f"{category}/{side}"] = where(
                lambda r, c=category, s=side: r["category"] == c and r["side"] == s)  # type: ignore[misc]
    return figures


def _cost_ms(texts: list[str]) -> dict[str, float]:
    """What checking one message costs (crisis, then moderation), per message."""
    costs = []
    for text in texts:
        start = time.perf_counter()
        detect_crisis(text)
        moderation_categories(text)
        costs.append((time.perf_counter() - start) * 1000)
    ordered = sorted(costs)
    return {"p50": round(statistics.median(costs), 3),
            "p99": round(ordered[int(len(ordered) * 0.99) - 1], 3)}


def run() -> dict[str, Any]:
    """Every figure, by split; the headline keys are the held-out part's."""
    crisis, moderation = rows("crisis.jsonl"), rows("moderation.jsonl")
    figures: dict[str, Any] = {}
    for split in ("tune", "heldout"):
        c = _crisis([r for r in crisis if r["split"] == split])
        m = _moderation([r for r in moderation if r["split"] == split])
        figures[split] = {"crisis": c, "moderation": m}
    held = figures["heldout"]
    figures.update({
        "crisis_recall": held["crisis"]["overall"]["recall"],
        "crisis_false_positive_rate": held["crisis"]["overall"]["false_positive_rate"],
        "moderation_recall": held["moderation"]["overall"]["recall"],
        "moderation_false_positive_rate": held["moderation"]["overall"]["false_positive_rate"],
        "detector": "builtin patterns (normalize + intent patterns), no download",
        "cost_ms_per_message": _cost_ms([r["text"] for r in crisis + moderation] * 3),
    })
    return figures


def table(figures: dict[str, Any]) -> str:
    """The figures as a table: recall / false-positive rate, per split."""
    lines = [f"{'':<32}{'tune':>16}{'heldout':>16}"]
    for kind in ("crisis", "moderation"):
        for key in figures["tune"][kind]:
            cells = []
            for split in ("tune", "heldout"):
                value = figures[split][kind][key]
                cells.append(value if isinstance(value, str) else
                             f"{value['recall']:.3f} / {value['false_positive_rate']:.3f}")
            lines.append(f"{kind + ' ' + key:<32}{cells[0]:>16}{cells[1]:>16}")
    cost = figures["cost_ms_per_message"]
    lines.append(f"(recall / false-positive rate)  cost per message: p50 {cost['p50']} ms, "
                 f"p99 {cost['p99']} ms")
    return "\n".join(lines)
