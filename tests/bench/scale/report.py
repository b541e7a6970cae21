#!/usr/bin/env python3
"""Turns scale.sh's results (one JSON object a line) into the markdown table operation x size,
each value with its ratio to the smallest size, and a JSON file.

    report.py RESULTS.jsonl OUT.md OUT.json "header line" ...
"""
import json
import sys


def fmt(v, unit):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if unit == "ms":
        return f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms" if v >= 1 else f"{v:.2f} ms"
    if unit == "s":
        return f"{v:.1f} s" if v >= 10 else f"{v:.2f} s"
    if unit == "MiB":
        return f"{v:.0f} MiB" if v >= 100 else f"{v:.1f} MiB"
    if unit == "B":
        for u, d in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if v >= d:
                return f"{v / d:.1f} {u}"
        return f"{v:.0f} B"
    if unit == "rows/s":
        return f"{v:,.0f} rows/s"
    if unit == "":
        return f"{v:,.0f}"
    return f"{v:g} {unit}"


def main():
    src, out_md, out_json = sys.argv[1:4]
    headers = sys.argv[4:]
    rows = [json.loads(line) for line in open(src) if line.strip()]
    sizes = []
    for r in rows:
        if r["size"] not in sizes:
            sizes.append(r["size"])
    sizes.sort(key=float)
    ops = []
    cells = {}
    for r in rows:
        key = r["op"]
        if key not in ops:
            ops.append(key)
        cells[(key, r["size"])] = r
    label = {r["op"]: r["label"] for r in rows}
    md = list(headers)
    md.append("")
    md.append("| operation | " + " | ".join(f"{float(s) * 100:g} %" for s in sizes) + " |")
    md.append("|---|" + "---|" * len(sizes))
    for op in ops:
        base = None
        line = []
        for s in sizes:
            r = cells.get((op, s))
            if r is None:
                line.append("—")
                continue
            text = fmt(r["value"], r["unit"])
            if r.get("note"):
                text += f" ({r['note']})"
            v = r["value"]
            if isinstance(v, (int, float)) and r.get("ratio", True):
                if base is None and v > 0:
                    base = v
                elif base:
                    text += f" ×{v / base:.1f}"
            line.append(text)
        md.append(f"| {label[op]} | " + " | ".join(line) + " |")
    text = "\n".join(md) + "\n"
    open(out_md, "w").write(text)
    json.dump({"sizes": sizes, "results": rows}, open(out_json, "w"), indent=1)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
