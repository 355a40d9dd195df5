"""Meeting: open a joint meeting (date, attendees, organization, the data stamp of now), read the
agenda the app assembles (vbc.agenda), record decisions, assign and follow up action items, present
in the joint view one section per screen, and take the packet away. Layout only."""

from datetime import date

import streamlit as st

from vbc import actions, agenda, meetings, packet
from vbc.collab import Conflict, Invalid, NotAllowed, party_label
from vbc.security import Viewer
from vbc.ui import context, notes, widgets

ctx = context.current()
me = notes.author(ctx)
ALL = "All organizations"


def _open_meeting() -> None:
    ss = st.session_state
    try:
        m = meetings.open_meeting(
            ctx.store,
            me,
            ctx.ws,
            ctx.registry,
            held_on=ss["m_date"],
            title=ss["m_title"],
            organization=None if ss["m_org"] == ALL else ss["m_org"],
            attendees=ss["m_people"],
        )
    except (Invalid, NotAllowed) as exc:
        notes.flash("error", str(exc))
    else:
        st.query_params["meeting"] = str(m.id)
        ss["m_pick"] = m.id
        notes.flash("success", f"Meeting opened with the data paid through {m.stamp.get('paid_through')}.")


def open_form() -> None:
    """Opening a meeting records the stamp and the joint view's headline numbers of now."""
    orgs = context.organizations(str(ctx.ws.data_dir), ctx.build_id)
    with st.expander(
        "Open a meeting", icon=":material/add:", expanded=not meetings.visible(ctx.store, ctx.viewer)
    ):
        with st.form("open_meeting"):
            c1, c2 = st.columns(2)
            c1.date_input("Date", value=date.today(), key="m_date")
            own = me.own_organization
            c2.selectbox("Organization", [own] if own else [ALL, *orgs], key="m_org")
            st.text_input("Title", placeholder="Joint operating committee, quarterly", key="m_title")
            st.text_area("Attendees (one per line: name, role, party)", key="m_people")
            st.form_submit_button("Open the meeting", on_click=_open_meeting)


def draw_section(section: agenda.Section, large: bool = False) -> None:
    (st.header if large else st.subheader)(section.title)
    for line in section.lines:
        st.markdown(f"### {line}" if large else line)
    for j, (caption, fig) in enumerate(section.figures):
        st.markdown(f"**{caption}**")
        if large:
            fig.update_layout(font=dict(size=20), height=560)
        st.plotly_chart(fig, key=f"ag_{section.key}_{j}_{large}", config={"displaylogo": False})
    for caption, df in section.tables:
        st.markdown(f"**{caption}**")
        st.dataframe(df, hide_index=True, width="stretch")


def presenter(doc: agenda.Agenda) -> None:
    """One section per screen, large type, the joint view only."""
    st.markdown(
        "<style>[data-testid='stMain'] [data-testid='stMarkdownContainer'] p, "
        "[data-testid='stMain'] [data-testid='stMarkdownContainer'] li {font-size: 1.5rem;} "
        "[data-testid='stMain'] [data-testid='stDataFrame'] {font-size: 1.2rem;}</style>",
        unsafe_allow_html=True,
    )
    n = len(doc.sections)
    i = min(st.session_state.get("presenter_i", 0), n - 1)

    def go(to: int) -> None:
        st.session_state["presenter_i"] = to

    c1, c2, c3 = st.columns([1, 4, 1])
    c1.button("◀ Previous", disabled=i == 0, key="pres_prev", width="stretch", on_click=go, args=(i - 1,))
    c2.markdown(f"**Section {i + 1} of {n}** · {doc.stamp_line}")
    c3.button("Next ▶", disabled=i == n - 1, key="pres_next", width="stretch", on_click=go, args=(i + 1,))
    draw_section(doc.sections[i], large=True)


def _assign(meeting: meetings.Meeting) -> None:
    ss = st.session_state
    try:
        actions.add(
            ctx.store,
            me,
            what=ss["a_what"],
            owner_party=ss["a_party"],
            owner_person=ss["a_person"],
            due_on=ss["a_due"],
            metric_id=ss["a_metric"] or None,
            organization=meeting.organization,
            meeting_id=meeting.id,
        )
    except (Invalid, NotAllowed) as exc:
        notes.flash("error", str(exc))
    else:
        ss["a_what"], ss["a_person"] = "", ""
        notes.flash("success", "Action item assigned.")


def _update(item: actions.ActionItem) -> None:
    ss = st.session_state
    try:
        actions.set_status(ctx.store, me, item, ss[f"s_{item.id}"], ss[f"c_{item.id}"])
    except (Conflict, Invalid, NotAllowed) as exc:
        notes.flash("error", str(exc))
    else:
        notes.forget_seen(item)
        ss[f"c_{item.id}"] = ""
        notes.flash("success", f"“{item.what}” is now {ss[f's_{item.id}']}.")


