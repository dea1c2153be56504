"""DLP benchmark: Mixun's engine per message and per megabyte, side by side with Microsoft Presidio.

Run:  .venv/bin/python bench/bench_dlp.py            (writes the DLP section of BENCHMARKS.md)
      .venv/bin/python bench/bench_dlp.py --quick    (smaller inputs, for a smoke run)
Needs the bench extra for the comparison: .venv/bin/pip install -e '.[bench]' (presidio-analyzer).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit" / "dlp"))

from dlp_corpus import DETECTORS, CorpusGenerator, score  # noqa: E402

from mixun.domain.dlp import DEFAULT_LEXICONS, DlpEngine  # noqa: E402
from mixun.domain.dlp.checksums import is_valid_id18, is_valid_uscc  # noqa: E402
from mixun.domain.dlp.engine import PRESCAN_FROM  # noqa: E402

START, END = "<!-- dlp:start -->", "<!-- dlp:end -->"


# ---- inputs -------------------------------------------------------------------------------------


def messages_200(lines: list[str], n: int, rng: random.Random) -> list[str]:
    """n messages of exactly 200 characters, made of consecutive corpus lines."""
    out = []
    while len(out) < n:
        i = rng.randrange(len(lines))
        buf = ""
        while len(buf) < 200:
            buf += lines[i % len(lines)] + "；"
            i += 1
        out.append(buf[:200])
    return out


def ordinary_chat(gen: CorpusGenerator, n_chars: int) -> list[str]:
    """Everyday work chat: Faker zh_CN sentences with times, dates, amounts and a few real findings."""
    f, rng = gen.fake, gen.rng
    labelled = [x.text for x in gen.corpus(40, 40)]
    out, total = [], 0
    while total < n_chars:
        r = rng.random()
        if r < 0.05:
            s = rng.choice(labelled)
        elif r < 0.25:
            s = f"{f.date_this_year()} {f.time()} 在{f.city()}{f.company()}开会，预算{rng.randint(1000, 999999)}元。"
        else:
            s = f.text(max_nb_chars=rng.randint(40, 200)).replace("\n", "")
        out.append(s)
        total += len(s)
    return out


# ---- Presidio ---------------------------------------------------------------------------------


def build_presidio():
    """Presidio's analyzer with no downloaded model: a blank spaCy 'zh' pipeline behind a tiny NlpEngine.

    The default engine loads en_core_web_lg (a download, unreachable here). Pattern recognizers only need
    tokens for their context step, which a blank character-segmented pipeline provides.
    """
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
    from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, EmailRecognizer

    # EmailRecognizer validates domains with tldextract, which would fetch the suffix list online.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class BlankNlpEngine(NlpEngine):
        def __init__(self) -> None:
            self.nlp = spacy.blank("zh")

        def load(self) -> None:
            pass

        def is_loaded(self) -> bool:
            return True

        def process_text(self, text, language):
            doc = self.nlp(text)
            return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[t.idx for t in doc],
                                lemmas=[t.text for t in doc], nlp_engine=self, language=language)

        def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):
            for t in texts:
                yield t, self.process_text(t, language)

        def is_stopword(self, word, language):
            return False

        def is_punct(self, word, language):
            return False

        def get_supported_entities(self):
            return []

        def get_supported_languages(self):
            return ["zh"]

    class CnIdRecognizer(PatternRecognizer):
        def validate_result(self, pattern_text):
            return is_valid_id18(pattern_text.upper())

    class UsccRecognizer(PatternRecognizer):
        def validate_result(self, pattern_text):
            return is_valid_uscc(pattern_text.upper())

    zh = "zh"
    recognizers = [
        CreditCardRecognizer(supported_language=zh, context=["卡号", "银行卡", "信用卡", "借记卡", "账号"]),
        EmailRecognizer(supported_language=zh),
        CnIdRecognizer("CN_ID_CARD", supported_language=zh, context=["身份证", "证件"],
                       patterns=[Pattern("id18", r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?!\d)", 0.5)]),
        PatternRecognizer("CN_MOBILE", supported_language=zh, context=["手机", "电话"],
                          patterns=[Pattern("mobile", r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)", 0.6)]),
        UsccRecognizer("USCC", supported_language=zh,
                       patterns=[Pattern("uscc", r"(?<![0-9A-Za-z])[0-9A-Za-z]{2}\d{6}[0-9A-Za-z]{10}(?![0-9A-Za-z])", 0.5)]),
        PatternRecognizer("CREDENTIAL", supported_language=zh, patterns=[
            Pattern("pw", r"(?<=(?:密码|口令|PIN码|pin码|password|pwd|PIN)[:：=是为 ]{0,2})[!-~]{4,64}", 0.6)]),
        PatternRecognizer("SECRET_KEY", supported_language=zh, patterns=[
            Pattern("aws", r"\bAKIA[0-9A-Z]{16}\b", 0.8), Pattern("gh", r"\bghp_[A-Za-z0-9]{36}\b", 0.8),
            Pattern("ali", r"\bLTAI[0-9A-Za-z]{12,20}\b", 0.8),
            Pattern("jwt", r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}", 0.8),
            Pattern("pem", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----", 0.9)]),
        PatternRecognizer("CLASSIFIED_MARKING", supported_language=zh, patterns=[
            Pattern("mark", r"(?:绝密|机密|秘密)[★*＊](?:长期|\d+年|\d+个月)?|密级[:：]\s*(?:绝密|机密|秘密)|【(?:绝密|机密)】", 0.8)]),
        PatternRecognizer("PROHIBITED", supported_language=zh,
                          deny_list=[t for terms in DEFAULT_LEXICONS.values() for t in terms]),
    ]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[zh])
    engine = AnalyzerEngine(registry=registry, nlp_engine=BlankNlpEngine(), supported_languages=[zh])
    mapping = {"CREDIT_CARD": "bank_card", "EMAIL_ADDRESS": "email", "CN_ID_CARD": "cn_id_card",
               "CN_MOBILE": "cn_mobile", "USCC": "uscc", "CREDENTIAL": "credential", "SECRET_KEY": "secret_key",
               "CLASSIFIED_MARKING": "classified_marking", "PROHIBITED": "prohibited"}

    def scan(text: str):
        return [(mapping.get(r.entity_type, r.entity_type), r.start, r.end)
                for r in engine.analyze(text=text, language=zh, score_threshold=0.5)]

    return scan


# ---- measuring ----------------------------------------------------------------------------------


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    s = sorted(samples_ns)

    def p(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))] / 1000

    return {"median": statistics.median(s) / 1000, "p90": p(0.90), "p99": p(0.99), "p999": p(0.999),
            "max": s[-1] / 1000, "n": len(s)}


def latency(scans: dict, msgs: list[str], rounds: int) -> dict[str, dict[str, float]]:
    """Per engine: percentiles over every timed call, plus `best_*` over messages of each message's
    fastest round.

    The engines take turns round by round, so a slow spell of this shared 2-core VM hits them alike.
    The first figures include whatever else the machine did meanwhile (a preempted call lands in the
    tail); the `best_` ones are the engine's own cost per message, which is what differs between
    messages.
    """
    for scan in scans.values():
        for m in msgs[:200]:
            scan(m)
    per_msg = {name: [[] for _ in msgs] for name in scans}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, scan in scans.items():
            samples = per_msg[name]
            for i, m in enumerate(msgs):
                t0 = clock()
                scan(m)
                samples[i].append(clock() - t0)
    out = {}
    for name, samples in per_msg.items():
        out[name] = percentiles([x for xs in samples for x in xs])
        out[name].update({f"best_{k}": v for k, v in percentiles([min(xs) for xs in samples]).items()})
    return out


def throughput(scans, texts: list[str], repeats: int = 5):
    """MB/s (UTF-8 bytes) of the best of `repeats` passes over `texts`. Given a dict of engines, they
    take turns pass by pass (so a slow spell hits them alike) and a dict of results comes back."""
    single = not isinstance(scans, dict)
    if single:
        scans = {"_": scans}
    nbytes = sum(len(t.encode()) for t in texts)
    best = dict.fromkeys(scans, float("inf"))
    for _ in range(repeats):
        for name, scan in scans.items():
            t0 = time.perf_counter()
            for t in texts:
                scan(t)
            best[name] = min(best[name], time.perf_counter() - t0)
    out = {name: nbytes / b / 1e6 for name, b in best.items()}
    return out["_"] if single else out


def time_split(engine: DlpEngine, docs: list[str]) -> dict[str, float]:
    """Milliseconds per pass over `docs`: the whole scan, the prescan alone, the lexicon alone."""
    from mixun.domain.dlp.prescan import PRESCAN

    def best(fn, xs) -> float:
        out = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for x in xs:
                fn(x)
            out = min(out, time.perf_counter() - t0)
        return out * 1000

    normed = [PRESCAN.scan(d)[0].text for d in docs] if PRESCAN else docs
    return {"total": best(engine.scan, docs),
            "prescan": best(PRESCAN.scan, docs) if PRESCAN else 0.0,
            "lexicon": best(engine._lexicon.run, normed),
            "mb": sum(len(d.encode()) for d in docs) / 1e6}


def chunks(lines: list[str], size: int) -> list[str]:
    text = "\n".join(lines)
    return [text[i : i + size] for i in range(0, len(text), size)]


def machine() -> str:
    model = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout  # noqa: S607
        m = re.search(r"Model name:\s*(.+)", out)
        model = m.group(1).strip() if m else model
    except OSError:
        pass
    load = "load average {:.1f}/{:.1f}/{:.1f} at the end".format(*os.getloadavg())
    return (f"{model}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; {load}")


def write_section(path: Path, body: str) -> None:
    if not path.exists():
        path.write_text(f"# Mixun benchmarks\n\n{START}\n{END}\n", encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{body.strip()}\n{END}{tail}", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-presidio", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
        pinned = "pinned to one core (sched_setaffinity)"
    except (AttributeError, OSError):
        pinned = "not pinned"

    rng = random.Random(7)
    gen = CorpusGenerator(seed=20240601)
    labelled = gen.corpus()
    lines = [x.text for x in labelled]
    mixed = ordinary_chat(CorpusGenerator(seed=99), 600_000 if args.quick else 3_000_000)
    msgs_dense = messages_200(lines, 500 if args.quick else 2000, rng)
    msgs_chat = messages_200(mixed, 500 if args.quick else 2000, rng)
    rounds = 3 if args.quick else 10

    t0 = time.perf_counter()
    engine = DlpEngine()
    build_ms = (time.perf_counter() - t0) * 1000
    # The same engine without the native prescan: what platforms without the Hyperscan wheel run, and
    # the design before it, measured side by side.
    full = DlpEngine(prescan=False)
    # Messages shorter than PRESCAN_FROM skip the prescan; this one sends them through it, to show why.
    forced = DlpEngine(prescan_from=0)
    t0 = time.perf_counter()
    big = DlpEngine({"big": [f"违禁词条{i:06d}" for i in range(50_000)], **DEFAULT_LEXICONS})
    build_big_ms = (time.perf_counter() - t0) * 1000

    res: dict[str, object] = {}
    docs = chunks(mixed, 65536)
    both = {"": engine.scan, "_full": full.scan}
    for key, msgs in (("lat_chat", msgs_chat), ("lat_dense", msgs_dense)):
        for suffix, r in latency({"": engine.scan, "_forced": forced.scan}, msgs, rounds).items():
            res[key + suffix] = r
    res["lat_chat_big"] = latency({"": big.scan}, msgs_chat, max(1, rounds // 2))[""]
    clean = [m for m in mixed if not re.search(r"[0-9@密]", m)]
    for key, texts in (("tp_mixed_doc", docs), ("tp_mixed_lines", mixed), ("tp_dense_lines", lines),
                       ("tp_clean_lines", clean)):
        engines = {**both, "_big": big.scan} if key == "tp_mixed_doc" else both
        for suffix, r in throughput(engines, texts).items():
            res[key + suffix] = r
    res["split"] = time_split(engine, docs)
    quality_mixun = score(labelled, lambda t: [(f.detector, f.start, f.end) for f in engine.scan(t)])
    quality_mixun.pop("_errors")

    presidio = None
    if not args.no_presidio:
        try:
            presidio = build_presidio()
        except ImportError as exc:
            print(f"presidio not installed ({exc}); skipping the comparison", file=sys.stderr)
    if presidio is not None:
        sub = 300 if args.quick else 1000
        res["p_lat_chat"] = latency({"": presidio}, msgs_chat[:sub], 1)[""]
        res["p_lat_dense"] = latency({"": presidio}, msgs_dense[:sub], 1)[""]
        res["p_tp_dense_lines"] = throughput(presidio, lines, 1)
        res["m_tp_dense_lines_same"] = res["tp_dense_lines"]
        p_mixed = mixed[: len(mixed) // (20 if args.quick else 30)]
        res["p_tp_mixed_lines"] = throughput(presidio, p_mixed, 1)
        res["m_tp_mixed_lines_same"] = throughput(engine.scan, p_mixed)
        quality_presidio = score(labelled, presidio)
        quality_presidio.pop("_errors")
    else:
        quality_presidio = None

    body = render(res, quality_mixun, quality_presidio, len(labelled), args, pinned, build_ms, build_big_ms,
                  sum(len(m.encode()) for m in mixed), engine.term_count)
    print(body)
    write_section(Path(args.out), body)
    return 0


def args_rounds(args) -> int:
    return 3 if args.quick else 10


def where_the_time_goes(sp: dict[str, float]) -> str:
    rest = sp["total"] - sp["prescan"] - sp["lexicon"]
    return (
        f"Where the time goes (64 K-character everyday-chat documents, {sp['mb']:.1f} MB, one core, each "
        f"part timed alone): {sp['total']:.0f} ms in all; the prescan {sp['prescan']:.0f} ms "
        f"({sp['prescan'] / sp['total']:.0%}: normalisation and one Hyperscan pass over the UTF-16 text "
        f"with every detector's gate patterns), the lexicon {sp['lexicon']:.0f} ms "
        f"({sp['lexicon'] / sp['total']:.0%}: UTF-8 bytes with decorations blanked and ASCII separators "
        f"dropped, then the Aho–Corasick DFA), and the detectors at the places the prescan found, with "
        f"overlap resolution, {rest:.0f} ms ({rest / sp['total']:.0%}). Without the prescan every detector "
        "is its own CPython regular-expression pass over every character (roughly 200–600 MB/s each, since "
        "`re` stops at every digit and letter of a document), which is what held the engine at 28 MB/s. "
        "The dense lines are bound by the detectors' own Python work (check digits, context words, "
        "masking, about five findings and several near misses per message), which the prescan does not "
        "reduce."
    )


def render(res, qm, qp, n_lines, args, pinned, build_ms, build_big_ms, mixed_bytes, terms) -> str:
    def lat_row(name, d):
        return (f"| {name} | {d['median']:.1f} | {d['p90']:.1f} | {d['p99']:.1f} | {d['p999']:.1f} | "
                f"{d['max']:.0f} | {d['best_median']:.1f} | {d['best_p99']:.1f} | {d['n']} |")

    def tp_row(name, key):
        a, b = res[key], res[key + "_full"]
        return f"| {name} | {a:.1f} | {b:.1f} | {a / b:.1f}× |"

    cmd = "python bench/bench_dlp.py" + (" --quick" if args.quick else "")
    out = [
        "## DLP engine (`bench/bench_dlp.py`)",
        "",
        f"- Machine: {machine()}; {pinned}.",
        f"- Command: `.venv/bin/{cmd}` (results below from one run).",
        f"- Engine built once: {build_ms:.0f} ms with the {terms} built-in lexicon terms; "
        f"{build_big_ms:.0f} ms with 50,000 extra terms.",
        "- Inputs are generated and seeded: the labelled corpus of the unit tests "
        f"({n_lines} chat lines, every positive line carries a finding, with hard negatives) and "
        f"{mixed_bytes / 1e6:.1f} MB of everyday work chat (Faker zh_CN sentences, dates, times, amounts; 5% of "
        "lines taken from the labelled corpus).",
        *([f"- The machine was busy with other work during this run (load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs): every figure here is pessimistic, and the p99.9/max latencies mostly "
            "measure preemption, not the engine. Rerun on an idle machine for clean numbers."]
          if os.getloadavg()[0] > (os.cpu_count() or 1) else []),
        "",
        "### Per-message overhead (full engine: normalise, all detectors, overlap resolution), µs",
        "",
        f"Every message is scanned {args_rounds(args)} times; the first columns are over every call, the "
        "two \"per message\" columns over messages, taking each message's fastest call (its own cost, "
        "without the moments this shared 2-core VM spent elsewhere).",
        "",
        "| 200-character messages | median | p90 | p99 | p99.9 | max | per message: median | per message: p99 "
        "| samples |",
        "|---|---|---|---|---|---|---|---|---|",
        lat_row("everyday chat", res["lat_chat"]),
        lat_row("everyday chat, through the prescan (as if 1,000+ characters)", res["lat_chat_forced"]),
        lat_row("everyday chat, 50,000-term lexicon", res["lat_chat_big"]),
        lat_row("dense: labelled corpus lines (several findings each)", res["lat_dense"]),
        lat_row("dense, through the prescan", res["lat_dense_forced"]),
    ]
    if "p_lat_chat" in res:
        out += [lat_row("Presidio, everyday chat", res["p_lat_chat"]),
                lat_row("Presidio, dense labelled lines", res["p_lat_dense"])]
    target = res["tp_mixed_doc"]

    def verdict(d) -> str:
        if d["p99"] < 200:
            return f"met (p99 {d['p99']:.0f} µs)"
        if d["best_p99"] < 200:
            return (f"met by the engine's own cost (per-message p99 {d['best_p99']:.0f} µs), not over every "
                    f"call (p99 {d['p99']:.0f} µs, which includes time the VM spent elsewhere)")
        return f"**missed** (p99 {d['p99']:.0f} µs; per-message p99 {d['best_p99']:.0f} µs)"

    out += [
        "",
        f"Target p99 < 200 µs: everyday chat {verdict(res['lat_chat'])}; dense lines {verdict(res['lat_dense'])}.",
        "",
        "### Throughput on one core, MB/s of UTF-8 text (best of 5 passes)",
        "",
        f"Texts of {PRESCAN_FROM:,} characters or more go through the native prescan; shorter ones (every "
        "line and 200-character message here) take the Python path in both columns.",
        "",
        "| input | Mixun | without the prescan | prescan gain |",
        "|---|---|---|---|",
        tp_row("everyday chat as 64 K-character documents", "tp_mixed_doc"),
        tp_row("everyday chat, one scan per line", "tp_mixed_lines"),
        tp_row("lines with no digit, '@' or 密", "tp_clean_lines"),
        tp_row("dense labelled corpus, one scan per line", "tp_dense_lines"),
        f"| 64 K-character documents, 50,000-term lexicon | {res['tp_mixed_doc_big']:.1f} | | |",
        "",
        f"Target ≥ 50 MB/s on mixed Chinese text: {'met' if target >= 50 else f'missed, at {target:.1f} MB/s ({target / 50:.0%} of target)'}.",
    ]
    if qp is not None:
        out += [
            "",
            "### Side by side with Microsoft Presidio (same inputs, same run)",
            "",
            "| input | Mixun MB/s | Presidio MB/s | Mixun faster by |",
            "|---|---|---|---|",
            f"| labelled corpus, per line | {res['m_tp_dense_lines_same']:.2f} | {res['p_tp_dense_lines']:.3f} | "
            f"{res['m_tp_dense_lines_same'] / res['p_tp_dense_lines']:.0f}× |",
            f"| everyday chat, per line (subset) | {res['m_tp_mixed_lines_same']:.2f} | {res['p_tp_mixed_lines']:.3f} | "
            f"{res['m_tp_mixed_lines_same'] / res['p_tp_mixed_lines']:.0f}× |",
            f"| 200-char messages, median latency | {res['lat_chat']['median']:.1f} µs | "
            f"{res['p_lat_chat']['median']:.0f} µs | {res['p_lat_chat']['median'] / res['lat_chat']['median']:.0f}× |",
        ]
    out += ["", "### Precision and recall on the labelled corpus", "",
            "| detector | Mixun precision | Mixun recall" + (" | Presidio precision | Presidio recall |" if qp else " |"),
            "|---|---|---" + ("|---|---|" if qp else "|")]
    for d in DETECTORS:
        row = f"| {d} | {qm[d]['precision']:.4f} | {qm[d]['recall']:.4f}"
        if qp:
            row += f" | {qp[d]['precision']:.4f} | {qp[d]['recall']:.4f}"
        out.append(row + " |")
    out += [
        "",
        "How Presidio was set up: `presidio-analyzer` with its `CreditCardRecognizer` (Luhn) and "
        "`EmailRecognizer`, plus custom `PatternRecognizer`s for the Chinese detectors (ID number with a "
        "GB 11643 `validate_result`, mobile, USCC with a GB 32100 `validate_result`, credential, secret "
        "key, classified marking, and a `deny_list` recognizer with the same built-in lexicons), "
        "`score_threshold=0.5`. No spaCy model can be downloaded here, so the analyzer runs on a small "
        "custom `NlpEngine` wrapping `spacy.blank(\"zh\")` (character segmentation, no NER), which is all "
        "pattern recognizers need; `tldextract` is pointed at its bundled suffix list so e-mail "
        "validation does not go online. Presidio's recognizers see the text as typed: no full-width "
        "folding, no zero-width removal, no Traditional→Simplified, and `\\b` does not fire between a "
        "Chinese character and a digit, which is most of its recall gap.",
        "",
        where_the_time_goes(res["split"]),
        "",
        "Caveat: the corpus is generated by the same team that wrote the detectors; its hard negatives "
        "are the ones we thought of. Real traffic will find others.",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
