#!/bin/bash
# test-report-graphs.sh - the HTML report's graphs in a real browser: a store
# with a year of messages of every verdict (and queue samples) is rendered by
# "mqsift report --html", then headless Chromium shows it at 1280 pixels wide:
# the screenshot is not blank, and a script run on a copy of the page (the page
# itself has none) finds every chart, legend and axis label drawn, with a size,
# inside its chart and inside the window (nothing cut), and one table row per
# caught message of the period.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../tap.sh"
relay_enter "$@"
CONF=$RELAY/etc/mqsift.yaml
mkdir -p "$RELAY/etc" "$RELAY/db"
printf 'reports:\n  database: %s/db/mqsift.db\n' "$RELAY" >"$CONF"
ok_if "the store is created" bash -c "'$MQSIFT' report -c '$CONF' >/dev/null 2>&1"
ok_if "a year of every verdict is written into it" \
	python3 "$E2E_DIR/gen-report-data.py" "$RELAY/db/mqsift.db" 48
start=$(date +%s%N)
ok_if "report --html" bash -c "'$MQSIFT' report -c '$CONF' --html '$RELAY/report.html' >/dev/null 2>&1"
ms=$((($(date +%s%N) - start) / 1000000))
diag "report --html took $ms ms"
ok_if "the page needs no network and no script" \
	bash -c "! grep -Eq '<script|src=\"http|href=\"http|@import' '$RELAY/report.html'"
