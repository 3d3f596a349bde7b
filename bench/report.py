"""The benchmark's machine description, summary (median, min, max), targets and tables."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["machine", "summarise", "tables", "TARGETS"]

PACKAGES = (
    "streamlit",
    "pandas",
    "numpy",
    "duckdb",
    "pingouin",
    "scipy",
    "plotly",
    "gspread",
    "pyarrow",
)
STEPS = ["ingest", "hash", "load", "compute", "other", "total", "cpu"]
# (what, size, limit, unit): issue 7's targets on a 2-core machine.
TARGETS = [
    ("refresh", "S", 0.5, "s"),
    ("refresh", "L", 5.0, "s"),
    ("peak_rss", "L", 1536.0, "MB"),
    ("page_rerun", "S", 0.1, "s"),
    ("page_rerun", "L", 0.3, "s"),
    ("cold_start", "S", 3.0, "s"),
    ("cold_start", "L", 3.0, "s"),
]


def machine() -> dict[str, Any]:
    """CPU count and model, RAM, OS, Python and library versions."""
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    ram = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = next(
            int(line.split()[1])
            for line in meminfo.read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = round(kb / 2**20, 1)
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "ram_gb": ram,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
    }


def _spread(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def _side(s: dict[str, Any]) -> dict[str, Any]:
    ours = {k: statistics.median(r[k] for r in s["ours_seconds"]) for k in s["ours_seconds"][0]}
    base = {
        k: statistics.median(r[k] for r in s["baseline_seconds"]) for k in s["baseline_seconds"][0]
    }
    parts = [k for k in ours if k in base and k != "total"]
    ours["total"], base["total"] = sum(ours[k] for k in parts), sum(base[k] for k in parts)
    return {
        "ours": ours,
        "baseline": base,
        "ratio": {k: ours[k] / base[k] for k in [*parts, "total"] if base[k]},
        "equal": all(c["equal"] for c in s["checks"].values()),
    }


def _size_summary(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "refresh": {k: _spread([r["steps"][k] for r in d["refresh"]]) for k in STEPS}
    }
    if "memory" in d:
        out["peak_rss_mb"] = d["memory"]["peak_rss_mb"]
    if "fetch" in d:
        out["fetch_s"] = d["fetch"]["seconds"]
    if "side_by_side" in d:
        out["side_by_side"] = _side(d["side_by_side"])
    if "pages" in d:
        out["pages"] = {
            p["page"]: {
                "first_render_s": p["first_render_s"],
                "first_render_cpu_s": p.get("first_render_cpu_s"),
                "rerun_s": p["rerun_s"],
                "rerun_cpu_s": p.get("rerun_cpu_s"),
                "widget": p["widget"],
                "notes": p.get("notes", []),
                "connections_per_rerun": p["connections_per_rerun"],
                "errors": p["errors"],
            }
            for p in d["pages"]["pages"]
        }
        out["pingouin_imported_by_overview"] = d["pages"]["pingouin_imported_by_overview"]
    if "cold_start" in d:
        runs = d["cold_start"]["runs"]
        out["cold_start"] = {
            "method": d["cold_start"]["method"],
            **{k: _spread([r[k] for r in runs]) for k in runs[0]},
        }
    return out


def _value(s: dict[str, Any], what: str) -> float | None:
    if what == "refresh":
        return s["refresh"]["total"]["median"]
    if what == "peak_rss":
        return s.get("peak_rss_mb")
    if what == "page_rerun" and "pages" in s:
        return max(p["rerun_s"]["median"] for p in s["pages"].values())
    if what == "cold_start" and "cold_start" in s:
        return s["cold_start"]["first_page_s"]["median"]
    return None


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Medians (min, max) per size, ours/baseline ratios, and each target met or not."""
    sizes = {name: _size_summary(d) for name, d in result["sizes"].items()}
    targets = []
    for what, size, limit, unit in TARGETS:
        value = _value(sizes[size], what) if size in sizes else None
        if value is not None:
            targets.append(
                {
                    "target": f"{what} {size} ≤ {limit:g} {unit}",
                    "value": value,
                    "met": value <= limit,
                }
            )
    req = result.get("sheets_requests")
    if req:
        targets.append(
            {
                "target": "Sheets API requests constant for 1..10 rounds",
                "value": sorted({r["requests"] for r in req}),
                "met": len({r["requests"] for r in req}) == 1,
            }
        )
    return {"sizes": sizes, "targets": targets}


