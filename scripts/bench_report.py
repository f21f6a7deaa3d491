"""Renders scripts/bench results as markdown: one table per measurement,
every figure median (min-max) over the rounds, ratios as medians of the
per-round ratios against a reference measured in the same round, and the
bars (BENCHMARKS.md) marked met / not met.
"""
import bench_sys as S

NM = "not measured yet"
GB = 1e9
MiB = 1 << 20


def _vals(recs, key):
    return [r.get(key) if r.get("error") is None else None for r in recs]


def _fmt(summ, digits=2, scale=1.0):
    if not summ:
        return "–"
    f = "%%.%df" % digits
    return (f % (summ["median"] * scale)) + " (" + (f % (summ["min"] * scale)) + "–" + \
        (f % (summ["max"] * scale)) + ")"


def _one(x, digits=2):
    return "–" if x is None else ("%%.%df" % digits) % x


def ratio(recs, ref, key, invert=False):
    """Median of the per-round ratios recs[i][key] / ref[i][key]."""
    rs = []
    for a, b in zip(recs or [], ref or []):
        va = a.get(key) if a.get("error") is None else None
        vb = b.get(key) if b.get("error") is None else None
        if va and vb:
            rs.append(vb / va if invert else va / vb)
    return S.median(rs)


def serial_bound(curl, ceil, recs):
    """Per round 1/(1/curl + 1/ceiling) and recs / that; medians."""
    bounds, rs = [], []
    for c, f, r in zip(curl or [], ceil or [], recs or []):
        vals = [x.get("gbps") if x.get("error") is None else None for x in (c, f, r)]
        if all(vals):
            b = 1.0 / (1.0 / vals[0] + 1.0 / vals[1])
            bounds.append(b)
            rs.append(vals[2] / b)
    return S.median(bounds), S.median(rs)


def _http_str(d):
    if not d:
        return "0"
    return ", ".join("%s %s" % (k, _one(v, 0) if isinstance(v, float) else v)
                     for k, v in sorted(d.items()))


def _http_median(recs):
    keys = set()
    for r in recs:
        keys |= set((r.get("http") or {}).keys())
    out = {}
    for k in keys:
        out[k] = S.median([(r.get("http") or {}).get(k, 0) for r in recs])
    return {k: v for k, v in out.items() if v}


