"""What the bot says, in Arabic, French and English.

A typed catalogue rather than aiogram's gettext-based I18n: that needs Babel and compiled .mo files
at build time, while three languages and a few dozen strings fit in one reviewed module whose
completeness a test checks (every key in every language, same placeholders). Entries are plain
text: `Translator` renders them for Telegram.
"""
from __future__ import annotations

from collections.abc import Mapping

from aiogram.utils.formatting import Text

CATALOG: Mapping[str, Mapping[str, str]] = {
    "start": {
        "ar": "مرحبًا {name}! أنا أستاذ، مساعدك في الدراسة. اطرح سؤالك عن مادة الدرس وسأجيبك مع ذكر المصادر، "
              "أو اطلب اختبارًا قصيرًا بالأمر /quiz.\nاكتب /help لرؤية الأوامر.",
        "fr": "Bonjour {name} ! Je suis Ustadh, votre assistant d'étude. Posez une question sur le cours et je "
              "réponds en citant mes sources, ou demandez un quiz avec /quiz.\nTapez /help pour voir les commandes.",
        "en": "Hello {name}! I'm Ustadh, your study assistant. Ask a question about the course material and I "
              "answer with citations, or ask for a quiz with /quiz.\nType /help to see the commands.",
    },
    # /help is made from the command table (bot.commands): these frame it; cmd_<name> describe each command.
    "help_header": {"ar": "الأوامر:", "fr": "Commandes :", "en": "Commands:"},
    "help_footer": {"ar": "أو اكتب سؤالك مباشرة.", "fr": "Ou écrivez directement votre question.",
                    "en": "Or just type your question."},
    "help_admin_header": {"ar": "أوامر المشرف:", "fr": "Commandes d'administration :", "en": "Admin commands:"},
    "help_admin_footer": {
        "ar": "أرسل ملفًا (PDF أو HTML أو Markdown أو نص أو DOCX) لإضافته إلى مادة الدرس.",
        "fr": "Envoyez un fichier (PDF, HTML, Markdown, texte, DOCX) pour l'ajouter au cours.",
        "en": "Send a file (PDF, HTML, Markdown, text, DOCX) to add it to the course material."},
    "cmd_topup": {"ar": "شحن رصيد مستخدم", "fr": "créditer un utilisateur", "en": "top up a user's wallet"},
    "cmd_tier": {"ar": "تغيير فئة مستخدم", "fr": "changer l'offre d'un utilisateur", "en": "change a user's tier"},
    "cmd_token": {"ar": "رمز HTTP لمستخدم", "fr": "jeton HTTP d'un utilisateur", "en": "a user's HTTP API token"},
    "cmd_users": {"ar": "آخر المستخدمين", "fr": "derniers utilisateurs", "en": "latest users"},
    "cmd_role": {"ar": "تغيير دور مستخدم", "fr": "changer le rôle d'un utilisateur", "en": "change a user's role"},
    "cmd_stats": {"ar": "إحصاءات آخر 7 أيام", "fr": "statistiques des 7 derniers jours", "en": "the last 7 days"},
    "cmd_ingest": {"ar": "إضافة صفحة ويب إلى المادة (أو ردًا على رسالة فيها ملف)",
                   "fr": "ajouter une page web au cours (ou en réponse à un message avec un fichier)",
                   "en": "add a web page to the course material (or reply with it to a message with a file)"},
    "cmd_jobs": {"ar": "مهام الإضافة الأخيرة", "fr": "dernières importations", "en": "recent ingestion jobs"},
    "cmd_reindex": {"ar": "إعادة فهرسة المادة بنموذج التضمين الحالي",
                    "fr": "réindexer le cours avec le modèle d'embeddings actuel",
                    "en": "reindex the material with the current embedding model"},
    "cmd_sources": {"ar": "مصادر الويب", "fr": "sources web", "en": "web sources"},
    "cmd_source_add": {"ar": "إضافة مصدر ويب أو تغييره", "fr": "ajouter ou modifier une source web",
                       "en": "add or change a web source"},
    "cmd_sync": {"ar": "زحف مصدر الآن", "fr": "explorer une source maintenant", "en": "crawl a source now"},
    "cmd_source_pause": {"ar": "إيقاف مصدر مؤقتًا", "fr": "mettre une source en pause", "en": "pause a source"},
    "cmd_source_resume": {"ar": "استئناف مصدر", "fr": "reprendre une source", "en": "resume a source"},
    "source_resume_usage": {"ar": "الاستعمال: /source_resume <الاسم>", "fr": "Usage : /source_resume <nom>",
                            "en": "Usage: /source_resume <name>"},
    "source_resumed_now": {"ar": "استؤنف المصدر {name}: تعود المزامنات المجدولة.",
                           "fr": "La source {name} reprend : les synchronisations planifiées reviennent.",
                           "en": "Source {name} resumed: scheduled syncs are back."},
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
    "ingest_usage": {
        "ar": "الاستعمال: ‎/ingest https://example.org/page‎ — أو أرسل الملف نفسه.",
        "fr": "Usage : /ingest https://example.org/page — ou envoyez directement le fichier.",
        "en": "Usage: /ingest https://example.org/page — or send the file itself.",
    },
    "ingest_queued": {
        "ar": "تمت جدولة الإضافة ({job}): {name}\nسأخبرك عند انتهائها.",
        "fr": "Importation en file ({job}) : {name}\nJe vous préviens quand elle est terminée.",
        "en": "Ingestion queued ({job}): {name}\nI'll tell you when it is done.",
    },
    "ingest_indexed": {
        "ar": "✅ تمت فهرسة {name}: {chunks} مقطعًا (اللغة: {language}).",
        "fr": "✅ {name} est indexé : {chunks} passages (langue : {language}).",
        "en": "✅ {name} is indexed: {chunks} passages (language: {language}).",
    },
    "ingest_unchanged": {
        "ar": "✅ {name} مفهرس من قبل ولم يتغير؛ لا شيء لفعله.",
        "fr": "✅ {name} est déjà indexé et n'a pas changé ; rien à faire.",
        "en": "✅ {name} is already indexed and unchanged; nothing to do.",
    },
    "ingest_failed": {
        "ar": "❌ تعذّرت إضافة {name}: {reason}\nلم تتم فهرسة أي جزء منه.",
        "fr": "❌ Impossible d'importer {name} : {reason}\nRien n'en a été indexé.",
        "en": "❌ Could not ingest {name}: {reason}\nNothing of it was indexed.",
    },
    "ingest_too_large": {
        "ar": "❌ الملف كبير جدًا ({size} م.ب)؛ الحد هو {limit} م.ب. لم تتم جدولة شيء.",
        "fr": "❌ Fichier trop volumineux ({size} Mo) ; la limite est de {limit} Mo. Rien n'a été importé.",
        "en": "❌ The file is too large ({size} MB); the limit is {limit} MB. Nothing was queued.",
    },
    "ingest_unavailable": {
        "ar": "خدمة الإضافة غير متاحة الآن. لم تتم جدولة شيء؛ حاول بعد قليل.",
        "fr": "Le service d'importation est indisponible. Rien n'a été mis en file ; réessayez bientôt.",
        "en": "The ingestion service is unavailable. Nothing was queued; try again shortly.",
    },
    "ingest_admin_only": {
        "ar": "يمكن للمشرفين فقط إضافة مواد إلى الدرس. اطرح سؤالك نصًا.",
        "fr": "Seuls les administrateurs peuvent ajouter des documents au cours. Posez votre question par écrit.",
        "en": "Only admins can add course material. Ask your question as text.",
    },
    "jobs_empty": {
        "ar": "لا توجد مهام إضافة بعد.",
        "fr": "Aucune importation pour l'instant.",
        "en": "No ingestion jobs yet.",
    },
    "jobs_header": {
        "ar": "آخر مهام الإضافة:",
        "fr": "Dernières importations :",
        "en": "Recent ingestion jobs:",
    },
    "job_line": {
        "ar": "{icon} {name} — {state}{extra}",
        "fr": "{icon} {name} — {state}{extra}",
        "en": "{icon} {name} — {state}{extra}",
    },
    "job_state_queued": {"ar": "في الانتظار", "fr": "en attente", "en": "queued"},
    "job_state_extracting": {"ar": "استخراج النص", "fr": "extraction", "en": "extracting"},
    "job_state_normalising": {"ar": "فحص النص", "fr": "analyse", "en": "normalising"},
    "job_state_chunking": {"ar": "تقطيع", "fr": "découpage", "en": "chunking"},
    "job_state_embedding": {"ar": "فهرسة {done}/{total}", "fr": "indexation {done}/{total}",
                            "en": "embedding {done}/{total}"},
    "job_state_indexed": {"ar": "مفهرس ({chunks} مقطعًا)", "fr": "indexé ({chunks} passages)",
                          "en": "indexed ({chunks} passages)"},
    "job_state_failed": {"ar": "فشل", "fr": "échec", "en": "failed"},
    "reason_too_large": {"ar": "الملف أكبر من الحد المسموح", "fr": "le fichier dépasse la taille maximale",
                         "en": "the file is over the size limit"},
    "reason_empty": {"ar": "المستند لا يحتوي على نص", "fr": "le document ne contient pas de texte",
                     "en": "the document has no text"},
    "reason_unsupported_type": {"ar": "نوع الملف غير مدعوم (المدعوم: PDF وHTML وMarkdown والنص وDOCX)",
                                "fr": "type de fichier non pris en charge (PDF, HTML, Markdown, texte, DOCX)",
                                "en": "unsupported file type (supported: PDF, HTML, Markdown, text, DOCX)"},
    "reason_encrypted": {"ar": "ملف PDF محمي بكلمة مرور", "fr": "le PDF est chiffré (protégé par mot de passe)",
                         "en": "the PDF is encrypted (password protected)"},
    "reason_corrupt": {"ar": "الملف تالف ولا يمكن قراءته", "fr": "le fichier est corrompu et illisible",
                       "en": "the file is corrupt and cannot be read"},
    "reason_binary": {"ar": "المحتوى ثنائي وليس نصًا", "fr": "le contenu est binaire, pas du texte",
                      "en": "the content is binary, not text"},
    "reason_too_short": {"ar": "النص قصير جدًا", "fr": "le texte est trop court", "en": "the text is too short"},
    "reason_symbols": {"ar": "النص مكوّن في معظمه من أرقام ورموز", "fr": "le texte est surtout fait de chiffres et "
                       "de symboles", "en": "the text is mostly digits and symbols"},
    "reason_boilerplate": {"ar": "معظم الأسطر مكررة", "fr": "la plupart des lignes se répètent",
                           "en": "most lines repeat"},
    "reason_stopwords": {"ar": "لا يبدو نصًا مكتوبًا بلغة طبيعية", "fr": "cela ne ressemble pas à un texte rédigé",
                         "en": "it does not read like written prose"},
    "reason_duplicate": {"ar": "نسخة شبه مطابقة لمستند موجود", "fr": "quasi-doublon d'un document existant",
                         "en": "a near-duplicate of an existing document"},
    "reason_url_invalid": {"ar": "الرابط غير صالح (http أو https فقط)", "fr": "URL invalide (http ou https "
                           "uniquement)", "en": "invalid URL (http or https only)"},
    "reason_http_status": {"ar": "الموقع رفض الطلب", "fr": "le site a refusé la demande",
                           "en": "the site refused the request"},
    "reason_network": {"ar": "تعذّر الوصول إلى الموقع", "fr": "le site est injoignable",
                       "en": "the site could not be reached"},
    "reason_timeout": {"ar": "انتهت مهلة التحميل", "fr": "le téléchargement a expiré", "en": "the download timed out"},
    "reason_blocked": {"ar": "الرابط يشير إلى عنوان داخلي أو خاص، فلا يُسمح بتحميله",
                       "fr": "l'URL mène à une adresse interne ou privée : téléchargement refusé",
                       "en": "the URL leads to an internal or private address, which is not allowed"},
    "reason_redirects": {"ar": "الموقع يعيد التوجيه مرات كثيرة", "fr": "le site redirige trop de fois",
                         "en": "the site redirects too many times"},
    "reason_gave_up": {"ar": "فشلت المحاولات المتكررة", "fr": "échec après plusieurs tentatives",
                       "en": "failed after several attempts"},
    "reason_embedding": {"ar": "رفض نموذج الفهرسة النص", "fr": "le modèle d'indexation a refusé le texte",
                         "en": "the embedding model refused the text"},
    "reason_internal": {"ar": "خطأ داخلي", "fr": "erreur interne", "en": "internal error"},
    "search_usage": {
        "ar": "الاستعمال: ‎/search‎ سؤالك — مثال: ‎/search‎ كيف تتم تنقية الماء؟",
        "fr": "Usage : /search votre question — par exemple : /search Comment purifier l'eau ?",
        "en": "Usage: /search your question — e.g. /search How is water purified?",
    },
    "search_header": {"ar": "🔎 مقاطع من مادة الدرس:", "fr": "🔎 Passages du cours :",
                      "en": "🔎 Passages from the course material:"},
    "search_page": {"ar": "ص. {page}", "fr": "p. {page}", "en": "p. {page}"},
    "search_none": {"ar": "لم أجد في مادة الدرس ما يجيب عن هذا السؤال.",
                    "fr": "Je n'ai rien trouvé dans le cours qui réponde à cette question.",
                    "en": "Nothing in the course material answers that question."},
    "search_bad_query": {"ar": "لم أفهم السؤال. اكتبه بكلمات (حتى 2000 حرف).",
                         "fr": "Je n'ai pas compris la question. Écrivez-la avec des mots (2 000 caractères au plus).",
                         "en": "I couldn't read that question. Write it in words (up to 2,000 characters)."},
    "search_unavailable": {"ar": "البحث غير متاح الآن؛ حاول بعد قليل.",
                           "fr": "La recherche est momentanément indisponible ; réessayez bientôt.",
                           "en": "Search is briefly unavailable; try again shortly."},
    "cmd_search": {"ar": "البحث في الدرس", "fr": "Chercher dans le cours", "en": "Search the course"},
    "cmd_balance": {"ar": "رصيدي", "fr": "Mon solde", "en": "My balance"},
    "cmd_history": {"ar": "سجل الحركات", "fr": "Historique", "en": "History"},
    "cmd_start": {"ar": "البداية", "fr": "Accueil", "en": "Welcome"},
    "cmd_help": {"ar": "المساعدة", "fr": "Aide", "en": "Help"},
    "cmd_language": {"ar": "تغيير اللغة", "fr": "Changer la langue", "en": "Change the language"},
    "unknown_command": {"ar": "لا أعرف هذا الأمر. اكتب /help لرؤية الأوامر.",
                        "fr": "Je ne connais pas cette commande. Tapez /help pour voir les commandes.",
                        "en": "I don't know that command. Type /help to see the commands."},
    "text_only": {"ar": "أرسل سؤالك نصًّا مكتوبًا، وسأجيبك من مادة الدرس.",
                  "fr": "Écrivez votre question en texte et je réponds à partir du cours.",
                  "en": "Send your question as text and I'll answer from the course material."},
    "sources_header": {"ar": "مصادر الويب:", "fr": "Sources web :", "en": "Web sources:"},
    "sources_empty": {"ar": "لا توجد مصادر ويب بعد. أضف واحدًا بالأمر /source_add.",
                      "fr": "Aucune source web pour l'instant. Ajoutez-en une avec /source_add.",
                      "en": "No web sources yet. Add one with /source_add."},
    "source_line": {"ar": "{icon} {name} ({status}) — {url} · آخر مزامنة: {last}",
                    "fr": "{icon} {name} ({status}) — {url} · dernière synchro : {last}",
                    "en": "{icon} {name} ({status}) — {url} · last sync: {last}"},
    "source_status_active": {"ar": "نشط", "fr": "active", "en": "active"},
    "source_status_paused": {"ar": "موقوف: {reason}", "fr": "en pause : {reason}", "en": "paused: {reason}"},
    "source_never_synced": {"ar": "لم تتم بعد", "fr": "jamais", "en": "never"},
    "source_add_usage": {
        "ar": "الاستعمال: /source_add <الاسم> <الرابط> [depth=N] [budget=N] [every=دقائق] [lang=ar|fr|en]",
        "fr": "Usage : /source_add <nom> <URL> [depth=N] [budget=N] [every=MINUTES] [lang=ar|fr|en]",
        "en": "Usage: /source_add <name> <URL> [depth=N] [budget=N] [every=MINUTES] [lang=ar|fr|en]",
    },
    "source_saved": {
        "ar": "تم حفظ المصدر {name}: {url}، العمق {depth}، حتى {budget} صفحة، {schedule}. زامنه بالأمر /sync {name}",
        "fr": "Source {name} enregistrée : {url}, profondeur {depth}, {budget} pages au plus, {schedule}. "
              "Synchronisez-la avec /sync {name}",
        "en": "Source {name} saved: {url}, depth {depth}, at most {budget} pages, {schedule}. Sync it with /sync {name}",
    },
    "source_every": {"ar": "كل {minutes} دقيقة", "fr": "toutes les {minutes} min", "en": "every {minutes} min"},
    "source_no_schedule": {"ar": "بلا جدولة", "fr": "sans planification", "en": "no schedule"},
    "source_invalid": {"ar": "لم يُحفظ المصدر: {error}", "fr": "Source non enregistrée : {error}",
                       "en": "Source not saved: {error}"},
    "source_unknown": {"ar": "لا يوجد مصدر باسم {name}. الأمر /sources يعرض المصادر.",
                       "fr": "Aucune source nommée {name}. /sources les liste.",
                       "en": "No source named {name}. /sources lists them."},
    "source_pause_usage": {"ar": "الاستعمال: /source_pause <الاسم>", "fr": "Usage : /source_pause <nom>",
                           "en": "Usage: /source_pause <name>"},
    "source_paused_now": {"ar": "⏸ تم إيقاف المصدر {name}. الأمر /sync {name} يستأنفه.",
                          "fr": "⏸ Source {name} en pause. /sync {name} la reprend.",
                          "en": "⏸ Source {name} is paused. /sync {name} resumes it."},
    "sync_usage": {"ar": "الاستعمال: /sync <الاسم>", "fr": "Usage : /sync <nom>", "en": "Usage: /sync <name>"},
    "sync_running": {"ar": "مزامنة {name} جارية بالفعل؛ سأعرض تقدمها هنا.",
                     "fr": "Une synchronisation de {name} est déjà en cours ; je suis sa progression ici.",
                     "en": "A sync of {name} is already running; following it here."},
    "sync_progress": {
        "ar": "🔄 مزامنة {name}: {fetched} صفحة مجلوبة، {kept} محفوظة، {unchanged} دون تغيير، {duplicates} مكررة، "
              "{rejected} مرفوضة، {skipped} متجاوزة، {errors} أخطاء",
        "fr": "🔄 Synchro de {name} : {fetched} pages récupérées, {kept} gardées, {unchanged} inchangées, "
              "{duplicates} doublons, {rejected} rejetées, {skipped} ignorées, {errors} erreurs",
        "en": "🔄 Syncing {name}: {fetched} pages fetched, {kept} kept, {unchanged} unchanged, {duplicates} duplicates, "
              "{rejected} rejected, {skipped} skipped, {errors} errors",
    },
    "sync_done": {
        "ar": "✅ انتهت مزامنة {name} في {seconds} ث: {fetched} صفحة مجلوبة، {kept} محفوظة، {unchanged} دون تغيير، "
              "{duplicates} مكررة، {rejected} مرفوضة، {skipped} متجاوزة، {errors} أخطاء",
        "fr": "✅ Synchro de {name} terminée en {seconds} s : {fetched} pages récupérées, {kept} gardées, "
              "{unchanged} inchangées, {duplicates} doublons, {rejected} rejetées, {skipped} ignorées, {errors} erreurs",
        "en": "✅ Sync of {name} finished in {seconds} s: {fetched} pages fetched, {kept} kept, {unchanged} unchanged, "
              "{duplicates} duplicates, {rejected} rejected, {skipped} skipped, {errors} errors",
    },
    "sync_failed": {"ar": "❌ فشلت مزامنة {name}: {error}", "fr": "❌ Échec de la synchro de {name} : {error}",
                    "en": "❌ Sync of {name} failed: {error}"},
    "sync_source_paused": {"ar": "⏸ أُوقف المصدر {name}: {reason}", "fr": "⏸ Source {name} mise en pause : {reason}",
                           "en": "⏸ Source {name} was paused: {reason}"},
    "crawler_unavailable": {"ar": "خدمة الزحف غير متاحة الآن؛ حاول بعد قليل.",
                            "fr": "Le service d'exploration est indisponible ; réessayez bientôt.",
                            "en": "The crawler is unavailable right now; try again shortly."},
    "cmd_quiz": {"ar": "اختبار قصير", "fr": "Quiz", "en": "Quiz"},
    "cmd_score": {"ar": "نتيجتي", "fr": "Mon score", "en": "My score"},
    "cmd_asked": {"ar": "أسئلتي الأخيرة", "fr": "Mes dernières demandes", "en": "My recent requests"},
    "asked_unavailable": {"ar": "سجل طلباتك غير متاح الآن؛ حاول بعد قليل.",
                          "fr": "L'historique de vos demandes est momentanément indisponible ; réessayez bientôt.",
                          "en": "Your request history is briefly unavailable; try again shortly."},
    "asked_header": {"ar": "طلباتك الأخيرة:", "fr": "Vos dernières demandes :", "en": "Your recent requests:"},
    "asked_empty": {"ar": "لم تطرح أي سؤال بعد.", "fr": "Aucune demande pour l'instant.",
                    "en": "No requests yet."},
    "asked_line": {"ar": "{date} · {kind} · {status} · {cost}", "fr": "{date} · {kind} · {status} · {cost}",
                   "en": "{date} · {kind} · {status} · {cost}"},
    "asked_kind_answer": {"ar": "سؤال", "fr": "question", "en": "question"},
    "asked_kind_quiz": {"ar": "اختبار", "fr": "quiz", "en": "quiz"},
    "asked_status_answered": {"ar": "أُجيب", "fr": "répondu", "en": "answered"},
    "asked_status_refused": {"ar": "مرفوض", "fr": "refusé", "en": "refused"},
    "asked_status_failed": {"ar": "تعذّر", "fr": "échoué", "en": "failed"},
    "cmd_new": {"ar": "محادثة جديدة", "fr": "Nouvelle conversation", "en": "New conversation"},
    "refused_bad_query": {"ar": "لم أفهم السؤال. اكتبه بكلمات (حتى 2000 حرف).",
                          "fr": "Je n'ai pas compris la question. Écrivez-la avec des mots (2000 caractères au plus).",
                          "en": "I couldn't read that question. Write it in words (2,000 characters at most)."},
    "refused_rate_limited": {"ar": "أسئلة كثيرة في وقت قصير. حاول بعد {seconds} ثانية.",
                             "fr": "Trop de questions d'un coup. Réessayez dans {seconds} s.",
                             "en": "Too many questions at once. Try again in {seconds} s."},
    "refused_busy": {"ar": "الخدمة مشغولة جدًا الآن؛ أعد المحاولة بعد لحظة.",
                     "fr": "Le service est très chargé ; réessayez dans un instant.",
                     "en": "The service is very busy right now; try again in a moment."},
    "refused_quota": {"ar": "بلغت حدّ أسئلتك اليومي. يتجدد الحد غدًا، أو اطلب من المشرف ترقية فئتك.",
                      "fr": "Vous avez atteint votre quota de questions du jour. Il se renouvelle demain.",
                      "en": "You've reached today's question quota. It renews tomorrow."},
    "refused_insufficient_credit": {"ar": "رصيدك لا يكفي لهذا الطلب، ولم يُخصم منك شيء. اكتب /balance لمعرفة رصيدك.",
                                    "fr": "Votre crédit ne suffit pas pour cette demande ; rien n'a été débité. "
                                          "Tapez /balance pour voir votre solde.",
                                    "en": "Your credit is not enough for this request; nothing was charged. "
                                          "Type /balance to see your balance."},
    "refused_unavailable": {"ar": "تعذّرت الإجابة الآن، ولم يُخصم منك شيء. حاول بعد قليل.",
                            "fr": "Impossible de répondre pour l'instant ; rien n'a été débité. Réessayez bientôt.",
                            "en": "I couldn't answer right now; nothing was charged. Please try again shortly."},
    "refused_unknown_user": {"ar": "اكتب /start أولًا.", "fr": "Tapez d'abord /start.", "en": "Type /start first."},
    "refused_no_material": {"ar": "لم أجد في مادة الدرس ما يكفي لاختبار عن هذا الموضوع، ولم يُخصم منك شيء.",
                            "fr": "Le cours ne contient pas assez de matière sur ce sujet pour un quiz ; rien n'a été "
                                  "débité.",
                            "en": "The course material has too little on this topic for a quiz; nothing was charged."},
    "refused_bad_count": {"ar": "عدد الأسئلة من 1 إلى {detail}.", "fr": "Le nombre de questions va de 1 à {detail}.",
                          "en": "The number of questions must be from 1 to {detail}."},
    "refused_idempotency_conflict": {"ar": "هذا الطلب يحمل مفتاح طلب سابق مختلف، ولم يُخصم منك شيء. أعد إرساله.",
                                     "fr": "Cette demande réutilise la clé d'une autre demande ; rien n'a été débité. "
                                           "Renvoyez-la.",
                                     "en": "This request reuses the key of a different one; nothing was charged. "
                                           "Send it again."},
    "memory_cleared": {"ar": "بدأنا محادثة جديدة.", "fr": "Nouvelle conversation : j'ai oublié les échanges précédents.",
                       "en": "New conversation: I've forgotten what we said before."},
    "answer_queued": {"ar": "⏳ أسئلة أخرى قبل سؤالك؛ ستصلك الإجابة بعد قليل.",
                      "fr": "⏳ D'autres questions passent avant la vôtre ; la réponse arrive bientôt.",
                      "en": "⏳ Other questions are ahead of yours; your answer is coming shortly."},
    "answer_fallback_note": {"ar": "(إجابة مقتبسة من المادة مباشرة)", "fr": "(réponse tirée directement du cours)",
                             "en": "(answer quoted directly from the course material)"},
    "quiz_usage": {"ar": "اكتب: /quiz <الموضوع> [عدد الأسئلة]\nمثال: /quiz التمثيل الضوئي 3",
                   "fr": "Écrivez : /quiz <sujet> [nombre de questions]\nExemple : /quiz photosynthèse 3",
                   "en": "Type: /quiz <topic> [number of questions]\nExample: /quiz photosynthesis 3"},
    "quiz_intro": {"ar": "📝 اختبار من {count} أسئلة ({reviews} للمراجعة).",
                   "fr": "📝 Quiz de {count} questions (dont {reviews} à revoir).",
                   "en": "📝 A quiz of {count} questions ({reviews} for review)."},
    "score": {"ar": "نتيجتك: {correct} من {answered} إجابة صحيحة (هذا الأسبوع: {correct_week} من {answered_week}).\n"
                    "أسئلة للمراجعة: {due}",
              "fr": "Votre score : {correct} bonnes réponses sur {answered} (cette semaine : {correct_week} sur "
                    "{answered_week}).\nQuestions à revoir : {due}",
              "en": "Your score: {correct} right out of {answered} (this week: {correct_week} of {answered_week}).\n"
                    "Questions to review: {due}"},
    "users_header": {"ar": "المستخدمون ({count}):", "fr": "Utilisateurs ({count}) :", "en": "Users ({count}):"},
    "user_line": {"ar": "#{id} · {name} · {role} · {tier}", "fr": "#{id} · {name} · {role} · {tier}",
                  "en": "#{id} · {name} · {role} · {tier}"},
    "role_usage": {"ar": "اكتب: /role <المستخدم> <learner|teacher|admin>",
                   "fr": "Écrivez : /role <utilisateur> <learner|teacher|admin>",
                   "en": "Type: /role <user> <learner|teacher|admin>"},
    "role_done": {"ar": "أصبح دور {user}: {role}.", "fr": "Le rôle de {user} est maintenant : {role}.",
                  "en": "{user} now has the role: {role}."},
    "stats_caption": {"ar": "المستخدمون: {users}\nأسئلة اليوم: {questions}\nالرصيد المنفق اليوم: {spent}\n"
                            "زمن الاستجابة p95 اليوم: {p95}",
                      "fr": "Utilisateurs : {users}\nQuestions aujourd'hui : {questions}\nCrédits dépensés aujourd'hui : "
                            "{spent}\nLatence p95 aujourd'hui : {p95}",
                      "en": "Users: {users}\nQuestions today: {questions}\nCredits spent today: {spent}\n"
                            "p95 latency today: {p95}"},
    "reindex_started": {"ar": "بدأت إعادة الفهرسة بالنموذج {model}.",
                        "fr": "Réindexation lancée avec le modèle {model}.",
                        "en": "Reindexing started with the model {model}."},
    "reindex_progress": {"ar": "إعادة الفهرسة: {done}/{total}", "fr": "Réindexation : {done}/{total}",
                         "en": "Reindexing: {done}/{total}"},
    "reindex_done": {"ar": "اكتملت إعادة الفهرسة: {total} مقطعًا بالنموذج {model}.",
                     "fr": "Réindexation terminée : {total} passages avec le modèle {model}.",
                     "en": "Reindexing finished: {total} chunks with the model {model}."},
    "ingest_reply_usage": {"ar": "أرسل /ingest ردًا على رسالة فيها ملف، أو /ingest <الرابط>.",
                           "fr": "Envoyez /ingest en réponse à un message contenant un fichier, ou /ingest <URL>.",
                           "en": "Send /ingest as a reply to a message with a file, or /ingest <URL>."},
    "reindex_running": {"ar": "إعادة الفهرسة جارية بالفعل.", "fr": "Une réindexation est déjà en cours.",
                        "en": "A reindex is already running."},
    "reindex_failed": {"ar": "توقفت إعادة الفهرسة بعد {done} مقطعًا؛ أعد /reindex لاحقًا لإكمالها.",
                       "fr": "Réindexation interrompue après {done} passages ; relancez /reindex plus tard pour la "
                             "terminer.",
                       "en": "Reindexing stopped after {done} chunks; run /reindex again later to finish it."},
}

LANGUAGE_NAMES: Mapping[str, str] = {"ar": "العربية", "fr": "Français", "en": "English"}


class Translator:
    """Catalogue entries in one language.

    `t(key, ...)` is Telegram HTML for the bot's default parse mode (set once in `bot.app`): the
    entry with its values, rendered by aiogram.utils.formatting, so a file named "Q&A <1>.pdf" reads
    as typed. `t.plain(key, ...)` is the text itself: for what Telegram does not parse (the command
    menu, keyboard labels, poll questions) and for a value placed inside another entry or builder,
    which escapes it once.
    """

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        return Text(self.plain(key, **values)).as_html()

    def plain(self, key: str, **values: object) -> str:
        return CATALOG[key][self.language].format(**values)
