"""The welcome flow's messages: pure functions of data and a Translator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal

from bot.context import MessageFor
from bot.domain.organisations import Organisation
from bot.formatting import day
from bot.i18n import N_, Translator, plural_form
from bot.meetings.model import Meeting
from bot.meetings.service import add_facts, rsvp_buttons
from bot.messages import Action, Button, MessageBuilder, OutgoingMessage, bold, link, message
from bot.welcome.model import (
    CHECKIN_DONE,
    INTERESTS,
    WAYS,
    FlowStatus,
    StepKind,
    WelcomeFigures,
    WelcomeFlow,
)

STEP_NAMES = {
    StepKind.WELCOME: N_("welcome"),
    StepKind.INTERESTS: N_("interests"),
    StepKind.ASSOCIATION: N_("local association"),
    StepKind.MEETING: N_("next open meeting"),
    StepKind.EDUCATION: N_("member education"),
    StepKind.CHECKIN: N_("check-in after a month"),
}

STATUS_NAMES = {
    FlowStatus.ACTIVE: N_("running"),
    FlowStatus.PAUSED: N_("paused"),
    FlowStatus.STOPPED: N_("stopped"),
    FlowStatus.COMPLETED: N_("completed"),
}


def labels(t: Translator, chosen: Sequence[str], options: dict[str, str]) -> str:
    return ", ".join(t(options[key]) for key in options if key in chosen)


# --- becoming a member ----------------------------------------------------------------------


def join_question(t: Translator, org: Organisation) -> OutgoingMessage:
    org_id = str(org.id)
    return message(
        t("Welcome to {org}! Have you just become a member of the party?").format(org=org.name),
        buttons=[
            [Button(t("Yes, I have just joined"), Action("welcome.joined", (org_id,)))],
            [Button(t("No, I'm curious"), Action("welcome.curious", (org_id,)))],
        ],
    )


def confirmation_question(
    name: str, contact: str, branch: Organisation, flow: WelcomeFlow, *, reminder: bool
) -> MessageFor:
    flow_id, since = str(flow.id), flow.created_at

    def ask(t: Translator) -> OutgoingMessage:
        text = (
            t(
                "Still waiting: {name} ({reach}) said on {day} that they had joined the party "
                "through the link of {org}. Can you confirm the membership?"
            ).format(name=name, reach=contact, org=branch.name, day=day(since, branch.zone, t))
            if reminder
            else t(
                "{name} ({reach}) says they have just joined the party through the link "
                "of {org}. Can you confirm the membership?"
            ).format(name=name, reach=contact, org=branch.name)
        )
        return message(
            text,
            buttons=[
                [Button(t("Confirm membership"), Action("welcome.confirm", (flow_id,)))],
                [Button(t("Can't find the membership"), Action("welcome.not_found", (flow_id,)))],
            ],
        )

    return ask


def not_found_notice(t: Translator) -> OutgoingMessage:
    return message(
        t(
            "We could not find your membership yet. If you joined very recently it can "
            "take a few days; a member officer will be in touch. Meanwhile you are "
            "welcome at every open activity: see /moten."
        )
    )


# --- the personal contact ---------------------------------------------------------------------


def contacted_button(t: Translator, flow_id: str) -> Button:
    return Button(t("I have made contact"), Action("welcome.contacted", (flow_id,)))


def officer_new(
    name: str, contact: str, branch: Organisation, flow_id: str, days: int
) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        return (
            MessageBuilder()
            .line(bold(t("New member in {org}: {name}").format(org=branch.name, name=name)))
            .line(t("Reach them: {reach}").format(reach=contact))
            .line(
                t.ngettext(
                    "You are their contact person. Please call or write to them personally within {days} day, and press the button when you have.",
                    "You are their contact person. Please call or write to them personally within {days} days, and press the button when you have.",
                    days,
                ).format(days=days)
            )
            .line(t("I will tell you their interests when they have answered."))
            .button_row(contacted_button(t, flow_id))
            .build()
        )

    return build


def officer_on_email(name: str, address: str) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        return message(
            t(
                "{name} is in no chat with the bot, so the introduction reaches them by email "
                "({address}). A call or a personal email from you helps them get started."
            ).format(name=name, address=address)
        )

    return build


def contact_reminder(name: str, days: int, contact: str, flow_id: str) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        return message(
            t.ngettext(
                "A reminder: {name} became a member {days} day ago and has not had a "
                "personal contact yet. Reach them: {reach}",
                "A reminder: {name} became a member {days} days ago and has not had a "
                "personal contact yet. Reach them: {reach}",
                days,
            ).format(name=name, days=days, reach=contact),
            buttons=[[contacted_button(t, flow_id)]],
        )

    return build


def contact_escalation(
    name: str, branch: Organisation, days: int, officer: str | None, contact: str, flow_id: str
) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        return message(
            t.ngettext(
                "{name} became a member of {org} {days} day ago and has still not been "
                "contacted personally. Member officer: {officer}. Can you make sure someone "
                "gets in touch? Reach them: {reach}",
                "{name} became a member of {org} {days} days ago and has still not been "
                "contacted personally. Member officer: {officer}. Can you make sure someone "
                "gets in touch? Reach them: {reach}",
                days,
            ).format(
                name=name,
                org=branch.name,
                days=days,
                officer=officer or t("no member officer yet"),
                reach=contact,
            ),
            buttons=[[contacted_button(t, flow_id)]],
        )

    return build


# --- the steps ------------------------------------------------------------------------------


def with_note(build: MessageFor, note: str) -> MessageFor:
    if not note:
        return build

    def noted(t: Translator) -> OutgoingMessage:
        built = build(t)
        return OutgoingMessage(
            (*built.spans, *message("\n\n" + note).spans), built.buttons, built.attachment
        )

    return noted


def pause_stop_row(t: Translator, flow_id: str) -> list[Button]:
    return [
        Button(t("Pause"), Action("welcome.pause", (flow_id,))),
        Button(t("Stop"), Action("welcome.stop", (flow_id,))),
    ]


def welcome_step(
    t: Translator,
    branch: Organisation,
    name: str,
    officer: str | None,
    officer_reach: str,
    flow_id: str,
) -> OutgoingMessage:
    text = MessageBuilder().line(
        bold(
            t("A warm welcome as a new member of {org}, {name}!").format(org=branch.name, name=name)
        )
    )
    if officer:
        text.paragraph(
            t(
                "Your contact person is {officer}, member officer. {officer} will get in "
                "touch with you personally soon; you can also write to them: {reach}."
            ).format(officer=officer, reach=officer_reach)
        )
    else:
        text.paragraph(t("Someone from the branch will get in touch with you personally soon."))
    text.paragraph(
        t(
            "During your first month I will send you a few short messages: about your "
            "interests, your local association, the next open meeting and member education."
        )
    )
    text.paragraph(t("You can pause or stop this at any time, here or with /introduktion."))
    text.button_row(*pause_stop_row(t, flow_id))
    return text.build()


# The three questions a new member answers by ticking options, then Done.
CHOICES: dict[str, tuple[dict[str, str], int, str]] = {
    "welcome.interest": (INTERESTS, 3, "welcome.interests_done"),
    "welcome.way": (WAYS, 1, "welcome.ways_done"),
    "welcome.checkin": (CHECKIN_DONE, 1, "welcome.checkin_done"),
}


def choice_question(t: Translator, question: str, action: str, flow_id: str) -> OutgoingMessage:
    """A question answered by ticking options (`CHOICES[action]`), then Done."""
    options, per_row, done = CHOICES[action]
    text = MessageBuilder().line(question)
    buttons = [Button(t(label), Action(action, (flow_id, key))) for key, label in options.items()]
    for i in range(0, len(buttons), per_row):
        text.button_row(*buttons[i : i + per_row])
    text.button_row(Button(t("Done"), Action(done, (flow_id,))))
    return text.build()


def interests_question(t: Translator, flow_id: str) -> OutgoingMessage:
    question = t(
        "Tell us a little about yourself, so we can find things that suit you. "
        "What are you interested in? Choose as many as you like, then press Done."
    )
    return choice_question(t, question, "welcome.interest", flow_id)


def ways_question(t: Translator, flow_id: str) -> OutgoingMessage:
    question = t("And how do you like to take part? Choose one or more, then press Done.")
    return choice_question(t, question, "welcome.way", flow_id)


def checkin_question(t: Translator, flow_id: str) -> OutgoingMessage:
    question = t(
        "You have been a member for a month now: how has it been? What have you "
        "had time to do? Choose all that fit, then press Done."
    )
    return choice_question(t, question, "welcome.checkin", flow_id)


def chosen(t: Translator, picked: Sequence[str], action: str, flow_id: str) -> OutgoingMessage:
    """What is ticked so far of one `CHOICES` question, with its Done button."""
    options, _, done = CHOICES[action]
    names = labels(t, picked, options)
    return message(
        t("Chosen: {chosen}.").format(chosen=names) if names else t("Nothing chosen yet."),
        buttons=[[Button(t("Done"), Action(done, (flow_id,)))]],
    )


def association_step(
    t: Translator,
    branch: Organisation,
    association: Organisation | None,
    choices: Sequence[Organisation],
    flow_id: str,
) -> OutgoingMessage:
    text = MessageBuilder()
    if association is not None:
        text.line(
            t(
                "Your local association is {association}, part of {org}. That is where "
                "members near you meet: you are welcome at its meetings."
            ).format(association=association.name, org=branch.name)
        )
    elif choices:
        text.line(
            t(
                "{org} has these local associations (S-föreningar), where members near "
                "you meet. Would you like to belong to one of them?"
            ).format(org=branch.name)
        )
        for org in choices[:8]:
            text.button_row(Button(org.name, Action("welcome.association", (flow_id, str(org.id)))))
    else:
        text.line(
            t("Your local organisation is {org}: its meetings are where you belong.").format(
                org=branch.name
            )
        )
    return text.build()


def meeting_step(
    t: Translator, meeting: Meeting | None, host: Organisation | None, zone: ZoneInfo
) -> OutgoingMessage:
    if meeting is None or host is None:
        return message(
            t(
                "There is no open meeting planned right now. Write /moten to see the "
                "next one when it is announced: new members are especially welcome."
            )
        )
    text = MessageBuilder().line(
        t("You are warmly invited to the next open meeting: a good way to meet us.")
    )
    text.line("")
    add_facts(text, meeting, host, zone, t)
    for row in rsvp_buttons(meeting, t):
        text.button_row(*row)
    return text.build()


def education_step(t: Translator, circles_open: bool, flow_id: str) -> OutgoingMessage:
    text = MessageBuilder().line(bold(t("Member education step 1")))
    text.line(
        t(
            "Every member is offered Member education step 1: the party, our ideas and "
            "how you can make a difference, in a study circle with ABF together with "
            "new and experienced members."
        )
    )
    if circles_open:
        text.paragraph(t("These circles are open for sign-up now:"))
    else:
        # No circle open yet: they can say they want one, and the study organisers hear it.
        text.paragraph(t("Would you like to take part? See the circles with /cirklar."))
        text.button_row(Button(t("Yes, sign me up"), Action("welcome.education", (flow_id,))))
    return text.build()


# --- the member's answers ---------------------------------------------------------------------


def tasks_question(t: Translator, org: Organisation, flow_id: str) -> OutgoingMessage:
    return message(
        t(
            "One last question: may the organisers of {org} get in touch with you about "
            "tasks and roles that fit your interests?"
        ).format(org=org.name),
        buttons=[
            [
                Button(t("Yes, gladly"), Action("welcome.tasks", (flow_id, "yes"))),
                Button(t("No thanks"), Action("welcome.tasks", (flow_id, "no"))),
            ]
        ],
    )


def answers_summary(name: str, flow: WelcomeFlow) -> MessageFor:
    """For the contact person: what a new member answered to the welcome questions."""
    interests, ways, consent = list(flow.interests), list(flow.ways), flow.tasks_consent

    def build(t: Translator) -> OutgoingMessage:
        return (
            MessageBuilder()
            .line(bold(t("{name} has answered the welcome questions").format(name=name)))
            .line(t("Interests: {list}").format(list=labels(t, interests, INTERESTS) or "-"))
            .line(t("Likes to take part: {list}").format(list=labels(t, ways, WAYS) or "-"))
            .line(
                t("Welcomes questions about tasks: yes")
                if consent
                else t("Welcomes questions about tasks: no")
            )
            .build()
        )

    return build


def checkin_summary(name: str, flow: WelcomeFlow) -> MessageFor:
    """For the contact person: how the new member's first month went, in their words."""
    done, wish = list(flow.checkin_done), flow.checkin_wish

    def build(t: Translator) -> OutgoingMessage:
        return (
            MessageBuilder()
            .line(bold(t("{name} after a month as a member").format(name=name)))
            .line(t("Has done: {list}").format(list=labels(t, done, CHECKIN_DONE) or "-"))
            .line(t("Would like: {wish}").format(wish=wish or "-"))
            .build()
        )

    return build


