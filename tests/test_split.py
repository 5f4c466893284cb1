"""split_message on real Arabic, French and English prose, Telegram HTML, huge words and emoji; every
part is then sent through the loopback Bot API with parse_mode=HTML to prove Telegram accepts it."""
from __future__ import annotations

import re
import unicodedata

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.split import graphemes, split_message, truncate_plain, utf16_len, visible_text
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH, long_document
from tests.fakes.telegram import FakeTelegram

FRENCH_QUESTIONS = (
    "Pourquoi relire ses notes ne suffit-il pas ? Parce que la mémoire s'efface vite ; il faut donc "
    "s'interroger soi-même. Le professeur le répète : « Testez-vous ! » Les élèves l'écoutent-ils ? "
    "Pas toujours ; certains préfèrent relire, d'autres font des fiches."
)
FAMILY, THUMB, FLAG = "👨‍👩‍👧‍👦", "👍🏽", "🇫🇷"


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_parts(original: str, parts: list[str], limit: int, raw_limit: int | None = None) -> None:
    """The invariants every split must keep."""
    assert parts, "no parts"
    raw_limit = 2 * limit if raw_limit is None else raw_limit
    for part in parts:
        shown = visible_text(part)
        assert shown.strip(), f"empty part in {parts!r}"
        assert utf16_len(shown) <= limit
        assert utf16_len(part) <= raw_limit
        assert unicodedata.category(shown.lstrip()[0]) not in ("Mn", "Mc", "Me"), "part starts with a mark"
        assert _balanced(part), part
    assert squeeze("".join(visible_text(p) for p in parts)) == squeeze(visible_text(original))


def _balanced(part: str) -> bool:
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)([a-z-]+)[^<>]*>", part):
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


def test_short_text_is_one_unchanged_part() -> None:
    assert split_message("<b>مرحبا</b> &amp; bonjour") == ["<b>مرحبا</b> &amp; bonjour"]
    assert split_message("") == []
    assert split_message("  <b> </b>\n") == []


def test_long_arabic_document_with_harakat_cuts_at_paragraphs() -> None:
    paragraphs = [f"{i}. {ARABIC}" for i in range(1, 16)]
    text = "\n\n".join(paragraphs)
    parts = split_message(text)
    check_parts(text, parts, 4096)
    assert len(parts) >= 2
    for part in parts:  # each part is whole paragraphs
        assert all(p in paragraphs for p in part.split("\n\n"))


def test_arabic_cut_never_separates_a_letter_from_its_harakat() -> None:
    word = "تُعَدُّ" * 1500  # one 10,500-character word, marks on almost every letter
    parts = split_message(word, 1000)
    check_parts(word, parts, 1000)
    assert "".join(parts) == word
    for part in parts[1:]:
        assert not unicodedata.combining(part[0])


def test_mixed_long_document_respects_the_limit() -> None:
    text = long_document("ar", 60)
    parts = split_message(text, 1500)
    check_parts(text, parts, 1500)


def test_french_cuts_at_sentence_ends_and_keeps_typographic_spaces() -> None:
    text = " ".join([FRENCH, FRENCH_QUESTIONS] * 6)
    parts = split_message(text, 300)
    check_parts(text, parts, 300)
    for part in parts[:-1]:
        assert part.rstrip("» ")[-1] in ".?!;", part[-40:]
    for part in parts:
        assert part[0] not in "»?!;:" and part[-1] != "«"


def test_french_space_before_punctuation_is_not_a_cut() -> None:
    # The longest stretch with no legal space, "« guillemets » : question ?", is 27 characters.
    text = "mot " * 3 + "« guillemets » : question ? oui ; non !"
    for limit in range(27, len(text)):
        for part in split_message(text, limit):
            assert not part.startswith(("»", ":", "?", ";", "!")) and not part.endswith("«")


def test_line_breaks_beat_sentences_beat_spaces() -> None:
    text = "First sentence here. Second one follows\nthird line and more words to fill it all up"
    assert split_message(text, 60)[0] == "First sentence here. Second one follows"
    text = "First sentence here. Second one follows and then more words to fill"
    assert split_message(text, 50)[0] == "First sentence here."


