"""What the bot says, in Arabic, French and English.

A typed catalogue rather than aiogram's gettext-based I18n: that needs Babel and compiled .mo files
at build time, while three languages and a few dozen strings fit in one reviewed module whose
completeness a test checks (every key in every language, same placeholders).
"""
from __future__ import annotations

from collections.abc import Mapping

CATALOG: Mapping[str, Mapping[str, str]] = {
    "start": {
        "ar": "مرحبًا {name}! أنا أستاذ، مساعدك في الدراسة. اطرح سؤالك عن مادة الدرس وسأجيبك مع ذكر المصادر، "
              "أو اطلب اختبارًا قصيرًا بالأمر /quiz.\nاكتب /help لرؤية الأوامر.",
        "fr": "Bonjour {name} ! Je suis Ustadh, votre assistant d'étude. Posez une question sur le cours et je "
              "réponds en citant mes sources, ou demandez un quiz avec /quiz.\nTapez /help pour voir les commandes.",
        "en": "Hello {name}! I'm Ustadh, your study assistant. Ask a question about the course material and I "
              "answer with citations, or ask for a quiz with /quiz.\nType /help to see the commands.",
    },
    "help": {
        "ar": "الأوامر:\n/start — البداية\n/help — هذه المساعدة\n/language — تغيير لغة الواجهة\n"
              "أو اكتب سؤالك مباشرة.",
        "fr": "Commandes :\n/start — accueil\n/help — cette aide\n/language — changer la langue\n"
              "Ou écrivez directement votre question.",
        "en": "Commands:\n/start — welcome\n/help — this help\n/language — change the language\n"
              "Or just type your question.",
    },
    "help_admin": {
        "ar": "أوامر المشرف متاحة لك أيضًا.",
        "fr": "Les commandes d'administration vous sont aussi ouvertes.",
        "en": "Admin commands are open to you as well.",
    },
    "language_prompt": {
        "ar": "اختر لغتك:",
        "fr": "Choisissez votre langue :",
        "en": "Choose your language:",
    },
    "language_set": {
        "ar": "تم. سأتحدث معك بالعربية.",
        "fr": "C'est fait. Je vous parlerai en français.",
        "en": "Done. I'll talk to you in English.",
    },
    "language_unknown": {
        "ar": "لغة غير معروفة. اللغات المتاحة: ar، fr، en.",
        "fr": "Langue inconnue. Langues disponibles : ar, fr, en.",
        "en": "Unknown language. Available: ar, fr, en.",
    },
    "cmd_start": {"ar": "البداية", "fr": "Accueil", "en": "Welcome"},
    "cmd_help": {"ar": "المساعدة", "fr": "Aide", "en": "Help"},
    "cmd_language": {"ar": "تغيير اللغة", "fr": "Changer la langue", "en": "Change the language"},
}

LANGUAGE_NAMES: Mapping[str, str] = {"ar": "العربية", "fr": "Français", "en": "English"}


class Translator:
    """Formats catalogue entries in one language."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        return CATALOG[key][self.language].format(**values)
