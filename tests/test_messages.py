"""The neutral message model: JSON round trips and clean splitting at a platform's limit."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from bot.messages import (
    Attachment,
    Button,
    MessageBuilder,
    OutgoingMessage,
    Pointer,
    Span,
    Style,
    bold,
    link,
    split_spans,
)


def length(spans: Sequence[Span]) -> int:
    return sum(len(s.text) for s in spans)


def test_a_message_survives_the_outbox() -> None:
    original = (
        MessageBuilder()
        .line(bold("Tematräff"), " om ", link("skolan", "https://example.org/skolan"))
        .paragraph("<b>inte markup</b> & @everyone")
        .attach(Attachment("motet.ics", "text/calendar", b"BEGIN:VCALENDAR"))
        .build()
    )
    original = OutgoingMessage(
        original.spans, ((Button("Jag kommer", token="abc"),),), original.attachment
    )
    assert OutgoingMessage.from_json(original.to_json()) == original


def test_a_personal_answer_keeps_its_tag_and_pointer_in_the_outbox() -> None:
    pointer = Pointer("-1001", (Span("Anna, starta en privat chatt med mig (/start)."),))
    original = OutgoingMessage((Span("Din anmälan har skickats."),), personal=True, pointer=pointer)
    assert OutgoingMessage.from_json(original.to_json()) == original
    assert OutgoingMessage.from_json(OutgoingMessage((Span("x"),)).to_json()).personal is False


def test_splitting_prefers_paragraphs_then_lines_then_words() -> None:
    spans = [Span("Första stycket är här.\n\nAndra stycket kommer sedan.")]
    chunks = split_spans(spans, 30, length)
    assert ["".join(s.text for s in chunk) for chunk in chunks] == [
        "Första stycket är här.",
        "Andra stycket kommer sedan.",
    ]


def test_a_word_longer_than_the_limit_is_cut() -> None:
    chunks = split_spans([Span("x" * 25)], 10, length)
    assert ["".join(s.text for s in c) for c in chunks] == ["x" * 10, "x" * 10, "x" * 5]


def test_a_link_is_never_cut_when_it_fits() -> None:
    spans = [Span("a " * 8), link("länken", "https://example.org"), Span(" slut")]
    chunks = split_spans(spans, 20, length)
    assert any(s.style is Style.LINK and s.text == "länken" for c in chunks for s in c)


@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.characters(codec="utf-8"), max_size=80),
            st.sampled_from(list(Style)[:3]),
        ),
        max_size=12,
    ),
    st.integers(min_value=5, max_value=60),
)
def test_every_chunk_fits_and_no_word_is_lost(parts: list[tuple[str, Style]], limit: int) -> None:
    spans = [Span(text, style) for text, style in parts]
    chunks = split_spans(spans, limit, length)
    assert all(length(chunk) <= limit for chunk in chunks)
    words = "".join(s.text for s in spans).split()
    rejoined = "".join(s.text for chunk in chunks for s in chunk)
    # Cuts may fall inside a long word, so compare the text without whitespace.
    assert "".join(rejoined.split()) == "".join(words)


@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.sampled_from("ab å\n\t"), max_size=30),
            st.sampled_from(list(Style)),
            st.sampled_from(["https://a.example", "https://b.example"]),
        ),
        max_size=10,
    ),
    st.integers(min_value=5, max_value=200),
)
def test_an_additive_measure_splits_as_word_by_word(
    parts: list[tuple[str, Style, str]], limit: int
) -> None:
    """The whole-message shortcut (`additive=True`) gives what measuring word by word
    gives, empty spans and links included (the Telegram gateway takes it for every send)."""
    spans = [Span(text, style, url if style is Style.LINK else None) for text, style, url in parts]
    assert split_spans(spans, limit, length, additive=True) == split_spans(spans, limit, length)
