"""The whole exitflow report, computed by Apache Spark over an exitflow
dataset (the Hive-partitioned Parquet `exitflow report` reads): the path for
a fleet of relays whose data outgrows one machine. Writes the report's JSON;
`exitflow report --from-json OUT.json` renders its HTML and Markdown.

usage: spark-submit spark/report.py DATASET OUT.json [--tz NODE=+HH:MM ...]
   or: python3 spark/report.py DATASET OUT.json ...      (pip install pyspark)

Spark does the heavy part: every flow is counted once into small tables
keyed by node and slice (exit or other role, failed or not; the study's
shares are over non-failed exit flows), by each dimension the report shows.
The driver turns those tables into the report's figures with the same rules
as exitflow's report (crates/exitflow-analyze/src/render.rs): same keys,
same orderings, same arithmetic, so the two JSONs compare field by field.
"""
import collections
import glob
import json
import os
import sys
import tomllib

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

TOP_ROWS = 40
CHART_TOP = 8
ABUSE_ROWS = 20
PORT_COUNTRY_PORTS = [5222]
LOGIN_PORTS = [(21, "FTP"), (22, "SSH"), (23, "Telnet"), (25, "SMTP"), (110, "POP3"),
               (143, "IMAP"), (445, "SMB"), (587, "SMTP submission"), (993, "IMAPS"),
               (995, "POP3S"), (3389, "RDP"), (5900, "VNC")]
STUDY_SCOPE = "exit flows of more than 4 packets"
STUDY_SCOPE_NO_ROLES = ("flows of more than 4 packets, every role (no flow has the exit role: "
                        "the relay's own addresses were not given)")
EXIT, EXIT_FAILED, OTHER, OTHER_FAILED = range(4)
SCOPES = ["exit", "exit_failed", "other", "other_failed"]
CONTENT_TYPE_FAMILIES = ["text", "application", "image", "audio", "video", "other"]
HOUR = 3_600_000
DAY = 86_400_000


def pct(part, whole):
    return 0.0 if whole == 0 else 100.0 * part / whole


