"""Reading the text files an analyst edits (figures, registry, prose, params): UTF-8, with or without the BOM
Excel writes. Any other encoding is refused with a message that names it and says how to save the file again.

Why refuse rather than read with a warning: Chinese Excel saves "CSV (逗号分隔)" in GBK, and a GBK file with
few Chinese characters cannot be told from Big5 or EUC-KR with any certainty (charset-normalizer itself ranks
Big5 first for `2件`); a wrong guess would publish garbled text in a government report. nianbao also appends
to these files (`nianbao new`, `nianbao ingest`), which would leave a file that is half GBK, half UTF-8.
"""

from __future__ import annotations

import codecs
import errno
from pathlib import Path

from .exceptions import InputError

# Chinese Windows' "ANSI" code page (936) is GBK; GB18030 is its superset, so one strict decode tells it.
_GB = "gb18030"


def detect(data: bytes) -> str | None:
    """The encoding of `data` that is not UTF-8, as a user knows its name ("GBK", "UTF-16", ...), or None.

    UTF-16 and UTF-32 (with or without a BOM) and other encodings come from charset-normalizer; bytes that are
    valid GB18030 are named GBK, the encoding Chinese Excel and Notepad write, even when the detector ranks a
    look-alike CJK encoding first (it cannot tell them apart on a short text).
    """
    from charset_normalizer import from_bytes

    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    best = from_bytes(data).best()
    name = best.encoding if best else None
    if name and name.startswith(("utf_16", "utf_32")):
        return name[:6].upper().replace("_", "-")
    try:
        data.decode(_GB)
        return "GBK"
    except UnicodeDecodeError:
        pass
    return name.upper().replace("_", "-") if name else None


def decode(data: bytes, *, file: str, office: str | None = None, year: int | None = None) -> str:
    """`data` as text when it is UTF-8 (a leading BOM dropped); else `InputError` naming the encoding and, for
    a byte-oriented encoding such as GBK, the line of the first character that is not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
        if "\x00" not in text:  # UTF-16 of ASCII text is valid UTF-8, with a NUL after each character
            return text
        start = data.index(b"\x00")
    except UnicodeDecodeError as exc:
        start = exc.start
    encoding = detect(data)
    if encoding not in ("UTF-16", "UTF-32") and b"\x00" in data and _utf8(data):
        # UTF-8 with a stray NUL byte (a damaged copy, a binary pasted in): not another encoding.
        raise InputError("文件含有空字符（NUL，字节 0x00），可能已损坏或混入了二进制内容；请删除该字符或重新保存",
                         file=file, line=data.count(b"\n", 0, start) + 1, office=office, year=year)
    save_as = "请另存为 “CSV UTF-8”" if file.endswith(".csv") else "请以 UTF-8 编码另存"
    if encoding is None:
        problem = f"文件不是 UTF-8 编码（也无法识别其编码），{save_as}"
    else:
        problem = f"文件为 {encoding} 编码，{save_as}"
    wide = encoding in ("UTF-16", "UTF-32")
    line = None if wide else data.count(b"\n", 0, start) + 1
    raise InputError(problem, file=file, line=line, office=office, year=year)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def read_text(path: Path, *, file: str, office: str | None = None, year: int | None = None) -> str:
    """The text of an input file, as `decode`. Raises `FileNotFoundError` for a missing file (the caller says
    which file that is), `InputError` naming `file` (relative to the project), `office` and `year` for one that is
    there but cannot be read: a folder in its place, a loop of symbolic links, no permission."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError(_unreadable(exc), file=file, office=office, year=year) from None
    return decode(data, file=file, office=office, year=year)


def _unreadable(exc: OSError) -> str:
    """Why a file that is there cannot be read, as the analyst is told."""
    if isinstance(exc, IsADirectoryError):
        return "这里是一个文件夹，不是文件：请换成文件"
    if isinstance(exc, PermissionError):
        return "无权读取此文件：请检查文件权限"
    if exc.errno == errno.ELOOP:
        return "符号链接形成循环，无法读取：请换成文件"
    return f"无法读取此文件（{exc.strerror or exc}）"