def test_tags_spanning_a_cut_are_closed_and_reopened() -> None:
    link = '<a href="https://example.org/cours?id=7&amp;lang=fr">'
    text = f"<b>{ENGLISH}</b>\n{link}{FRENCH}</a> &amp; <i>{ARABIC}</i>"
    parts = split_message(text, 200, raw_limit=10_000)
    check_parts(text, parts, 200, raw_limit=10_000)
    bold = [p for p in parts if p.startswith("<b>")]
    linked = [p for p in parts if link in p]
    assert len(bold) >= 2 and all(p.endswith("</b>") for p in bold)
    assert len(linked) >= 2 and all(p.startswith(link) for p in linked[1:])
    assert all(p.count(link) == p.count("</a>") for p in parts)


def test_nested_tags_and_entities_are_never_cut() -> None:
    text = "<blockquote><b>" + " ".join(["x&lt;y&amp;z"] * 400) + "</b></blockquote>"
    parts = split_message(text, 100)
    check_parts(text, parts, 100)
    for part in parts:
        assert part.startswith("<blockquote><b>") and part.endswith("</b></blockquote>")
        assert re.sub(r"&(lt|amp);", "", part).count("&") == 0


def test_raw_length_is_capped_too() -> None:
    text = "&amp;" * 3000  # 3,000 visible characters, 15,000 raw
    parts = split_message(text, 1000)
    check_parts(text, parts, 1000)
    assert all(len(p) <= 2000 for p in parts) and "".join(parts) == text


def test_a_single_10000_character_word() -> None:
    word = "a" * 10_000
    parts = split_message(word)
    assert [len(p) for p in parts] == [4096, 4096, 1808]
    assert "".join(parts) == word


def test_emoji_are_counted_in_utf16_and_never_split() -> None:
    smileys = "😀" * 3000  # 6,000 UTF-16 units
    parts = split_message(smileys)
    assert [p.count("😀") for p in parts] == [2048, 952]
    mixed = (FAMILY + THUMB + FLAG + "é") * 500
    parts = split_message(mixed, 1000)
    check_parts(mixed, parts, 1000)
    clusters = {FAMILY, THUMB, FLAG, "é"}
    for part in parts:
        assert set(graphemes(part)) <= clusters


def test_truncate_plain_keeps_whole_clusters() -> None:
    assert truncate_plain("short") == "short"
    text = "تُعَدُّ" * 1000
    cut = truncate_plain(text, 100)
    kept = cut.removesuffix("…")
    assert utf16_len(cut) <= 100 and text.startswith(kept) and not unicodedata.combining(text[len(kept)])
    assert truncate_plain("ab" + FAMILY + "cd", 12) == "ab…"


@pytest.mark.parametrize("limit", [4096, 700])
async def test_telegram_accepts_every_part(limit: int) -> None:
    link = '<a href="https://example.org/?q=1&amp;r=2">'
    texts = [
        "\n\n".join(f"<b>{i}.</b> {ARABIC}" for i in range(20)),
        "\n\n".join(f"{link}{FRENCH}</a> {FRENCH_QUESTIONS}" for _ in range(15)),
        '<pre><code class="language-python">' + "x = 1  # &lt;ok&gt;\n" * 400 + "</code></pre>",
        "a" * 10_000,
        "تُعَدُّ" * 2000,
        (FAMILY + THUMB + FLAG) * 800,
        "<i>" + long_document("fr", 40).replace("\n\n", "</i>\n\n<i>") + "</i>",
    ]
    async with FakeTelegram() as tg:
        bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url, is_local=False)))
        try:
            for text in texts:
                parts = split_message(text, limit)
                check_parts(text, parts, limit)
                for part in parts:
                    message = await bot.send_message(-100500, part, parse_mode="HTML")
                    assert message.text == visible_text(part)
        finally:
            await bot.session.close()