def _hist(sizes):
    if not sizes:
        return "–"
    sizes = {int(k): v for k, v in sizes.items()}   # keys are strings after JSON
    tot = sum(sizes.values())
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    parts = []
    for sz, n in top:
        label = ("%d KiB" % (sz // 1024)) if sz % 1024 == 0 else ("%d B" % sz)
        parts.append("%s ×%d" % (label, n))
    return "%d READs: %s" % (tot, ", ".join(parts))


def _cpu_per_gb(recs, proc):
    vals = []
    for r in recs:
        p = (r.get("procs") or {}).get(proc)
        if p and r.get("error") is None and r.get("bytes"):
            vals.append((p["user"] + p["sys"]) / (r["bytes"] / GB))
    return S.summary(vals)


def _pct_of_cpu(recs, proc, field=None):
    vals = []
    for r in recs:
        p = (r.get("procs") or {}).get(proc)
        if p and r.get("error") is None:
            v = p[field] if field else p["user"] + p["sys"]
            vals.append(100.0 * v / r["wall"])
    return S.median(vals)


def _reader_pct(recs):
    return S.median([100.0 * r["reader_cpu"] / r["wall"] for r in recs
                     if r.get("error") is None])


def _emu_split(recs):
    u = S.median([(r.get("procs") or {}).get("emulator", {}).get("user") for r in recs
                  if r.get("error") is None])
    s = S.median([(r.get("procs") or {}).get("emulator", {}).get("sys") for r in recs
                  if r.get("error") is None])
    return u, s


LABELS = {"batchfs-dio cat": "batchfs -o direct_io cat",
          "batchfs-dio dd": "batchfs -o direct_io dd",
          "batchfs-dio pread": "batchfs -o direct_io pread",
          "fusemin cat": "FUSE ceiling¹ cat", "fusemin dd": "FUSE ceiling¹ dd",
          "fusemin-direct cat": "FUSE ceiling¹ direct_io cat",
          "fusemin-direct dd": "FUSE ceiling¹ direct_io dd"}
CEILING_NOTE = ("¹ FUSE ceiling: a 150-line single-threaded low-level FUSE file system "
                "(`bench_sys.FUSEMIN_C`) serving the same bytes from a local file in page "
                "cache with pread; no HTTP. What any FUSE daemon can reach here.")


def stream_table(res, probe, skipped, title_unit):
    out = []
    ref = res.get("curl")
    out.append("| reader | %s median (min–max) | × curl | × rclone, same reader | "
               "daemon CPU s/GB | emulator CPU s/GB | reader CPU s/GB | HTTP media GETs (mean range) |"
               % title_unit)
    out.append("|---|---|---|---|---|---|---|---|")
    names = ["curl", "batchfs cat", "batchfs dd", "batchfs-dio cat", "batchfs-dio dd",
             "rclone cat", "rclone dd",
             "fusemin cat", "fusemin dd", "fusemin-direct cat", "fusemin-direct dd"]
    for name in names:
        recs = res.get(name)
        if not recs:
            if name.startswith("batchfs-dio") and (res.get("batchfs cat") or res.get("batchfs dd")):
                continue    # the variant was switched off
            if name.startswith("batchfs"):
                out.append("| %s | %s (%s) | | | | | | |" % (LABELS.get(name, name), NM,
                                                              skipped or "no mount"))
            continue
        g = S.summary(_vals(recs, "gbps"))
        rc = ""
        if name.startswith("batchfs"):
            rr = ratio(recs, res.get("rclone " + name.split()[1]), "gbps")
            rc = _one(rr) + "×" if rr else "–"
        rcurl = ratio(recs, ref, "gbps") if name != "curl" else 1.0
        media = S.median([(r.get("http") or {}).get("gcs.media", 0) for r in recs])
        nbytes = S.median([r.get("bytes", 0) for r in recs])
        mr = ("%d (%.1f MiB)" % (media, nbytes / media / MiB)) if media else "0"
        bad = [r["error"] for r in recs if r.get("error")]
        errs = (" (%d errors: %s)" % (len(bad), bad[0][:80])) if bad else ""
        out.append("| %s | %s%s | %s | %s | %s | %s | %s | %s |" % (
            LABELS.get(name, name), _fmt(g), errs, _one(rcurl) + "×" if rcurl else "–", rc,
            _fmt(_cpu_per_gb(recs, "daemon")) if name != "curl" else "–",
            _fmt(_cpu_per_gb(recs, "emulator")),
            _one(S.median([r["reader_cpu"] / (r["bytes"] / GB) for r in recs
                           if r.get("error") is None and r.get("bytes")])),
            mr))
    if any(n in res for n in ("fusemin cat", "fusemin dd")):
        out.append("")
        out.append(CEILING_NOTE)
        if res.get("batchfs cat") or res.get("batchfs dd"):
            out.append("")
            out.append("| against the FUSE ceiling, same round | cat | dd |")
            out.append("|---|---|---|")
            for who, label in (("batchfs", "batchfs"), ("batchfs-dio", "batchfs -o direct_io")):
                for mode, key in (("page-cache mode", "fusemin"),
                                  ("direct_io", "fusemin-direct")):
                    cells = []
                    for reader in ("cat", "dd"):
                        rr = ratio(res.get("%s %s" % (who, reader)),
                                   res.get("%s %s" % (key, reader)), "gbps")
                        cells.append(_one(rr) + "×" if rr else "–")
                    if any(c != "–" for c in cells):
                        out.append("| %s × ceiling in %s | %s | %s |" % (label, mode, cells[0],
                                                                       cells[1]))
            out.append("")
            out.append("Serial composition: a stream that does the HTTP transfer (as fast as "
                       "curl) and then the FUSE transfer (as fast as the ceiling, same mode) "
                       "one after the other on the same CPUs gets 1/(1/curl + 1/ceiling); "
                       "above 1× the two halves overlap. Per round, same reader:")
            out.append("")
            out.append("| | cat: bound GB/s | cat: × bound | dd: bound GB/s | dd: × bound |")
            out.append("|---|---|---|---|---|")
            for who, label, key in (("batchfs", "batchfs (page cache)", "fusemin"),
                                    ("batchfs-dio", "batchfs -o direct_io", "fusemin-direct")):
                cells = []
                for reader in ("cat", "dd"):
                    b, rr = serial_bound(res.get("curl"), res.get("%s %s" % (key, reader)),
                                         res.get("%s %s" % (who, reader)))
                    cells += [_one(b), _one(rr) + "×" if rr else "–"]
                if cells[1] != "–" or cells[3] != "–":
                    out.append("| %s | %s | %s | %s | %s |" % (label, *cells))
    out.append("")
    out.append("Where the time goes (medians over the rounds; % of one CPU over the wall time; "
               "the machine has 2): ")
    out.append("")
    out.append("| reader | wall s | reader % | daemon % (busiest thread) | emulator % "
               "(busiest thread) | emulator user/sys s | system busy % of all CPUs | "
               "FUSE READ sizes (one extra traced pass) |")
    out.append("|---|---|---|---|---|---|---|---|")
    for name in names:
        recs = res.get(name)
        if not recs:
            continue
        ok = [r for r in recs if r.get("error") is None]
        if not ok:
            continue
        u, s = _emu_split(ok)
        pr = (probe or {}).get(name, {})
        fuse = _hist((pr.get("fuse") or {}).get("read_sizes"))
        d = _pct_of_cpu(ok, "daemon")
        dt = _pct_of_cpu(ok, "daemon", "top_thread")
        e = _pct_of_cpu(ok, "emulator")
        et = _pct_of_cpu(ok, "emulator", "top_thread")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            LABELS.get(name, name), _one(S.median([r["wall"] for r in ok])), _one(_reader_pct(ok), 0),
            ("%s (%s)" % (_one(d, 0), _one(dt, 0))) if d is not None else "–",
            "%s (%s)" % (_one(e, 0), _one(et, 0)),
            "%s / %s" % (_one(u), _one(s)),
            _one(100 * S.median([r["system_busy"] for r in ok]), 0), fuse))
    return out


