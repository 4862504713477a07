"""A self-contained HTML page: the graph drawn as SVG with contexts as groups; clicking a
context lists its modules and the edges leaving it. No network: CSS, script and data inline."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib import resources
from itertools import groupby
from typing import Any

from analyzer.report.nodes import OUTSIDE, graph_view

SIZE = 1000  # the drawing's coordinate space (the SVG scales to the window)
EDGES_PER_CONTEXT = 60
SITES_PER_EDGE = 12


def _layout(
    groups: list[tuple[str, list[str]]],
) -> tuple[dict[str, tuple[float, float, float]], dict[str, tuple[float, float]]]:
    """Group circles around the centre, member nodes on a sunflower inside each; deterministic."""
    count = len(groups)
    ring = 0.0 if count == 1 else SIZE * 0.32
    circles: dict[str, tuple[float, float, float]] = {}
    positions: dict[str, tuple[float, float]] = {}
    for index, (name, members) in enumerate(groups):
        angle = 2 * math.pi * index / max(count, 1) - math.pi / 2
        cx, cy = SIZE / 2 + ring * math.cos(angle), SIZE / 2 + ring * math.sin(angle)
        limit = SIZE * (0.42 if count == 1 else min(0.16, 0.9 * math.pi * 0.32 / max(count, 2)))
        radius = min(limit, 28 + 11 * math.sqrt(len(members)))
        circles[name] = (round(cx, 1), round(cy, 1), round(radius, 1))
        for k, member in enumerate(members):
            r = (radius - 16) * math.sqrt((k + 0.5) / len(members)) if len(members) > 1 else 0.0
            theta = k * 2.399963  # the golden angle
            positions[member] = (
                round(cx + r * math.cos(theta), 1),
                round(cy + r * math.sin(theta), 1),
            )
    return circles, positions


def page_data(doc: Mapping[str, Any]) -> dict[str, Any]:
    nodes, links = graph_view(doc)
    groups = [(g, [n.id for n in members]) for g, members in groupby(nodes, key=lambda n: n.group)]
    groups.sort(key=lambda item: (item[0] == OUTSIDE, item[0]))
    circles, positions = _layout(groups)
    contexts = {c["name"]: c for c in doc["contexts"]}
    outgoing: dict[str, list[dict[str, Any]]] = {}
    for pair in doc["cross_context"]:
        edges = outgoing.setdefault(pair["source"], [])
        for edge in pair["edges"]:
            edges.append(
                {**edge, "to_context": pair["target"], "sites": edge["sites"][:SITES_PER_EDGE]}
            )
    return {
        "title": f"carve analyze {doc['root']}",
        "metrics": doc["metrics"],
        "groups": [
            {
                "name": name,
                "x": circles[name][0],
                "y": circles[name][1],
                "r": circles[name][2],
                "outside": name == OUTSIDE,
                "apps": contexts[name]["apps"] if name in contexts else [],
                "modules": contexts[name]["modules"]
                if name in contexts
                else [m["name"] for m in doc["modules"] if not m["context"]],
                "edges": sorted(outgoing.get(name, []), key=lambda e: -e["weight"])[
                    :EDGES_PER_CONTEXT
                ],
            }
            for name, _ in groups
        ],
        "nodes": [
            {
                "id": n.id,
                "group": n.group,
                "lines": n.lines,
                "x": positions[n.id][0],
                "y": positions[n.id][1],
            }
            for n in nodes
        ],
        "links": [
            {"source": link.source, "target": link.target, "weight": link.weight} for link in links
        ],
    }


def render_html(doc: Mapping[str, Any]) -> str:
    template = resources.files("analyzer.report").joinpath("page.html").read_text(encoding="utf-8")
    # "</" cannot appear inside an inline script; "<\/" reads the same to JSON.parse.
    data = json.dumps(page_data(doc)).replace("</", "<\\/")
    title = doc["root"].replace("&", "&amp;").replace("<", "&lt;")
    return template.replace("__TITLE__", title).replace("__DATA__", data)
