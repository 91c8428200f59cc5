"""What a cell's number format makes of a number: whether the office sees the number itself or something else.

A number in a cell formatted as a percentage shows 0.5 as `50%`; a fraction format shows 0.5 as `1/2`; a
scientific one 12000 as `1.20E+04`; a custom format with text (`0"千"`, `[DBNum1]G/通用格式`) adds words or
writes the number in Chinese numerals; a thousands multiplier (`0,`, `0.0,,`) shows 1500 as `2`; a section for
zero or negatives can hide the number or its sign. The office reads what is shown, nianbao the number: the two
are different figures, and which one was meant is not known. Formats that only group digits (`#,##0`), fix
the decimals (`0.00`), colour a number, pad it or add a currency sign show the number as it is.

Number formats are ECMA-376 Part 1 §18.8.31 (numFmt) codes: up to four sections split by `;` (positive,
negative, zero, text), literal text in quotes or after `\\`, `_x` a space as wide as x, `*x` x repeated to fill,
`[...]` a colour, a condition, a locale or currency (`[$¥-804]`) or a numeral system (`[DBNum1]`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

PERCENT, FRACTION, SCIENTIFIC, TEXT, SCALED, NUMERALS, HIDDEN, UNSIGNED = (
    "百分比格式", "分数格式", "科学记数格式", "带文字的自定义格式", "以千为单位缩放的格式",
    "中文数字格式", "不显示这个数字的格式", "负数不显示负号的格式")

_GENERAL = re.compile(r"general|g/通用格式", re.IGNORECASE)
_PLAIN = set(" -+()$¥￥€£:")  # literals that only decorate the number: sign, brackets, a currency, spaces
_DIGIT = set("0#?")


def _sections(code: str) -> list[str]:
    """The `;`-separated sections of a format code (a `;` in quotes, after `\\` or in brackets is text)."""
    out, part, i = [], "", 0
    while i < len(code):
        ch = code[i]
        if ch == '"':
            end = code.find('"', i + 1)
            end = len(code) - 1 if end < 0 else end
            part += code[i:end + 1]
            i = end + 1
            continue
        if ch in "\\_*" and i + 1 < len(code):
            part += code[i:i + 2]
            i += 2
            continue
        if ch == "[":
            end = code.find("]", i)
            end = len(code) - 1 if end < 0 else end
            part += code[i:end + 1]
            i = end + 1
            continue
        if ch == ";":
            out.append(part)
            part = ""
        else:
            part += ch
        i += 1
    return [*out, part]


def _tokens(section: str) -> tuple[list[tuple[str, str]], bool]:
    """A section as tokens: ("lit", text shown as it is), ("num", a run of the number's placeholders and the
    characters between them), ("general", `General`); and whether it asks for Chinese numerals."""
    tokens: list[tuple[str, str]] = []
    numerals = False
    i = 0

    def add(kind: str, text: str) -> None:
        if tokens and tokens[-1][0] == kind and kind != "general":
            tokens[-1] = (kind, tokens[-1][1] + text)
        else:
            tokens.append((kind, text))

    while i < len(section):
        ch = section[i]
        general = _GENERAL.match(section, i)
        if general:
            tokens.append(("general", ""))
            i = general.end()
        elif ch == '"':
            end = section.find('"', i + 1)
            end = len(section) if end < 0 else end
            add("lit", section[i + 1:end])
            i = end + 1
        elif ch == "\\" and i + 1 < len(section):
            add("lit", section[i + 1])
            i += 2
        elif ch == "_" and i + 1 < len(section):
            add("lit", " ")
            i += 2
        elif ch == "*" and i + 1 < len(section):
            i += 2  # the fill character repeated across the cell: decoration
        elif ch == "[":
            end = section.find("]", i)
            end = len(section) if end < 0 else end
            inside = section[i + 1:end]
            if inside.upper().startswith("DBNUM"):
                numerals = True
            elif inside.startswith("$"):  # [$¥-804]: a currency sign before the locale
                add("lit", inside[1:].split("-")[0])
            i = end + 1  # colours, conditions, locales
        elif ch in _DIGIT or (tokens and tokens[-1][0] == "num" and (
                ch in ".,/" or (ch.isdigit() and "/" in tokens[-1][1]))):  # `?/4`: a fixed denominator
            add("num", ch)
            i += 1
        elif ch in "eE" and tokens and tokens[-1][0] == "num" and section[i + 1:i + 2] in ("+", "-"):
            add("num", section[i:i + 2])
            i += 2
        elif ch == " " and tokens and tokens[-1][0] == "num" and "/" in section[i:] and \
                any(c in _DIGIT for c in section[i + 1:i + 2]):
            add("num", ch)  # `# ?/?`: the space between the whole part and the fraction
            i += 1
        elif ch == "." and i + 1 < len(section) and section[i + 1] in _DIGIT:
            add("num", ch)  # `.00`
            i += 1
        else:
            add("lit", ch)
            i += 1
    return tokens, numerals


def _plain(number: Decimal, placeholders: str) -> str:
    """`number` (≥ 0) as a run of placeholders without `%`, `E` or `/` shows it: grouped, with its decimals."""
    whole, _, decimals = placeholders.partition(".")
    required = decimals.count("0")
    allowed = sum(c in _DIGIT for c in decimals)
    text = f"{number:{',' if ',' in whole else ''}.{allowed}f}"
    if allowed > required and "." in text:
        keep = len(text) - (allowed - required)
        text = text[:keep] + text[keep:].rstrip("0")
        text = text.rstrip(".")
    if "0" not in whole and text.startswith("0"):
        text = text[1:] if text != "0" else ""  # `#.##` shows 0.5 as `.5` and 0 as nothing
    return text


def _scaled(placeholders: str) -> tuple[str, int]:
    """The placeholders without the trailing commas that divide by 1000, and how many there were."""
    stripped = placeholders.rstrip(",")
    # Commas before the decimal point followed by no digit placeholder scale too (`0,.0`): rare, and taken as
    # trailing here only.
    return stripped, len(placeholders) - len(stripped)


def _fraction(number: Decimal, placeholders: str) -> str:
    """`number` (≥ 0) as a fraction format shows it: `# ?/?` 1.5 → `1 1/2`, `?/4` 0.25 → `1/4`, `??/100` 0.3 →
    `30/100` (a fixed denominator is not reduced)."""
    whole_part, _, denominator = placeholders.rpartition("/")
    whole_digits = whole_part.strip().rpartition(" ")[0]
    value = Fraction(number)
    whole = int(value) if whole_digits else 0
    rest = value - whole
    if re.search("[1-9]", denominator):
        den = int(re.sub("[^0-9]", "", denominator))
        num = round(rest * den)
    else:
        approx = rest.limit_denominator(10 ** max(1, sum(c in _DIGIT for c in denominator)) - 1)
        num, den = approx.numerator, approx.denominator
    if num == 0:
        return str(whole)
    return (f"{whole} " if whole else "") + f"{num}/{den}"


_NUMERALS = "〇一二三四五六七八九"


def _chinese(shown: str) -> str:
    """The whole numbers of `shown` in Chinese numerals as `[DBNum1]` writes them (12 → 一十二, 105 → 一百〇五);
    other characters kept."""
    def one(match: re.Match[str]) -> str:
        digits = match.group().lstrip("0") or "0"
        if len(digits) > 4:
            return "".join(_NUMERALS[int(d)] for d in digits)  # beyond 千: read digit by digit, enough to see
        out, zero = "", False
        for i, d in enumerate(digits):
            unit = "千百十"[3 - (len(digits) - 1 - i)] if i < len(digits) - 1 else ""
            if d == "0":
                zero = True
                continue
            out += ("〇" if zero else "") + _NUMERALS[int(d)] + unit
            zero = False
        return out or "〇"
    return re.sub(r"\d+", one, shown)


def _section(number: Decimal, code: str) -> tuple[str, bool]:
    """The section of a format code that shows `number`, and whether the spreadsheet adds a minus sign to it
    (one section for every number: it does; a section of its own for negatives: it shows what it says)."""
    sections = _sections(code)
    # `[>100]0;0.0`: which section applies depends on its conditions; the first is taken
    conditional = any(re.search(r"\[[<>=]", s) for s in sections)
    if conditional or len(sections) == 1 or number > 0 or (number == 0 and len(sections) < 3):
        return sections[0], number < 0 and not conditional
    return (sections[1], False) if number < 0 else (sections[2], False)


def decimals(value: float, number_format: str | None) -> int | None:
    """How many decimals a cell's number format shows of `value` (`0.00`, `#,##0.0000`, `¥#,##0.00`: 2, 4, 2);
    None when it fixes none (`General`, `0`, `0.##`)."""
    code = (number_format or "").strip()
    if not code or _GENERAL.fullmatch(code) or code == "@":
        return None
    section, _ = _section(Decimal(format(value, ".15g")), code)
    runs = [t for k, t in _tokens(section)[0] if k == "num"]
    if not runs or "." not in runs[0]:
        return None
    shown = runs[0].partition(".")[2]
    return len(shown) if set(shown) == {"0"} else None


def disguise(value: float, number_format: str | None) -> tuple[str, str] | None:
    """How a cell's number format shows a number as something other than the number: (the kind of format, in
    Chinese: `百分比格式`…, what the cell shows: `50%`); None when it shows the number (`General`, `0.00`,
    `#,##0`, a colour, a currency sign). `value` is the cell's number (int or float); the text shown is the
    spreadsheet's rendering to the precision a message needs (a fraction to its nearest one the format allows).
    Source: ECMA-376 Part 1 §18.8.31 (numFmt)."""
    code = (number_format or "").strip()
    if not code or _GENERAL.fullmatch(code) or code == "@":
        return None
    number = Decimal(format(value, ".15g"))
    section, signed = _section(number, code)
    magnitude = abs(number)
    tokens, numerals = _tokens(section)
    nums = [t for k, t in tokens if k == "num"]
    literal = "".join(t for k, t in tokens if k == "lit")
    shown_parts: list[str] = []
    kinds: list[str] = []
    shown_number = magnitude
    if "%" in literal:
        kinds.append(PERCENT)
        shown_number = magnitude * 100 ** literal.count("%")
    first = True
    for kind, text in tokens:
        if kind == "lit":
            shown_parts.append(text)
        elif kind == "general":
            shown_parts.append(format(shown_number.normalize(), "f") if shown_number else "0")
        elif first:
            first = False
            placeholders, scale = _scaled(text)
            if scale:
                kinds.append(SCALED)
                shown_number = shown_number / Decimal(1000) ** scale
            if re.search(r"[eE][+-]", placeholders):
                kinds.append(SCIENTIFIC)
                mantissa, _, exponent = re.split(r"([eE][+-])", placeholders, maxsplit=1)
                places = sum(c in _DIGIT for c in mantissa.partition(".")[2])
                digits, _, power = f"{shown_number:.{places}E}".partition("E")
                shown_parts.append(f"{digits}E{'-' if power.startswith('-') else '+'}"
                                   f"{power.lstrip('+-').lstrip('0').zfill(len(exponent))}")
            elif "/" in placeholders:
                kinds.append(FRACTION)
                shown_parts.append(_fraction(shown_number, placeholders))
            else:
                shown_parts.append(_plain(shown_number, placeholders))
        else:
            shown_parts.append(text)  # a second run of placeholders: rare; shown as written
    shown = "".join(shown_parts).strip()
    if numerals:
        shown = _chinese(shown)
    if signed and shown:
        shown = "-" + shown
    text_chars = set(literal.replace("%", "")) - _PLAIN
    if numerals:
        kinds.append(NUMERALS)
    if text_chars and not (number == 0 and set(literal.strip()) <= {"-"}):
        kinds.append(TEXT)
    if not kinds:
        if not nums and not any(k == "general" for k, _ in tokens) and not (number == 0 and literal.strip() == "-"):
            kinds.append(HIDDEN)
        elif not shown or not any(c.isdigit() for c in shown):
            if not (number == 0 and shown.strip() == "-"):  # 会计专用 shows a zero as `-`
                kinds.append(HIDDEN)
        elif number < 0 and "-" not in shown and "(" not in shown:
            kinds.append(UNSIGNED)
    if not kinds:
        return None
    return kinds[0], shown or "（空白）"