def render(R):
    m = R["meta"]
    skipped = m.get("batchfs_skipped")
    out = []
    out.append("## Results of %s (%s rounds, kernel %s, %s CPUs)" % (
        m.get("date", "?"), m.get("runs"), m.get("kernel", ""), m.get("cpus")))
    out.append("")
    out.append("Command: `%s` (%s s). Load average at start %s, at end %s." % (
        m.get("command", "scripts/bench"), m.get("duration_s"),
        "/".join(m.get("loadavg_start", [])), "/".join(m.get("loadavg_end", []) or ["?"])))
    out.append("")
    facts = []
    if m.get("batchfs_git"):
        facts.append("batchfs built from the working tree at `%s`" % m["batchfs_git"])
    if m.get("batchfs_extra"):
        facts.append("batchfs mounted with extra `%s`" % m["batchfs_extra"])
    if skipped:
        facts.append("**batchfs not measured: %s**" % skipped)
    if "batchfs_st_blksize" in m:
        facts.append("batchfs st_blksize %s, kernel read_ahead_kb %s, %s threads idle" % (
            m["batchfs_st_blksize"], m.get("batchfs_read_ahead_kb"), m.get("batchfs_threads_idle")))
    if "rclone_read_ahead_kb" in m:
        facts.append("%s (`rclone mount %s`), st_blksize %s, read_ahead_kb %s" % (
            m.get("rclone"), m.get("rclone_flags"), m.get("rclone_st_blksize"),
            m.get("rclone_read_ahead_kb")))
    facts.append("object size %d MiB; cache: %s" % (m.get("size", 0) // MiB, m.get("warm")))
    facts.append("emulator source uses sendfile: %s" % m.get("emulator_sendfile"))
    if m.get("tls"):
        facts.append("**over HTTPS** (emulator --tls; curl --cacert, batchfs -o cafile=, "
                     "rclone --ca-cert): media leaves the emulator in 1 MiB SSL writes, "
                     "no sendfile, and batchfs has no splice path")
    for k in ("verify_batchfs", "verify_rclone"):
        if k in m:
            facts.append("%s: %s" % (k.replace("verify_", "bytes read through ") ,
                                     "identical to the source (cmp)" if m[k] is True else m[k]))
    if m.get("jobs_created_by"):
        facts.append("%s jobs created by %s" % (m.get("jobs"), m["jobs_created_by"]))
    for f in facts:
        out.append("- " + f)
    for n in R.get("notes", []):
        out.append("- note: " + n)
    out.append("")

    if R["seq"]:
        out.append("### Sequential read of one object (GB/s = 10^9 bytes/s)")
        out.append("")
        out += stream_table(R["seq"], R["probe"].get("seq"), skipped, "GB/s")
        out.append("")
    if R["par"]:
        out.append("### Parallel: 4 readers on 4 objects, aggregate")
        out.append("")
        out += stream_table(R["par"], R["probe"].get("par"), skipped, "aggregate GB/s")
        out.append("")
    if R["rand"]:
        out += rand_table(R["rand"], skipped)
    if R["md"]:
        out += meta_table(R["md"], skipped)
    if R["list"]:
        out += list_table(R["list"], R["probe"].get("list"), skipped, m)
    out += mem_table(R, skipped)
    out += bars(R, skipped)
    return "\n".join(out) + "\n"


def rand_table(res, skipped):
    out = ["### Random 4 KiB reads at random 4 KiB-aligned offsets of one object", ""]
    ref = res.get("curl (http.client ranged GET)")
    out.append("| reader | p50 µs (min–max) | p99 µs (min–max) | p50 × curl | p99 × curl | "
               "HTTP requests per read |")
    out.append("|---|---|---|---|---|---|")
    for name in ("curl (http.client ranged GET)", "batchfs pread", "batchfs-dio pread",
                 "rclone pread"):
        recs = res.get(name)
        if not recs:
            if name == "batchfs pread":
                out.append("| %s | %s (%s) | | | | |" % (name, NM, skipped or "no mount"))
            continue
        rq = S.median([sum((r.get("http") or {}).values()) / max(1, r["n"]) for r in recs
                       if r.get("error") is None])
        if name.startswith("curl"):
            rq = 1.0
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            LABELS.get(name, name), _fmt(S.summary(_vals(recs, "p50_us")), 0),
            _fmt(S.summary(_vals(recs, "p99_us")), 0),
            _one(ratio(recs, ref, "p50_us")) + "×" if name != ref and ratio(recs, ref, "p50_us") else "1×",
            _one(ratio(recs, ref, "p99_us")) + "×" if ratio(recs, ref, "p99_us") else "–",
            _one(rq)))
    out.append("")
    return out