def top(counter, n):
    return [[k, v] for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def hour_label(ms):
    import datetime
    d = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%d %H:00")


class Agg:
    def __init__(self):
        self.flows = self.failed = self.packets = self.bytes = self.duration = 0
        self.guessed = self.src_proxy = self.dst_proxy = self.http = 0
        self.bucketed = 0  # flows whose sums are power-of-two buckets
        self.dataset_bytes = 0
        self.c = collections.defaultdict(collections.Counter)  # dimension -> counter
        self.hours_utc = [0] * 24
        self.hours_local = [0] * 24
        self.timeline = collections.defaultdict(lambda: [0, 0])
        self.hour_ports = collections.Counter()
        self.port_countries = collections.defaultdict(collections.Counter)

    def merge(self, o):
        for k in ("flows", "failed", "packets", "bytes", "duration", "guessed", "src_proxy",
                  "dst_proxy", "http", "dataset_bytes", "bucketed"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        for d, c in o.c.items():
            self.c[d].update(c)
        for i in range(24):
            self.hours_utc[i] += o.hours_utc[i]
            self.hours_local[i] += o.hours_local[i]
        for h, (f, x) in o.timeline.items():
            self.timeline[h][0] += f
            self.timeline[h][1] += x
        self.hour_ports.update(o.hour_ports)
        for p, c in o.port_countries.items():
            self.port_countries[p].update(c)
        return self

    def master_share(self, master):
        n = sum(v for k, v in self.c["application"].items() if k.split(".")[0] == master)
        return pct(n, self.flows)


def merged(slices, which):
    a = Agg()
    for i in which:
        a.merge(slices[i])
    return a


def family(ct):
    f = ct.split("/")[0].strip().lower()
    return f if f in ("text", "application", "image", "audio", "video") else "other"


def abuse(ok, failed):
    by = collections.defaultdict(lambda: [0, 0])
    for k, v in ok.hour_ports.items():
        by[k][0] += v
    for k, v in failed.hour_ports.items():
        by[k][0] += v
        by[k][1] += v
    worst = sorted(((k, v) for k, v in by.items() if v[1] > 0), key=lambda kv: (-kv[1][1], kv[0]))
    fan = collections.defaultdict(lambda: [0, 0])
    for (h, _), (_, f) in by.items():
        if f > 0:
            fan[h][0] += 1
            fan[h][1] += f
    fan = sorted(fan.items(), key=lambda kv: (-kv[1][0], kv[0]))
    login = []
    for port, name in LOGIN_PORTS:
        n = ok.c["dst_port"].get(port, 0) + failed.c["dst_port"].get(port, 0)
        f = failed.c["dst_port"].get(port, 0)
        busiest = max([v[0] for (h, p), v in by.items() if p == port], default=0)
        if n > 0:
            login.append([port, name, n, f, pct(f, n), busiest])
    return {
        "failed_by_hour_port": [[hour_label(h), p, f, n, pct(f, n)] for (h, p), (n, f) in worst[:ABUSE_ROWS]],
        "ports_per_hour": [[hour_label(h), ports, f] for h, (ports, f) in fan[:ABUSE_ROWS]],
        "login_ports": login,
    }


DEFINITION_2021 = "flows of more than 4 packets, every Tor role (relay traffic included)"
DEFINITION_EXIT = "exit flows of more than 4 packets"
DEFINITION_ALL = "every flow of every role, failed ones included"
SELF_SOURCE = "self"


def is_country(k):
    return len(k) == 2 and k.isascii() and k.isupper() and k.isalpha() and k != "ZZ"


def definition(name, d, failed, attempted):
    fam = collections.Counter()
    with_ct = 0
    for k, v in d.c["content_type"].items():
        with_ct += v
        fam[family(k)] += v
    no_ct = max(d.http - with_ct, 0)
    ports = d.c["dst_port"]
    apps = d.c["application"]
    c5222 = d.port_countries.get(5222, collections.Counter())
    iso = sorted((v for k, v in c5222.items() if is_country(k)), reverse=True)

    def fshare(f):
        return pct(fam.get(f, 0), with_ct)

    return {
        "definition": name,
        "flows": d.flows,
        "failed_flows": failed,
        "failed_share": pct(failed, attempted),
        "tls_share": d.master_share("TLS"),
        "tls_tor_share": pct(apps.get("TLS.Tor", 0), d.flows),
        "http_share": d.master_share("HTTP") + d.master_share("HTTP_Proxy"),
        "bittorrent_share": d.master_share("BitTorrent"),
        "unknown_share": pct(apps.get("Unknown", 0), d.flows),
        "guessed_share": pct(d.guessed, d.flows),
        "mean_duration_s": 0.0 if d.flows == 0 else d.duration / d.flows / 1000.0,
        "duration_bucketed_share": pct(d.bucketed, d.flows),
        "port_443_share": pct(ports.get(443, 0), d.flows),
        "port_80_share": pct(ports.get(80, 0), d.flows),
        "port_5222_share": pct(ports.get(5222, 0), d.flows),
        "port_25_share": pct(ports.get(25, 0), d.flows),
        "port_5222_top3_countries_share": pct(sum(iso[:3]), ports.get(5222, 0)),
        "dst_proxy_share": pct(d.dst_proxy, d.flows),
        "unique_dst_countries": sum(1 for k in d.c["dst_country"] if is_country(k)),
        "unique_src_countries": sum(1 for k in d.c["src_country"] if is_country(k)),
        "http_unknown_content_type_share": pct(no_ct, d.http),
        **{f"content_type_{f}": fshare(f) for f in CONTENT_TYPE_FAMILIES},
    }


def content_type_base(ct):
    """As exitflow's useragent::content_type_base: the type without its
    parameters, ASCII lower case, or "other" when it is not type/subtype."""
    base = "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in ct.split(";")[0].strip())

    def token(x):
        return 0 < len(x) <= 64 and all(ch.isascii() and (ch.isalnum() or ch in "!#$&-^_.+") for ch in x)

    t, sep, sub = base.partition("/")
    return base if sep and token(t) and token(sub) else "other"


def _bases(counter):
    out = collections.Counter()
    for k, v in counter.items():
        out[content_type_base(k)] += v
    return out


def crawler_names():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "crates", "exitflow-output", "data", "crawlers.txt")
    with open(path) as fh:
        return [line.rstrip("\n") for line in fh if line.strip() and not line.startswith("#")]


CRAWLERS = crawler_names()


def crawler(ua):
    """The longest well-known crawler name the user-agent holds (ties: the
    first alphabetically), as exitflow's useragent::crawler."""
    found = [n for n in CRAWLERS if n in ua]
    return min(found, key=lambda n: (-len(n), n)) if found else None


def figures(slices, volume):
    al = merged(slices, range(4))
    ex = merged(slices, [EXIT, EXIT_FAILED])
    has_exit = ex.flows > 0
    a = merged(slices, [EXIT]) if has_exit else merged(slices, [EXIT, OTHER])
    fam = collections.Counter()
    with_ct = 0
    for k, v in a.c["content_type"].items():
        with_ct += v
        fam[family(k)] += v
    families = top(fam, 10)
    no_ct = max(a.http - with_ct, 0)
    packets, nbytes = volume if volume else (al.packets, al.bytes)
    tl = ex if has_exit else al
    if has_exit:
        ok_s, failed_s = merged(slices, [EXIT]), merged(slices, [EXIT_FAILED])
    else:
        ok_s, failed_s = merged(slices, [EXIT, OTHER]), merged(slices, [EXIT_FAILED, OTHER_FAILED])
    hours_all = sorted(al.timeline)
    port_countries = {}
    for p in PORT_COUNTRY_PORTS:
        c = a.port_countries.get(p, collections.Counter())
        on_port = a.c["dst_port"].get(p, 0)
        top3 = sum(v for _, v in top(collections.Counter({k: v for k, v in c.items() if is_country(k)}), 3))
        port_countries[str(p)] = {"flows": on_port, "countries": top(c, TOP_ROWS), "top3_share": pct(top3, on_port)}
    ports = a.c["dst_port"]
    apps = a.c["application"]
    top8 = top(apps, CHART_TOP)
    shown = sum(v for _, v in top8)
    if a.flows > shown:
        top8.append(["Other", a.flows - shown])
    masters = collections.Counter()
    for k, v in apps.items():
        masters[k.split(".")[0]] += v
    masters8 = top(masters, CHART_TOP)
    shown = sum(v for _, v in masters8)
    if a.flows > shown:
        masters8.append(["Other", a.flows - shown])

    def unique(c):
        return sum(1 for k in c if is_country(k))

    crawlers = collections.Counter()
    for ua, n in a.c["user_agent"].items():
        c = crawler(ua)
        if c:
            crawlers[c] += n
    d2021 = merged(slices, [EXIT, OTHER])
    src_countries = collections.Counter(d2021.c["src_country"])
    from_self = src_countries.pop(SELF_SOURCE, 0)
    definitions = {
        "study_2021": definition(DEFINITION_2021, d2021, al.failed, al.flows),
        "exit": definition(DEFINITION_EXIT, merged(slices, [EXIT]), ex.failed, ex.flows) if has_exit else None,
        "all": definition(DEFINITION_ALL, al, al.failed, al.flows),
    }
    return {
        "definitions": definitions,
        "flows": al.flows,
        "failed_flows": al.failed,
        "failed_share": pct(al.failed, al.flows),
        "packets": packets,
        "bytes": nbytes,
        "traffic_gb": nbytes / 1e9,
        "dataset_bytes": slices[EXIT].dataset_bytes,
        "volume_from": "node totals" if volume else "rows",
        "tor_roles": top(al.c["tor_role"], 10),
        "exit_flows": ex.flows,
        "exit_failed_flows": ex.failed,
        "exit_failed_share": pct(ex.failed, ex.flows) if has_exit else pct(al.failed, al.flows),
        "all_flows": {
            "applications_top40": top(al.c["application"], TOP_ROWS),
            "tls_share": al.master_share("TLS"),
            "http_share": al.master_share("HTTP") + al.master_share("HTTP_Proxy"),
            "unknown_share": pct(al.c["application"].get("Unknown", 0), al.flows),
        },
        "study_scope": STUDY_SCOPE if has_exit else STUDY_SCOPE_NO_ROLES,
        "study_flows": a.flows,
        "mean_duration_s": 0.0 if a.flows == 0 else a.duration / a.flows / 1000.0,
        "duration_bucketed_share": pct(a.bucketed, a.flows),
        "tls_share": a.master_share("TLS"),
        "http_share": a.master_share("HTTP") + a.master_share("HTTP_Proxy"),
        "bittorrent_share": a.master_share("BitTorrent"),
        "unknown_share": pct(apps.get("Unknown", 0), a.flows),
        "guessed_share": pct(a.guessed, a.flows),
        "port_443_share": pct(ports.get(443, 0), a.flows),
        "port_80_share": pct(ports.get(80, 0), a.flows),
        "port_5222_share": pct(ports.get(5222, 0), a.flows),
        "port_25_share": pct(ports.get(25, 0), a.flows),
        "port_5222_top3_countries_share": port_countries["5222"]["top3_share"],
        "src_proxy_flows": a.src_proxy,
        "dst_proxy_flows": a.dst_proxy,
        "applications_top8": top8,
        "masters_top8": masters8,
        "applications_top40": top(apps, TOP_ROWS),
        "categories": top(a.c["category"], TOP_ROWS),
        "dst_countries": top(a.c["dst_country"], TOP_ROWS),
        "src_countries": top(src_countries, TOP_ROWS),
        "src_country_flows": d2021.flows - from_self,
        "unique_dst_countries": unique(a.c["dst_country"]),
        "unique_src_countries": unique(src_countries),
        "dst_ports_top40": [[int(k), v] for k, v in sorted(ports.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ROWS]],
        "port_countries": port_countries,
        "user_agents": top(a.c["user_agent"], TOP_ROWS),
        "crawlers": top(crawlers, TOP_ROWS),
        "crawler_flows": sum(crawlers.values()),
        "crawler_share": pct(sum(crawlers.values()), a.http),
        "http_flows": a.http,
        "http_unknown_content_type_share": pct(no_ct, a.http),
        "http_flows_with_content_type": with_ct,
        "content_type_families": [[f, n, pct(n, with_ct)] for f, n in families],
        "content_types_top40": top(_bases(a.c["content_type"]), TOP_ROWS),
        "flows_per_hour_utc": a.hours_utc,
        "flows_per_hour_local": a.hours_local,
        "period": {
            "first_hour": hour_label(hours_all[0]) if hours_all else None,
            "last_hour": hour_label(hours_all[-1]) if hours_all else None,
            "hours": len(hours_all),
        },
        "failed_by_hour": [[hour_label(h), f, x, pct(x, f)] for h, (f, x) in sorted(tl.timeline.items())],
        "abuse": abuse(ok_s, failed_s),
    }


def exact_sums(slices, part, coarse):
    """Where a part's hourly tables (its `_agg-` sidecar) hold a slice's
    exact durations (its exact mean times the flows it covers), exitflow's
    report uses them instead of the rows' power-of-two buckets: the same
    correction here. Flows left as buckets are counted (`bucketed`)."""
    import pyarrow.parquet as pq
    name = os.path.basename(part)
    side = os.path.join(os.path.dirname(part), "_agg-" + name[len("part-"):])
    if not os.path.isfile(side):
        if coarse:
            t = pq.read_table(part, columns=["tor_role", "failed_flow"]).to_pydict()
            for role, failed in zip(t["tor_role"], t["failed_flow"]):
                slices[(0 if role == "exit" else 2) + (1 if failed else 0)].bucketed += 1
        return
    t = pq.read_table(side).to_pydict()
    zeros = [0] * len(t["scope"])
    for i in range(len(t["scope"])):
        if t["dimension"][i] != "total":
            continue
        a = slices[SCOPES.index(t["scope"][i])]
        n = t["flows"][i]
        ef = min(t.get("exact_duration_flows", zeros)[i], n)
        du = t["duration_ms"][i]
        a.duration += t.get("exact_duration_ms", zeros)[i] + du * (n - ef) // max(n, 1) - du
        if coarse:
            a.bucketed += n - ef


def offset_label(m):
    return f"UTC{'-' if m < 0 else '+'}{abs(m) // 60:02}:{abs(m) % 60:02}"


def tz_label(z, hours):
    """As exitflow's Zone::describe: a fixed offset, or an IANA zone's name
    and the offsets in force over the node's hours."""
    if z is None:
        return "UTC (no --tz given)"
    if isinstance(z, int):
        return offset_label(z)
    import datetime
    import zoneinfo
    zi = zoneinfo.ZoneInfo(z)
    first = min(hours) if hours else 0
    last = max(hours) if hours else first
    offsets = []
    h = first - first % HOUR
    while h <= last:
        d = datetime.datetime.fromtimestamp(h / 1000, datetime.timezone.utc).astimezone(zi)
        o = int(d.utcoffset().total_seconds()) // 60
        if not offsets or offsets[-1] != o:
            offsets.append(o)
        h += HOUR
    labels = [offset_label(o) for o in offsets]
    if len(labels) > 1:
        return f"{z} ({', then '.join(labels)}: daylight saving followed)"
    return f"{z} ({labels[0] if labels else ''})"


def parse_tz(args):
    """NODE=+HH:MM (minutes) or NODE=Area/City (an IANA name)."""
    out = {}
    for a in args:
        node, off = a.split("=", 1)
        if off[:1] in "+-":
            sign = -1 if off.startswith("-") else 1
            h, _, m = off.lstrip("+-").partition(":")
            out[node] = sign * (int(h) * 60 + int(m or 0))
        else:
            out[node] = off
    return out


def main(dataset, out, tz_args):
    tz = parse_tz(tz_args)
    spark = (
        SparkSession.builder.appName("exitflow-report")
        .master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.option("basePath", dataset).parquet(dataset)  # node=/date= become columns
    master = F.split(F.col("application_name"), r"\.").getItem(0)
    slice_ = (F.when(F.col("tor_role") == "exit", 0).otherwise(2)
              + F.when(F.col("failed_flow"), 1).otherwise(0))
    tz_ms = F.lit(0)
    t0 = F.col("bidirectional_first_seen_ms").cast("long")
    hour_s = ((t0 - t0 % HOUR) / 1000).cast("long")
    for node, z in tz.items():
        if isinstance(z, int):
            off = F.lit(z * 60_000)
        else:
            # The zone's offset at the start of the flow's UTC hour, as
            # exitflow looks it up (the session's zone is UTC).
            off = (F.unix_timestamp(F.from_utc_timestamp(F.timestamp_seconds(hour_s), z)) - hour_s) * 1000
        tz_ms = F.when(F.col("node") == node, off).otherwise(tz_ms)
    # exitflow writes unsigned 64-bit integers, which Spark reads as decimals.
    for c in ("bidirectional_first_seen_ms", "dst_port", "bidirectional_packets",
              "bidirectional_bytes", "bidirectional_duration_ms"):
        df = df.withColumn(c, F.col(c).cast("long"))
    t = F.col("bidirectional_first_seen_ms")
    is_http = master.isin("HTTP", "HTTP_Proxy")
    df = df.select(
        "node", slice_.alias("slice"), "application_name", "application_category_name",
        "dst_country", "src_country", "tor_role", "dst_port", "bidirectional_packets",
        "bidirectional_bytes", "bidirectional_duration_ms", "failed_flow",
        "application_is_guessed", "src_is_proxy", "dst_is_proxy",
        F.when(is_http, F.col("user_agent")).alias("ua"),
        F.when(is_http, F.col("content_type")).alias("ct"),
        is_http.alias("is_http"),
        (t - t % HOUR).alias("hour"),
        ((t / HOUR).cast("long") % 24).alias("hod_utc"),
        (F.pmod(t + tz_ms, F.lit(DAY)) / HOUR).cast("long").alias("hod_local"),
    ).cache()
    nodes = collections.defaultdict(lambda: [Agg() for _ in range(4)])
    key = ["node", "slice"]
    for r in df.groupBy(*key).agg(
        F.count(F.lit(1)).alias("flows"),
        F.sum(F.col("failed_flow").cast("long")).alias("failed"),
        F.sum("bidirectional_packets").alias("packets"),
        F.sum("bidirectional_bytes").alias("bytes"),
        F.sum("bidirectional_duration_ms").alias("duration"),
        F.sum(F.col("application_is_guessed").cast("long")).alias("guessed"),
        F.sum(F.col("src_is_proxy").cast("long")).alias("src_proxy"),
        F.sum(F.col("dst_is_proxy").cast("long")).alias("dst_proxy"),
        F.sum(F.col("is_http").cast("long")).alias("http"),
    ).collect():
        a = nodes[r["node"]][r["slice"]]
        for k in ("flows", "failed", "packets", "bytes", "duration", "guessed", "src_proxy", "dst_proxy", "http"):
            setattr(a, k, int(r[k] or 0))
    for dim, col in [("application", "application_name"), ("category", "application_category_name"),
                     ("dst_country", "dst_country"), ("src_country", "src_country"),
                     ("tor_role", "tor_role"), ("dst_port", "dst_port"), ("user_agent", "ua"),
                     ("content_type", "ct")]:
        for r in df.filter(F.col(col).isNotNull()).groupBy(*key, col).count().collect():
            nodes[r["node"]][r["slice"]].c[dim][r[col]] = r["count"]
    for r in df.groupBy(*key, "hod_utc").count().collect():
        nodes[r["node"]][r["slice"]].hours_utc[r["hod_utc"]] = r["count"]
    for r in df.groupBy(*key, "hod_local").count().collect():
        nodes[r["node"]][r["slice"]].hours_local[r["hod_local"]] = r["count"]
    for r in df.groupBy(*key, "hour").agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("failed_flow").cast("long")).alias("f")).collect():
        nodes[r["node"]][r["slice"]].timeline[r["hour"]] = [r["n"], r["f"]]
    for r in df.groupBy(*key, "hour", "dst_port").count().collect():
        nodes[r["node"]][r["slice"]].hour_ports[(r["hour"], r["dst_port"])] = r["count"]
    for r in df.filter(F.col("dst_port").isin(PORT_COUNTRY_PORTS)).groupBy(*key, "dst_port", "dst_country").count().collect():
        nodes[r["node"]][r["slice"]].port_countries[r["dst_port"]][r["dst_country"]] = r["count"]
    spark.stop()

    # What the driver reads beside the rows: file sizes, totals, metadata.
    import pyarrow.parquet as pq
    how = collections.defaultdict(set)
    files = sorted(glob.glob(os.path.join(dataset, "node=*", "date=*", "*.parquet")))
    files = [f for f in files if not os.path.basename(f).startswith((".", "_"))]
    synthetic = False
    for f in files:
        node = os.path.basename(os.path.dirname(os.path.dirname(f)))[len("node="):]
        nodes[node][EXIT].dataset_bytes += os.path.getsize(f)
        meta = pq.read_metadata(f).metadata or {}
        for k, name in [(b"exitflow.version", "versions"), (b"exitflow.policy", "policies"),
                        (b"exitflow.geoip", "geoip"), (b"exitflow.timeouts", "timeouts")]:
            if k in meta:
                how[name].add(meta[k].decode())
        synthetic |= meta.get(b"exitflow.synthetic") == b"true"
        if os.path.basename(f).startswith("part-"):
            exact_sums(nodes[node], f, b"coarse_counts=true" in meta.get(b"exitflow.policy", b"").split(b" "))
    volumes, policies, anonymity = {}, {}, {}
    for node in nodes:
        path = os.path.join(dataset, f"node={node}", "_totals.json")
        if os.path.isfile(path):
            tot = json.load(open(path))
            volumes[node] = (tot["packets"], tot["bytes"])
            if tot.get("exit_policy"):
                policies[node] = tot["exit_policy"]
            anonymity[node] = {
                "flows": tot["flows"],
                "generalised_flows": tot.get("generalised_flows", 0),
                "suppressed_flows": tot.get("suppressed_flows", 0),
                "folded_flows": tot.get("folded_flows", 0),
            }
    all_slices = [Agg() for _ in range(4)]
    for sl in nodes.values():
        for i in range(4):
            all_slices[i].merge(sl[i])
    vol_all = None
    if nodes and all(n in volumes for n in nodes):
        vol_all = (sum(v[0] for v in volumes.values()), sum(v[1] for v in volumes.values()))
    a = figures(all_slices, vol_all)
    node_figs = {}
    for node in sorted(nodes):
        f = figures(nodes[node], volumes.get(node))
        f["dataset_flow_share"] = pct(f["flows"], a["flows"])
        f["dataset_traffic_share"] = pct(f["bytes"], a["bytes"])
        f["time_zone"] = tz_label(tz.get(node), list(merged(nodes[node], range(4)).timeline))
        node_figs[node] = f
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "crates", "exitflow-analyze", "data", "published.toml"), "rb") as fh:
        studies = tomllib.load(fh)["study"]
    published = [{
        "name": s["name"],
        "citation": f"{s['authors']}: {s['title']}. {s['venue']}, {s['year']}.",
        "notes": s.get("notes", []),
        "figures": s["figures"],
        "denominators": s.get("denominators", {}),
        "where": s.get("where", {}),
        "figure_notes": s.get("figure_notes", {}),
    } for s in studies]
    report = {
        "report_version": 3,
        "synthetic": synthetic,
        "files": len(files),
        "how_made": {
            "exitflow_versions": sorted(how["versions"]),
            "privacy_policies": sorted(how["policies"]),
            "geoip": sorted(how["geoip"]),
            "timeouts": sorted(how["timeouts"]),
            "report_by": "spark/report.py",
        },
        "nodes": node_figs,
        "all": a,
        "published": published,
        "publication": None,
        "exit_policies": policies,
        "anonymity": anonymity,
    }
    with open(out, "w") as fh:
        json.dump(report, fh, indent=1)
    print(f"{a['flows']} flows, {a['study_flows']} study flows, {len(node_figs)} nodes -> {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    tz_args = [args[i + 1] for i, x in enumerate(args) if x == "--tz"]
    rest = [x for i, x in enumerate(args) if x != "--tz" and (i == 0 or args[i - 1] != "--tz")]
    main(rest[0], rest[1], tz_args)
