from __future__ import annotations

import pytest

from ori_contracts import ScriptedLlmConfig, ScriptedRule
from ori_worker.providers.scripted_llm import Script, last_user_text

pytestmark = pytest.mark.unit

SCRIPT = Script(
    ScriptedLlmConfig(
        rules=[
            ScriptedRule(when_any=["book", "appointment"], say="Booking."),
            ScriptedRule(
                when_any=["tuesday works"],
                say="Done.",
                tool="book_appointment",
                tool_arguments={"slot": "tue"},
            ),
            ScriptedRule(when_any=["bye"], say="Bye!", tool="end_call"),
        ],
        fallback_reply="Pardon?",
    )
)


def test_the_first_rule_whose_keyword_is_a_whole_word_answers() -> None:
    reply = SCRIPT.reply("I'd like to BOOK a visit")
    assert (reply.say, reply.tool, reply.rule_index) == ("Booking.", None, 0)


def test_a_keyword_inside_another_word_does_not_match() -> None:
    assert SCRIPT.reply("my bookshelf is goodbyeish").say == "Pardon?"


def test_a_multi_word_keyword_matches_across_punctuation_and_spaces() -> None:
    reply = SCRIPT.reply("Yes, Tuesday   works!")
    assert reply.tool == "book_appointment"
    assert reply.tool_arguments == {"slot": "tue"}


def test_a_rule_with_a_tool_calls_it_with_no_arguments_when_none_are_given() -> None:
    reply = SCRIPT.reply("ok bye")
    assert (reply.say, reply.tool, reply.tool_arguments) == ("Bye!", "end_call", {})


def test_only_a_context_ending_with_the_user_is_answered() -> None:
    user = {
        "role": "user",
        "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "there"}],
    }
    assert last_user_text([{"role": "system", "content": "s"}, user]) == "hello there"
    assert last_user_text([user, {"role": "tool", "content": "ok"}]) is None
    assert last_user_text([]) is None