def meta_table(res, skipped):
    out = ["### Metadata on a job whose state is cached (Python loop: os.stat; "
           "open + read to EOF + close)", ""]
    out.append("| op | p50 µs (min–max) | p99 µs (min–max) | p50 × local | p99 × local | "
               "HTTP requests during the loop |")
    out.append("|---|---|---|---|---|---|")
    for op in ("stat", "cat state"):
        ref = res.get("%s: local file" % op)
        for kind in ("local file", "batchfs"):
            name = "%s: %s" % (op, kind)
            recs = res.get(name)
            if not recs:
                if kind == "batchfs":
                    out.append("| %s | %s (%s) | | | | |" % (name, NM, skipped or ""))
                continue
            n = recs[0].get("n")
            http = S.median([sum((r.get("http") or {}).values()) for r in recs
                             if r.get("error") is None])
            out.append("| %s (%s ops) | %s | %s | %s | %s | %s |" % (
                name, n, _fmt(S.summary(_vals(recs, "p50_us")), 1),
                _fmt(S.summary(_vals(recs, "p99_us")), 1),
                _one(ratio(recs, ref, "p50_us")) + "×" if ratio(recs, ref, "p50_us") else "–",
                _one(ratio(recs, ref, "p99_us")) + "×" if ratio(recs, ref, "p99_us") else "–",
                "–" if kind == "local file" else _one(http, 0)))
    out.append("")
    return out


