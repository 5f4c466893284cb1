"""The statistics chart (the bot's /stats, `GET /admin/stats.png`): answered questions per day (bars)
over p95 latency per day (line), as a PNG.

Drawn with Pillow rather than matplotlib: two small panels of bars, a polyline and a few numbers
need no plotting library, and matplotlib would add a heavy dependency (and its font cache and
import time) to the serving processes for one image. The labels are digits, dates and short English axis
titles only: Pillow shapes Arabic only with libraqm, so the localised text goes in the caption.
"""
from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageDraw, ImageFont

from core.tutor.records import Stats

WIDTH, HEIGHT = 800, 520
_MARGIN_LEFT, _MARGIN_RIGHT = 64, 24
_PANELS = ((56, 256), (318, 466))  # (top, bottom) of the questions panel and the latency panel
_BACKGROUND, _INK, _GRID = (255, 255, 255), (40, 40, 40), (225, 225, 225)
_BAR, _LINE = (46, 125, 190), (214, 96, 40)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (needs FreeType)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str,
          font: ImageFont.ImageFont | ImageFont.FreeTypeFont, anchor: str = "la") -> None:
    if not isinstance(font, ImageFont.FreeTypeFont):
        anchor = "la"  # Pillow's bitmap fallback font only draws from the top left
    draw.text(xy, text, fill=_INK, font=font, anchor=anchor)


def _axis_top(value: int) -> int:
    """An axis maximum at or above `value` with four whole, round steps (4, 8, 20, 40, 80, 200, ...)."""
    needed, step = max(-(-value // 4), 1), 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= needed:
                return step * factor * 4
        step *= 10


def _panel(draw: ImageDraw.ImageDraw, top: int, bottom: int, title: str, top_value: int,
           font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> None:
    _text(draw, (_MARGIN_LEFT, top - 36), title, font)
    for i in range(5):
        y = bottom - (bottom - top) * i / 4
        draw.line([(_MARGIN_LEFT, y), (WIDTH - _MARGIN_RIGHT, y)], fill=_GRID, width=1)
        label = str(top_value * i // 4)
        _text(draw, (_MARGIN_LEFT - 8, y), label, font, "rm")
    draw.line([(_MARGIN_LEFT, bottom), (WIDTH - _MARGIN_RIGHT, bottom)], fill=_INK, width=1)


def render_chart(stats: Stats) -> bytes:
    """The last days of `stats` (oldest left) as a PNG image."""
    image = Image.new("RGB", (WIDTH, HEIGHT), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    font, small = _font(16), _font(13)
    days = stats.days or []
    slot = (WIDTH - _MARGIN_LEFT - _MARGIN_RIGHT) / max(len(days), 1)
    centres = [_MARGIN_LEFT + slot * (i + 0.5) for i in range(len(days))]

    (q_top, q_bottom), (l_top, l_bottom) = _PANELS
    q_max = _axis_top(max((d.questions for d in days), default=0))
    _panel(draw, q_top, q_bottom, "Questions answered per day", q_max, small)
    for x, day in zip(centres, days):
        if not day.questions:
            continue
        height = (q_bottom - q_top) * day.questions / q_max
        draw.rectangle([x - slot * 0.3, q_bottom - height, x + slot * 0.3, q_bottom], fill=_BAR)
        _text(draw, (x, q_bottom - height - 4), str(day.questions), small, "md")

    latencies = [d.p95_latency_ms for d in days]
    l_max = _axis_top(max((v for v in latencies if v is not None), default=0))
    _panel(draw, l_top, l_bottom, "p95 latency (ms)", l_max, small)
    points = [(x, l_bottom - (l_bottom - l_top) * v / l_max) for x, v in zip(centres, latencies) if v is not None]
    if len(points) > 1:
        draw.line(points, fill=_LINE, width=3, joint="curve")
    for x, y in points:
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=_LINE)

    for x, day in zip(centres, days):
        _text(draw, (x, l_bottom + 8), day.day[5:], small, "ma")  # MM-DD
    _text(draw, (WIDTH / 2, HEIGHT - 14), f"Ustadh · last {len(days)} days (UTC) · {stats.users} users", font, "mm")
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
