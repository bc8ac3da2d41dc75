"""Synthetic photographed pages with exact truth, for the document operations' tests and benchmark.

A page of real text is rendered flat, then projected through a pinhole camera (principal point at
the image centre) onto a background, so its corners, aspect ratio and rotation are known exactly.
Shadows, blur, noise and JPEG compression follow. Everything is deterministic from a seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUNDS = ("plain", "gradient", "wood", "cluttered")
ROTATIONS = (0, 90, 180, 270)

# Common English words: a realistic mix of ascenders and descenders, and words Tesseract's
# language model knows, so OCR error rates measure the image, not the vocabulary.
_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "was",
    "that",
    "for",
    "on",
    "are",
    "with",
    "as",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "by",
    "hot",
    "word",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "an",
    "each",
    "she",
    "which",
    "do",
    "their",
    "time",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "write",
    "would",
    "like",
    "so",
    "these",
    "her",
    "long",
    "make",
    "thing",
    "see",
    "him",
    "two",
    "has",
    "look",
    "more",
    "day",
    "could",
    "go",
    "come",
    "did",
    "number",
    "sound",
    "no",
    "most",
    "people",
    "my",
    "over",
    "know",
    "water",
    "than",
    "call",
    "first",
    "who",
    "may",
    "down",
    "side",
    "been",
    "now",
    "find",
    "any",
    "new",
    "work",
    "part",
    "take",
    "get",
    "place",
    "made",
    "live",
    "where",
    "after",
    "back",
    "little",
    "only",
    "round",
    "man",
    "year",
    "came",
    "show",
    "every",
    "good",
    "me",
    "give",
    "our",
    "under",
    "name",
    "very",
    "through",
    "just",
    "form",
    "sentence",
    "great",
    "think",
    "say",
    "help",
    "low",
    "line",
    "differ",
    "turn",
    "cause",
    "much",
    "mean",
    "before",
    "move",
    "right",
    "boy",
    "old",
    "too",
    "same",
    "tell",
    "does",
    "set",
    "three",
    "want",
    "air",
    "well",
    "also",
    "play",
    "small",
    "end",
    "put",
    "home",
    "read",
    "hand",
    "port",
    "large",
    "spell",
    "add",
    "even",
    "land",
    "here",
    "must",
    "big",
    "high",
    "such",
    "follow",
    "act",
    "why",
    "ask",
    "men",
    "change",
    "went",
    "light",
    "kind",
    "off",
    "need",
    "house",
    "picture",
    "try",
    "us",
    "again",
    "animal",
    "point",
    "mother",
    "world",
    "near",
    "build",
    "self",
    "earth",
    "father",
    "head",
    "stand",
    "own",
    "page",
    "should",
    "country",
    "found",
    "answer",
    "school",
    "grow",
    "study",
    "still",
    "learn",
    "plant",
    "cover",
    "food",
    "sun",
    "four",
    "between",
    "state",
    "keep",
    "eye",
    "never",
    "last",
    "let",
    "thought",
    "city",
    "tree",
    "cross",
    "farm",
    "hard",
    "start",
    "might",
    "story",
    "saw",
    "far",
    "sea",
    "draw",
    "left",
    "late",
    "run",
    "while",
    "press",
    "close",
    "night",
    "real",
    "life",
    "few",
    "north",
    "open",
    "seem",
    "together",
    "next",
    "white",
    "children",
    "begin",
    "got",
    "walk",
    "example",
    "ease",
    "paper",
    "group",
    "always",
    "music",
    "those",
    "both",
    "mark",
    "often",
    "letter",
    "until",
    "mile",
    "river",
    "car",
    "feet",
    "care",
    "second",
    "book",
    "carry",
    "took",
    "science",
    "eat",
    "room",
    "friend",
    "began",
    "idea",
    "fish",
    "mountain",
    "stop",
    "once",
    "base",
    "hear",
    "horse",
    "cut",
    "sure",
    "watch",
    "color",
    "face",
    "wood",
    "main",
    "enough",
    "plain",
    "girl",
    "usual",
    "young",
    "ready",
    "above",
    "ever",
    "red",
    "list",
    "though",
    "feel",
    "talk",
    "bird",
    "soon",
    "body",
    "dog",
    "family",
    "direct",
    "pose",
    "leave",
    "song",
    "measure",
    "door",
    "product",
    "black",
    "short",
    "numeral",
    "class",
    "wind",
    "question",
    "happen",
    "complete",
    "ship",
    "area",
    "half",
    "rock",
    "order",
    "fire",
    "south",
    "problem",
    "piece",
    "told",
    "knew",
    "pass",
]


@dataclass(frozen=True)
class SyntheticPage:
    """One synthetic photo of a page and its truth.

    ``corners`` are in image pixel coordinates (x, y), ordered TL, TR, BR, BL relative to the
    page's upright text. ``rotation`` is how far the text is turned clockwise in the photo
    (0, 90, 180 or 270) before the small ``tilt_deg``. ``page`` is the clean flat upright page.
    """

    image: np.ndarray
    corners: np.ndarray
    rotation: int
    tilt_deg: float
    page: np.ndarray
    text: str
    background: str


@dataclass(frozen=True)
class ShadowedPage:
    """A flat page under a shadow and uneven light, with the clean page and its text."""

    image: np.ndarray
    page: np.ndarray
    shadow: np.ndarray  # multiplicative light factor applied to the clean page, HxW float32
    text: str


def random_text(rng: np.random.Generator, n_words: int) -> str:
    words = [_WORDS[i] for i in rng.integers(0, len(_WORDS), n_words)]
    # Sentence-style capitals give the page the capital letters real text has.
    out, capital = [], True
    for w in words:
        out.append(w.capitalize() if capital else w)
        capital = rng.random() < 0.12
        if capital:
            out[-1] += "."
    return " ".join(out)


def render_page(
    rng: np.random.Generator,
    width: int,
    height: int,
    *,
    lines_per_page: float | None = None,
    colour_heading: bool = True,
) -> tuple[np.ndarray, str]:
    """Render an upright page of left-aligned text; returns (RGB page, the text it shows).

    The font scales with the page so a 12 MP page and a test-sized page carry the same layout.
    """
    lines_per_page = lines_per_page or float(rng.uniform(32, 48))
    pitch = height / lines_per_page
    size = max(8, int(round(pitch / 1.45)))
    font = ImageFont.load_default(size=size)
    paper = np.array([255, 255, 255]) - rng.integers(0, 14, 3)
    img = Image.new("RGB", (width, height), tuple(int(c) for c in paper))
    draw = ImageDraw.Draw(img)
    margin_x = int(width * rng.uniform(0.07, 0.11))
    margin_y = int(height * rng.uniform(0.06, 0.09))
    max_w = width - 2 * margin_x
    ink = tuple(int(c) for c in rng.integers(5, 45, 3))
    lines: list[str] = []
    y = margin_y
    if colour_heading:
        heading_font = ImageFont.load_default(size=int(size * 1.6))
        heading = random_text(rng, int(rng.integers(2, 5))).rstrip(".").title()
        colour = tuple(int(c) for c in rng.choice([[170, 30, 30], [25, 70, 160], [20, 120, 60]]))
        draw.text((margin_x, y), heading, font=heading_font, fill=colour)
        lines.append(heading)
        y += int(pitch * 2.2)
    words = random_text(rng, 4000).split()
    wi = 0
    space = font.getlength(" ")
    while y + pitch < height - margin_y and wi < len(words):
        line_words: list[str] = []
        line_w = 0.0
        while wi < len(words):
            w_len = font.getlength(words[wi])
            if line_words and line_w + space + w_len > max_w:
                break
            line_w += (space if line_words else 0) + w_len
            line_words.append(words[wi])
            wi += 1
        # Ragged paragraph ends and blank lines, as on a real page.
        if rng.random() < 0.12:
            line_words = line_words[: max(1, len(line_words) // 2)]
        text = " ".join(line_words)
        draw.text((margin_x, y), text, font=font, fill=ink)
        lines.append(text)
        y += pitch * (2 if rng.random() < 0.06 else 1)
    return np.asarray(img), "\n".join(lines)


def _background(rng: np.random.Generator, kind: str, w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "plain":
        base = rng.integers(40, 170, 3).astype(np.float32)
        bg = np.broadcast_to(base, (h, w, 3)).copy()
    elif kind == "gradient":
        a, b = rng.integers(30, 190, 3), rng.integers(30, 190, 3)
        ang = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(ang) + yy * np.sin(ang)
        t = (t - t.min()) / (np.ptp(t) + 1e-6)
        bg = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
    elif kind == "wood":
        base = np.array([rng.uniform(110, 170), rng.uniform(70, 110), rng.uniform(30, 60)])
        freq = rng.uniform(20, 60) / max(w, h)
        warp = cv2.resize(rng.normal(0, 1, (8, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        grain = np.sin(2 * np.pi * freq * (yy + 0.2 * xx) + 3 * warp)
        fine = cv2.resize(rng.normal(0, 1, (h // 4 + 1, w // 16 + 1)).astype(np.float32), (w, h))
        bg = base[None, None, :] * (1 + 0.18 * grain[..., None] + 0.08 * fine[..., None])
    elif kind == "cluttered":
        bg = np.full((h, w, 3), rng.integers(50, 140, 3), np.float32)
        s = max(w, h)
        for _ in range(int(rng.integers(12, 30))):
            colour = tuple(float(c) for c in rng.integers(0, 256, 3))
            cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
            r = int(s * rng.uniform(0.02, 0.12))
            if rng.random() < 0.5:
                cv2.circle(bg, (cx, cy), r, colour, -1, cv2.LINE_AA)
            else:
                ang = rng.uniform(0, 180)
                box = cv2.boxPoints(((cx, cy), (r * 2, r * rng.uniform(0.3, 1.5)), ang))
                cv2.fillConvexPoly(bg, box.astype(np.int32), colour, cv2.LINE_AA)
        bg = cv2.GaussianBlur(bg, (0, 0), 1.0)
    else:
        raise ValueError(f"unknown background {kind!r}; choose from {BACKGROUNDS}")
    noise = rng.normal(0, 6, (h // 2 + 1, w // 2 + 1, 3)).astype(np.float32)
    bg = bg + cv2.resize(noise, (w, h))
    return np.clip(bg, 0, 255).astype(np.float32)


def _project_page(
    rng: np.random.Generator,
    page_wh: tuple[float, float],
    frame_wh: tuple[int, int],
    in_plane_deg: float,
    coverage: float,
    max_out_of_plane_deg: float,
) -> np.ndarray:
    """Corners (TL,TR,BR,BL of the upright page) seen by a pinhole camera at the frame centre."""
    fw, fh = frame_wh
    pw, ph = page_wh
    f = max(fw, fh) * rng.uniform(0.9, 1.4)
    a, b = np.deg2rad(rng.uniform(-max_out_of_plane_deg, max_out_of_plane_deg, 2))
    c = np.deg2rad(in_plane_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    local = np.array([[-pw / 2, -ph / 2, 0], [pw / 2, -ph / 2, 0], [pw / 2, ph / 2, 0], [-pw / 2, ph / 2, 0]])
    world = local @ (rz @ rx @ ry).T
    # Distance chosen so the page's projected area is about `coverage` of the frame.
    z = f * math.sqrt(pw * ph / (coverage * fw * fh))
    shift = np.array([rng.uniform(-0.08, 0.08) * fw, rng.uniform(-0.08, 0.08) * fh]) * z / f
    cam = world + np.array([shift[0], shift[1], z])
    pts = f * cam[:, :2] / cam[:, 2:3] + np.array([fw / 2, fh / 2])
    return pts.astype(np.float64)


def _shadow_field(rng: np.random.Generator, w: int, h: int, strength: tuple[float, float]) -> np.ndarray:
    """A multiplicative light field: a smooth light gradient times one hard-edged cast shadow."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    t = (xx * np.cos(ang) + yy * np.sin(ang)) / max(w, h)
    light = 1.0 - rng.uniform(0.05, 0.25) * (t - t.min()) / (np.ptp(t) + 1e-6)
    mask = np.zeros((h, w), np.float32)
    # A shadow cast by a hand or phone: a polygon entering from one side of the frame.
    side = int(rng.integers(0, 4))
    n = int(rng.integers(3, 6))
    depth = rng.uniform(0.3, 0.6)
    pts = []
    for i in range(n):
        u = (i + rng.uniform(0.1, 0.9)) / n
        d = depth * rng.uniform(0.6, 1.2)
        pts.append((u, d))
    poly = [(0.0, -0.1)] + pts + [(1.0, -0.1)]
    xy = []
    for u, d in poly:
        if side == 0:
            xy.append((u * w, d * h))
        elif side == 1:
            xy.append((w - d * w, u * h))
        elif side == 2:
            xy.append((u * w, h - d * h))
        else:
            xy.append((d * w, u * h))
    cv2.fillPoly(mask, [np.array(xy, np.int32)], 1.0, cv2.LINE_AA)
    soft = rng.uniform(0.002, 0.012) * max(w, h)
    mask = cv2.GaussianBlur(mask, (0, 0), soft)
    dark = rng.uniform(*strength)
    return (light * (1.0 - dark * mask)).astype(np.float32)