# the caught messages of the default period (7 days): infected, blocked, quarantined spam
caught=$(python3 -c "
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
print(db.execute(\"select count(*) from messages where received >= ? and (status in ('infected','blocked') or (spam in ('yes','high') and quarantine is not null))\", (int(time.time()) + 1 - 7 * 86400,)).fetchone()[0])" "$RELAY/db/mqsift.db")

CHROME=$(command -v chromium || command -v chromium-browser)
if [ -z "$CHROME" ]; then
	ok_if "chromium is installed (bootstrap.sh installs it)" false
	done_testing
	exit
fi
flags="--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run --hide-scrollbars --user-data-dir=$RELAY/chrome --window-size=1280,4000"
timeout 90 "$CHROME" $flags --screenshot="$RELAY/report.png" "file://$RELAY/report.html" >/dev/null 2>&1
ok_if "a screenshot is taken" [ -s "$RELAY/report.png" ]
# not blank: decode the PNG (zlib, no PIL) and count colours in the top 3000 rows
ok_if "the screenshot is not blank" python3 - "$RELAY/report.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w, h, ctype = 8, b"", 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
bpp = 4 if ctype == 6 else 3
stride = w * bpp
prev = bytearray(stride)
colours, dark = set(), 0
off = 0
for y in range(min(h, 3000)):
    f = raw[off]
    line = bytearray(raw[off + 1:off + 1 + stride])
    off += 1 + stride
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, w, 4):
            px = bytes(line[x * bpp:x * bpp + 3])
            colours.add(px)
            dark += sum(px) < 200
print("colours", len(colours), "dark samples", dark, file=sys.stderr)
# the verdicts' five colours, the queue lines, text: far more than a blank page
sys.exit(0 if len(colours) >= 20 and dark >= 500 else 1)
PY

# a copy of the page with a script that measures what Chromium laid out
python3 - "$RELAY/report.html" "$RELAY/measure.html" <<'PY'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
script = r"""<script>
addEventListener('load', () => {
  const vw = document.documentElement.clientWidth, out = {vw: vw, charts: {}, problems: []};
  const inside = (r, o, slack) => r.left >= o.left - slack && r.right <= o.right + slack &&
    r.top >= o.top - slack && r.bottom <= o.bottom + slack;
  for (const svg of document.querySelectorAll('svg.chart')) {
    const r = svg.getBoundingClientRect();
    const c = {w: r.width, h: r.height, texts: 0, xlabels: 0, ylabels: 0, legend: 0, series: 0};
    if (!(r.width > 0 && r.height > 0)) out.problems.push(svg.id + ': no size');
    if (r.left < 0 || r.right > vw) out.problems.push(svg.id + ': outside the window');
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBoundingClientRect();
      c.texts++;
      if (!(b.width > 0 && b.height > 0)) out.problems.push(svg.id + ': empty text ' + t.textContent);
      else if (!inside(b, r, 1) || b.right > vw) out.problems.push(svg.id + ': cut text ' + t.textContent);
      if (getComputedStyle(t).visibility !== 'visible' || getComputedStyle(t).display === 'none')
        out.problems.push(svg.id + ': hidden text ' + t.textContent);
    }
    c.xlabels = svg.querySelectorAll('.xlabel').length;
    c.ylabels = svg.querySelectorAll('.ylabel').length;
    for (const g of svg.querySelectorAll('.legend-item')) {
      const b = g.getBoundingClientRect();
      if (b.width > 0 && b.height > 0 && inside(b, r, 1)) c.legend++;
    }
    for (const p of svg.querySelectorAll('.series')) {
      const b = p.getBoundingClientRect();
      if (b.width > 0) c.series++;
    }
    c.verdicts = [...svg.querySelectorAll('[data-verdict]')].map(p => p.dataset.verdict).sort().join(' ');
    out.charts[svg.id] = c;
  }
  const t = document.getElementById('caught');
  out.caught_rows = t ? t.querySelectorAll('tbody tr').length : -1;
  if (t && t.getBoundingClientRect().right > vw) out.problems.push('caught table wider than the window');
  out.scroll_width = document.documentElement.scrollWidth;
  const pre = document.createElement('pre');
  pre.id = 'measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", script + "</body>"))
PY
timeout 90 "$CHROME" $flags --virtual-time-budget=5000 --dump-dom "file://$RELAY/measure.html" >"$RELAY/measure.dom" 2>/dev/null
python3 - "$RELAY/measure.dom" >"$RELAY/measure.json" <<'PY'
import html, json, re, sys
m = re.search(r'<pre id="measure">(.*?)</pre>', open(sys.argv[1], encoding="utf-8").read(), re.S)
print(json.dumps(json.loads(html.unescape(m.group(1))) if m else {}))
PY
j() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)" "$RELAY/measure.json" "$1"; }
ok_if "the page was measured in Chromium" j "d.get('vw', 0) > 1000"
diag "problems: $(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('problems'))" "$RELAY/measure.json")"
for span in day week month year; do
	ok_if "traffic-$span: drawn, full width" j "d['charts']['traffic-$span']['w'] >= 0.9 * d['vw']"
	ok_if "traffic-$span: one series per verdict, spam included" \
		j "d['charts']['traffic-$span']['verdicts'] == 'blocked clean error infected spam'"
	ok_if "traffic-$span: every series has a size" j "d['charts']['traffic-$span']['series'] == 5"
	ok_if "traffic-$span: a legend of the five verdicts" j "d['charts']['traffic-$span']['legend'] == 5"
	ok_if "traffic-$span: time labels and value labels" \
		j "d['charts']['traffic-$span']['xlabels'] >= 4 and d['charts']['traffic-$span']['ylabels'] >= 2"
	ok_if "queues-$span: two lines, a legend, labels" \
		j "d['charts']['queues-$span']['series'] == 2 and d['charts']['queues-$span']['legend'] == 2 and d['charts']['queues-$span']['xlabels'] >= 4"
done
for c in signatures rules sender-domains recipient-domains latency; do
	ok_if "$c: drawn with labels" j "d['charts']['$c']['w'] > 200 and d['charts']['$c']['texts'] >= 2"
done
ok_if "no label is cut or hidden, no chart outside the window" j "d['problems'] == []"
ok_if "nothing wider than the window" j "d['scroll_width'] <= d['vw']"
ok_if "the caught table has one row per caught message ($caught)" j "d['caught_rows'] == $caught"
ok_if "the hostile subject shows as text" grep -q '&lt;img src=x onerror=' "$RELAY/measure.dom"
[ -n "$MQSIFT_KEEP" ] && cp "$RELAY/report.png" /tmp/mqsift-report-graphs.png
done_testing
