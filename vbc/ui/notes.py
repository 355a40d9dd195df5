"""Page pieces for what the committee writes: notes under a chart, the actions taken on a metric,
overdue items on the Overview. Layout only: every rule is in vbc.annotations, vbc.actions and
vbc.collab, and every save goes through them (versions, permissions, audit rows).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from vbc import actions, annotations, chart_notes
from vbc.collab import BOTH, Author, Conflict, Invalid, NotAllowed, side_label
from vbc.ui.context import Context

ALL = "All"


def author(ctx: Context) -> Author:
    """The signed-in person as an author (in demo mode, the demo visitor on the viewer's side)."""
    account = ctx.identity.account
    return Author(
        name=ctx.identity.name,
        role=ctx.identity.role,
        organization=account.organization if account else None,
        viewer=ctx.viewer,
        actor=ctx.actor,
    )


def for_chart(ctx: Context, metric_id: str, organization: str | None) -> list:
    """The notes `ctx`'s viewer sees on a chart of `metric_id` scoped to `organization` (None: the
    chart across organizations, where every organization's notes are shown with its name)."""
    return annotations.visible(ctx.store, ctx.viewer, metric_id=metric_id, organization=organization)


def with_notes(ctx: Context, df: pd.DataFrame, metric_id: str, organization: str | None) -> pd.DataFrame:
    """A chart's CSV rows (one per `month`) with the titles of the notes covering each month."""
    out = df.copy()
    if "month" in out:
        notes = for_chart(ctx, metric_id, organization)
        out["annotations"] = chart_notes.notes_by_month(out["month"].astype(str), notes, organization)
    return out


def seen(item):
    """The item as this person first saw it: its version is kept in the session until they save
    or reload, so a colleague's save in between makes theirs a Conflict, not an overwrite (every
    rerun re-reads the store, so the version read on this run would always look current)."""
    from dataclasses import replace

    key = f"seen_{type(item).__name__}_{item.id}"
    version = st.session_state.setdefault(key, item.version)
    return replace(item, version=version)


def forget_seen(item) -> None:
    st.session_state.pop(f"seen_{type(item).__name__}_{item.id}", None)


def reload_button(key: str) -> None:
    """Forget every version this session has seen, so the next save starts from the store's."""
    if st.button("Reload", key=key, icon=":material/refresh:"):
        for k in [k for k in st.session_state if str(k).startswith("seen_")]:
            del st.session_state[k]
        st.rerun()


def flash(kind: str, text: str) -> None:
    """Say something on the next run (a form's callback runs before the page is drawn)."""
    st.session_state["vbc_flash"] = (kind, text)


def show_flash() -> None:
    kind, text = st.session_state.pop("vbc_flash", (None, None))
    if kind:
        getattr(st, kind)(text)


def _failed(exc: Exception) -> None:
    flash("error", str(exc))


def annotate_form(ctx: Context, metric_id: str, months: list[str], key: str) -> None:
    """'Add a note to this chart': pinned to this metric or all, this organization or all, a month
    or a range; visible to both parties or to the author's side only. Saved in the submit
    button's callback, which runs once, before the page is drawn again."""
    months = [str(m) for m in months]
    if not months:
        return
    me = author(ctx)
    metric = ctx.registry.get(metric_id)
    own = me.own_organization or ctx.organization
    ss = st.session_state

    def save() -> None:
        try:
            annotations.add(
                ctx.store,
                me,
                title=ss[f"{key}_title"],
                text=ss[f"{key}_text"],
                metric_id=metric_id if ss[f"{key}_metric"] == metric.name else None,
                organization=None if ss[f"{key}_org"] == ALL else ss[f"{key}_org"],
                start_month=min(ss[f"{key}_start"], ss[f"{key}_end"]),
                end_month=max(ss[f"{key}_start"], ss[f"{key}_end"]),
                visibility=ss[f"{key}_vis"],
                change_point=ss[f"{key}_cp"],
            )
        except (Invalid, NotAllowed, Conflict) as exc:
            _failed(exc)
        else:
            flash("success", "Note saved: it is on every chart it is pinned to.")
            ss[f"{key}_title"], ss[f"{key}_text"] = "", ""

    show_flash()
    with st.expander("Add a note to this chart", icon=":material/edit_note:"):
        with st.form(f"note_{key}"):
            st.text_input("Title (shown on the chart)", max_chars=annotations.MAX_TITLE, key=f"{key}_title")
            st.text_area("What happened", max_chars=annotations.MAX_TEXT, key=f"{key}_text")
            c1, c2 = st.columns(2)
            c1.selectbox("From month", months, index=len(months) - 1, key=f"{key}_start")
            c2.selectbox("To month (same month: one month)", months, index=len(months) - 1, key=f"{key}_end")
            st.radio("Metric", [metric.name, "All metrics"], horizontal=True, key=f"{key}_metric")
            st.radio("Organization", [own, ALL] if own else [ALL], horizontal=True, key=f"{key}_org")
            sides = [BOTH] + ([me.side] if me.side != "committee" else [])
            st.radio("Who sees it", sides, format_func=side_label, horizontal=True, key=f"{key}_vis")
            st.checkbox("Marks a change point (the SPC limits restart at its first month)", key=f"{key}_cp")
            st.form_submit_button("Save note", on_click=save)


def notes_table(ctx: Context, notes: list, key: str) -> None:
    """The notes of a chart in words (for what the chart labels abbreviate), each deletable by its
    author or an administrator."""
    if not notes:
        return
    me = author(ctx)
    with st.expander(f"Notes on this chart ({len(notes)})", icon=":material/sticky_note_2:"):
        for n in notes:
            c1, c2 = st.columns([6, 1])
            c1.markdown(
                f"**{n.months_text} · {n.title}**"
                + (f" ({n.organization})" if n.organization else "")
                + (" · change point" if n.change_point else "")
                + f"  \n{n.text or ''}  \n"
                + f":gray[{n.created_by}, {n.created_at:%Y-%m-%d} · {side_label(n.visibility)}]"
            )
            if me.is_admin or n.created_by == me.name:
                c2.button("Delete", key=f"{key}_del_{n.id}", on_click=_delete, args=(ctx, me, seen(n)))


def _delete(ctx: Context, me: Author, note) -> None:
    try:
        annotations.delete(ctx.store, me, note)
    except (Conflict, NotAllowed) as exc:
        _failed(exc)
    else:
        forget_seen(note)
        flash("success", f"Deleted “{note.title}” (kept in its history and the audit log).")


def overdue_banner(ctx: Context, today: date | None = None) -> None:
    """Overdue action items, on the Overview for both parties."""
    late = actions.overdue(ctx.store, ctx.viewer, today, organization=ctx.organization)
    if not late:
        return
    names = {m.id: m.name for m in ctx.registry}
    lines = [
        f"- **{a.what}** — {a.owner_text}, due {a.due_on:%Y-%m-%d} ({a.status})"
        + (f" · {names.get(a.metric_id, a.metric_id)}" if a.metric_id else "")
        for a in late
    ]
    st.warning(
        f"**{len(late)} overdue action item(s)** (the Meeting page updates them):\n" + "\n".join(lines),
        icon=":material/alarm:",
    )


def metric_actions(ctx: Context, metric_id: str, reading: str | None = None) -> None:
    """The actions taken on a metric, with their history, next to its SPC reading; the two side by
    side do not say that an action caused a change."""
    items = actions.visible(ctx.store, ctx.viewer, metric_id=metric_id, organization=ctx.organization)
    if not items:
        return
    st.markdown("#### Actions taken on this metric")
    rows = []
    for a in items:
        steps = actions.history(ctx.store, a)
        rows.append(
            {
                "Action": a.what,
                "Owner": a.owner_text,
                "Due": f"{a.due_on:%Y-%m-%d}",
                "Status": a.status + (" (overdue)" if a.overdue() else ""),
                "History": " → ".join(
                    f"{h['at']:%Y-%m-%d} {h['to_status']}" + (f" ({h['comment']})" if h["comment"] else "")
                    for h in steps
                    if h["to_status"]
                ),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(
        (f"The chart's reading now: **{reading}**. " if reading else "")
        + "Whether the line moved after an action is the SPC reading's call; it does not say the "
        "action caused it."
    )


def under_chart(
    ctx: Context,
    metric_id: str,
    chart: dict,
    points: pd.DataFrame,
    file_name: str,
    key: str,
    metric_ids: list[str] | None = None,
) -> None:
    """What every trend chart has under it: the committee's notes on it, the add-a-note form, the
    actions taken on the metric, and its points (with the notes) as an audited CSV."""
    from vbc.ui import widgets

    notes_table(ctx, for_chart(ctx, metric_id, chart["organization"]), f"{key}_notes")
    annotate_form(ctx, metric_id, chart["months"], f"{key}_note")
    metric_actions(ctx, metric_id, chart.get("reading"))
    widgets.csv_download(
        with_notes(ctx, points, metric_id, chart["organization"]),
        ctx.stamp,
        file_name,
        key=f"{key}_csv",
        metric_ids=metric_ids,
    )
