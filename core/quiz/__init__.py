"""Multiple-choice questions from course passages, shaped for Telegram quiz polls.

`cloze_questions` builds them offline (no model); `quiz_messages` / `parse_quiz` ask a chat model
and check its answer; `fit_poll` makes any question fit Telegram's sendPoll limits.
"""
from core.quiz.citation import citation_label
from core.quiz.cloze import BLANK, cloze_questions
from core.quiz.llm_quiz import parse_quiz, quiz_messages
from core.quiz.model import Passage, QuizQuestion
from core.quiz.telegram_limits import fit_poll

__all__ = ["BLANK", "Passage", "QuizQuestion", "citation_label", "cloze_questions", "fit_poll",
           "parse_quiz", "quiz_messages"]
