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
              "/balance — رصيدي\n/history — سجل الحركات\n"
              "أو اكتب سؤالك مباشرة.",
        "fr": "Commandes :\n/start — accueil\n/help — cette aide\n/language — changer la langue\n"
              "/balance — mon solde\n/history — historique\n"
              "Ou écrivez directement votre question.",
        "en": "Commands:\n/start — welcome\n/help — this help\n/language — change the language\n"
              "/balance — my balance\n/history — movements\n"
              "Or just type your question.",
    },
    "help_admin": {
        "ar": "أوامر المشرف:\n/topup <المستخدم> <المبلغ>\n/tier <المستخدم> <الفئة>\n/token <المستخدم>",
        "fr": "Commandes d'administration :\n/topup <utilisateur> <montant>\n/tier <utilisateur> <offre>\n"
              "/token <utilisateur>",
        "en": "Admin commands:\n/topup <user> <amount>\n/tier <user> <tier>\n/token <user>",
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
    "balance": {
        "ar": "💳 رصيدك\nالمتاح: {available} رصيد\nالمحتسب: {posted}\nالمحجوز: {pending}",
        "fr": "💳 Votre porte-monnaie\nDisponible : {available} crédits\nComptabilisé : {posted}\nRéservé : {pending}",
        "en": "💳 Your wallet\nAvailable: {available} credits\nPosted: {posted}\nReserved: {pending}",
    },
    "history_header": {"ar": "آخر الحركات:", "fr": "Derniers mouvements :", "en": "Latest movements:"},
    "history_empty": {"ar": "لا توجد حركات بعد.", "fr": "Aucun mouvement pour l'instant.",
                      "en": "No movements yet."},
    "movement": {"ar": "{date} · {kind} · {amount}", "fr": "{date} · {kind} · {amount}",
                 "en": "{date} · {kind} · {amount}"},
    "kind_top_up": {"ar": "شحن", "fr": "recharge", "en": "top-up"},
    "kind_grant": {"ar": "منحة شهرية", "fr": "dotation mensuelle", "en": "monthly grant"},
    "kind_reserve": {"ar": "حجز", "fr": "réservation", "en": "reserved"},
    "kind_settle": {"ar": "خصم", "fr": "débit", "en": "charged"},
    "kind_void": {"ar": "إلغاء الحجز", "fr": "réservation annulée", "en": "reservation released"},
    "kind_expire": {"ar": "انتهاء الحجز", "fr": "réservation expirée", "en": "reservation expired"},
    "admin_only": {
        "ar": "هذا الأمر مخصص للمشرفين.",
        "fr": "Cette commande est réservée aux administrateurs.",
        "en": "This command is for admins only.",
    },
    "topup_usage": {
        "ar": "الاستعمال: ‎/topup <المستخدم> <المبلغ>‎ — المستخدم: ‎@username‎ أو معرّف تيليجرام؛ المبلغ بالرصيد، مثل 10 أو 2.5",
        "fr": "Usage : /topup <utilisateur> <montant> — utilisateur : @pseudo ou identifiant Telegram ; "
              "montant en crédits, p. ex. 10 ou 2,5",
        "en": "Usage: /topup <user> <amount> — user: @username or Telegram id; amount in credits, e.g. 10 or 2.5",
    },
    "topup_done": {
        "ar": "تم شحن {amount} رصيد للمستخدم {user}. المتاح الآن: {available}.",
        "fr": "{amount} crédits ajoutés à {user}. Disponible maintenant : {available}.",
        "en": "Added {amount} credits to {user}. Available now: {available}.",
    },
    "tier_usage": {
        "ar": "الاستعمال: ‎/tier <المستخدم> <free|standard|premium>‎",
        "fr": "Usage : /tier <utilisateur> <free|standard|premium>",
        "en": "Usage: /tier <user> <free|standard|premium>",
    },
    "tier_done": {
        "ar": "أصبحت فئة {user}: {tier}. المنحة الشهرية: {grant} رصيد.",
        "fr": "{user} est maintenant en offre {tier}. Dotation mensuelle : {grant} crédits.",
        "en": "{user} is now on the {tier} tier. Monthly grant: {grant} credits.",
    },
    "token_usage": {
        "ar": "الاستعمال: ‎/token <المستخدم>‎",
        "fr": "Usage : /token <utilisateur>",
        "en": "Usage: /token <user>",
    },
    "token_issued": {
        "ar": "رمز API للمستخدم {user} (الدور: {role}). احتفظ به سرًّا، والرموز السابقة أُلغيت:\n{token}",
        "fr": "Jeton d'API pour {user} (rôle : {role}). Gardez-le secret ; les jetons précédents sont révoqués :\n{token}",
        "en": "API token for {user} (role: {role}). Keep it secret; earlier tokens are revoked:\n{token}",
    },
    "user_not_found": {
        "ar": "لم أجد المستخدم {user}. يجب أن يكون قد راسل البوت مرة على الأقل.",
        "fr": "Utilisateur {user} introuvable. Il doit avoir écrit au bot au moins une fois.",
        "en": "No user {user}. They must have messaged the bot at least once.",
    },
    "err_invalid_amount": {
        "ar": "مبلغ غير صالح: اكتب عددًا موجبًا من الرصيد، مثل 10 أو 2.5.",
        "fr": "Montant invalide : indiquez un nombre positif de crédits, p. ex. 10 ou 2,5.",
        "en": "Invalid amount: give a positive number of credits, e.g. 10 or 2.5.",
    },
    "err_insufficient_funds": {
        "ar": "رصيدك غير كافٍ. اطلب الشحن من المشرف.",
        "fr": "Crédits insuffisants. Demandez une recharge à un administrateur.",
        "en": "Not enough credits. Ask an admin for a top-up.",
    },
    "err_balance_overflow": {
        "ar": "هذا المبلغ يتجاوز الحد الأقصى للرصيد.",
        "fr": "Ce montant dépasse le plafond du porte-monnaie.",
        "en": "That amount would exceed the wallet's limit.",
    },
    "err_wallet_unavailable": {
        "ar": "المحفظة غير متاحة مؤقتًا. لم يتغير شيء؛ حاول بعد قليل.",
        "fr": "Le porte-monnaie est momentanément indisponible. Rien n'a changé ; réessayez dans un instant.",
        "en": "The wallet is briefly unavailable. Nothing changed; try again in a moment.",
    },
    "err_generic": {
        "ar": "تعذّر تنفيذ الطلب ولم يتغير شيء.",
        "fr": "La demande n'a pas pu aboutir et rien n'a changé.",
        "en": "That could not be done, and nothing changed.",
    },
    "cmd_balance": {"ar": "رصيدي", "fr": "Mon solde", "en": "My balance"},
    "cmd_history": {"ar": "سجل الحركات", "fr": "Historique", "en": "History"},
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
