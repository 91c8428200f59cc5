"""What an office file is, by its content: the forms nianbao reads (.xlsx, .docx), and the ones offices send
instead that it does not (Excel and Word 97-2003, OpenDocument, a file with an opening password, the lock file
Excel and WPS leave beside a workbook that is open), each with what to do, in Chinese.

The suffix is what a user chose; the first bytes are what the program wrote. An `.xls` renamed `.xlsx`, an
`.xlsx` renamed `.xls` and a password-protected `.xlsx` (an OLE container, not a zip) are told apart here,
so the message says what the file is rather than that a zip archive is broken. An OLE file's streams are
listed with olefile, the maintained reader of that container (msoffcrypto-tool reads it with olefile too).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the Compound File Binary format of Office 97-2003 (and of encryption)
ZIP = b"PK\x03\x04"
LOCK_PREFIX = "~$"  # Excel, Word and WPS: `~$name.xlsx` while `name.xlsx` is open
_LOCK_MAX = 1024  # a lock file holds the user's name: 165 bytes from Excel, 162 from Word


def _ole_streams(path: Path) -> set[str]:
    """The names of an OLE file's top-level streams and storages, read with olefile (empty when it is damaged)."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            return {entry[0] for entry in ole.listdir(streams=True, storages=True) if entry}
    except (OSError, ValueError, IndexError, TypeError):  # olefile's own errors subclass OSError
        return set()


def _zip_kind(path: Path) -> str | None:
    """`xlsx`, `docx`, `ods`, `odt` or None for a zip archive."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "mimetype" in names:
                mime = z.read("mimetype")[:100].decode("ascii", "replace")
                if mime.endswith("opendocument.spreadsheet"):
                    return "ods"
                if mime.endswith("opendocument.text"):
                    return "odt"
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError):
        return None
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        return "xlsx"
    if "word/document.xml" in names:
        return "docx"
    return None


def is_lock_file(path: Path) -> bool:
    """Whether `path` is the lock file Excel, Word or WPS keep beside a document that is open (`~$…`)."""
    if not path.name.startswith(LOCK_PREFIX):
        return False
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return size <= _LOCK_MAX and not head.startswith(ZIP)


def kind(path: Path) -> str | None:
    """`xlsx`, `docx`, `xls`, `doc`, `ods`, `odt`, `encrypted`, `ole`, `lock` or `empty` by content; None for
    anything else (text, a web page, a PDF, an unreadable file)."""
    if is_lock_file(path):
        return "lock"
    try:
        with path.open("rb") as f:
            head = f.read(len(OLE))
            if not head:
                return "empty"
            ole = head.startswith(OLE)
            if not ole:
                return _zip_kind(path) if head.startswith(ZIP) else None
    except OSError:
        return None
    streams = _ole_streams(path)
    if streams & {"EncryptionInfo", "EncryptedPackage"}:
        return "encrypted"
    if streams & {"Workbook", "Book"}:
        return "xls"
    if streams & {"WordDocument", "WpsContent"}:
        return "doc"
    return "ole"


_PROBLEMS = {
    "xls": "这是 Excel 97-2003 格式（.xls）的工作簿，nianbao 只读取 .xlsx；请在 Excel 或 WPS 中“另存为”"
           "“Excel 工作簿（*.xlsx）”后再导入",
    "doc": "这是 Word 97-2003 格式（.doc）的文档，nianbao 只读取 .docx；请在 Word 或 WPS 中“另存为”"
           "“Word 文档（*.docx）”后再导入",
    "ods": "这是 OpenDocument 表格（.ods），nianbao 只读取 .xlsx；请在 LibreOffice 或 WPS 中“另存为”"
           "“Excel 2007-365（.xlsx）”后再导入",
    "odt": "这是 OpenDocument 文本（.odt），nianbao 只读取 .docx；请“另存为” Word 文档（.docx）后再导入",
    "encrypted": "文件设有打开密码（已加密），无法读取；请在 Excel、Word 或 WPS 中打开，取消“用密码进行加密”后"
                 "保存，再导入",
    "ole": "这是旧版 Office 格式（97-2003）的文件，无法读取；请另存为 .xlsx（表格）或 .docx（文档）后再导入",
    "lock": "这是 Excel、Word 或 WPS 打开文件时留下的临时锁定文件（~$ 开头），不是报表；请导入不带 ~$ 的原文件"
            "（如它仍在编辑中，请先保存并关闭）",
    "empty": "文件是空的（0 字节），可能没有保存完整；请重新保存或重新发送",
}


def problem(path: Path, expected: str) -> str | None:
    """Why the file at `path` cannot be read as an `expected` file (`xlsx` or `docx`), in Chinese with what to
    do; None when its content is that kind, or not one of the office formats above (the caller's reader then
    says what is wrong)."""
    found = kind(path)
    if found is None or found == expected:
        return None
    if found == "encrypted" and expected == "xlsx":
        return _PROBLEMS[found] + "（报表的工作表保护不设密码，报送时无需加密）"
    if found in _PROBLEMS:
        return _PROBLEMS[found]
    if found == "xlsx":
        return "这是 Excel 工作簿（.xlsx），不是发布的报告；填好的报表请用 nianbao ingest 导入"
    return "这是 Word 文档（.docx），不是 Excel 工作簿；请导入 nianbao workbook 生成并填好的 .xlsx 报表"
