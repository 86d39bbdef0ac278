// The report page's script, embedded verbatim in the HTML: it reads the results JSON from the
// page (#tandem-data) and renders everything from it, so the numbers shown are the numbers
// stored. Plain ES2017 with no dependencies; no network, no fonts, no storage.
// Written as a raw string (no template literals inside) so it is shipped exactly as read here.
export const REPORT_CLIENT_JS = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('tandem-data').textContent);
  ['cells', 'peers', 'timelines', 'notes'].forEach(function (k) { data[k] = data[k] || []; });
  data.environment = data.environment || {};
  var COLORS = { upload: '#8e6bbf', compute: '#2f7d32', copy: '#1f6fb2', sink: '#c77c0e', gap: '#d32f2f', util: '#555' };
  var STAGES = ['upload', 'compute', 'copy', 'sink'];
  var STAGE_LABEL = { upload: 'upload (H2D)', compute: 'compute', copy: 'copy (D2H)', sink: 'host stage' };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function fmtBytes(n) {
    var G = 1073741824, M = 1048576;
    if (n >= G) return +(n / G).toFixed(1) + ' GiB';
    if (n >= M) return +(n / M).toFixed(1) + ' MiB';
    if (n >= 1024) return +(n / 1024).toFixed(1) + ' KiB';
    return n + ' B';
  }
  var FMT = {
    ms: function (v) { return v.toFixed(2); },
    eff: function (v) { return v.toFixed(4); },
    pct: function (v) { return (v * 100).toFixed(1) + '%'; },
    nvml: function (v) { return v.toFixed(1) + '%'; },
    int: function (v) { return String(Math.round(v)); },
    bytes: fmtBytes,
    gbps: function (v) { return (v / 1e9).toFixed(2); },
    us: function (v) { return v.toFixed(2); },
    ratio: function (v) { return v.toFixed(2); },
    speedup: function (v) { return v.toFixed(3) + '\u00d7'; }
  };
  function get(obj, path) {
    var parts = path.split('.');
    for (var i = 0; i < parts.length; i++) {
      if (obj === null || obj === undefined) return null;
      obj = obj[parts[i]];
    }
    return obj === undefined ? null : obj;
  }
  function num(cell, key, fmt) {
    var v = get(cell, key);
    var ok = typeof v === 'number' && isFinite(v);
    return el('td', { class: 'num', 'data-cell': cell.id, 'data-key': key, 'data-format': fmt, 'data-value': ok ? String(v) : '' }, [ok ? FMT[fmt](v) : '\u2013']);
  }
  function cellLabel(c) { var ds = c.stats && c.stats.deviceSlots; return c.mode === 'serial' ? 'serial' : 'overlap d' + c.depth + (ds !== undefined && ds !== c.depth ? '/' + ds : ''); }

  // Header and environment.
  document.title = data.title;
  document.getElementById('title').textContent = data.title;
  var env = data.environment, dev = env.device;
  var envBits = [];
  if (dev) envBits.push(dev.name + ' (sm_' + dev.computeCapability.join('') + ', ' + dev.smCount + ' SMs, ' + dev.asyncEngineCount + ' copy engines' + (dev.pcie ? ', PCIe gen' + dev.pcie.generation + ' x' + dev.pcie.width : '') + ')');
  envBits.push('backend ' + env.backend);
  if (env.driverVersion) envBits.push('driver CUDA ' + Math.floor(env.driverVersion / 1000) + '.' + (env.driverVersion % 1000) / 10);
  envBits.push('tandem ' + env.tandemVersion, 'Node ' + env.node, env.hostname, data.date);
  document.getElementById('env').textContent = envBits.join(' \u00b7 ');
  if (env.backend === 'fake') document.getElementById('env').appendChild(el('strong', { class: 'warn' }, [' \u2014 fake device: virtual times, not GPU figures']));

  // Summary table.
  var peerNames = data.peers.filter(function (p) { return p.status === 'ok'; }).map(function (p) { return p.name; });
  var cols = [
    ['wall ms', 'stats.wallMs', 'ms'], ['efficiency', 'efficiency', 'eff'], ['compute/copy', 'measuredRatio', 'ratio'],
    ['compute busy', 'traced.metrics.busyFraction.compute', 'pct'], ['copy busy', 'traced.metrics.busyFraction.copy', 'pct'],
    ['host busy', 'traced.metrics.busyFraction.sink', 'pct'], ['kernel util (strict)', 'traced.metrics.kernelUtilization.strict', 'pct'],
    ['NVML util', 'nvml.mean', 'nvml'], ['D2H GB/s', 'stats.copyThroughput.wall', 'gbps'], ['of pinned peak', 'copyOfPeak', 'pct'],
    ['trace \u00b5s/chunk', 'traceCostPerChunkUs', 'us']
  ];
  peerNames.forEach(function (p) { cols.push([p + ' / tandem', 'peers.' + p + '.tandemSpeedup', 'speedup']); });
  var thead = el('tr', null, ['workload', 'mode', 'ratio', 'chunk', 'chunks'].concat(cols.map(function (c) { return c[0]; }), ['bottleneck']).map(function (h) { return el('th', null, [h]); }));
  var tbody = el('tbody');
  data.cells.forEach(function (c) {
    var tds = [
      el('td', null, [c.workload]), el('td', null, [cellLabel(c)]), el('td', { class: 'num' }, [c.ratio === null ? '\u2013' : String(c.ratio)]),
      el('td', { class: 'num' }, [fmtBytes(c.chunkBytes)]), num(c, 'chunks', 'int')
    ];
    cols.forEach(function (col) { tds.push(num(c, col[1], col[2])); });
    var b = c.traced ? c.traced.metrics.bottleneck : c.stats.bottleneck;
    tds.push(el('td', null, [b || '\u2013']));
    tbody.appendChild(el('tr', { 'data-row': c.id }, tds));
  });
  document.getElementById('summary').appendChild(el('table', { id: 'summary-table' }, [el('thead', null, [thead]), tbody]));

  // Peers.
  var peersBox = document.getElementById('peers');
  if (data.peers.length === 0) peersBox.appendChild(el('p', null, ['No peers were run (tandem bench --peers runs them).']));
  else peersBox.appendChild(el('ul', null, data.peers.map(function (p) {
    return el('li', { class: p.status }, [el('b', null, [p.name]), ' \u2014 ' + p.description + ': ' + p.status + (p.reason ? ' (' + p.reason + ')' : '')]);
  })));
  var peerRows = [];
  data.cells.forEach(function (c) {
    Object.keys(c.peers).forEach(function (p) {
      var pc = c.peers[p];
      peerRows.push(el('tr', null, [el('td', null, [cellLabel(c)]), el('td', { class: 'num' }, [c.ratio === null ? '\u2013' : String(c.ratio)]), el('td', { class: 'num' }, [fmtBytes(c.chunkBytes)]), el('td', null, [p]), num(c, 'peers.' + p + '.depth', 'int'),
        num(c, 'stats.wallMs', 'ms'), num(c, 'peers.' + p + '.wallMs', 'ms'), num(c, 'efficiency', 'eff'), num(c, 'peers.' + p + '.efficiency', 'eff'), num(c, 'peers.' + p + '.tandemSpeedup', 'speedup'),
        num(c, 'peers.' + p + '.ratioRange.0', 'speedup'), num(c, 'peers.' + p + '.ratioRange.1', 'speedup')]));
    });
  });
  if (peerRows.length) peersBox.appendChild(el('table', { id: 'peer-table' }, [
    el('thead', null, [el('tr', null, ['tandem', 'ratio', 'chunk', 'peer', 'peer depth', 'tandem ms', 'peer ms', 'tandem eff', 'peer eff', 'peer/tandem', 'lowest round', 'highest round'].map(function (h) { return el('th', null, [h]); }))]),
    el('tbody', null, peerRows)]));

  // Serial vs overlap, side by side in numbers: per size and ratio, serial against the best depth.
  var versusBox = document.getElementById('versus');
  var groups = {};
  data.cells.forEach(function (c) {
    var k = c.chunkBytes + '|' + c.ratio;
    var g = groups[k] = groups[k] || { serial: null, overlap: null, ref: c };
    if (c.mode === 'serial') g.serial = c;
    else if (!g.overlap || c.stats.wallMs < g.overlap.stats.wallMs) g.overlap = c;
  });
  var vRows = Object.keys(groups).map(function (k) { return groups[k]; }).filter(function (g) { return g.serial && g.overlap; }).map(function (g) {
    var sp = g.serial.stats.wallMs / g.overlap.stats.wallMs;
    return el('tr', { 'data-versus': g.overlap.id }, [
      el('td', null, [g.ref.workload]), el('td', { class: 'num' }, [fmtBytes(g.ref.chunkBytes)]), el('td', { class: 'num' }, [g.ref.ratio === null ? '\u2013' : String(g.ref.ratio)]),
      num(g.serial, 'stats.wallMs', 'ms'), num(g.serial, 'efficiency', 'eff'), num(g.serial, 'traced.metrics.kernelUtilization.strict', 'pct'),
      el('td', null, [cellLabel(g.overlap)]), num(g.overlap, 'stats.wallMs', 'ms'), num(g.overlap, 'efficiency', 'eff'), num(g.overlap, 'traced.metrics.kernelUtilization.strict', 'pct'),
      el('td', { class: 'num' }, [sp.toFixed(2) + '\u00d7'])
    ]);
  });
  if (vRows.length) versusBox.appendChild(el('table', { id: 'versus-table' }, [
    el('thead', null, [el('tr', null, ['workload', 'chunk', 'ratio', 'serial ms', 'serial eff', 'serial kernel util', 'best overlap', 'overlap ms', 'overlap eff', 'overlap kernel util', 'speedup'].map(function (h) { return el('th', null, [h]); }))]),
    el('tbody', null, vRows)]));

  // Timelines, one canvas each, sharing one view (ms from each run's own start).
  var tlBox = document.getElementById('timelines');
  var recs = data.timelines.slice().sort(function (a, b) { return (a.mode === 'serial' ? 0 : 1) - (b.mode === 'serial' ? 0 : 1); });
  var views = [];
  var maxDur = 0;
  recs.forEach(function (rec) {
    var t0 = Infinity, t1 = -Infinity;
    rec.timeline.forEach(function (c) {
      STAGES.forEach(function (s) { if (c[s]) { t0 = Math.min(t0, c[s][0]); t1 = Math.max(t1, c[s][1]); } });
      t0 = Math.min(t0, c.enqueuedCompute);
    });
    if (!isFinite(t0)) return;
    var lanes = STAGES.filter(function (s) { return rec.timeline.some(function (c) { return c[s]; }); });
    var kernels = rec.timeline.map(function (c) { return c.compute; }).slice().sort(function (a, b) { return a[0] - b[0]; });
    var gaps = [];
    for (var i = 1; i < kernels.length; i++) if (kernels[i][0] - kernels[i - 1][1] > 0.002) gaps.push([kernels[i - 1][1], kernels[i][0]]);
    maxDur = Math.max(maxDur, t1 - t0);
    var canvas = el('canvas', { class: 'timeline', 'data-cell': rec.cellId, height: String(34 + 24 * (lanes.length + (rec.utilization.length ? 1 : 0)) + 22) });
    var fig = el('figure', null, [el('figcaption', null, [rec.label + (rec.truncatedFrom ? ' (first ' + rec.timeline.length + ' of ' + rec.truncatedFrom + ' chunks)' : '')]), canvas]);
    tlBox.appendChild(fig);
    views.push({ rec: rec, t0: t0, lanes: lanes, gaps: gaps, canvas: canvas });
  });
  if (!views.length) tlBox.appendChild(el('p', null, ['No traced run in these results (run with trace to see the timeline).']));
  var view = { a: 0, b: maxDur || 1 };
  var LABEL_W = 110;
  var tip = el('div', { id: 'tip', hidden: '' });
  document.body.appendChild(tip);

  function ticks(a, b, n) {
    var span = b - a, step = Math.pow(10, Math.floor(Math.log10(span / n)));
    [1, 2, 5, 10].some(function (m) { if (span / (step * m) <= n) { step *= m; return true; } return false; });
    var out = [];
    for (var t = Math.ceil(a / step) * step; t <= b; t += step) out.push(t);
    return { list: out, step: step };
  }
  function draw(v) {
    var c = v.canvas, dpr = window.devicePixelRatio || 1;
    var w = c.clientWidth || 600, h = +c.getAttribute('height');
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); c.style.height = h + 'px';
    var g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
    var plotW = w - LABEL_W - 8;
    var X = function (t) { return LABEL_W + (t - view.a) / (view.b - view.a) * plotW; };
    g.font = '12px system-ui, sans-serif'; g.textBaseline = 'middle';
    var y = 10;
    v.laneY = {};
    v.lanes.forEach(function (lane) {
      v.laneY[lane] = y;
      g.fillStyle = '#f3f3f3'; g.fillRect(LABEL_W, y, plotW, 20);
      g.fillStyle = '#222'; g.fillText(STAGE_LABEL[lane], 6, y + 10);
      v.rec.timeline.forEach(function (ch) {
        var s = ch[lane];
        if (!s) return;
        var a = s[0] - v.t0, b = s[1] - v.t0;
        if (b < view.a || a > view.b) return;
        var x0 = Math.max(LABEL_W, X(a)), x1 = Math.min(LABEL_W + plotW, X(b));
        g.globalAlpha = ch.index % 2 ? 0.7 : 1;
        g.fillStyle = COLORS[lane];
        g.fillRect(x0, y + 1, Math.max(1, x1 - x0), 18);
      });
      g.globalAlpha = 1;
      if (lane === 'compute') {
        g.fillStyle = COLORS.gap;
        v.gaps.forEach(function (gp) {
          var a = gp[0] - v.t0, b = gp[1] - v.t0;
          if (b < view.a || a > view.b) return;
          g.fillRect(Math.max(LABEL_W, X(a)), y + 20, Math.max(1, X(b) - X(a)), 3);
        });
      }
      y += 24;
    });
    if (v.rec.utilization.length) {
      g.fillStyle = '#222'; g.fillText('NVML util', 6, y + 10);
      g.strokeStyle = COLORS.util; g.beginPath();
      v.rec.utilization.forEach(function (s, i) {
        var px = X(s.t - v.t0), py = y + 20 - s.gpu / 100 * 20;
        if (i) g.lineTo(px, py); else g.moveTo(px, py);
      });
      g.stroke();
      y += 24;
    }
    g.strokeStyle = '#999'; g.beginPath(); g.moveTo(LABEL_W, y + 2); g.lineTo(LABEL_W + plotW, y + 2); g.stroke();
    g.fillStyle = '#444';
    var tk = ticks(view.a, view.b, Math.max(2, Math.floor(plotW / 90)));
    var digits = Math.max(0, -Math.floor(Math.log10(tk.step)));
    tk.list.forEach(function (t) { var px = X(t); g.fillRect(px, y + 2, 1, 4); g.fillText(t.toFixed(digits) + ' ms', px - 14, y + 14); });
  }
  function drawAll() { views.forEach(draw); }
  views.forEach(function (v) {
    var c = v.canvas, drag = null;
    var tAt = function (ev) { var r = c.getBoundingClientRect(); return view.a + (ev.clientX - r.left - LABEL_W) / (r.width - LABEL_W - 8) * (view.b - view.a); };
    c.addEventListener('wheel', function (ev) {
      ev.preventDefault();
      var t = tAt(ev), f = Math.exp(ev.deltaY * 0.002);
      var a = t - (t - view.a) * f, b = t + (view.b - t) * f;
      if (b - a < 1e-4) return;
      view.a = a; view.b = b; drawAll();
    }, { passive: false });
    c.addEventListener('mousedown', function (ev) { drag = { x: ev.clientX, a: view.a, b: view.b }; });
    window.addEventListener('mouseup', function () { drag = null; });
    c.addEventListener('mousemove', function (ev) {
      var r = c.getBoundingClientRect();
      if (drag) {
        var dt = (ev.clientX - drag.x) / (r.width - LABEL_W - 8) * (drag.b - drag.a);
        view.a = drag.a - dt; view.b = drag.b - dt; drawAll(); tip.hidden = true; return;
      }
      var t = tAt(ev) + v.t0, yy = ev.clientY - r.top, hit = null;
      Object.keys(v.laneY || {}).forEach(function (lane) {
        if (yy < v.laneY[lane] || yy > v.laneY[lane] + 20) return;
        v.rec.timeline.forEach(function (ch) { var s = ch[lane]; if (s && s[0] <= t && t <= s[1]) hit = { lane: lane, ch: ch, s: s }; });
      });
      if (!hit) { tip.hidden = true; return; }
      tip.hidden = false;
      tip.textContent = STAGE_LABEL[hit.lane] + ' #' + hit.ch.index + ' (slot ' + hit.ch.slot + '): ' + (hit.s[1] - hit.s[0]).toFixed(3) + ' ms, from ' + (hit.s[0] - v.t0).toFixed(3) + ' ms';
      tip.style.left = ev.pageX + 12 + 'px'; tip.style.top = ev.pageY + 12 + 'px';
    });
    c.addEventListener('mouseleave', function () { tip.hidden = true; });
    c.addEventListener('dblclick', function () { view.a = 0; view.b = maxDur || 1; drawAll(); });
  });
  window.addEventListener('resize', drawAll);
  drawAll();

  // Compute-engine idle gaps of the traced runs.
  var gapBox = document.getElementById('gaps');
  data.cells.filter(function (c) { return c.traced; }).forEach(function (c) {
    var gm = c.traced.metrics.gaps;
    var causes = Object.keys(gm.byCause).filter(function (k) { return gm.byCause[k] > 0; }).map(function (k) { return k + ' ' + gm.byCause[k].toFixed(3) + ' ms'; });
    gapBox.appendChild(el('h3', null, [c.workload + ' ' + cellLabel(c) + ', ratio ' + (c.ratio === null ? '\u2013' : c.ratio) + ', ' + fmtBytes(c.chunkBytes)]));
    gapBox.appendChild(el('p', null, [gm.count + ' gaps, ' + gm.totalMs.toFixed(3) + ' ms in all, largest ' + gm.maxMs.toFixed(3) + ' ms' + (causes.length ? ' \u2014 by cause: ' + causes.join(', ') : '')]));
    if (!gm.largest.length) return;
    gapBox.appendChild(el('table', { class: 'gaps' }, [
      el('thead', null, [el('tr', null, ['between chunks', 'ms', 'cause', 'copy busy ms', 'host busy ms', 'upload busy ms'].map(function (h) { return el('th', null, [h]); }))]),
      el('tbody', null, gm.largest.slice(0, 8).map(function (g) {
        return el('tr', null, [el('td', null, ['#' + g.afterChunk + ' \u2192 #' + g.beforeChunk]), el('td', { class: 'num' }, [g.ms.toFixed(3)]), el('td', null, [g.cause]),
          el('td', { class: 'num' }, [g.during.copy.toFixed(3)]), el('td', { class: 'num' }, [g.during.sink.toFixed(3)]), el('td', { class: 'num' }, [g.during.upload.toFixed(3)])]);
      }))]));
  });

  // Charts: efficiency against the compute/copy ratio and against the chunk size.
  function uniq(a) { return a.filter(function (v, i) { return a.indexOf(v) === i; }).sort(function (x, y) { return x - y; }); }
  function lineChart(title, xs, xfmt, series) {
    var W = 460, H = 260, L = 52, R = 130, T = 26, B = 36, PAD = 18;
    var ys = [];
    series.forEach(function (s) { s.points.forEach(function (p) { ys.push(p[1]); }); });
    var ymin = Math.min(0.5, Math.floor((Math.min.apply(null, ys) - 0.02) * 10) / 10), ymax = Math.max(1.0, Math.ceil(Math.max.apply(null, ys) * 20) / 20) + 0.02;
    var root = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img' });
    var X = function (x) { var i = xs.indexOf(x); return L + PAD + (xs.length === 1 ? 0.5 : i / (xs.length - 1)) * (W - L - R - 2 * PAD); };
    var Y = function (y) { return T + (ymax - y) / (ymax - ymin) * (H - T - B); };
    var t = svg('text', { x: L, y: 16, class: 'ctitle' }); t.textContent = title; root.appendChild(t);
    var yt = ticks(ymin, ymax, 6), ydigits = Math.max(1, -Math.floor(Math.log10(yt.step)));
    yt.list.forEach(function (yv) {
      root.appendChild(svg('line', { x1: L, x2: W - R, y1: Y(yv), y2: Y(yv), class: 'grid' }));
      var lt = svg('text', { x: L - 6, y: Y(yv) + 4, 'text-anchor': 'end' }); lt.textContent = yv.toFixed(ydigits); root.appendChild(lt);
    });
    xs.forEach(function (x) { var xt = svg('text', { x: X(x), y: H - B + 16, 'text-anchor': 'middle' }); xt.textContent = xfmt(x); root.appendChild(xt); });
    var palette = ['#2f7d32', '#1f6fb2', '#c77c0e', '#8e6bbf', '#d32f2f', '#00838f', '#6d4c41', '#ad1457'];
    series.forEach(function (s, i) {
      var col = palette[i % palette.length];
      var pts = s.points.slice().sort(function (a, b) { return a[0] - b[0]; });
      root.appendChild(svg('polyline', { points: pts.map(function (p) { return X(p[0]) + ',' + Y(p[1]); }).join(' '), fill: 'none', stroke: col, 'stroke-width': 2, 'stroke-dasharray': s.dashed ? '5 4' : 'none' }));
      pts.forEach(function (p) { root.appendChild(svg('circle', { cx: X(p[0]), cy: Y(p[1]), r: 3, fill: col, 'data-series': s.name, 'data-x': p[0], 'data-y': p[1] })); });
      var ly = T + 14 * i + 6;
      root.appendChild(svg('line', { x1: W - R + 8, x2: W - R + 26, y1: ly, y2: ly, stroke: col, 'stroke-width': 2, 'stroke-dasharray': s.dashed ? '5 4' : 'none' }));
      var tx = svg('text', { x: W - R + 30, y: ly + 4 }); tx.textContent = s.name; root.appendChild(tx);
    });
    return root;
  }
  function seriesKey(c) { return cellLabel(c); }
  function collect(filter, xOf) {
    var m = {};
    data.cells.filter(filter).forEach(function (c) {
      if (typeof c.efficiency === 'number') (m[seriesKey(c)] = m[seriesKey(c)] || []).push([xOf(c), c.efficiency]);
      Object.keys(c.peers).forEach(function (p) {
        var e = c.peers[p].efficiency;
        if (typeof e !== 'number') return;
        var key = p + (c.mode === 'serial' ? '' : ' d' + c.depth);
        m[key] = m[key] || { peer: true, pts: [] };
        m[key].pts = m[key].pts || [];
        if (!m[key].pts.some(function (q) { return q[0] === xOf(c); })) m[key].pts.push([xOf(c), e]);
      });
    });
    return Object.keys(m).map(function (k) { return Array.isArray(m[k]) ? { name: k, points: m[k] } : { name: k, points: m[k].pts, dashed: true }; });
  }
  var chartBox = document.getElementById('charts');
  var ratios = uniq(data.cells.map(function (c) { return c.ratio; }).filter(function (r) { return r !== null; }));
  var sizes = uniq(data.cells.map(function (c) { return c.chunkBytes; }));
  var drew = false;
  if (ratios.length > 1) sizes.forEach(function (sz) {
    chartBox.appendChild(lineChart('efficiency vs compute/copy ratio, ' + fmtBytes(sz) + ' chunks', ratios, String, collect(function (c) { return c.chunkBytes === sz && c.ratio !== null; }, function (c) { return c.ratio; })));
    drew = true;
  });
  if (sizes.length > 1) (ratios.length ? ratios : [null]).forEach(function (r) {
    chartBox.appendChild(lineChart('efficiency vs chunk size' + (r === null ? '' : ', ratio ' + r), sizes, fmtBytes, collect(function (c) { return c.ratio === r; }, function (c) { return c.chunkBytes; })));
    drew = true;
  });
  if (!drew) chartBox.appendChild(el('p', null, ['One ratio and one chunk size: no sweep to chart.']));

  var notes = document.getElementById('notes');
  data.notes.forEach(function (n) { notes.appendChild(el('li', null, [n])); });
  document.body.setAttribute('data-rendered', 'true');
})();
`;
