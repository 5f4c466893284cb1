"""Real prose in Arabic, French and English for ingestion tests that must run without ../shared,
and the eval passages when ../shared/eval is present."""
from __future__ import annotations

import json
from pathlib import Path

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"

ARABIC = (
    "تُعَدُّ القراءة مفتاح المعرفة، والكتابة أداتها. وقد اهتمّ العرب منذ القدم بالخطّ والكتابة، فدوّنوا "
    "الشعر والأخبار والأنساب، ثم جاءت المدارس والمكتبات الكبرى في بغداد وقرطبة والقاهرة فحفظت كتب الطبّ "
    "والفلك والرياضيات. وفي بلاد شنقيط عُرفت المحاظر التي يتعلّم فيها الطلاب القرآن والفقه واللغة على يد "
    "شيوخهم، وكانوا يحفظون المتون ويشرحونها في حلقات الدرس. ولا تزال هذه المدارس التقليدية قائمة في "
    "كثير من القرى، يقصدها الطلبة من أماكن بعيدة طلبًا للعلم. ويرى المربّون أن الجمع بين الحفظ والفهم "
    "هو السبيل إلى تعلّم متين، وأن على المعلّم أن يسأل طلابه ويصغي إلى أجوبتهم قبل أن يصحّحها."
)

FRENCH = (
    "L'élève a révisé ses leçons « à fond » avant l'examen : il a relu chaque chapitre, refait les "
    "exercices corrigés et noté les questions qu'il n'avait pas comprises. Selon les enseignants, la "
    "mémoire s'améliore lorsqu'on s'interroge soi-même plutôt que de relire passivement ses notes. "
    "C'est pourquoi beaucoup de professeurs proposent de courts questionnaires au début de chaque "
    "séance ; ils permettent de vérifier ce qui a été retenu et de revenir sur les notions fragiles. "
    "Les élèves qui travaillent régulièrement, un peu chaque jour, obtiennent en général de meilleurs "
    "résultats que ceux qui révisent la veille de l'épreuve, même s'ils y passent autant d'heures."
)

ENGLISH = (
    "Photosynthesis is the process by which green plants use sunlight to turn water and carbon dioxide "
    "into sugar and oxygen. It takes place mainly in the leaves, inside small structures called "
    "chloroplasts, which contain the green pigment chlorophyll. The sugar produced feeds the plant and, "
    "through food chains, almost every other living thing on Earth, while the oxygen released is the "
    "air we breathe. Scientists study the process closely because it may help farmers grow more food "
    "with less water, and because it inspires new ways of storing the energy of the sun."
)

ARABIC_2 = (
    "الماء أساس الحياة على الأرض، ويغطّي نحو ثلثي سطحها. ويتحرّك الماء في دورة لا تنقطع: تسخّن الشمس "
    "مياه البحار فتتبخّر، ثم يبرد البخار في طبقات الجوّ العليا فيتكاثف سحابًا، ويسقط مطرًا أو ثلجًا، "
    "فتجري الأنهار وتمتلئ الآبار ويعود الماء في النهاية إلى البحر. وفي المناطق الصحراوية يعتمد السكّان "
    "على المياه الجوفية والواحات، ولذلك يحرصون على حفظها وعدم تبذيرها. ويتعلّم التلاميذ في درس العلوم "
    "كيف يقيسون كمية المطر، وكيف يمكن تنقية الماء بالترشيح والغليان قبل شربه."
)

FRENCH_2 = (
    "La Révolution française commence en 1789, lorsque les états généraux, réunis à Versailles, se "
    "proclament Assemblée nationale. Quelques semaines plus tard, la prise de la Bastille devient le "
    "symbole de la fin de l'absolutisme. En août, l'Assemblée abolit les privilèges et adopte la "
    "Déclaration des droits de l'homme et du citoyen, qui affirme que les hommes naissent et demeurent "
    "libres et égaux en droits. Ces idées, discutées dans les clubs et les journaux, se répandent ensuite "
    "dans toute l'Europe et influencent durablement la vie politique du continent."
)

ENGLISH_2 = (
    "The Sahara is the largest hot desert in the world, stretching across North Africa from the Atlantic "
    "coast of Mauritania to the Red Sea. Despite its reputation as an endless sea of sand, most of the "
    "desert is made of rocky plateaus and gravel plains. Rain is rare and unpredictable, and temperatures "
    "can swing from freezing at night to more than forty degrees in the afternoon. For centuries camel "
    "caravans crossed it to trade salt, gold and books between the cities of the Sahel and the "
    "Mediterranean, and oases along the way offered water, shade and dates to travellers."
)

HASSANIYA = (
    "اشطاري يا لمنادم؟ ذرك نبغي نعرف شنهو درس اليوم، ماه ساهل گاع. المعلم گال لنا امنين نكملو القراءة "
    "نكتبو الكلمات الجديدة في الدفتر، وإلى ما فهمت شي اسأل صاحبك ولا اسأل المعلم. ازين ياسر الا تقرا كل "
    "يوم شوي، يقير ما تخلي الدروس حت اتم ليلة الامتحان، ذاك ماه ازين. الطلبة في المحظرة يحفظو المتون "
    "ويعاودوها مع الشيخ كل صباح، وذاك هو الطريق الزين للتعلم."
)


def eval_passages(lang: str, limit: int) -> list[dict[str, str]]:
    """Passages of the eval set for `lang` (xquad ar/en, piaf fr); [] without ../shared/eval."""
    path = EVAL / ("piaf" if lang == "fr" else "xquad") / "passages.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [row for row in rows if row["lang"] == lang][:limit]


def long_document(lang: str, sections: int) -> str:
    """A document of many distinct paragraphs: eval passages when present, else numbered prose in
    all three languages (so it is no near-duplicate of any one of the short texts above)."""
    passages = eval_passages(lang, sections)
    if len(passages) == sections:
        return "\n\n".join(p["text"] for p in passages)
    bases = [text.split() for text in (ARABIC, FRENCH, ENGLISH)]
    paragraphs = []
    for i in range(sections):
        words = bases[i % 3]
        shift = (i // 3) % len(words)
        paragraphs.append(f"{i + 1}. " + " ".join(words[shift:] + words[:shift]))
    return "\n\n".join(paragraphs)