def _degrade(rng: np.random.Generator, img: np.ndarray, *, jpeg: bool = True) -> np.ndarray:
    out = img.astype(np.float32)
    sigma = rng.uniform(0.0, 1.2) * max(img.shape[:2]) / 1000
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out += rng.normal(0, rng.uniform(1.5, 5.0), out.shape).astype(np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if jpeg:
        q = int(rng.integers(60, 95))
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return out


def make_page_photo(
    seed: int,
    *,
    size: tuple[int, int] = (1000, 750),
    rotation: int | None = None,
    background: str | None = None,
    tilt_range_deg: float = 10.0,
    coverage: float | None = None,
    max_out_of_plane_deg: float = 22.0,
    shadow: bool | None = None,
    full_frame: bool = False,
) -> SyntheticPage:
    """A photo of a page on a background, with exact corners and rotation.

    ``size`` is (height, width) of the photo; (3000, 4000) is 12 MP. With ``full_frame`` the page
    fills the whole frame with no visible border (a flat scan): its corners are the frame's.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    rotation = int(rng.choice(ROTATIONS)) if rotation is None else rotation
    background = str(rng.choice(BACKGROUNDS)) if background is None else background
    shadow = bool(rng.random() < 0.5) if shadow is None else shadow
    tilt = float(rng.uniform(-tilt_range_deg, tilt_range_deg))
    aspect = float(rng.choice([1.4142, 1.2941, 1.5, 1.25]))

    if full_frame:
        # The page's upright frame: width and height swap when the text is turned a quarter.
        ph, pw = (h, w) if rotation in (0, 180) else (w, h)
        page, text = render_page(rng, pw, ph)
        turned = np.rot90(page, k=-rotation // 90)  # clockwise by `rotation`
        scene = np.ascontiguousarray(turned).astype(np.float32)
        corners_img = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
        # np.rot90 clockwise by 90*k moves the upright TL corner around the frame.
        corners = np.roll(corners_img, -(rotation // 90), axis=0)
        tilt = 0.0
    else:
        coverage = float(rng.uniform(0.3, 0.7)) if coverage is None else coverage
        # Render the page at about the resolution it is seen at, so text stays crisp.
        long_side = int(math.sqrt(coverage * h * w * aspect) * 1.15)
        ph, pw = long_side, int(round(long_side / aspect))
        page, text = render_page(rng, pw, ph)
        for _ in range(20):
            corners = _project_page(rng, (pw, ph), (w, h), rotation + tilt, coverage, max_out_of_plane_deg)
            inside = (
                corners[:, 0].min() > 0.02 * w
                and corners[:, 0].max() < 0.98 * w
                and corners[:, 1].min() > 0.02 * h
                and corners[:, 1].max() < 0.98 * h
            )
            if inside:
                break
            coverage *= 0.9
        src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
        hom = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
        scene = _background(rng, background, w, h)
        warped = cv2.warpPerspective(page.astype(np.float32), hom, (w, h), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpPerspective(np.ones((ph, pw), np.float32), hom, (w, h), flags=cv2.INTER_LINEAR)
        scene = scene * (1 - alpha[..., None]) + warped * alpha[..., None]
    if shadow:
        scene *= _shadow_field(rng, w, h, (0.25, 0.55))[..., None]
    else:
        scene *= _shadow_field(rng, w, h, (0.0, 0.0))[..., None]
    image = _degrade(rng, scene)
    return SyntheticPage(
        image, corners, rotation, tilt, page, text, "full_frame" if full_frame else background
    )


def make_shadowed_page(
    seed: int,
    *,
    size: tuple[int, int] = (1100, 850),
    strength: tuple[float, float] = (0.45, 0.65),
    lines_per_page: float | None = None,
) -> ShadowedPage:
    """A flat upright page (no geometry) under a hard cast shadow and a light gradient.

    For measuring text enhancement: OCR on ``image`` versus on the enhanced image, against
    ``text``; and the page background's flatness against ``page``.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    page, text = render_page(rng, w, h, lines_per_page=lines_per_page)
    shadow = _shadow_field(rng, w, h, strength)
    lit = page.astype(np.float32) * shadow[..., None]
    image = _degrade(rng, lit)
    return ShadowedPage(image, page, shadow, text)


def normalise_text(text: str) -> str:
    """Whitespace collapsed to single spaces: OCR's line and paragraph breaks are not errors."""
    return " ".join(text.split())


def character_error_rate(truth: str, recognised: str) -> float:
    """Levenshtein distance between the normalised texts over the truth's length (the usual OCR
    CER; can exceed 1 when the recognised text is much longer than the truth)."""
    a, b = normalise_text(truth), normalise_text(recognised)
    if not a:
        return float(len(b) > 0)
    if not b:
        return 1.0
    bv = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    j = np.arange(len(b) + 1, dtype=np.int64)
    row = j.copy()
    for ch in a.encode("utf-32-le").decode("utf-32-le"):
        sub = row[:-1] + (bv != ord(ch))
        tmp = np.empty_like(row)
        tmp[0] = row[0] + 1
        tmp[1:] = np.minimum(row[1:] + 1, sub)
        # Insertions chain along the row: row[j] = min_k (tmp[k] + j - k), a running minimum.
        row = np.minimum.accumulate(tmp - j) + j
    return float(row[-1] / len(a))
