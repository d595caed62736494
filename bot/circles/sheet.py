"""A circle's attendance list for the study association (ABF): gathered, then written as
CSV or a page to print, in the reader's language. Only people who agreed are named."""

from __future__ import annotations

import html
import io
from dataclasses import dataclass

from bot.circles.model import (
    ChangeKind,
    Circle,
    EnrolmentState,
    counts_as_participant,
    format_hours,
    plan_warnings,
    session_attendance_warning,
    study_hours,
)
from bot.circles.views import kind_name, rule_text
from bot.context import Effects
from bot.i18n import N_, Translator
from bot.spreadsheet import SafeCsvWriter


@dataclass
class ListRow:
    name: str
    role: str
    present: list[str]
    meetings: int
    hours: float
    counts: str


@dataclass
class AttendanceList:
    """What an organiser hands to the study association, in the reader's language."""

    title: str
    kind: str
    organisation: str
    leader: str
    place: str
    sessions: list[tuple[str, str, float, int]]  # date, time, study hours, present (leader counted)
    rows: list[ListRow]
    changes: list[tuple[str, str, str]]  # when, what, who
    warnings: list[str]
    anonymous: int
    session_headers: list[str]
    total_hours: float

    def to_csv(self, t: Translator) -> bytes:
        out = io.StringIO()
        writer = SafeCsvWriter(out, lineterminator="\n")
        writer.writerow([t("Study circle"), self.title])
        writer.writerow([t("Kind"), self.kind])
        writer.writerow([t("Organisation"), self.organisation])
        writer.writerow([t("Leader"), self.leader])
        writer.writerow([t("Place"), self.place])
        writer.writerow([t("Study hours"), format_hours(self.total_hours)])
        writer.writerow([])
        writer.writerow(
            [
                t("Name"),
                t("Role"),
                *self.session_headers,
                t("Sessions present"),
                t("Study hours"),
                t("Counts as participant"),
            ]
        )
        for row in self.rows:
            writer.writerow(
                [
                    row.name,
                    row.role,
                    *row.present,
                    row.meetings,
                    format_hours(row.hours),
                    row.counts,
                ]
            )
        writer.writerow([])
        writer.writerow([t("Session"), t("Date"), t("Time"), t("Study hours"), t("Present")])
        for number, (date_text, time_text, hours, present) in enumerate(self.sessions, start=1):
            writer.writerow([number, date_text, time_text, format_hours(hours), present])
        writer.writerow([])
        writer.writerow([t("Changes since the start")])
        writer.writerow([t("When"), t("What"), t("Who or what")])
        for change in self.changes:
            writer.writerow(list(change))
        writer.writerow([])
        for note in self.notes(t):
            writer.writerow([t("Note"), note])
        return out.getvalue().encode("utf-8")

    def notes(self, t: Translator) -> list[str]:
        notes = list(self.warnings)
        if self.anonymous:
            notes.append(
                t.ngettext(
                    "{count} participant did not agree to be named on this list and is shown "
                    "without their name.",
                    "{count} participants did not agree to be named on this list and are shown "
                    "without their names.",
                    self.anonymous,
                ).format(count=self.anonymous)
            )
        return notes

    def to_html(self, t: Translator) -> bytes:
        e = html.escape
        heading = t("Attendance list: {title}").format(title=self.title)
        changes = t("Changes since the start")
        signature = t("Signature of the leader:")
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{e(t.language)}"><head><meta charset="utf-8">',
            f"<title>{e(heading)}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
            "margin:1em 0}th,td{border:1px solid #444;padding:4px 8px;text-align:left}"
            "@media print{body{margin:0}}</style></head><body>",
            f"<h1>{e(heading)}</h1>",
            "<p>",
        ]
        for label, value in (
            (t("Kind"), self.kind),
            (t("Organisation"), self.organisation),
            (t("Leader"), self.leader),
            (t("Place"), self.place),
            (t("Study hours"), format_hours(self.total_hours)),
        ):
            parts.append(f"<b>{e(label)}:</b> {e(value)}<br>")
        parts.append("</p><table><tr>")
        headers = [
            t("Name"),
            t("Role"),
            *self.session_headers,
            t("Sessions present"),
            t("Study hours"),
            t("Counts as participant"),
        ]
        parts += [f"<th>{e(h)}</th>" for h in headers]
        parts.append("</tr>")
        for row in self.rows:
            cells = [
                row.name,
                row.role,
                *row.present,
                str(row.meetings),
                format_hours(row.hours),
                row.counts,
            ]
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
        parts.append(f"</table><h2>{e(changes)}</h2><table>")
        parts.append(
            "<tr>"
            + "".join(f"<th>{e(h)}</th>" for h in (t("When"), t("What"), t("Who or what")))
            + "</tr>"
        )
        for change in self.changes:
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in change) + "</tr>")
        parts.append("</table>")
        for note in self.notes(t):
            parts.append(f"<p>{e(note)}</p>")
        parts.append(f"<p>{e(signature)} ______________________</p></body></html>")
        return "\n".join(parts).encode("utf-8")


