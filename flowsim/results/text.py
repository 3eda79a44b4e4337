"""A summary in words: what ``flowsim run`` prints and what a report's story says.

Everything here reads the summary dict alone (``Result.summary()``, either mode), so the
screen, the report and ``summary.json`` tell the same story. :func:`story` gives a few
plain sentences, :func:`blocks` the short tables (title, columns, rows, a note), and
:func:`print_summary` / :func:`print_warnings` put them on a rich console, readable at 80
columns and when piped. Figures a summary-only run leaves out are shown as ``-``.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

OUTCOME_WORDS = {"run": "became runs", "filtered": "filtered by if", "rate_limited": "rate limited",
                 "duplicate": "duplicates (idempotency)", "debounced": "debounced", "batched": "batched",
                 "singleton_skipped": "skipped (singleton)", "error": "expression errors",
                 "pending": "held at the horizon", "": "no outcome"}
STATUS_WORDS = {"completed": "completed", "failed": "failed", "cancelled": "cancelled", "skipped": "skipped",
                "pending": "pending at the horizon"}
LATENCY_WORDS = {"start_latency": "start latency", "queue_wait": "queue wait", "end_to_end_latency": "end to end"}
TOP_BINDING = 3


# -- words and numbers ------------------------------------------------------------------
def pct(x: float) -> str:
    """A share as a whole percentage, never rounded to 0% or 100% when it is not."""
    p = 100 * x
    if 0 < p < 1:
        return "<1%"
    if 99 < p < 100:
        return ">99%"
    return f"{p:.0f}%"


def num(v: Any) -> str:
    """A figure for a table: ints with thousands separators, floats to 3 significant
    digits (whole numbers from 100 on), ``-`` for a figure left out."""
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if v == 0:
        return "0"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def seconds(v: float | None) -> str:
    """A duration in seconds for a sentence: ``0.35 s``, ``677 s``, ``1,228 s``."""
    return "-" if v is None else f"{num(float(v))} s"


def constraint_words(name: str) -> str:
    """A binding constraint's name (``summary["binding"]``) in words."""
    if name == "peek_window":
        return "peek window (head-of-line)"
    if name == "account":
        return "account limit"
    if name.startswith("function:"):
        return f"function limit of {name[len('function:'):]}"
    if name.startswith("concurrency:"):
        return f"concurrency key {name[len('concurrency:'):]}"
    if name == "priority":
        return "priority (scored after now)"
    return name


def group_words(name: str, group: dict[str, Any], several: bool) -> str:
    """A key group's name (``summary["keys"]``) in words; ``several``: the scenario has
    several functions, so a function's own key says whose it is."""
    fns = group["functions"]
    for scope in ("account", "env"):
        prefix = f"concurrency:{scope}:"
        if name.startswith(prefix) and not (len(fns) == 1 and name.startswith(f"concurrency:{fns[0]}:")):
            return f"{scope} concurrency key {name[len(prefix):]}"
    if name.startswith(f"concurrency:{fns[0]}:"):
        words = f"concurrency key {name[len(f'concurrency:{fns[0]}:'):]}"
    else:
        label = {"rateLimit": "rate limit", "throttle": "throttle", "singleton": "singleton",
                 "idempotency": "idempotency", "dispatch": "dispatch"}.get(group["label"], group["label"])
        words = f"{label} key"
    return f"{words} of {fns[0]}" if several else words


