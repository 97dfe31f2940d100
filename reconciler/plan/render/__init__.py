"""Renderers for a plan: JSON (saved and consumed by machines), text (a terminal), markdown (a PR).

Renderers only read the ``Plan``; none of them decides anything the planner did not. What
an apply did is shown by ``reconciler.apply.render``, above both.
"""

from __future__ import annotations

from reconciler.plan.render.comment import cluster_marker
from reconciler.plan.render.json import load_plan_json, plan_json_data, render_json
from reconciler.plan.render.markdown import (
    MARKER,
    render_markdown,
    render_markdown_comments,
    split_comments,
)
from reconciler.plan.render.text import render_text, text_summary

__all__ = [
    "MARKER",
    "cluster_marker",
    "load_plan_json",
    "plan_json_data",
    "render_json",
    "render_markdown",
    "render_markdown_comments",
    "render_text",
    "split_comments",
    "text_summary",
]