CHANGE_WORDS = {
    ChangeKind.JOINED: N_("signed up"),
    ChangeKind.WAITLISTED: N_("joined the waitlist"),
    ChangeKind.PROMOTED: N_("got a place from the waitlist"),
    ChangeKind.LEFT: N_("left"),
    ChangeKind.MOVED: N_("session moved"),
    ChangeKind.PLACE: N_("session place changed"),
}


async def attendance_list(effects: Effects, circle: Circle, t: Translator) -> AttendanceList:
    """Builds the attendance list; only people who agreed are named, the others anonymised."""
    assert circle.id is not None
    org = await effects.uow.orgs.get(circle.org_id)
    assert org is not None
    zone = org.zone
    sessions = list(await effects.uow.circles.sessions(circle.id))
    enrolments = await effects.uow.circles.enrolments(circle.id)
    attendance = await effects.uow.circles.attendance(circle.id)
    leader = await effects.uow.people.get(circle.leader_id) if circle.leader_id else None
    present_by: dict[int, set[int]] = {}
    for record in attendance:
        if record.person_id is not None:  # erased people stay in head counts, not on the list
            present_by.setdefault(record.person_id, set()).add(record.session_id)
    consent = {e.person_id: e.list_consent for e in enrolments}
    listed = [
        e
        for e in enrolments
        if e.person_id != circle.leader_id
        and (e.state is EnrolmentState.ENROLLED or e.person_id in present_by)
    ]
    labels: dict[int, str] = {}
    anonymous = 0
    for enrolment in listed:
        if enrolment.list_consent:
            person = await effects.uow.people.get(enrolment.person_id)
            labels[enrolment.person_id] = person.display_name if person else t("Former participant")
        else:
            anonymous += 1
            labels[enrolment.person_id] = t("Participant {number} (no name)").format(
                number=anonymous
            )
    held = [s for s in sessions if s.starts_at <= effects.now]
    rows: list[ListRow] = []
    if leader:
        rows.append(
            ListRow(
                leader.display_name,
                t("Leader"),
                [t("present") if s in held else "" for s in sessions],
                len(held),
                study_hours(sum(s.minutes for s in held)),
                t("leader"),
            )
        )
    for enrolment in listed:
        mine = present_by.get(enrolment.person_id, set())
        attended = [s for s in sessions if s.id in mine]
        rows.append(
            ListRow(
                labels[enrolment.person_id],
                t("Participant") if enrolment.state is EnrolmentState.ENROLLED else t("Left"),
                [
                    (t("present") if s.id in mine else t("absent")) if s in held else ""
                    for s in sessions
                ],
                len(attended),
                study_hours(sum(s.minutes for s in attended)),
                t("yes") if counts_as_participant(sessions, mine) else t("no"),
            )
        )
    session_rows = []
    warnings = []
    for number, session in enumerate(sessions, start=1):
        here = sum(1 for ids in present_by.values() if session.id in ids)
        leader_present = (
            1
            if circle.leader_id
            and circle.leader_id
            not in {r.person_id for r in attendance if r.session_id == session.id}
            else 0
        )
        local = session.starts_at.astimezone(zone)
        session_rows.append(
            (
                local.date().isoformat(),
                f"{local:%H:%M}-{session.ends_at.astimezone(zone):%H:%M}",
                study_hours(session.minutes),
                here + leader_present if session in held else 0,
            )
        )
        if session in held:
            warning = session_attendance_warning(number, here, bool(circle.leader_id))
            if warning:
                warnings.append(
                    t("Session {number}: only {present} present; at least 3 are needed.").format(
                        number=number, present=int(warning.value)
                    )
                )
    for warning in plan_warnings(
        [s.minutes for s in sessions], circle.min_participants, circle.max_participants
    ):
        warnings.append(rule_text(t, warning))
    changes = []
    for change in await effects.uow.circles.changes(circle.id):
        if change.person_id is None:
            who = t("Former participant")
        elif change.person_id in labels:
            who = labels[change.person_id]
        elif consent.get(change.person_id):
            person = await effects.uow.people.get(change.person_id)
            who = person.display_name if person else t("Former participant")
        else:
            who = t("A person who is not named")
        if change.kind in (ChangeKind.MOVED, ChangeKind.PLACE):
            who = change.detail
        at = change.at.astimezone(zone)
        changes.append((f"{at:%Y-%m-%d %H:%M}", t(CHANGE_WORDS[change.kind]), who))
    return AttendanceList(
        title=circle.title,
        kind=kind_name(t, circle.kind),
        organisation=org.name,
        leader=leader.display_name if leader else "",
        place=circle.where,
        sessions=session_rows,
        rows=rows,
        changes=changes,
        warnings=warnings,
        anonymous=anonymous,
        session_headers=[
            t("Session {number} {date}").format(number=n, date=row[0])
            for n, row in enumerate(session_rows, start=1)
        ],
        total_hours=study_hours(sum(s.minutes for s in sessions)),
    )
