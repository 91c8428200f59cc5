"""`nianbao synth`: a complete, clearly fictional project for demos, tests and benchmarks.

Every office is a 示例 office. Figures follow every rule: tables 三 and 四 add up, each year's 上年结转 is
the previous year's 结转下年度, the F2019 project counts and the F2021 现行有效件数 chain from year to year.
With `faults`, a share of the office-years gets one rule violation each, of every kind the rules know, and
`synth.json` says which and what status the batch should give them. With `anomalies`, figures move little
from year to year, and a few offices get in their last year what the reviewers' overview must catch (a figure
×8 or ÷8, tables copied from last year, all-zero tables under prose that counts applications, a share far
from the region's) and one office skips a year; `synth.json` lists them under `anomalies`.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from string import Template

from .atomic import write_files
from .data import LABEL_PREFIX, OFFICE_FIELDS, figures_csv
from .formats import format_for
from .formats.rules import T3_INNER
from .manifest import FAILED, GATED, PUBLISHED, WARNINGS
from .params import params_text
from .scaffold import init_project

PLACES = ("东湖", "西山", "南苑", "北塘", "青石", "白沙", "红枫", "金桥", "银杏", "云溪", "松林", "柳岸", "梅园",
          "竹影", "兰亭", "桂花", "翠屏", "碧水", "长乐", "永安", "新华", "和平", "光明", "朝阳")
KINDS = ("街道办事处", "镇人民政府", "乡人民政府")
FOCUS = ("完善依申请公开办理流程", "推进基层政务公开标准化规范化", "加强政府信息公开平台建设",
         "做好重点领域信息公开", "规范政府信息公开答复文书")
PROBLEMS = ("政务新媒体互动回应不够及时", "部分栏目更新频率有待提高", "依申请公开答复文书的说理性有待加强",
            "公开内容的解读形式较为单一")

# F2021's part 五 also reports on last year's problems (SEC5-PREV).
FOLLOWUP = "\n（三）上一年度问题整改情况\n\n针对上一年度报告所列问题，已逐项制定整改措施并完成整改。\n"


@dataclass(frozen=True)
class Fault:
    """A rule violation `synth` can inject: the rule that must report it and the status it must leave."""

    rule: str | None  # None: refused as bad input before any rule runs
    status: str


FAULTS: dict[str, Fault] = {
    "t3-balance": Fault("T3-BALANCE", GATED),  # 办理结果总计 off by one (also T3-OUTCOME-SUM, T3-ROWSUM)
    "t3-negative": Fault("T3-INT", GATED),  # a negative count
    "t4-groupsum": Fault("T4-GROUPSUM", GATED),  # 表四 总计 off by one
    "t2-amount": Fault("T2-AMT", GATED),  # an amount that is not a number
    "heading": Fault("SEC-HEADINGS", GATED),  # a wrong section heading
    "label": Fault("LABEL-EXACT", GATED),  # the office prints a table label its own way
    "t3-xyear": Fault("T3-XYEAR", WARNINGS),  # 上年结转 differs from last year's 结转下年度
    "blank-cell": Fault("CELL-FILLED", WARNINGS),  # a blank cell
    "amount-decimals": Fault("T2-AMT-DEC", WARNINGS),  # an amount with 6 decimals
    "prose-html": Fault(None, FAILED),  # raw HTML in the prose
}
RANK = (PUBLISHED, WARNINGS, GATED, FAILED)
# What the overview flags (nianbao.overview.KINDS), injected in the last year of the offices of these numbers,
# and the office (number) that skips its third-to-last year.
ANOMALIES = {2: "jump", 3: "drop", 4: "copied", 5: "zero", 6: "share"}
SKIPS_A_YEAR = 7
ZERO_PROSE = "全年共受理政府信息公开申请26件，均在法定期限内答复。全年作出行政许可决定112件。"


@dataclass
class SynthResult:
    root: Path
    offices: int
    reports: int
    # "office/year" → {"faults": [...], "rules": [rule ids that must report them], "status": ...}
    expected: dict[str, dict] = field(default_factory=dict)


def _split(rng: random.Random, total: int, weights: list[float]) -> list[int]:
    """`total` units spread over len(weights) parts."""
    parts = [0] * len(weights)
    for i in rng.choices(range(len(weights)), weights=weights, k=total):
        parts[i] += 1
    return parts


class _Office:
    """One office's state from year to year: what carries over."""

    def __init__(self, rng: random.Random, size: int, steady: bool = False) -> None:
        self.rng = rng
        self.size = size
        self.steady = steady  # figures stay within about ±20% of the office's own level from year to year
        self.levels: dict[str, int] = {}
        self.carry = None  # last year's 结转下年度 per column
        self.items = {r: rng.randint(0, 12) for r in ("license", "other_services", "penalty", "coercion", "fees")}
        self.valid = {r: rng.randint(0, 8) for r in ("rules", "normative")}
        self.public_total = {r: rng.randint(0, 10) for r in ("rules", "normative")}

    def _count(self, key: str, high: int) -> int:
        """A count up to about `high`: anything from 0 (default), or near this office's level (steady)."""
        if not self.steady:
            return self.rng.randint(0, high)
        level = self.levels.setdefault(key, self.rng.randint(high // 2, high))
        return round(level * self.rng.uniform(0.85, 1.18))

    def figures(self, year: int) -> dict[str, str]:
        fmt, rng = format_for(year), self.rng
        values: dict[str, str] = {}
        # 表二
        if fmt.id == "F2019":
            for r in ("rules", "normative"):
                made = rng.randint(0, 4)
                published = rng.randint(0, made)
                self.public_total[r] += published
                values |= {f"t2.{r}.made": made, f"t2.{r}.published": published,
                           f"t2.{r}.public_total": self.public_total[r]}
            for r, prev in self.items.items():
                delta = rng.randint(-min(prev, 2), 3)
                values |= {f"t2.{r}.prev_items": prev, f"t2.{r}.delta": delta}
                if r != "fees":
                    values[f"t2.{r}.decisions"] = self._count(r, 30 * self.size)
                self.items[r] = prev + delta
            count = rng.choice((0, rng.randint(1, 5)))
            values["t2.procurement.count"] = count
            values["t2.procurement.amount"] = f"{rng.randint(1, 999999) / 10000:.4f}" if count else "0"
        else:
            for r in ("rules", "normative"):
                issued = rng.randint(0, 3)
                repealed = rng.randint(0, min(2, self.valid[r] + issued))
                self.valid[r] += issued - repealed
                values |= {f"t2.{r}.issued": issued, f"t2.{r}.repealed": repealed, f"t2.{r}.valid": self.valid[r]}
            for r in ("license", "penalty", "coercion"):
                values[f"t2.{r}.decisions"] = self._count(r, 30 * self.size)
            values["t2.fees.amount"] = rng.choice(("0", f"{rng.randint(1, 99999) / 100:.2f}"))
        # 表三: per column, 本年新收 + 上年结转 = 办理结果总计 + 结转下年度
        t3 = fmt.table("t3")
        columns = [c for c in t3.columns if c != "total"]
        leaves = [r for r in t3.rows if r not in T3_INNER]
        weights = [30.0 if r == "open" else 6.0 if r == "partial" else 1.0 for r in leaves]
        carry_out = {}
        for i, c in enumerate(columns):
            scale = self.size * (8 if i == 0 else 1)
            new = self._count(f"new.{c}", scale)
            carry_in = self.carry[c] if self.carry else rng.randint(0, 1)
            out = rng.randint(0, min(2, new + carry_in))
            done = new + carry_in - out
            values |= {f"t3.new.{c}": new, f"t3.carry_in.{c}": carry_in, f"t3.total.{c}": done,
                       f"t3.carry_out.{c}": out}
            values |= {f"t3.{r}.{c}": n for r, n in zip(leaves, _split(rng, done, weights), strict=True)}
            carry_out[c] = out
        self.carry = carry_out
        for r in t3.rows:
            values[f"t3.{r}.total"] = sum(int(values[f"t3.{r}.{c}"]) for c in columns)
        # 表四
        t4 = fmt.table("t4")
        for r in t4.rows:
            parts = {c: rng.choice((0, 0, 0, rng.randint(0, 2))) for c in t4.columns if c != "total"}
            values |= {f"t4.{r}.{c}": n for c, n in parts.items()}
            values[f"t4.{r}.total"] = sum(parts.values())
        missing = set(fmt.cell_kinds()) - set(values)
        assert not missing, missing  # a new format version needs its cells generated here
        return {k: str(v) for k, v in values.items()}


def _narrative(rng: random.Random, year: int) -> str:
    """The prose of one fictional office-year: `project_files/narrative.md` with this year's headings."""
    fmt = format_for(year)
    f2021 = fmt.id == "F2021"
    return _NARRATIVE.substitute(
        {f"h{i}": h for i, h in enumerate(fmt.headings, 1)},
        focus=rng.choice(FOCUS), problem=rng.choice(PROBLEMS),
        followup=FOLLOWUP if f2021 else "",
        fees="本年度未发出信息处理费收费通知，未收取信息处理费。" if f2021 else "无。",
    )


def _inject(fault: str, values: dict[str, str], prose: str) -> str:
    """Break one rule in `values` (in place) or in the prose; return the prose."""
    amount = next(k for k in sorted(values) if k in ("t2.procurement.amount", "t2.fees.amount"))
    if fault == "t3-balance":
        values["t3.total.natural"] = str(int(values["t3.total.natural"]) + 1)
    elif fault == "t3-negative":
        values["t3.open.research"] = "-1"
    elif fault == "t4-groupsum":
        values["t4.review.total"] = str(int(values["t4.review.total"]) + 1)
    elif fault == "t2-amount":
        values[amount] = "1,5"
    elif fault == "heading":
        prose = prose.replace("# 四、政府信息公开行政复议、行政诉讼情况", "# 四、行政复议和行政诉讼情况")
    elif fault == "t3-xyear":  # shift one application from 本年新收 to 上年结转: balanced, but not last year's
        values["t3.carry_in.natural"] = str(int(values["t3.carry_in.natural"]) + 1)
        values["t3.new.natural"] = str(int(values["t3.new.natural"]) - 1)
        values["t3.carry_in.total"] = str(int(values["t3.carry_in.total"]) + 1)
        values["t3.new.total"] = str(int(values["t3.new.total"]) - 1)
    elif fault == "blank-cell":
        values["t4.direct.upheld"] = ""
    elif fault == "amount-decimals":
        values[amount] = "12.345678"
    elif fault == "prose-html":
        prose = prose.replace("# 六、", '<script>alert("x")</script>\n\n# 六、')
    return prose


def _possible(fault: str, values: dict[str, str], first_year: bool) -> bool:
    if fault == "t3-xyear":
        return not first_year and int(values["t3.new.natural"]) > 0
    if fault == "amount-decimals":  # a zero amount with decimals would also break T2-PROC-ZERO
        return values.get("t2.procurement.amount", "1") != "0"
    return True


def _anomaly(kind: str, values: dict[str, str], last: dict[str, str], prose: str) -> str:
    """Give one office-year (`values`, in place, or its prose) what the overview must flag as `kind`;
    last year's figures are `last`. Rules stay satisfied but for the cross-year ones (warnings)."""
    if kind == "jump":  # ×8
        values["t2.license.decisions"] = str(max(int(values["t2.license.decisions"]), 5) * 8)
    elif kind == "drop":  # ÷8
        values["t2.penalty.decisions"] = str(int(values["t2.penalty.decisions"]) // 8)
    elif kind == "copied":
        values.update(last)
    elif kind == "zero":
        for ref in values:
            if ref.startswith(("t3.", "t4.")) or ref.endswith(".decisions"):
                values[ref] = "0"
        head, sep, rest = prose.partition("\n\n（一）主动公开")
        prose = f"{head}{ZERO_PROSE}{sep}{rest}"
    elif kind == "share":  # nothing 予以公开: all of it 不予公开 (第三方不同意公开)
        for ref in [r for r in values if r.startswith("t3.open.")]:
            moved = values[ref]
            deny = ref.replace(".open.", ".deny_3.")
            values[deny] = str(int(values[deny]) + int(moved))
            values[ref] = "0"
    return prose


_NARRATIVE = Template(files("nianbao").joinpath("project_files/narrative.md").read_text(encoding="utf-8"))
BAD_LABEL = ("t2.procurement.amount", "采购金额（万元）")  # the "label" fault: an office's own wording (F2019)


def synth(out: Path, offices: int, years: range, seed: int = 0, faults: float = 0.0,
          anomalies: bool = False) -> SynthResult:
    """Write a project of `offices` fictional offices × `years` into `out` (which must not hold one).

    With `faults`, about that share of the office-years gets one injected fault each; `synth.json` lists
    them with the status each report should end with. A label fault is an office's: it breaks every F2019
    year of that office. With `anomalies` (needs 7 offices and a last year from 2022), figures are steady
    and offices 2–6 get one overview anomaly each in the last year, office 7 skips the third-to-last year;
    `synth.json` lists them under `anomalies` ("office/year" → kind) and `missing`. Raises `FileExistsError`
    when `out` holds a project, `ValueError` for anomalies it cannot place.
    """
    if (out / "data" / "offices.csv").exists():
        raise FileExistsError(f"{out} already holds a project (data/offices.csv); choose an empty folder")
    if anomalies and (offices < SKIPS_A_YEAR or years[-1] < 2022 or len(years) < 3):
        raise ValueError("anomalies need at least 7 offices and three years, the last from 2022")
    placed: dict[str, str] = {}
    missing: list[str] = []
    rng = random.Random(seed)
    writes: dict[Path, str] = {}
    result = SynthResult(out, offices, offices * len(years))
    rotation = [f for f in FAULTS if f != "label"]
    registry = io.StringIO()
    csv.writer(registry, lineterminator="\n").writerow((*OFFICE_FIELDS, f"{LABEL_PREFIX}{BAD_LABEL[0]}"))
    for n in range(1, offices + 1):
        office = f"shili-{n:04d}"
        place = f"{PLACES[(n - 1) % len(PLACES)]}{(n - 1) // len(PLACES) + 1}"
        name = f"示例区{place}{KINDS[n % len(KINDS)]}"
        bad_label = bool(faults) and rng.random() < faults / len(FAULTS) and years[0] <= 2020
        csv.writer(registry, lineterminator="\n").writerow(
            (office, name, "示例省示例市示例区", f"示例区{place}路{n}号", "100000", f"010—{n:08d}",
             BAD_LABEL[1] if bad_label else ""))
        own, size = random.Random(rng.random()), rng.choice((1, 1, 2, 3))
        if anomalies:  # big enough that a jump, a drop or a share stands out from noise
            size = 6 if ANOMALIES.get(n) == "share" else 4 if n in ANOMALIES else max(size, 2)
        state = _Office(own, size=size, steady=anomalies)
        cells: list[tuple[int, str, str]] = []
        last: dict[str, str] = {}
        for year in years:
            values = state.figures(year)
            prose = _narrative(rng, year)
            if anomalies and n == SKIPS_A_YEAR and year == years[-3]:
                missing.append(f"{office}/{year}")
                continue
            if anomalies and n in ANOMALIES and year == years[-1]:
                prose = _anomaly(ANOMALIES[n], values, last, prose)
                placed[f"{office}/{year}"] = ANOMALIES[n]
            last = dict(values)
            injected = ["label"] if bad_label and format_for(year).id == "F2019" else []
            if faults and rng.random() < faults:
                # In turn, not at random: a few faults already cover every kind.
                fault = next(f for f in rotation if _possible(f, values, year == years[0]))
                rotation.remove(fault)
                rotation.append(fault)
                prose = _inject(fault, values, prose)
                injected.append(fault)
            status = max((FAULTS[f].status for f in injected), key=RANK.index, default=PUBLISHED)
            rules = sorted({r for f in injected if (r := FAULTS[f].rule)})
            result.expected[f"{office}/{year}"] = {"faults": injected, "rules": rules, "status": status}
            cells += [(year, ref, value) for ref, value in values.items()]
            writes[out / "data" / "narrative" / office / f"{year}.md"] = prose
            writes[out / "params" / office / f"{year}.yaml"] = params_text(office, year)
        writes[out / "data" / "figures" / f"{office}.csv"] = figures_csv(cells)
    writes[out / "data" / "offices.csv"] = registry.getvalue()
    listing: dict = {"seed": seed, "faults": faults, "reports": result.expected}
    if anomalies:
        listing |= {"anomalies": placed, "missing": missing}
        result.reports -= len(missing)
    writes[out / "synth.json"] = json.dumps(listing, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    write_files(writes)
    init_project(out)
    return result
