"""The value of a formula that a workbook holds without a cached value (written by a script, not saved by a
spreadsheet program): the sums nianbao's forms use, read with openpyxl's formula tokenizer.

Excel, WPS and LibreOffice store every formula's value when they save, and the reader uses that value;
this evaluator only serves files no spreadsheet program has saved. It knows what the forms and an office
typing a sum write: numbers, text, cell and range references (on any sheet), `+ - * /`, comparisons,
`&`, and SUM, COUNT, IF, ROUND. Semantics follow Excel's: SUM and COUNT skip text and blanks in references,
a blank is 0 in arithmetic. Anything else raises `FormulaError`, and the reader names the cell.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils.cell import range_boundaries

Value = int | float | str | bool | None
# (sheet, range) → the values of the cells, row by row; a single cell gives a list of one
Lookup = Callable[[str | None, str], list[Value]]


class FormulaError(ValueError):
    """A formula this evaluator cannot compute, or that computes to an error (`#VALUE!`)."""


def evaluate(formula: str, lookup: Lookup) -> Value:
    """The value of `formula` (with its leading `=`); references are read through `lookup`."""
    tokens = [t for t in Tokenizer(formula).items if t.type != Token.WSPACE]
    parser = _Parser(tokens, lookup)
    value = parser.expression()
    if parser.pos != len(tokens):
        raise FormulaError(f"无法识别“{tokens[parser.pos].value}”")
    return _scalar(value)


class _Range(list):
    """The values a reference names (kept apart from scalars: SUM and COUNT skip text only in these)."""


def _scalar(value: Value | _Range) -> Value:
    if isinstance(value, _Range):
        if len(value) != 1:
            raise FormulaError("此处应为单个单元格，而不是区域")
        return value[0]
    return value


def _number(value: Value | _Range) -> int | float:
    value = _scalar(value)
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    try:
        return int(value) if value.strip().lstrip("-").isdigit() else float(value)
    except ValueError:
        raise FormulaError(f"#VALUE!：“{value}”不是数字") from None


def _numbers(args: list) -> list[int | float]:
    out = []
    for arg in args:
        if isinstance(arg, _Range):
            out += [v for v in arg if isinstance(v, (int, float)) and not isinstance(v, bool)]
        else:
            out.append(_number(arg))
    return out


def _round(args: list) -> float | int:
    value, digits = _number(args[0]), int(_number(args[1])) if len(args) > 1 else 0
    result = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return int(result) if digits <= 0 else float(result)


def _tidy(value: float | int) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


FUNCTIONS: dict[str, Callable[[list], Value]] = {
    "SUM": lambda args: _tidy(sum(_numbers(args))),
    "COUNT": lambda args: len(_numbers([a for a in args if isinstance(a, _Range)]))
    + sum(1 for a in args if not isinstance(a, _Range) and isinstance(a, (int, float))),
    "IF": lambda args: (_scalar(args[1]) if len(args) > 1 else True) if _number(args[0]) else
    (_scalar(args[2]) if len(args) > 2 else False),
    "ROUND": _round,
}
_COMPARE = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
            ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


class _Parser:
    """Recursive descent over the tokens: comparison < `&` < `+ -` < `* /` < unary < operand."""

    def __init__(self, tokens: list[Token], lookup: Lookup) -> None:
        self.tokens, self.lookup, self.pos = tokens, lookup, 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def infix(self, ops: tuple[str, ...]) -> str | None:
        t = self.peek()
        if t is not None and t.type == Token.OP_IN and t.value in ops:
            self.pos += 1
            return t.value
        return None

    def expression(self) -> Value | _Range:
        left = self.concat()
        while op := self.infix(tuple(_COMPARE)):
            a, b = _scalar(left), _scalar(self.concat())
            if isinstance(a, str) != isinstance(b, str):
                a, b = (str(a), str(b)) if a is not None and b is not None else (a or 0, b or 0)
            left = _COMPARE[op](a, b)
        return left

    def concat(self) -> Value | _Range:
        left = self.additive()
        while self.infix(("&",)):
            right = self.additive()
            left = "".join("" if v is None else str(_tidy(v) if isinstance(v, float) else v)
                           for v in (_scalar(left), _scalar(right)))
        return left

    def additive(self) -> Value | _Range:
        left = self.multiplicative()
        while op := self.infix(("+", "-")):
            right = self.multiplicative()
            left = _tidy(_number(left) + _number(right) if op == "+" else _number(left) - _number(right))
        return left

    def multiplicative(self) -> Value | _Range:
        left = self.unary()
        while op := self.infix(("*", "/")):
            right = self.unary()
            if op == "/" and _number(right) == 0:
                raise FormulaError("#DIV/0!")
            left = _tidy(_number(left) * _number(right) if op == "*" else _number(left) / _number(right))
        return left

    def unary(self) -> Value | _Range:
        t = self.peek()
        if t is not None and t.type == Token.OP_PRE:
            self.pos += 1
            value = _number(self.unary())
            return -value if t.value == "-" else value
        return self.operand()

    def operand(self) -> Value | _Range:
        t = self.peek()
        if t is None:
            raise FormulaError("公式不完整")
        self.pos += 1
        if t.type == Token.OPERAND:
            if t.subtype == Token.NUMBER:
                return _tidy(float(t.value)) if any(ch in t.value for ch in ".eE") else int(t.value)
            if t.subtype == Token.TEXT:
                return t.value[1:-1].replace('""', '"')
            if t.subtype == Token.LOGICAL:
                return t.value.upper() == "TRUE"
            if t.subtype == Token.RANGE:
                return self.reference(t.value)
            raise FormulaError(f"无法计算“{t.value}”")
        if t.type == Token.PAREN and t.subtype == Token.OPEN:
            value = self.expression()
            self.expect(Token.PAREN)
            return value
        if t.type == Token.FUNC and t.subtype == Token.OPEN:
            name = t.value[:-1].upper().removeprefix("_XLFN.")
            if name not in FUNCTIONS:
                raise FormulaError(f"不支持函数 {name}")
            args: list = []
            if not (self.peek() and self.peek().type == Token.FUNC and self.peek().subtype == Token.CLOSE):
                args.append(self.expression())
                while self.peek() and self.peek().type == Token.SEP and self.peek().subtype == Token.ARG:
                    self.pos += 1
                    args.append(self.expression())
            self.expect(Token.FUNC)
            return FUNCTIONS[name](args)
        raise FormulaError(f"无法识别“{t.value}”")

    def expect(self, kind: str) -> None:
        t = self.peek()
        if t is None or t.type != kind or t.subtype != Token.CLOSE:
            raise FormulaError("括号不配对")
        self.pos += 1

    def reference(self, text: str) -> _Range:
        sheet, _, cells = text.rpartition("!")
        if sheet.startswith("'"):
            sheet = sheet[1:-1].replace("''", "'")
        try:
            range_boundaries(cells.replace("$", ""))
        except (ValueError, TypeError):
            raise FormulaError(f"无法识别引用 {text}") from None
        return _Range(self.lookup(sheet or None, cells.replace("$", "")))
