"""Graphviz DOT: one cluster per context (and one for what is left out), weighted edges."""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import groupby
from typing import Any

from analyzer.report.nodes import OUTSIDE, graph_view


def _quote(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid DOT ID


def render_dot(doc: Mapping[str, Any]) -> str:
    nodes, links = graph_view(doc)
    out = [
        "digraph carve {",
        '  graph [rankdir=LR, fontname="Helvetica", label='
        + _quote(f"carve analyze {doc['root']}")
        + "];",
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f6f8", fontname="Helvetica"];',
        '  edge [color="#7a869a", fontname="Helvetica", fontsize=9];',
    ]
    for index, (group, members) in enumerate(groupby(nodes, key=lambda n: n.group)):
        style = (
            'style="dashed"; color="#9aa5b1"'
            if group == OUTSIDE
            else 'style="rounded"; color="#2f6fde"'
        )
        out.append(f"  subgraph cluster_{index} {{")
        out.append(f"    label={_quote(group)}; {style};")
        for node in members:
            label = _quote(node.id + "\n" + f"{node.lines} lines")
            out.append(f"    {_quote(node.id)} [label={label}];")
        out.append("  }")
    heaviest = max((link.weight for link in links), default=1.0) or 1.0
    for link in links:
        width = 0.5 + 3.5 * link.weight / heaviest
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(link.kinds.items()))
        out.append(
            f"  {_quote(link.source)} -> {_quote(link.target)} "
            f"[penwidth={width:.2f}, label={_quote(str(link.weight))}, tooltip={_quote(kinds)}];"
        )
    out.append("}")
    return "\n".join(out) + "\n"