def list_table(res, probe, skipped, m):
    out = ["### Listings (`ls -l` of %s jobs and of %s objects; wall time; HTTP requests by "
           "route, median)" % (m.get("jobs"), m.get("list_objects")), ""]
    ref_local = res.get("local dir: ls -l")
    out.append("| listing | wall ms (min–max) | × local `ls -l` | × API pages | entries | "
               "HTTP requests (median per run) |")
    out.append("|---|---|---|---|---|---|")
    order = ["local dir: ls -l", "jobs: API pages (http.client)",
             "batchfs ls -l jobs (fresh mount)", "batchfs ls -l jobs (again)",
             "objects: API pages (http.client)", "batchfs ls -l output/ (first)",
             "batchfs ls -l output/ (again)", "rclone ls -l output (fresh mount)",
             "rclone ls -l output (again)"]
    for name in order:
        recs = res.get(name)
        if not recs:
            if name.startswith("batchfs"):
                out.append("| %s | %s (%s) | | | | |" % (name, NM, skipped or ""))
            continue
        api = res.get("jobs: API pages (http.client)") if "jobs" in name else \
            res.get("objects: API pages (http.client)")
        lines = S.median([r.get("lines") for r in recs])
        if name.endswith("(http.client)"):
            http = "%s pages" % _one(S.median([r.get("pages") for r in recs]), 0)
        else:
            http = _http_str(_http_median(recs))
        is_ref = recs is ref_local or recs is api
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            name, _fmt(S.summary(_vals(recs, "wall_ms")), 0),
            _one(ratio(recs, ref_local, "wall_ms")) + "×" if not is_ref and ratio(recs, ref_local, "wall_ms") else "–",
            _one(ratio(recs, api, "wall_ms")) + "×" if not is_ref and ratio(recs, api, "wall_ms") else "–",
            _one(lines, 0), http))
    mounts = S.summary([r.get("mount_ms") for r in res.get("batchfs ls -l jobs (fresh mount)", [])
                        if r.get("mount_ms")])
    if mounts:
        out.append("")
        out.append("The fresh-mount rows count HTTP requests from before the mount (the daemon "
                   "may list at mount time); the mount itself (until `ls jobs` answers) took "
                   "%s ms." % _fmt(mounts, 0))
    if probe:
        out.append("")
        for name, tr in probe.items():
            if tr:
                out.append("FUSE requests of one `%s` on a fresh mount (traced): %s" % (
                    name, ", ".join("%s %d" % kv for kv in sorted(tr["ops"].items()))))
                out.append("")
    out.append("")
    return out


def mem_table(R, skipped):
    out = ["### Memory of the daemon (VmHWM, peak RSS)", ""]
    out.append("| when | batchfs MiB median (min–max) | batchfs -o direct_io MiB | "
               "rclone MiB |")
    out.append("|---|---|---|---|")
    rows = []
    for key, label in (("seq", "streaming 1 object (cat or dd), peak reset before each run"),
                       ("par", "4 readers streaming one object each, peak reset before each run")):
        res = R.get(key) or {}
        b = [r.get("hwm_kib") for n in ("batchfs cat", "batchfs dd") for r in res.get(n, [])]
        d = [r.get("hwm_kib") for n in ("batchfs-dio cat", "batchfs-dio dd")
             for r in res.get(n, [])]
        c = [r.get("hwm_kib") for n in ("rclone cat", "rclone dd") for r in res.get(n, [])]
        if res:
            rows.append((label, b, d, c))
    lst = R["mem"].get("after listing")
    if lst or R["list"]:
        rc = [r.get("hwm_kib") for n in ("rclone ls -l output (fresh mount)", "rclone ls -l output (again)")
              for r in R["list"].get(n, [])]
        rows.append(("fresh mount, after `ls -l` of %s jobs and %s objects (twice each)" % (
                     R["meta"].get("jobs"), R["meta"].get("list_objects")),
                     [r.get("hwm_kib") for r in lst or []], [], rc))
    for key, label in (("seq", "kernel TCP socket memory above its start level, peak (all sockets: the stream's receive buffer, the emulator's send buffer), 1 object"),
                       ("par", "the same, 4 readers")):
        res = R.get(key) or {}
        if not res:
            continue
        t = [r.get("tcp_peak_kib") for n in ("batchfs cat", "batchfs dd") for r in res.get(n, [])]
        d = [r.get("tcp_peak_kib") for n in ("batchfs-dio cat", "batchfs-dio dd")
             for r in res.get(n, [])]
        c = [r.get("tcp_peak_kib") for n in ("rclone cat", "rclone dd") for r in res.get(n, [])]
        cu = S.summary([r.get("tcp_peak_kib") for r in res.get("curl", [])
                        if r.get("tcp_peak_kib") is not None])
        if cu:
            label += "; curl alone: %s MiB" % _fmt(cu, 1, 1 / 1024)
        rows.append((label, [x for x in t if x is not None], [x for x in d if x is not None],
                     [x for x in c if x is not None]))
    for label, b, d, c in rows:
        bs, ds, cs = S.summary(b), S.summary(d), S.summary(c)
        out.append("| %s | %s | %s | %s |" % (label, _fmt(bs, 1, 1 / 1024) if bs else NM,
                                              _fmt(ds, 1, 1 / 1024) if ds else "–",
                                              _fmt(cs, 1, 1 / 1024) if cs else "–"))
    out.append("")
    return out