def _ms(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def _sp(d: dict[str, float]) -> str:
    if d["n"] == 1:
        return _ms(d["median"])
    return f"{_ms(d['median'])} ({_ms(d['min'])}–{_ms(d['max'])})"


def _refresh_table(sizes: dict[str, Any], result: dict[str, Any]) -> list[str]:
    lines = [
        "| size | rating cells | " + " | ".join(STEPS) + " | peak RSS | fetch (fake API) |",
        "|---" * (len(STEPS) + 4) + "|",
    ]
    for name, s in sizes.items():
        cells = result["sizes"][name]["size"]["rating_cells"]
        steps = " | ".join(_sp(s["refresh"][k]) for k in STEPS)
        rss = f"{s['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in s else "–"
        fetch = _ms(s["fetch_s"]) if "fetch_s" in s else "–"
        lines.append(f"| {name} | {cells:,} | {steps} | {rss} | {fetch} |")
    return lines


def _side_table(sizes: dict[str, Any]) -> list[str]:
    lines = [
        "| size | part | ours | baseline | ours / baseline | same numbers |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in sizes.items():
        if "side_by_side" not in s:
            continue
        sb = s["side_by_side"]
        for part, ratio in sb["ratio"].items():
            lines.append(
                f"| {name} | {part} | {_ms(sb['ours'][part])} | "
                f"{_ms(sb['baseline'][part])} | {ratio:.3f} | "
                f"{'yes' if sb['equal'] else 'NO'} |"
            )
    return lines


def _pages_table(sizes: dict[str, Any]) -> list[str]:
    lines = [
        "| size | page | first render (CPU) | rerun after widget change | rerun CPU | "
        "widget | DB connections per rerun |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in sizes.items():
        for page, p in s.get("pages", {}).items():
            err = " **error**" if p["errors"] else ""
            cpu = _ms(p["rerun_cpu_s"]["median"]) if p.get("rerun_cpu_s") else "–"
            first_cpu = f" ({_ms(p['first_render_cpu_s'])})" if p.get("first_render_cpu_s") else ""
            lines.append(
                f"| {name} | {Path(page).stem}{err} | {_ms(p['first_render_s'])}"
                f"{first_cpu} | {_sp(p['rerun_s'])} | {cpu} | {p['widget']} | "
                f"{p['connections_per_rerun']} |"
            )
    return lines


def _cold_table(sizes: dict[str, Any]) -> list[str]:
    lines = [
        "| size | first page rendered | server healthy | frontend loaded | server CPU | method |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in sizes.items():
        c = s.get("cold_start")
        if c:
            more = " | ".join(
                _sp(c[k]) if k in c else "–"
                for k in ("server_ready_s", "frontend_loaded_s", "server_cpu_s")
            )
            lines.append(f"| {name} | {_sp(c['first_page_s'])} | {more} | {c['method']} |")
    return lines


def tables(result: dict[str, Any]) -> str:
    """The figures as Markdown tables (readable in a terminal too)."""
    summary, meta = result["summary"], result["meta"]
    sizes = summary["sizes"]
    out = [
        f"Machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['ram_gb']} GB RAM, "
        f"Python {meta['python']}; {meta.get('date', '')}; load average at start "
        f"{meta['load_average_at_start']} (other work on the machine skews the figures)",
        "",
        "Refresh from raw tab values in memory (median (min–max) over the runs):",
        "",
        *_refresh_table(sizes, result),
        "",
        "Ours vs the analyst-style baseline (same snapshot):",
        "",
        *_side_table(sizes),
        "",
        "Pages (AppTest; rerun = median (min–max) after a widget change, warm caches):",
        "",
        *_pages_table(sizes),
        "",
        "Cold start:",
        "",
        *_cold_table(sizes),
        "",
    ]
    req = result.get("sheets_requests")
    if req:
        out += [
            "Sheets API requests per refresh (fake API, real gspread over HTTP): "
            + ", ".join(
                f"{r['rounds']} round{'s' if r['rounds'] > 1 else ''}: {r['requests']}" for r in req
            ),
            "",
        ]
    out += ["Targets:", ""] + [
        f"- {'met' if t['met'] else 'NOT met'}: {t['target']} (measured {_fmt(t['value'])})"
        for t in summary["targets"]
    ]
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)