def introduction(t: Translator, flow: WelcomeFlow, sent: Sequence[StepKind]) -> OutgoingMessage:
    """/introduktion: where the member's own introduction stands, and what they can change."""
    text = MessageBuilder().line(
        bold(t("Your introduction: {status}").format(status=t(STATUS_NAMES[flow.status])))
    )
    steps = ", ".join(t(STEP_NAMES[kind]) for kind in sent)
    text.line(t("Steps so far: {steps}").format(steps=steps or "-"))
    flow_id = str(flow.id)
    if flow.status is FlowStatus.ACTIVE:
        text.button_row(*pause_stop_row(t, flow_id))
    elif flow.status is FlowStatus.PAUSED:
        text.button_row(
            Button(t("Continue"), Action("welcome.resume", (flow_id,))),
            Button(t("Stop"), Action("welcome.stop", (flow_id,))),
        )
    if flow.tasks_consent is not None:
        text.line(
            t("Organisers may ask you about tasks: yes")
            if flow.tasks_consent
            else t("Organisers may ask you about tasks: no")
        )
        text.button_row(
            Button(
                t("No more questions about tasks")
                if flow.tasks_consent
                else t("Yes, ask me about tasks"),
                Action("welcome.tasks", (flow_id, "no" if flow.tasks_consent else "yes")),
            )
        )
    return text.build()


