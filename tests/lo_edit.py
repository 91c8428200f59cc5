"""Edit a workbook in LibreOffice Calc as an office does by hand, through UNO, and save it as .xlsx.

Run with a Python that has LibreOffice's `uno` module (Debian's python3-uno, /usr/bin/python3):

    python3 lo_edit.py IN.xlsx OUT.xlsx PROFILE_DIR EDITS.json

EDITS: {"cells": [[sheet, "D8", 12 or "text" or "=formula"]], "insert_rows": [[sheet, index0, count]],
"insert_columns": [[sheet, index0, count]], "move": [[sheet, "F5", "G5"]] (cut and paste), "after": [[sheet, "E5",
text]], "formats": [[sheet, "D8", "0%"]] (a number format code), "merge": [[sheet, "A9:A10"]] (Merge Cells),
"rename": [[old, new]]}, applied in that order ("cells" at the form's own addresses, "move" and "after" at those
once rows and columns are inserted). The sheets are unprotected first (the forms have no password), as an
office inserting rows in Calc would do.
"""

import json
import os
import subprocess
import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.lang import Locale


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def main():
    src, dst, profile, edits_file = sys.argv[1:5]
    with open(edits_file, encoding="utf-8") as f:
        edits = json.load(f)
    pipe = f"nianbao_test_{os.getpid()}"
    office = subprocess.Popen(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--invisible",
                               "--norestore", "--nologo", f"--accept=pipe,name={pipe};urp;"])
    desktop = None
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        for _ in range(240):
            try:
                ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except Exception:
                time.sleep(0.5)
        else:
            raise SystemExit("LibreOffice did not start")
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(os.path.abspath(src)), "_blank", 0,
                                           (prop("Hidden", True),))
        sheets = doc.Sheets
        for name in sheets.ElementNames:
            sheets.getByName(name).unprotect("")
        for sheet, address, value in edits.get("cells", []):
            cell = sheets.getByName(sheet).getCellRangeByName(address)
            if isinstance(value, str) and value.startswith("="):
                cell.setFormula(value)
            elif isinstance(value, str):
                cell.setString(value)  # a text cell, as typing '12 makes one
            else:
                cell.setValue(value)
        for sheet, index, count in edits.get("insert_rows", []):
            sheets.getByName(sheet).Rows.insertByIndex(index, count)
        for sheet, index, count in edits.get("insert_columns", []):
            sheets.getByName(sheet).Columns.insertByIndex(index, count)
        for sheet, source, target in edits.get("move", []):  # cut and paste, as Ctrl-X, Ctrl-V do
            ws = sheets.getByName(sheet)
            ws.moveRange(ws.getCellRangeByName(target).CellAddress, ws.getCellRangeByName(source).RangeAddress)
        for sheet, address, value in edits.get("after", []):
            sheets.getByName(sheet).getCellRangeByName(address).setString(value)
        for sheet, address, code in edits.get("formats", []):
            formats = doc.NumberFormats
            locale = Locale()
            key = formats.queryKey(code, locale, False)
            if key == -1:
                key = formats.addNew(code, locale)
            sheets.getByName(sheet).getCellRangeByName(address).NumberFormat = key
        for sheet, address in edits.get("merge", []):
            sheets.getByName(sheet).getCellRangeByName(address).merge(True)
        for old, new in edits.get("rename", []):
            sheets.getByName(old).setName(new)
        doc.calculateAll()
        doc.storeToURL(uno.systemPathToFileUrl(os.path.abspath(dst)), (prop("FilterName", "Calc MS Excel 2007 XML"),))
        doc.close(True)
    finally:
        if desktop is not None:
            try:
                desktop.terminate()
            except Exception:
                pass
        try:
            office.wait(timeout=60)
        except subprocess.TimeoutExpired:
            office.kill()


if __name__ == "__main__":
    main()