def slot_words(name: str, summary: dict[str, Any]) -> str:
    """A concurrency constraint's name (``summary["concurrency"]``) in words."""
    if name == "account":
        return "account"
    if name.startswith("function:"):
        return f"function {name[len('function:'):]}"
    group = summary["keys"].get(name)
    if group is not None:
        return group_words(name, group, len(summary["functions"]) > 1)
    return name


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an s unless ``n`` is 1 (``1 run``, ``2,335 runs``)."""
    return f"{num(n)} {word}{'' if n == 1 else 's'}"


# -- the story ----------------------------------------------------------------------------
def story(summary: dict[str, Any]) -> list[str]:
    """A few plain sentences: what came in and what became of it, how long runs waited,
    what held them back, the busiest key, and the mechanisms' own figures."""
    out: list[str] = []
    outcomes = summary["outcomes"]
    rows = sum(outcomes.values())
    runs = summary["runs"]
    made = sum(runs.values()) - runs.get("skipped", 0)
    others = [f"{num(n)} {OUTCOME_WORDS.get(o, o)}" for o, n in outcomes.items() if n and o != "run"]
    line = f"{plural(rows, 'event')} came in"
    line += f" ({', '.join(others)})" if others else ""
    line += f"; {plural(made, 'run')}"
    ends = [f"{num(n)} {STATUS_WORDS.get(s, s)}" for s, n in runs.items() if n and s != "skipped"]
    out.append(line + (": " + ", ".join(ends) if ends else "") + ".")
    lat = summary["start_latency"]
    if lat["count"] and not lat["max"]:
        out.append("Every run started as soon as its event arrived.")
    elif lat["count"]:
        out.append(f"Runs started {seconds(lat['p50'])} after their event at the median, {seconds(lat['p99'])} "
                   f"at p99 (the longest {seconds(lat['max'])}).")
    binding = summary["binding"]
    if binding:
        top = sorted(binding, key=lambda n: (-binding[n]["total_delay"], n))[:TOP_BINDING]
        parts = [f"{constraint_words(n)} {pct(binding[n]['share'])}" for n in top]
        first = binding[top[0]]
        worst = f" ({first['worst_key']} waited most)" if first["worst_key"] else ""
        out.append(f"What held work back, by share of all waiting: {', '.join(parts)}{worst}.")
    else:
        out.append("No step waited for any constraint.")
    several = len(summary["functions"]) > 1
    for name, group in summary["keys"].items():
        b = group["busiest"]
        if group["keys"] < 2:
            continue
        slots = summary["concurrency"].get(name)
        use = ""
        if slots is not None and slots.get("busiest_key_mean") is not None:
            use = (f", {num(slots['busiest_key_mean'])} of its {slots['limit']} slot"
                   f"{'' if slots['limit'] == 1 else 's'} in use on average")
        p99 = f", p99 start latency {seconds(b['start_latency_p99'])}" if b["start_latency_p99"] is not None else ""
        line = (f"Busiest of {num(group['keys'])} values of the {group_words(name, group, several)}: {b['key']} "
                f"({plural(b['runs'], 'run')}{p99}{use})")
        w = group["worst"]
        if w is not None and w["key"] != b["key"]:
            line += f"; worst: {w['key']} ({plural(w['runs'], 'run')}, p99 {seconds(w['start_latency_p99'])})"
        elif w is not None:
            line += ", also the worst"
        out.append(line + ".")
    throttle = summary["throttle_delay"]
    if throttle["count"]:
        out.append(f"The throttle delayed {num(throttle['count'])} steps: mean {seconds(throttle['mean'])}, "
                   f"p99 {seconds(throttle['p99'])}.")
    for fn_id, b in summary["batching"].items():
        if b["batches"]:
            size = b["size"]
            out.append(f"{fn_id} ran {num(b['batches'])} batches of {num(b['events'])} events (median size "
                       f"{num(size['p50'])}, largest {num(size['max'])}): {num(b['full'])} closed full at "
                       f"{b['max_size']} events, {num(b['on_timeout'])} on the {num(b['timeout'])} s timeout.")
    for fn_id, d in summary["debounce"].items():
        per = f" ({num(d['events_per_run'])} events per run)" if d["events_per_run"] is not None else ""
        out.append(f"{fn_id}'s debounce turned {num(d['events'])} events into {num(d['runs'])} runs{per}.")
    out += _mechanism_sentences(summary.get("mechanisms") or {})
    cancelled = {r: n for r, n in summary["cancel_reasons"].items() if n}
    if cancelled:
        out.append("Cancelled runs: " + ", ".join(f"{num(n)} by {r.replace('_', ' ') or 'cancel'}"
                                                  for r, n in sorted(cancelled.items(), key=lambda kv: -kv[1]))
                   + ".")
    return out