# --- for organisers ---------------------------------------------------------------------------


def _percent(count: int, of: int) -> str:
    return f"{count}/{of} ({round(100 * count / of)} %)" if of else "–"


def figure_lines(t: Translator, figures: WelcomeFigures) -> list[str]:
    """The party's three measures of the welcome, as /nya_medlemmar and the insights show them."""
    median = figures.median_days_to_contact
    contacted = t("Personally contacted: {share}").format(
        share=_percent(figures.contacted.count, figures.contacted.of)
    )
    if median is not None:
        contacted += t.ngettext(
            ", median {days} day", ", median {days} days", plural_form(median)
        ).format(days=format_decimal(median, format="0.#", locale=t.language))
    within_month = figures.introduced_within_month
    education = figures.education_offered_within_six_months
    return [
        contacted,
        t("Introduction completed within a month: {share}").format(
            share=_percent(within_month.count, within_month.of)
        ),
        t("Offered member education within six months: {share}").format(
            share=_percent(education.count, education.of)
        ),
    ]


def new_members(
    t: Translator, org: Organisation, lines: Sequence[str], figures: WelcomeFigures
) -> OutgoingMessage:
    """/nya_medlemmar: the newest members, one line each, then the party's figures."""
    text = MessageBuilder().line(bold(t("New members in {org}").format(org=org.name)))
    if not figures.contacted.of:  # started flows, erased members' included
        text.line(t("No new members yet."))
    for line in lines:
        text.line(line)
    text.paragraph(bold(t("Figures")))
    for line in figure_lines(t, figures):
        text.line(line)
    return text.build()