def action_forms(meeting: meetings.Meeting) -> None:
    names = {m.id: m.name for m in ctx.registry}
    orgs = (
        [meeting.organization]
        if meeting.organization
        else context.organizations(str(ctx.ws.data_dir), ctx.build_id)
    )
    st.subheader("Assign an action item")
    with st.form("new_action"):
        st.text_input("What is to be done", key="a_what")
        c1, c2, c3 = st.columns(3)
        parties = ["payer", *(f"org:{o}" for o in orgs), "committee"]
        c1.selectbox("Owner's party", parties, format_func=party_label, key="a_party")
        c2.text_input("Owner (person)", key="a_person")
        c3.date_input("Due", key="a_due")
        st.selectbox(
            "About", ["", *names], format_func=lambda m: names.get(m, "no particular metric"), key="a_metric"
        )
        st.form_submit_button("Assign", on_click=_assign, args=(meeting,))
    st.subheader("Follow up the open items")
    for item in actions.visible(ctx.store, ctx.viewer, organization=meeting.organization, open_only=True):
        late = item.overdue()
        label = f"{item.what} — {item.owner_text}, due {item.due_on:%Y-%m-%d} · {item.status}" + (
            " · OVERDUE" if late else ""
        )
        with st.expander(label, icon=":material/alarm:" if late else ":material/task_alt:"):
            for h in actions.history(ctx.store, item):
                st.caption(
                    f"{h['at']:%Y-%m-%d %H:%M} · {h['by']} · {h['to_status'] or h['change']}"
                    + (f" — {h['comment']}" if h["comment"] else "")
                )
            with st.form(f"status_{item.id}"):
                st.selectbox(
                    "New status",
                    actions.STATUSES,
                    index=actions.STATUSES.index(item.status),
                    key=f"s_{item.id}",
                )
                st.text_input("Comment (required: what happened)", key=f"c_{item.id}")
                st.form_submit_button("Update", on_click=_update, args=(notes.seen(item),))


def _decide(meeting: meetings.Meeting) -> None:
    ss = st.session_state
    try:
        meetings.add_decision(ctx.store, me, meeting, decision=ss["d_text"], rationale=ss["d_why"])
    except (Invalid, NotAllowed) as exc:
        notes.flash("error", str(exc))
    else:
        ss["d_text"], ss["d_why"] = "", ""
        notes.flash("success", "Decision recorded.")


def decision_form(meeting: meetings.Meeting) -> None:
    st.subheader("Record a decision")
    with st.form("new_decision"):
        st.text_area("Decision", key="d_text")
        st.text_area("Rationale (why; the next meeting will ask)", key="d_why")
        st.form_submit_button("Record", on_click=_decide, args=(meeting,))


def packet_button(doc: agenda.Agenda) -> None:
    fmt = st.radio("Packet format", packet.FORMATS, format_func=str.upper, horizontal=True, key="pk_fmt")
    name = packet.file_name(doc, fmt)

    def produce() -> bytes:
        data = packet.render(doc, fmt)
        packet.audit_packet(ctx.store, ctx.identity.actor(doc.viewer), doc, fmt, name, page=ctx.page)
        return data

    mime = (
        "application/pdf"
        if fmt == "pdf"
        else "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    )
    st.download_button(
        f"Download the packet ({fmt.upper()}, {doc.viewer.label})",
        produce,
        file_name=name,
        mime=mime,
        key="pk_dl",
        on_click="ignore",
        icon=":material/download:",
    )
    st.caption(
        "Every chart as an image, the tables, notes, action items and decisions, and the stamp on every page. Producing it takes a few seconds (the charts are drawn by a headless browser)."
    )


widgets.header(ctx, "Meeting")
notes.show_flash()
if not st.session_state.get("m_present"):  # presenting: the agenda only
    open_form()
found = meetings.visible(ctx.store, ctx.viewer)
if not found:
    st.info("No meeting yet: open one above. The agenda is assembled from the numbers and the notes.")
    st.stop()
by_id = {m.id: m for m in found}
wanted = st.query_params.get("meeting")
chosen = st.selectbox(
    "Meeting",
    list(by_id),
    index=list(by_id).index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in by_id else 0,
    format_func=lambda i: by_id[i].label,
    key="m_pick",
)
st.query_params["meeting"] = str(chosen)
meeting = by_id[chosen]
present = st.toggle(
    "Presenter mode: the joint de-identified view, one section per screen, large type", key="m_present"
)
viewer = Viewer("joint") if present else ctx.viewer
key = agenda.key_for(meeting, meetings.previous(ctx.store, meeting))
cps = context.change_points(ctx)
run = context.compute_joint if viewer.kind == "joint" else context.compute
nums = run(ctx, agenda.numbers, key=key, change_points=cps)
doc = agenda.assemble(ctx.ws, ctx.registry, ctx.store, meeting, viewer, nums=nums, change_points=cps)
if present:
    presenter(doc)
    st.stop()
st.caption(f"Agenda for **{viewer.label}**. " + doc.stamp_line)
notes.reload_button("m_reload")
tabs = st.tabs([s.title for s in doc.sections])
for tab, section in zip(tabs, doc.sections):
    with tab:
        draw_section(section)
st.divider()
left, right = st.columns(2)
with left:
    action_forms(meeting)
with right:
    decision_form(meeting)
    st.subheader("Take the packet away")
    packet_button(doc)