def bars(R, skipped):
    out = ["### The bars", ""]
    out.append("| bar | measured | verdict |")
    out.append("|---|---|---|")

    def row(bar, val, ok):
        verdict = NM if ok is None else ("met" if ok else "**not met**")
        out.append("| %s | %s | %s |" % (bar, val, verdict))

    for key, label in (("seq", "sequential"), ("par", "parallel (4 readers)")):
        res = R.get(key) or {}
        if not res:
            continue
        for who, wlabel in (("batchfs", ""), ("batchfs-dio", " (with -o direct_io)")):
            if who == "batchfs-dio" and not any(res.get(who + " " + r) for r in ("cat", "dd")):
                continue
            for reader in ("cat", "dd"):
                recs = res.get("%s %s" % (who, reader))
                rc = ratio(recs, res.get("curl"), "gbps") if recs else None
                rr = ratio(recs, res.get("rclone " + reader), "gbps") if recs else None
                row("%s `%s`%s ≥ 0.8× curl" % (label, reader, wlabel),
                    _one(rc) + "×" if rc else "–", None if rc is None else rc >= 0.8)
                row("%s `%s`%s ≥ 1.5× rclone" % (label, reader, wlabel),
                    _one(rr) + "×" if rr else "–", None if rr is None else rr >= 1.5)
    md = R.get("md") or {}
    for op in ("stat", "cat state"):
        recs = md.get("%s: batchfs" % op)
        if recs is None:
            if md:
                row("`%s` on a cached job: 0 HTTP requests" % op, "–", None)
            continue
        h = max(sum((r.get("http") or {}).values()) for r in recs)
        row("`%s` on a cached job: 0 HTTP requests" % op, "max %d over %d×%d ops" % (
            h, len(recs), recs[0]["n"]), h == 0)
    lst = R.get("list") or {}
    for name, per_entry in (("batchfs ls -l jobs (fresh mount)", ("vertex.get",)),
                            ("batchfs ls -l output/ (first)", ("gcs.get",))):
        recs = lst.get(name)
        if recs is None:
            if lst:
                row("%s: one paged pass, no request per entry" % name, "–", None)
            continue
        h = _http_median(recs)
        entries = S.median([r.get("lines") for r in recs]) or 0
        lists = sum(v for k, v in h.items() if k.endswith(".list"))
        pe = sum(h.get(k, 0) for k in per_entry + ("gcs.media",))
        # One pass: at most one list page per 100 entries (Vertex's default
        # page size; GCS pages hold 1000) plus the mount probe, and no
        # per-entry GETs.
        ok = lists <= entries / 100 + 2 and pe <= entries / 1000
        row("%s: one paged pass, no request per entry" % name,
            "%s for %d entries" % (_http_str(h), entries), ok)
    for label, vals in (
            ("peak RSS while 4 readers stream 1 GiB each ≤ 64 MiB",
             [r.get("hwm_kib") for n in ("batchfs cat", "batchfs dd")
              for r in (R.get("par") or {}).get(n, [])]),
            ("same, with -o direct_io",
             [r.get("hwm_kib") for n in ("batchfs-dio cat", "batchfs-dio dd")
              for r in (R.get("par") or {}).get(n, [])]),
            ("peak RSS after listing 10,000 jobs ≤ 64 MiB",
             [r.get("hwm_kib") for r in R["mem"].get("after listing", [])])):
        vals = [v for v in vals if v]
        if not vals:
            row(label, "–", None)
            continue
        row(label, "max %.1f MiB" % (max(vals) / 1024), max(vals) <= 64 * 1024)
    out.append("")
    return out
