"""Before/after gallery of a local run: an HTML page and a PNG contact sheet.

The page is self-contained: thumbnails are files in ``gallery/`` next to it, referenced by
relative paths (as are links to the failure records), and the styling is inline, so it opens
from disk with no network. Cut-outs
(transparent PNGs) are shown over a checkerboard so their transparency is visible.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

THUMB_SIDE = 360
SHEET_THUMB = 300
GALLERY_DIR = "gallery"
GALLERY_HTML = "gallery.html"
CONTACT_SHEET = "contact-sheet.png"


@dataclass(frozen=True)
class GalleryEntry:
    name: str
    type_label: str
    outcome: str  # result | failure | lost | both
    seconds: float | None
    before: bytes  # the uploaded bytes (may not be a decodable image)
    after: Path | None  # the downloaded result
    reason: str = ""
    description: str = ""
    record: str | None = None  # the failure record, relative to the gallery page


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "image"


def _open(data: bytes | Path) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
        image.load()
        return ImageOps.exif_transpose(image)
    except Exception:  # a deliberately broken input: shown as a placeholder
        return None


def _checkerboard(size: tuple[int, int], cell: int = 12) -> Image.Image:
    board = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], cell):
        for x in range(0, size[0], cell):
            if (x // cell + y // cell) % 2:
                draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(204, 204, 204))
    return board


def _thumbnail(image: Image.Image, side: int) -> Image.Image:
    thumb = image.copy()
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "A" in thumb.getbands() else "RGB")
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    return thumb


def _flatten(image: Image.Image) -> Image.Image:
    """RGBA over a checkerboard (for the contact sheet); RGB unchanged."""
    if image.mode != "RGBA":
        return image.convert("RGB")
    board = _checkerboard(image.size)
    board.paste(image, (0, 0), image)
    return board


def _save_thumb(image: Image.Image, folder: Path, stem: str) -> str:
    if image.mode == "RGBA":
        name = f"{stem}.png"
        image.save(folder / name, format="PNG")
    else:
        name = f"{stem}.jpg"
        image.convert("RGB").save(folder / name, format="JPEG", quality=85)
    return name


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:20px;background:#f4f5f7;color:#1d2430}
h1{font-size:22px;margin:0 0 4px} p.sub{margin:0 0 14px;color:#555}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));gap:14px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:10px 12px}
.card.result{border-left:5px solid #27ae60} .card.lost,.card.both{border-left:5px solid #8e44ad}
.pair{display:flex;gap:10px;align-items:flex-end}
figure{margin:0;flex:1;text-align:center} figcaption{font-size:12px;color:#666;margin-top:2px}
figure img{max-width:100%;max-height:170px;border:1px solid #ddd;vertical-align:bottom}
.checker{background-color:#fff;background-image:linear-gradient(45deg,#ccc 25%,transparent 25%),
linear-gradient(-45deg,#ccc 25%,transparent 25%),linear-gradient(45deg,transparent 75%,#ccc 75%),
linear-gradient(-45deg,transparent 75%,#ccc 75%);background-size:16px 16px;
background-position:0 0,0 8px,8px -8px,-8px 0}
.placeholder{display:flex;align-items:center;justify-content:center;min-height:120px;border:1px dashed #bbb;
color:#888;font-size:13px;padding:8px}
.reason{background:#fdecea;color:#7b241c;font-size:13px;padding:10px;border-radius:4px;text-align:left;
white-space:pre-wrap;word-break:break-word}
.failures{background:#fff;border-left:5px solid #c0392b;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12);
padding:8px 12px;margin-bottom:14px;font-size:13px}
.failures h2{font-size:15px;margin:2px 0 6px} .failures li{margin:3px 0} .failures code{color:#7b241c}
.meta{font-size:13px;margin-bottom:6px} .meta b{font-size:14px}
.tag{display:inline-block;padding:1px 7px;border-radius:10px;font-size:12px;color:#fff;margin-left:6px}
.tag.result{background:#27ae60} .tag.failure{background:#c0392b} .tag.lost,.tag.both{background:#8e44ad}
"""