def _mechanism_sentences(mechanisms: dict[str, Any]) -> list[str]:
    """The plan's figures: bursty concurrency's ledger and the queue depth against the plan's."""
    out = []
    burst = mechanisms.get("burst")
    if burst is not None:
        base, ceiling = burst["account_limit"], burst["burst_limit"]
        if not burst["minutes_spent"]:
            out.append(f"Bursty concurrency was not needed: no more than {num(base)} steps (the account limit) "
                       "executed at once.")
        else:
            line = (f"Bursty concurrency: more than the account limit of {num(base)} steps executed (up to "
                    f"{num(burst['peak_in_use'])}, ceiling {num(ceiling)}) in {plural(burst['minutes_spent'], 'clock minute')}; "
                    f"{plural(burst['runs_started_by_burst'], 'run')} started only thanks to the burst")
            if burst["ran_out"]:
                line += (f". The allowance of {num(burst['allowance_minutes'])} minutes ran out at "
                         f"{seconds(burst['ran_out_at'])}, and the limit was back to {num(base)} from "
                         f"{seconds(burst['limit_back_to_base_at'])}")
            else:
                line += f"; {num(burst['minutes_left'])} of the month's {num(burst['allowance_minutes'])} minutes are left"
            out.append(line + ". Without it (--set account.burst=false) these starts would have waited.")
    depth = mechanisms.get("queue_depth")
    if depth is not None and depth["exceeded"]:
        out.append(f"The queue held {num(depth['peak'])} waiting items at its peak, past the plan's queue depth of "
                   f"{num(depth['limit'])} (first at {seconds(depth['first_exceeded_at'])}); Inngest does not "
                   "publish what happens then, so flowsim kept queueing.")
    return out


# -- the tables ---------------------------------------------------------------------------
@dataclass
class Block:
    """A short table: its kind, title, column names (the first left-aligned, the rest right), rows
    of text, and a note printed under it."""

    kind: str           # outcomes, latency, binding, keys, slots, drops
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def blocks(summary: dict[str, Any]) -> list[Block]:
    """The tables of a summary, each only when it has something to show."""
    out = [_outcomes(summary), _latency(summary)]
    for make in (_binding, _keys, _slots, _drops):
        block = make(summary)
        if block.rows:
            out.append(block)
    return out


def _outcomes(summary: dict[str, Any]) -> Block:
    block = Block("outcomes", "Events and runs", ["event outcome", "events", "run status", "runs"])
    outcomes = [(OUTCOME_WORDS.get(k, k), num(v)) for k, v in summary["outcomes"].items() if v]
    statuses = [(STATUS_WORDS.get(k, k), num(v)) for k, v in summary["runs"].items() if v]
    for i in range(max(len(outcomes), len(statuses))):
        o = outcomes[i] if i < len(outcomes) else ("", "")
        s = statuses[i] if i < len(statuses) else ("", "")
        block.rows.append([o[0], o[1], s[0], s[1]])
    return block


def _latency(summary: dict[str, Any]) -> Block:
    block = Block("latency", "Latency (seconds)", ["latency", "count", "mean", "p50", "p90", "p99", "max"])
    for name, words in LATENCY_WORDS.items():
        d = summary[name]
        block.rows.append([words, *(num(d[k]) for k in ("count", "mean", "p50", "p90", "p99", "max"))])
    block.note = ("start latency: event arrival to the run's first step start; queue wait: per step attempt; "
                  "end to end: arrival to the end of a completed run.")
    return block


def _binding(summary: dict[str, Any]) -> Block:
    block = Block("binding", "What held work back", ["constraint", "share", "items", "mean wait", "worst key"])
    binding = summary["binding"]
    for name in sorted(binding, key=lambda n: (-binding[n]["total_delay"], n))[:TOP_BINDING]:
        r = binding[name]
        block.rows.append([constraint_words(name), pct(r["share"]), num(r["items"]), seconds(r["mean_delay"]),
                           r["worst_key"] or "-"])
    if len(binding) > TOP_BINDING:
        block.note = f"top {TOP_BINDING} of {len(binding)} by total delay; all in summary.json (binding)."
    return block


def _keys(summary: dict[str, Any]) -> Block:
    block = Block("keys", "Keys: the busiest value (most runs) and the worst (highest p99 start latency)",
                  ["key", "value", "runs", "p99 start"])
    several = len(summary["functions"]) > 1
    for name, group in summary["keys"].items():
        n = group["keys"]
        block.rows.append([f"{group_words(name, group, several)} ({num(n)} value{'s' if n != 1 else ''})",
                           "", "", ""])
        same = n == 1 or (group["worst"] is not None and group["worst"]["key"] == group["busiest"]["key"])
        for which in ("busiest",) if same else ("busiest", "worst"):
            k = group[which]
            label = "  only value" if n == 1 else "  busiest and worst" if same else f"  {which}"
            if k is None:
                block.rows.append([label, "-", "-", "-"])
            else:
                block.rows.append([label, k["key"], num(k["runs"]), seconds(k["start_latency_p99"])])
    return block


