"""Renderers for a plan: JSON (saved and consumed by machines), text (a terminal), markdown (a PR).

Renderers only read the ``Plan`` (and, for an apply's outcome, its ``ApplyReport``); none of
them decides anything the planner did not.
"""

from __future__ import annotations

from reconciler.plan.render.json import load_plan_json, plan_json_data, render_json
from reconciler.plan.render.markdown import (
    MARKER,
    cluster_marker,
    render_markdown,
    render_markdown_comments,
    split_comments,
)
from reconciler.plan.render.outcome import (
    APPLY_MARKER,
    render_apply_markdown,
    render_apply_markdown_comments,
)
from reconciler.plan.render.text import render_text, text_summary

__all__ = [
    "APPLY_MARKER",
    "MARKER",
    "cluster_marker",
    "load_plan_json",
    "plan_json_data",
    "render_apply_markdown",
    "render_apply_markdown_comments",
    "render_json",
    "render_markdown",
    "render_markdown_comments",
    "render_text",
    "split_comments",
    "text_summary",
]