def write_gallery(
    entries: Sequence[GalleryEntry], output: Path, *, title: str, subtitle: str = ""
) -> tuple[Path, Path]:
    """Write ``gallery.html`` (+ ``gallery/`` thumbnails) and ``contact-sheet.png`` under ``output``.

    Failure records are listed first, compactly (there is no "after" to show), so a screenful
    shows both what failed and why and the before/after pairs.
    """
    output = Path(output)
    thumbs = output / GALLERY_DIR
    thumbs.mkdir(parents=True, exist_ok=True)
    cards: list[str] = []
    failures: list[str] = []
    sheet_rows: list[tuple[GalleryEntry, Image.Image | None, Image.Image | None]] = []
    for index, entry in enumerate(entries):
        stem = f"{index:02d}-{_slug(entry.name)}"
        before = _open(entry.before)
        after = _open(entry.after) if entry.after is not None and entry.after.exists() else None
        sheet_rows.append((entry, before, after))
        seconds = f"{entry.seconds:.1f} s" if entry.seconds is not None else "–"
        name = html.escape(entry.name)
        if entry.outcome == "failure":
            link = f' — <a href="{html.escape(entry.record)}">failure record</a>' if entry.record else ""
            failures.append(
                f"<li><b>{name}</b> (type {html.escape(entry.type_label)}, {seconds}): "
                f"<code>{html.escape(entry.reason or 'no reason given')}</code>{link}</li>"
            )
            continue
        before_t = _thumbnail(before, THUMB_SIDE) if before is not None else None
        after_t = _thumbnail(after, THUMB_SIDE) if after is not None else None
        before_html = (
            f'<img src="{GALLERY_DIR}/{_save_thumb(before_t, thumbs, stem + "-before")}" alt="before: {name}">'
            if before_t is not None
            else '<div class="placeholder">not a decodable image</div>'
        )
        if after_t is not None:
            checker = ' class="checker"' if after_t.mode == "RGBA" else ""
            after_html = f'<img{checker} src="{GALLERY_DIR}/{_save_thumb(after_t, thumbs, stem + "-after")}" alt="after: {name}">'
        else:
            after_html = f'<div class="reason">{html.escape(entry.reason or "no result")}</div>'
        cards.append(
            f'<div class="card {entry.outcome}"><div class="meta"><b>{name}</b>'
            f'<span class="tag {entry.outcome}">{html.escape(entry.outcome)}</span><br>'
            f"type {html.escape(entry.type_label)} · {seconds}"
            + (f" · {html.escape(entry.description)}" if entry.description else "")
            + f'</div><div class="pair"><figure>{before_html}<figcaption>before</figcaption></figure>'
            f"<figure>{after_html}<figcaption>after</figcaption></figure></div></div>"
        )
    failure_box = (
        f'<div class="failures"><h2>{len(failures)} upload{"s" if len(failures) != 1 else ""} '
        f"ended in a failure record</h2><ul>{''.join(failures)}</ul></div>"
        if failures
        else ""
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="sub">{html.escape(subtitle)}</p>'
        f'{failure_box}<div class="grid">{"".join(cards)}</div></body></html>\n'
    )
    html_path = output / GALLERY_HTML
    html_path.write_text(page, encoding="utf-8")
    sheet_path = output / CONTACT_SHEET
    contact_sheet(sheet_rows).save(sheet_path, format="PNG")
    return html_path, sheet_path


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def contact_sheet(
    rows: Sequence[tuple[GalleryEntry, Image.Image | None, Image.Image | None]], *, columns: int = 2
) -> Image.Image:
    """Cells of (before | after) with a caption, ``columns`` cells per row."""
    pad, caption_h, side = 12, 44, SHEET_THUMB
    cell_w, cell_h = 2 * side + 3 * pad, side + caption_h + 2 * pad
    n_rows = max(1, (len(rows) + columns - 1) // columns)
    sheet = Image.new("RGB", (columns * cell_w, n_rows * cell_h), (244, 245, 247))
    draw = ImageDraw.Draw(sheet)
    title_font, small_font = _font(16), _font(13)
    colours = {"result": (39, 174, 96), "failure": (192, 57, 43)}
    for i, (entry, before, after) in enumerate(rows):
        ox, oy = (i % columns) * cell_w, (i // columns) * cell_h
        draw.rectangle([ox + 4, oy + 4, ox + cell_w - 5, oy + cell_h - 5], fill=(255, 255, 255))
        draw.rectangle(
            [ox + 4, oy + 4, ox + 9, oy + cell_h - 5], fill=colours.get(entry.outcome, (142, 68, 173))
        )
        draw.text(
            (ox + pad + 4, oy + pad), f"{entry.name}  [{entry.outcome}]", fill=(29, 36, 48), font=title_font
        )
        seconds = f"{entry.seconds:.1f} s" if entry.seconds is not None else "–"
        draw.text(
            (ox + pad + 4, oy + pad + 20),
            f"type {entry.type_label} · {seconds}",
            fill=(90, 90, 90),
            font=small_font,
        )
        for j, image in enumerate((before, after)):
            x, y = ox + pad + j * (side + pad), oy + pad + caption_h
            if image is not None:
                thumb = _flatten(_thumbnail(image, side))
                sheet.paste(thumb, (x + (side - thumb.width) // 2, y + (side - thumb.height) // 2))
            else:
                draw.rectangle([x, y, x + side - 1, y + side - 1], outline=(190, 190, 190))
                text = "not a decodable image" if j == 0 else (entry.reason or "no result")
                _wrapped(
                    draw, (x + 8, y + 8), text, side - 16, small_font, (123, 36, 28) if j else (136, 136, 136)
                )
    return sheet


def _wrapped(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, width: int, font, fill) -> None:
    x, y = xy
    line = ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if draw.textlength(trial, font=font) > width and line:
            draw.text((x, y), line, fill=fill, font=font)
            y += 17
            line = word
        else:
            line = trial
    if line:
        draw.text((x, y), line, fill=fill, font=font)