def _slots(summary: dict[str, Any]) -> Block:
    block = Block("slots", "Concurrency slots", ["constraint", "limit", "peak", "mean in use"])
    keyed = False
    for name, d in summary["concurrency"].items():
        if "busiest_key" in d:
            keyed = True
            key = d["busiest_key"]
            block.rows.append([f"{slot_words(name, summary)}, busiest key {key if key is not None else '-'}",
                               f"{d['limit']} per key", num(d["peak"]), num(d["busiest_key_mean"])])
        else:
            limit = num(d["limit"])
            burst = (summary.get("mechanisms") or {}).get("burst")
            if name == "account" and burst is not None:
                limit += f" (burst {num(burst['burst_limit'])})"
            block.rows.append([slot_words(name, summary), limit, num(d["peak"]), num(d["mean"])])
    if keyed:
        block.note = ("For a keyed limit (one limit per key value), peak is the most any one key held and mean "
                      "is the busiest key's; all_keys_mean in summary.json is all keys together.")
    return block


def _drops(summary: dict[str, Any]) -> Block:
    block = Block("drops", "Dropped events", ["outcome", "function", "events", "keys", "most dropped"])
    for d in summary["drops"]:
        top = ", ".join(f"{t['key']} {num(t['events'])}" for t in d["top"][:3]) or "-"
        block.rows.append([OUTCOME_WORDS.get(d["outcome"], d["outcome"]), d["function"], num(d["events"]),
                           num(d["keys"]), top])
    return block


# -- on a console -------------------------------------------------------------------------
def _table(block: Block) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for i, column in enumerate(block.columns):
        table.add_column(column, justify="left" if i == 0 or column in ("value", "worst key", "most dropped",
                                                                        "run status", "function") else "right",
                         overflow="fold")
    for row in block.rows:
        table.add_row(*row)
    return table


def span_words(s: float) -> str:
    """A horizon in words: ``90 s``, ``30 min``, ``1 h``, ``1.5 h``, ``2 days``."""
    if s < 120:
        return f"{s:g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    if s < 172800:
        return f"{s / 3600:.3g} h"
    return f"{s / 86400:.3g} days"


def _say(console: Console, text: str, indent: int = 2, style: str = "", lead: str = "") -> None:
    """Print ``text`` wrapped at the console's width on whole words, indented, without the
    trailing padding a rich renderable would add (``lead``: a bold start, e.g. a code)."""
    lines = textwrap.wrap(lead + text, width=max(console.width - 1, 20), initial_indent=" " * indent,
                          subsequent_indent=" " * indent, break_long_words=False, break_on_hyphens=False)
    for i, line in enumerate(lines):
        out = Text(line, style=style)
        if i == 0 and lead:
            out.stylize("bold", indent, indent + len(lead))
        console.print(out, soft_wrap=True)


def print_summary(summary: dict[str, Any], console: Console) -> None:
    """What a run prints: a header line, the story, the tables."""
    warm = f" (the first {span_words(summary['warmup'])} excluded)" if summary["warmup"] else ""
    console.print(Text.assemble((summary["scenario"], "bold"), f": seed {summary['seed']}, "
                                f"{span_words(summary['horizon'])} simulated{warm}"))
    console.print()
    for sentence in story(summary):
        _say(console, sentence)
    for block in blocks(summary):
        console.print()
        console.print(Text(block.title, style="bold"))
        console.print(_table(block))
        if block.note:
            _say(console, block.note, style="dim")
    if "summary_only" in summary:
        console.print()
        _say(console, "Summary-only run: percentiles are within 0.5%; peaks, time at the limit, per-key p99s "
             "and the worst keys are left out (-).", 0, "dim")


def print_warnings(summary: dict[str, Any], console: Console) -> None:
    """The summary's warnings, each with what it means and what to try (nothing if none)."""
    found = summary.get("warnings") or []
    if not found:
        return
    console.print()
    console.print(Text(f"Warnings ({len(found)})", style="bold yellow"))
    for w in found:
        console.print()
        _say(console, w["message"], lead=w["code"] + ": ")
        _say(console, "What it means: " + w["means"], 4)
        _say(console, "Try: " + w["try"], 4)