def new_member_line(
    t: Translator,
    org: Organisation,
    name: str,
    started_at: datetime,
    officer: str | None,
    contacted_at: datetime | None,
) -> str:
    contact = (
        t("contacted {day}").format(day=day(contacted_at, org.zone, t))
        if contacted_at
        else t("not contacted yet")
    )
    return t("{name}: member since {day}, contact person {officer}, {contact}").format(
        name=name, day=day(started_at, org.zone, t), officer=officer or "-", contact=contact
    )


def interest_choice(t: Translator, org: Organisation) -> OutgoingMessage:
    text = MessageBuilder().line(
        t("Which interest? Only members who said yes to questions about tasks are shown.")
    )
    buttons = [
        Button(t(label), Action("welcome.find", (str(org.id), key)))
        for key, label in INTERESTS.items()
    ]
    for i in range(0, len(buttons), 3):
        text.button_row(*buttons[i : i + 3])
    return text.build()


def interested(
    t: Translator, org: Organisation, key: str, people: Sequence[tuple[str, str, Sequence[str]]]
) -> OutgoingMessage:
    """Who is interested in `key`: (name, how to reach them, ways they like to take part)."""
    text = MessageBuilder().line(
        bold(
            t("Interested in {interest} in {org}").format(interest=t(INTERESTS[key]), org=org.name)
        )
    )
    if not people:
        text.line(t("No one yet who has said yes to questions about tasks."))
    for name, contact, ways in people:
        named = labels(t, ways, WAYS)
        text.line(f"{name} ({contact})" + (f" – {named}" if named else ""))
    return text.build()


# --- inviting guests who keep coming ----------------------------------------------------------


def guest_invitation(name: str, count: int, home: Organisation, join_url: str) -> MessageFor:
    def build(t: Translator) -> OutgoingMessage:
        text = MessageBuilder().line(
            t(
                "Thank you for coming to {count} of our open meetings, {name}! Would you like "
                "to become a member? As a member you help shape the politics, can take member "
                "education, and get a contact person who helps you find your way."
            ).format(count=count, name=name)
        )
        if join_url:
            text.paragraph(t("Join here: "), link(join_url, join_url))
        else:
            text.paragraph(t("Ask an organiser of {org} how to join.").format(org=home.name))
        text.paragraph(t("When you have joined, press the button and we will welcome you."))
        text.button_row(Button(t("I have joined"), Action("welcome.joined", (str(home.id),))))
        return text.build()

    return build
