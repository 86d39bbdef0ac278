// The report page's script, embedded verbatim in the HTML: it reads the results JSON (#tandem-data)
// and the compact timelines (#tandem-timelines, see compactTimeline in report.ts) from the page
// and renders everything from them, so the numbers shown are the numbers stored and every
// headline figure is computed from the cells, never typed in. Plain ES2017 with no dependencies;
// no network, no fonts, no storage. The page's kind (body[data-kind]) picks the sections: a
// bench sweep, one run (render, library), or the jobs mode (tandem bench --jobs), whose data is
// its results.json (cells under data.jobs, keyed by 'key').
// Written as a raw string (no template literals inside) so it is shipped exactly as read here.
export const REPORT_CLIENT_JS = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('tandem-data').textContent);
  var compact = JSON.parse(document.getElementById('tandem-timelines').textContent);
  var KIND = document.body.getAttribute('data-kind') || 'bench';
  ['cells', 'peers', 'notes'].forEach(function (k) { data[k] = data[k] || []; });
  data.environment = data.environment || {};
  data.config = data.config || {};
  var COLORS = { upload: '#8e6bbf', compute: '#2f7d32', copy: '#1f6fb2', sink: '#c77c0e', gap: '#d32f2f', util: '#555', host: '#444' };
  var STAGES = ['upload', 'compute', 'copy', 'sink'];
  var STAGE_LABEL = { upload: 'upload (H2D)', compute: 'compute', copy: 'copy (D2H)', sink: 'host stage' };
  var CAUSES = {
    'ring-full': 'the kernel waited for its ring slot while the copy engine was still draining it: the copy is behind',
    'host-stage': 'the ring slot was held by a running host stage: the host stage is behind',
    'host-late': 'the host enqueued the next kernel after the previous one ended, with nothing holding it back',
    upload: 'the kernel waited for its upload (H2D)',
    launch: 'enqueued in time and nothing to wait on: launch latency'
  };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmtBytes(n) {
    var G = 1073741824, M = 1048576;
    if (n >= G) return +(n / G).toFixed(1) + ' GiB';
    if (n >= M) return +(n / M).toFixed(1) + ' MiB';
    if (n >= 1024) return +(n / 1024).toFixed(1) + ' KiB';
    return Math.round(n) + ' B';
  }
  var FMT = {
    ms: function (v) { return v.toFixed(2); },
    eff: function (v) { return v.toFixed(4); },
    pct: function (v) { return (v * 100).toFixed(1) + '%'; },
    nvml: function (v) { return v.toFixed(1) + '%'; },
    int: function (v) { return String(Math.round(v)); },
    bytes: fmtBytes,
    gbps: function (v) { return (v / 1e9).toFixed(2); },
    gbs: function (v) { return v.toFixed(2); },
    us: function (v) { return v.toFixed(2); },
    ratio: function (v) { return v.toFixed(2); },
    speedup: function (v) { return v.toFixed(3) + '\u00d7'; },
    x2: function (v) { return v.toFixed(2) + '\u00d7'; }
  };
  function x2(v) { return v.toFixed(2) + '\u00d7'; }
  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function get(obj, path) {
    var parts = path.split('.');
    for (var i = 0; i < parts.length; i++) {
      if (obj === null || obj === undefined) return null;
      obj = obj[parts[i]];
    }
    return obj === undefined ? null : obj;
  }
  /**
   * A table cell (or, with tag 'span', part of one) showing one stored number, tagged with where it
   * came from: the cell's id (a jobs cell's key), the key within it, the format (the test reads the tags).
   */
  function num(cell, key, fmt, tag) {
    var v = get(cell, key), ok = isNum(v), id = cell.id !== undefined ? cell.id : cell.key;
    return el(tag || 'td', { class: 'num', 'data-cell': id, 'data-key': key, 'data-format': fmt, 'data-value': ok ? String(v) : '' },
      [ok ? FMT[fmt](v) : '\u2013']);
  }
  function td(text, cls) { return el('td', cls ? { class: cls } : null, [text]); }
  function table(id, heads, rows, numeric) {
    return el('table', id ? { id: id } : null, [
      el('thead', null, [el('tr', null, heads.map(function (h, i) { return el('th', numeric && numeric[i] ? { class: 'num' } : null, [h]); }))]),
      el('tbody', null, rows)]);
  }
  function cellLabel(c) {
    var ds = c.stats && c.stats.deviceSlots;
    return c.mode === 'serial' ? 'serial' : 'overlap d' + c.depth + (ds !== undefined && ds !== c.depth ? '/' + ds : '');
  }
  function ratioText(r) { return r === null || r === undefined ? '' : 'compute/copy ' + r; }
  function bottleneckOf(c) { return c.traced ? c.traced.metrics.bottleneck : c.stats.bottleneck; }
  function median(a) {
    var s = a.slice().sort(function (x, y) { return x - y; }), n = s.length;
    return n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many || one + 's'); }
  function uniq(a) { return a.filter(function (v, i) { return a.indexOf(v) === i; }); }

  // Header and environment.
  document.title = data.title;
  document.getElementById('title').textContent = data.title;
  var env = data.environment, dev = env.device;
  var envBits = [];
  if (dev) {
    envBits.push(dev.name + ' (sm_' + dev.computeCapability.join('') + ', ' + dev.smCount + ' SMs, ' +
      dev.asyncEngineCount + ' copy engines' + (dev.pcie ? ', PCIe gen' + dev.pcie.generation + ' x' + dev.pcie.width : '') + ')');
  }
  envBits.push('backend ' + env.backend);
  if (env.driverVersion) envBits.push('driver CUDA ' + Math.floor(env.driverVersion / 1000) + '.' + (env.driverVersion % 1000) / 10);
  envBits.push('tandem ' + env.tandemVersion, 'Node ' + env.node, env.hostname, data.date);
  var envEl = document.getElementById('env');
  envEl.textContent = envBits.join(' \u00b7 ');
  if (env.backend === 'fake') envEl.parentNode.appendChild(el('div', { class: 'fake' }, ['Fake device: virtual times, not GPU figures']));

  // Configurations: the cells of one workload, chunk size and ratio; the best overlap is the
  // one with the shortest untraced wall.
  var groups = [], groupOf = {};
  data.cells.forEach(function (c) {
    var k = c.workload + '|' + c.chunkBytes + '|' + c.ratio;
    var g = groupOf[k];
    if (!g) {
      g = groupOf[k] = {
        key: k, workload: c.workload, chunkBytes: c.chunkBytes, ratio: c.ratio, chunks: c.chunks, cells: [], serial: null, best: null
      };
      groups.push(g);
    }
    g.cells.push(c);
    if (c.mode === 'serial') g.serial = c;
    else if (!g.best || c.stats.wallMs < g.best.stats.wallMs) g.best = c;
  });
  var cellGroup = {};
  groups.forEach(function (g) { g.cells.forEach(function (c) { cellGroup[c.id] = g; }); });
  var workloads = uniq(data.cells.map(function (c) { return c.workload; }));
  function groupLabel(g) {
    return [workloads.length > 1 ? g.workload : null, fmtBytes(g.chunkBytes) + ' chunks', ratioText(g.ratio) || null].filter(Boolean).join(', ');
  }
  function speedupOverSerial(c) { var g = cellGroup[c.id]; return g && g.serial && c.mode !== 'serial' ? g.serial.stats.wallMs / c.stats.wallMs : null; }
  var okPeers = data.peers.filter(function (p) { return p.status === 'ok'; }).map(function (p) { return p.name; });

  // Headline cards: value, one line of detail; data-metric and data-value for the test.
  var head = document.getElementById('headline');
  function card(metric, label, value, detail, raw) {
    var c = el('div', { class: 'card' + (raw === null ? ' none' : ''), 'data-metric': metric, 'data-value': isNum(raw) ? String(raw) : '' },
      [
      el('div', { class: 'k' }, [label]), el('div', { class: 'v' }, [value]), el('div', { class: 'd' }, [detail])]);
    return c;
  }
  function headline(verdict, cards) {
    head.appendChild(el('p', { id: 'verdict' }, [verdict.charAt(0).toUpperCase() + verdict.slice(1)]));
    head.appendChild(el('div', { class: 'cards' }, cards));
  }
  /** Why no peer ran, from their statuses ({ name, status, reason }): the names grouped by reason. */
  function whyNoPeers(list) {
    if (!list.length) return 'no peer in these results (tandem bench runs them unless --no-peers)';
    var byReason = {};
    list.forEach(function (p) {
      var r = p.status + (p.reason ? ': ' + p.reason : '');
      (byReason[r] = byReason[r] || []).push(p.name);
    });
    return Object.keys(byReason).map(function (r) { return byReason[r].join(', ') + ' ' + r; }).join('; ');
  }
  function rangeText(vals, f) { var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals); return lo === hi ? f(lo) : f(lo) + '\u2013' + f(hi); }

  function benchHeadline() {
    var cards = [], verdict = [];
    var withBest = groups.filter(function (g) { return g.best; });
    var sp = groups.filter(function (g) { return g.serial && g.best; })
      .map(function (g) { return { g: g, v: g.serial.stats.wallMs / g.best.stats.wallMs }; });
    var spv = sp.map(function (s) { return s.v; });
    if (sp.length === 1) {
      cards.push(card('speedup-serial', 'Speed-up over serial', x2(sp[0].v),
        'serial ' + sp[0].g.serial.stats.wallMs.toFixed(2) + ' ms \u2192 ' + cellLabel(sp[0].g.best) + ' ' + sp[0].g.best.stats.wallMs.toFixed(2) + ' ms',
        sp[0].v));
      verdict.push(sp[0].v >= 1
        ? 'Overlap runs ' + x2(sp[0].v) + ' faster than serial'
        : 'Overlap runs at ' + x2(sp[0].v) + ' the speed of serial (slower)');
    } else if (sp.length > 1) {
      var m = median(spv);
      cards.push(card('speedup-serial', 'Speed-up over serial', x2(m),
        'median of ' + sp.length + ' configurations (best overlap vs serial); range ' + rangeText(spv, x2), m));
      var slower = spv.filter(function (v) { return v < 1; }).length;
      verdict.push(slower
        ? 'Best overlap vs serial: ' + rangeText(spv, x2) + ' the speed (slower in ' + slower + ' of ' + sp.length + ' configurations)'
        : 'Overlap runs ' + rangeText(spv, x2) + ' faster than serial');
    } else {
      cards.push(card('speedup-serial', 'Speed-up over serial', 'no serial run', 'these results have no serial cell to compare with', null));
    }
    var effs = withBest.map(function (g) { return { g: g, v: g.best.efficiency }; }).filter(function (e) { return isNum(e.v); });
    if (effs.length) {
      var ev = effs.map(function (e) { return e.v; }), em = median(ev);
      var low = effs.reduce(function (a, b) { return b.v < a.v ? b : a; });
      cards.push(card('efficiency', 'Efficiency (best overlap)', FMT.eff(em),
        (effs.length > 1
          ? 'median of ' + effs.length + '; lowest ' + FMT.eff(low.v) + ' (' + groupLabel(low.g) + ')'
          : cellLabel(effs[0].g.best) + ', ' + groupLabel(effs[0].g)) + '; 1.0 = the slowest stage never waited',
        em));
      verdict.push('efficiency ' + rangeText(ev, FMT.eff));
    } else {
      cards.push(card('efficiency', 'Efficiency (best overlap)', 'unknown', 'no overlap cell with its stages measured alone', null));
    }
    var bn = {};
    withBest.forEach(function (g) { var b = bottleneckOf(g.best); if (b) bn[b] = (bn[b] || 0) + 1; });
    var order = Object.keys(bn).sort(function (a, b) { return bn[b] - bn[a]; });
    if (order.length) {
      var counted = order.reduce(function (a, k) { return a + bn[k]; }, 0);
      cards.push(card('bottleneck', 'Bottleneck (busiest stage)', STAGE_LABEL[order[0]],
        order.map(function (k) { return STAGE_LABEL[k] + ' in ' + bn[k] + ' of ' + counted; }).join(', ') + ' configurations (best overlap)',
        bn[order[0]]));
      verdict.push('bottleneck: ' + STAGE_LABEL[order[0]] + (order.length > 1 ? ' (' + bn[order[0]] + ' of ' + counted + ')' : ''));
    } else {
      cards.push(card('bottleneck', 'Bottleneck (busiest stage)', 'unknown', 'needs the traced runs (bench without --no-trace)', null));
    }
    var ku = withBest.map(function (g) { return get(g.best, 'traced.metrics.kernelUtilization.strict'); }).filter(isNum);
    if (ku.length) {
      cards.push(card('kernel-util', 'Kernel utilisation (strict)', FMT.pct(median(ku)),
        (ku.length > 1 ? 'median of ' + ku.length + ' best overlaps; range ' + rangeText(ku, FMT.pct) : 'traced run') +
          '; kernel busy / first-to-last kernel',
        median(ku)));
    }
    // The peers: peer wall / tandem wall per cell (above 1: tandem faster).
    var peerVerdict = [];
    okPeers.forEach(function (p) {
      var vals = data.cells.map(function (c) { return c.peers[p] && c.peers[p].tandemSpeedup; }).filter(isNum);
      if (!vals.length) {
        cards.push(card('peer:' + p, 'vs ' + p, 'no figure', 'ran, but no cell has a peer/tandem ratio', null));
        return;
      }
      var pm = median(vals), faster = vals.filter(function (v) { return v > 1; }).length;
      cards.push(card('peer:' + p, 'Speed-up over ' + p, x2(pm),
        'peer wall / tandem wall, median of ' + plural(vals.length, 'cell') + (vals.length > 1 ? ', range ' + rangeText(vals, x2) : '') +
          '; tandem faster in ' + faster + ' of ' + vals.length,
        pm));
      peerVerdict.push(p + ' ' + x2(pm));
    });
    if (peerVerdict.length) verdict.push('over the peers (peer wall / tandem wall, median): ' + peerVerdict.join(', '));
    if (!okPeers.length) {
      cards.push(card('peers', 'Speed-up over the peers', 'peers did not run', whyNoPeers(data.peers), null));
      verdict.push('peers did not run');
    }
    headline(verdict.length ? verdict.join('; ') + '.' : 'No cells in these results.', cards);
  }

  // One run (render, library): frames or chunks, rate, stage times, bottleneck.
  var run = data.cells[0];
  function runHeadline() {
    if (!run) { headline('No run in these results.', []); return; }
    var m = run.traced ? run.traced.metrics : null;
    var wallS = run.stats.wallMs / 1000;
    var frames = get(run, 'params.framesDone');
    var fpc = get(data, 'config.format.framesPerChunk');
    var cards = [], verdict;
    if (KIND === 'render' && isNum(frames)) {
      var fps = frames / wallS, asked = get(run, 'params.frames');
      cards.push(card('frames', 'Frames', String(frames),
        (isNum(asked) && asked !== frames ? 'of ' + asked + ' asked; ' : '') + plural(run.chunks, 'chunk') +
          (isNum(fpc) ? ' of up to ' + fpc + ' frames' : '') + ', ' + fmtBytes(run.chunkBytes) + ' each',
        frames));
      cards.push(card('fps', 'Frames per second', fps.toFixed(1), frames + ' frames / ' + wallS.toFixed(2) + ' s wall', fps));
      verdict = frames + ' frames in ' + wallS.toFixed(2) + ' s: ' + fps.toFixed(1) + ' fps';
    } else {
      cards.push(card('chunks', 'Chunks', String(run.chunks),
        fmtBytes(run.chunkBytes) + ' each, ' + fmtBytes(run.stats.bytesOut) + ' in all', run.chunks));
      verdict = plural(run.chunks, 'chunk') + ' in ' + wallS.toFixed(2) + ' s';
    }
    cards.push(card('wall', 'Wall', wallS.toFixed(2) + ' s',
      cellLabel(run) + ', ' + fmtBytes(run.stats.bytesOut / Math.max(wallS, 1e-9)) + '/s off the GPU', run.stats.wallMs));
    var b = bottleneckOf(run);
    var bf = b && m ? m.busyFraction[b] : null;
    if (b) {
      cards.push(card('bottleneck', 'Bottleneck (busiest stage)', STAGE_LABEL[b],
        isNum(bf) ? 'busy ' + FMT.pct(bf) + ' of the wall' : 'the stage with the most busy time', bf));
      verdict += ', busiest stage: ' + STAGE_LABEL[b] +
        (isNum(bf) ? ' (busy ' + FMT.pct(bf) + ' of the wall' + (bf < 0.5 ? ': every stage sat idle most of the run' : '') + ')' : '');
    } else cards.push(card('bottleneck', 'Bottleneck (busiest stage)', 'unknown', 'needs a traced run (--report traces it)', null));
    // From the traced run's metrics where there are some, so that it is the bottleneck's busy share.
    var eff = m && isNum(m.efficiency) ? m.efficiency : run.efficiency;
    if (isNum(eff)) {
      cards.push(card('efficiency', 'Efficiency', FMT.eff(eff), 'busiest stage\u2019s busy time / wall; 1.0 = it never waited', eff));
      verdict += ', efficiency ' + FMT.eff(eff);
    }
    var ku = get(run, 'traced.metrics.kernelUtilization.strict');
    if (isNum(ku)) {
      cards.push(card('kernel-util', 'Kernel utilisation (strict)', FMT.pct(ku), 'kernel busy / first-to-last kernel', ku));
    }
    headline(verdict + '.', cards);
  }

  // Bench: the compact table, grouped by configuration.
  function summaryTable() {
    var heads = ['mode', 'wall ms', 'vs serial', 'efficiency', 'kernel util', 'D2H GB/s', 'bottleneck'].concat(okPeers, ['']);
    var numeric = [false, true, true, true, true, true, false].concat(okPeers.map(function () { return true; }), [false]);
    var rows = [];
    groups.forEach(function (g) {
      rows.push(el('tr', { class: 'group' }, [el('td', { colspan: String(heads.length) }, [groupLabel(g) + ', ' + plural(g.chunks, 'chunk')])]));
      g.cells.forEach(function (c) {
        var sp = speedupOverSerial(c);
        var tds = [td(cellLabel(c)), num(c, 'stats.wallMs', 'ms'),
          el('td', { class: 'num' + (sp !== null && sp < 1 ? ' slow' : ''), 'data-speedup': sp === null ? '' : String(sp) },
            [sp === null ? '' : x2(sp)]),
          num(c, 'efficiency', 'eff'), num(c, 'traced.metrics.kernelUtilization.strict', 'pct'),
          num(c, 'stats.copyThroughput.wall', 'gbps'), td(STAGE_LABEL[bottleneckOf(c)] || '\u2013')];
        okPeers.forEach(function (p) { tds.push(num(c, 'peers.' + p + '.tandemSpeedup', 'x2')); });
        var btn = tlByCell[c.id] ? el('button', { class: 'tl', type: 'button', 'data-show': c.id, title: 'show this cell\u2019s timeline' }, ['view']) : null;
        tds.push(el('td', null, btn ? [btn] : []));
        rows.push(el('tr', { 'data-row': c.id, class: c === g.best ? 'best' : null }, tds));
      });
    });
    var t = table('summary-table', heads, rows, numeric);
    okPeers.forEach(function (p, i) { t.tHead.rows[0].cells[7 + i].setAttribute('title', p + ' wall / tandem wall: above 1, tandem was faster'); });
    document.getElementById('summary').appendChild(t);
    t.addEventListener('click', function (ev) {
      var id = ev.target && ev.target.getAttribute && ev.target.getAttribute('data-show');
      if (!id) return;
      pick(id);
      document.getElementById('timeline-heading').scrollIntoView({ behavior: 'smooth', block: 'start' });
    });
  }

  function detailsTable() {
    var cols = [
      ['wall ms', 'stats.wallMs', 'ms'], ['efficiency', 'efficiency', 'eff'], ['compute/copy measured', 'measuredRatio', 'ratio'],
      ['compute busy', 'traced.metrics.busyFraction.compute', 'pct'], ['copy busy', 'traced.metrics.busyFraction.copy', 'pct'],
      ['host busy', 'traced.metrics.busyFraction.sink', 'pct'], ['kernel util (strict)', 'traced.metrics.kernelUtilization.strict', 'pct'],
      ['NVML util', 'nvml.mean', 'nvml'], ['D2H GB/s', 'stats.copyThroughput.wall', 'gbps'], ['of pinned peak', 'copyOfPeak', 'pct'],
      ['trace \u00b5s/chunk', 'traceCostPerChunkUs', 'us']
    ];
    var rows = data.cells.map(function (c) {
      return el('tr', { 'data-row': c.id }, [td(groupLabel(cellGroup[c.id])), td(cellLabel(c)), num(c, 'chunks', 'int')]
        .concat(cols.map(function (col) { return num(c, col[1], col[2]); })));
    });
    document.getElementById('details-table').appendChild(table('figures-table',
      ['configuration', 'mode', 'chunks'].concat(cols.map(function (c) { return c[0]; })), rows,
      [false, false, true].concat(cols.map(function () { return true; }))));
  }

  function peersSection() {
    var box = document.getElementById('peers');
    if (!data.peers.length) { box.appendChild(el('p', null, ['No peer in these results (tandem bench runs them unless --no-peers).'])); return; }
    box.appendChild(el('ul', null, data.peers.map(function (p) {
      return el('li', { class: p.status }, [el('b', null, [p.name]), ' \u2014 ' + p.description + ': ' + p.status + (p.reason ? ' (' + p.reason + ')' : '')]);
    })));
    var rows = [];
    data.cells.forEach(function (c) {
      Object.keys(c.peers).forEach(function (p) {
        rows.push(el('tr', null, [td(groupLabel(cellGroup[c.id])), td(cellLabel(c)), td(p), num(c, 'peers.' + p + '.depth', 'int'),
          num(c, 'stats.wallMs', 'ms'), num(c, 'peers.' + p + '.wallMs', 'ms'), num(c, 'peers.' + p + '.efficiency', 'eff'),
          num(c, 'peers.' + p + '.tandemSpeedup', 'speedup'),
          num(c, 'peers.' + p + '.ratioRange.0', 'speedup'), num(c, 'peers.' + p + '.ratioRange.1', 'speedup')]));
      });
    });
    if (rows.length) box.appendChild(el('details', null, [el('summary', null, ['Every peer figure (' + plural(rows.length, 'row') + ')']),
      el('div', { class: 'scroll' }, [table('peer-table',
        ['configuration', 'tandem', 'peer', 'peer depth', 'tandem ms', 'peer ms', 'peer eff', 'peer / tandem', 'lowest round',
          'highest round'],
        rows, [false, false, false, true, true, true, true, true, true, true])])]));
  }

  // Timelines, decoded from the compact columns.
  function expand(ct) {
    function sum(d) { var acc = 0; return d.map(function (v) { acc += v; return acc; }); }
    function t(n) { return ct.t0 + n * ct.unit; }
    function spans(pair) { if (!pair) return null; var s = sum(pair[0]); return s.map(function (v, i) { return [t(v), t(v + pair[1][i])]; }); }
    var index = sum(ct.index), slot = sum(ct.slot), ds = ct.deviceSlot ? sum(ct.deviceSlot) : null;
    var up = spans(ct.upload), cm = spans(ct.compute), cp = spans(ct.copy), sk = spans(ct.sink);
    var eC = sum(ct.enqueuedCompute), eCp = sum(ct.enqueuedCopy);
    return {
      cellId: ct.cellId, label: ct.label, mode: ct.mode, depth: ct.depth, truncatedFrom: ct.truncatedFrom, utilization: ct.utilization || [],
      timeline: index.map(function (ix, i) {
        var o = { index: ix, slot: slot[i], compute: cm[i], copy: cp[i], sink: sk[i], enqueuedCompute: t(eC[i]), enqueuedCopy: t(eCp[i]) };
        if (ds) o.deviceSlot = ds[i];
        if (up) o.upload = up[i];
        return o;
      })
    };
  }
  var tlRecs = compact.map(expand), tlByCell = {};
  tlRecs.forEach(function (r) { tlByCell[r.cellId] = r; });
  window.tandemTimelines = tlRecs;
  var cellById = {};
  data.cells.forEach(function (c) { cellById[c.id] = c; });

  var LABEL_W = 104, LANE = 22, AXIS = 40;
  var tip = el('div', { id: 'tip', hidden: '' });
  document.body.appendChild(tip);
  var views = [], view = { a: 0, b: 1 }, fullSpan = 1;
  function ticks(a, b, n) {
    var span = b - a, step = Math.pow(10, Math.floor(Math.log10(span / n)));
    [1, 2, 5, 10].some(function (m) { if (span / (step * m) <= n) { step *= m; return true; } return false; });
    var out = [];
    for (var t = Math.ceil(a / step) * step; t <= b + step * 1e-9; t += step) out.push(t);
    return { list: out, step: step };
  }
  function makeView(rec, caption) {
    var t0 = Infinity, t1 = -Infinity;
    rec.timeline.forEach(function (c) {
      STAGES.forEach(function (s) { if (c[s]) { t0 = Math.min(t0, c[s][0]); t1 = Math.max(t1, c[s][1]); } });
      t0 = Math.min(t0, c.enqueuedCompute, c.enqueuedCopy);
    });
    if (!isFinite(t0)) return null;
    var lanes = ['host'].concat(STAGES.filter(function (s) { return rec.timeline.some(function (c) { return c[s]; }); }));
    if (rec.utilization.length) lanes.push('util');
    var kernels = rec.timeline.map(function (c) { return c.compute; }).slice().sort(function (a, b) { return a[0] - b[0]; });
    var gaps = [];
    for (var i = 1; i < kernels.length; i++) if (kernels[i][0] - kernels[i - 1][1] > 0.002) gaps.push([kernels[i - 1][1], kernels[i][0]]);
    var h = 10 + LANE * lanes.length + AXIS;
    var canvas = el('canvas', { class: 'timeline', 'data-cell': rec.cellId, height: String(h) });
    var fig = el('figure', null, [
      el('figcaption', null, [caption + (rec.truncatedFrom ? ' (first ' + rec.timeline.length + ' of ' + rec.truncatedFrom + ' chunks)' : '')]),
      canvas]);
    var v = { rec: rec, t0: t0, dur: t1 - t0, lanes: lanes, gaps: gaps, canvas: canvas, fig: fig, laneY: {} };
    wire(v);
    return v;
  }
  function draw(v) {
    var c = v.canvas, dpr = window.devicePixelRatio || 1;
    var w = c.clientWidth || 600, h = +c.getAttribute('height');
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); c.style.height = h + 'px';
    var g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = '#fff'; g.fillRect(0, 0, w, h);
    var plotW = w - LABEL_W - 10;
    var X = function (t) { return LABEL_W + (t - view.a) / (view.b - view.a) * plotW; };
    var clipX = function (x) { return Math.max(LABEL_W, Math.min(LABEL_W + plotW, x)); };
    g.font = '12px system-ui, sans-serif'; g.textBaseline = 'middle';
    var y = 8;
    v.lanes.forEach(function (lane) {
      v.laneY[lane] = y;
      g.fillStyle = '#222'; g.textAlign = 'left';
      g.fillText(lane === 'host' ? 'host enqueue' : lane === 'util' ? 'NVML util' : STAGE_LABEL[lane], 6, y + 10);
      g.fillStyle = '#f7f8f9'; g.fillRect(LABEL_W, y, plotW, LANE - 2);
      if (lane === 'host') {
        // Enqueue instants: the kernel's in the upper half, the copy's in the lower.
        v.rec.timeline.forEach(function (ch) {
          var a = ch.enqueuedCompute - v.t0, b = ch.enqueuedCopy - v.t0;
          if (a >= view.a && a <= view.b) { g.fillStyle = COLORS.compute; g.fillRect(Math.round(X(a)), y + 1, 2, 9); }
          if (b >= view.a && b <= view.b) { g.fillStyle = COLORS.copy; g.fillRect(Math.round(X(b)), y + 10, 2, 9); }
        });
      } else if (lane === 'util') {
        g.strokeStyle = COLORS.util; g.beginPath();
        v.rec.utilization.forEach(function (s, i) {
          var px = clipX(X(s.t - v.t0)), py = y + LANE - 3 - s.gpu / 100 * (LANE - 4);
          if (i) g.lineTo(px, py); else g.moveTo(px, py);
        });
        g.stroke();
      } else {
        v.rec.timeline.forEach(function (ch) {
          var s = ch[lane];
          if (!s) return;
          var a = s[0] - v.t0, b = s[1] - v.t0;
          if (b < view.a || a > view.b) return;
          var x0 = clipX(X(a)), x1 = clipX(X(b));
          g.fillStyle = COLORS[lane];
          g.globalAlpha = ch.index % 2 ? 0.62 : 1;
          g.fillRect(x0, y + 1, Math.max(1, x1 - x0), LANE - 6);
        });
        g.globalAlpha = 1;
        if (lane === 'compute') {
          g.fillStyle = COLORS.gap;
          v.gaps.forEach(function (gp) {
            var a = gp[0] - v.t0, b = gp[1] - v.t0;
            if (b < view.a || a > view.b) return;
            var x0 = clipX(X(a));
            g.fillRect(x0, y + LANE - 5, Math.max(1, clipX(X(b)) - x0), 3);
          });
        }
      }
      y += LANE;
    });
    // Time axis: ticks, values and the axis title with its unit.
    g.strokeStyle = '#888'; g.beginPath(); g.moveTo(LABEL_W, y + 1.5); g.lineTo(LABEL_W + plotW, y + 1.5); g.stroke();
    g.fillStyle = '#444'; g.textAlign = 'center';
    var tk = ticks(view.a, view.b, Math.max(2, Math.floor(plotW / 80)));
    var digits = Math.max(0, -Math.floor(Math.log10(tk.step)));
    tk.list.forEach(function (t) { var px = X(t); g.fillRect(px, y + 1, 1, 5); g.fillText(t.toFixed(digits), px, y + 14); });
    g.fillStyle = '#333'; g.fillText('time since the run\u2019s first event (ms)', LABEL_W + plotW / 2, y + 30);
  }
  function drawAll() { views.forEach(draw); }
  function resetView() { view.a = 0; view.b = fullSpan; }
  function wire(v) {
    var c = v.canvas, drag = null;
    var plotW = function (r) { return r.width - LABEL_W - 10; };
    var tAt = function (ev) { var r = c.getBoundingClientRect(); return view.a + (ev.clientX - r.left - LABEL_W) / plotW(r) * (view.b - view.a); };
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
        var dt = (ev.clientX - drag.x) / plotW(r) * (drag.b - drag.a);
        view.a = drag.a - dt; view.b = drag.b - dt; drawAll(); tip.hidden = true; return;
      }
      var t = tAt(ev) + v.t0, yy = ev.clientY - r.top, hit = null, tol = (view.b - view.a) / plotW(r) * 2;
      Object.keys(v.laneY).forEach(function (lane) {
        if (yy < v.laneY[lane] || yy > v.laneY[lane] + LANE) return;
        v.rec.timeline.forEach(function (ch) {
          if (lane === 'host') {
            if (Math.abs(ch.enqueuedCompute - t) <= tol) {
              hit = { text: 'host enqueued kernel #' + ch.index + ' at ' + (ch.enqueuedCompute - v.t0).toFixed(3) + ' ms ' +
                '(it started ' + (ch.compute[0] - ch.enqueuedCompute).toFixed(3) + ' ms later)' };
            } else if (Math.abs(ch.enqueuedCopy - t) <= tol) {
              hit = { text: 'host enqueued copy #' + ch.index + ' at ' + (ch.enqueuedCopy - v.t0).toFixed(3) + ' ms ' +
                '(it started ' + (ch.copy[0] - ch.enqueuedCopy).toFixed(3) + ' ms later)' };
            }
            return;
          }
          var s = ch[lane];
          if (s && s[0] <= t && t <= s[1]) {
            hit = { text: STAGE_LABEL[lane] + ' #' + ch.index + ' (slot ' + ch.slot + '): ' +
              (s[1] - s[0]).toFixed(3) + ' ms, from ' + (s[0] - v.t0).toFixed(3) + ' ms' };
          }
        });
      });
      if (!hit) { tip.hidden = true; return; }
      tip.hidden = false;
      tip.textContent = hit.text;
      tip.style.left = Math.min(ev.pageX + 12, document.documentElement.clientWidth - 330) + 'px'; tip.style.top = ev.pageY + 14 + 'px';
    });
    c.addEventListener('mouseleave', function () { tip.hidden = true; });
    c.addEventListener('dblclick', function () { resetView(); drawAll(); });
  }

  var tlBox = document.getElementById('timelines');
  var picker = null;
  /** Shows a cell's timeline and, for an overlap cell, its configuration's serial one on the same time scale. */
  function pick(id) {
    var rec = tlByCell[id];
    if (!rec) return;
    if (picker) picker.value = id;
    tlBox.textContent = '';
    views = [];
    var c = cellById[id], g = c && cellGroup[id];
    var main = makeView(rec, c
      ? (KIND === 'bench'
        ? cellLabel(c) + ' \u2014 ' + groupLabel(g) + (c.traced ? ': traced run ' + c.traced.wallMs.toFixed(2) + ' ms' : '') +
          ' (untraced ' + c.stats.wallMs.toFixed(2) + ' ms)'
        : cellLabel(c) + ', ' + c.stats.wallMs.toFixed(2) + ' ms (this traced run)')
      : rec.label);
    if (main) views.push(main);
    if (c && c.mode !== 'serial' && g && g.serial && tlByCell[g.serial.id]) {
      var sv = makeView(tlByCell[g.serial.id], 'serial, same configuration, same time scale' +
        (g.serial.traced ? ': traced run ' + g.serial.traced.wallMs.toFixed(2) + ' ms' : '') +
        ' (untraced ' + g.serial.stats.wallMs.toFixed(2) + ' ms)');
      if (sv) views.push(sv);
    }
    views.forEach(function (v) { tlBox.appendChild(v.fig); });
    fullSpan = Math.max.apply(null, views.map(function (v) { return v.dur; }).concat([1e-3]));
    resetView();
    Array.prototype.forEach.call(document.querySelectorAll('#summary-table tr[data-row]'), function (tr) {
      tr.classList.toggle('picked', tr.getAttribute('data-row') === id);
    });
    tlBox.setAttribute('data-showing', id);
    drawAll();
  }
  function timelineSection() {
    var legend = document.getElementById('timeline-legend');
    if (!tlRecs.length) {
      legend.hidden = true;
      legend.nextElementSibling.hidden = true;
      tlBox.appendChild(el('p', null, ['No traced run in these results: the timeline needs one (bench without --no-trace, render with --report).']));
      return;
    }
    var shown = STAGES.filter(function (s) { return tlRecs.some(function (r) { return r.timeline.some(function (c) { return c[s]; }); }); });
    shown.forEach(function (s) { legend.appendChild(el('span', null, [el('i', { style: 'background:' + COLORS[s] }), STAGE_LABEL[s]])); });
    legend.appendChild(el('span', null, [el('i', { style: 'background:' + COLORS.gap + ';height:3px;vertical-align:2px' }), 'compute idle gap']));
    legend.appendChild(el('span', null, [
      el('i', { style: 'background:linear-gradient(' + COLORS.compute + ' 50%,' + COLORS.copy + ' 50%);width:3px' }),
      'host enqueue: kernel / copy']));
    var row = document.getElementById('picker-row');
    var first = null;
    if (tlRecs.length > 1 || KIND === 'bench') {
      picker = el('select', { id: 'timeline-picker', 'aria-label': 'cell whose timeline is shown' });
      var seen = {};
      groups.forEach(function (g) {
        var og = el('optgroup', { label: groupLabel(g) });
        g.cells.forEach(function (c) {
          if (!tlByCell[c.id]) return;
          seen[c.id] = true;
          og.appendChild(el('option', { value: c.id }, [cellLabel(c) + ' \u2014 ' + c.stats.wallMs.toFixed(2) + ' ms' + (c === g.best ? ' (best)' : '')]));
          if (!first && c === g.best) first = c.id;
        });
        if (og.childNodes.length) picker.appendChild(og);
      });
      tlRecs.forEach(function (r) { if (!seen[r.cellId]) picker.appendChild(el('option', { value: r.cellId }, [r.label])); });
      row.appendChild(el('label', { for: 'timeline-picker' }, ['Cell: ']));
      row.appendChild(picker);
      row.appendChild(el('span', { class: 'hint' }, [plural(tlRecs.length, 'traced cell') + '; an overlap cell is shown above its serial counterpart']));
      picker.addEventListener('change', function () { pick(picker.value); });
    }
    pick(first || tlRecs[0].cellId);
    window.addEventListener('resize', drawAll);
  }

  // Compute idle gaps: totals by cause, overlap and serial apart, with each cell's largest on demand.
  function gapsSection() {
    var box = document.getElementById('gaps');
    var traced = data.cells.filter(function (c) { return c.traced; });
    if (!traced.length) { box.appendChild(el('p', null, ['No traced run: gaps need the per-chunk timeline.'])); return; }
    var kinds = KIND === 'bench'
      ? [['overlap', function (c) { return c.mode !== 'serial'; }], ['serial', function (c) { return c.mode === 'serial'; }]]
      : [['this run', function () { return true; }]];
    kinds = kinds.filter(function (k) { return traced.some(k[1]); });
    var causes = Object.keys(CAUSES).filter(function (k) { return traced.some(function (c) { return c.traced.metrics.gaps.byCause[k] > 0; }); });
    var tot = kinds.map(function (k) {
      var cs = traced.filter(k[1]), t = { all: 0, wall: 0, cells: cs.length };
      cs.forEach(function (c) {
        var gm = c.traced.metrics.gaps;
        t.all += gm.totalMs;
        t.wall += c.traced.wallMs;
        causes.forEach(function (k2) { t[k2] = (t[k2] || 0) + gm.byCause[k2]; });
      });
      return t;
    });
    if (!causes.length) {
      box.appendChild(el('p', null,
        ['The compute engine never sat idle between kernels (no gap over 2 \u00b5s) in ' + plural(traced.length, 'traced run') + '.']));
    }
    else {
      var heads = ['cause'].concat(kinds.map(function (k) { return k[0] + ' ms (share)'; }), ['what it means']);
      var rows = causes.map(function (k) {
        return el('tr', { 'data-cause': k }, [td(k)].concat(kinds.map(function (kk, i) {
          var v = tot[i][k] || 0;
          return td(v.toFixed(3) + (tot[i].all > 0 ? ' (' + (v / tot[i].all * 100).toFixed(0) + '%)' : ''), 'num');
        }), [el('td', { style: 'white-space:normal' }, [CAUSES[k]])]));
      });
      rows.push(el('tr', null, [el('td', null, [el('b', null, ['all'])])].concat(kinds.map(function (kk, i) {
        return td(tot[i].all.toFixed(3) + ' (' + (tot[i].all / Math.max(tot[i].wall, 1e-9) * 100).toFixed(1) + '% of wall)', 'num');
      }), [td('over ' + kinds.map(function (kk, i) { return plural(tot[i].cells, kk[0] + ' run'); }).join(', ') + ', traced')])));
      box.appendChild(el('div', { class: 'scroll' }, [table('gap-causes', heads, rows, [false].concat(kinds.map(function () { return true; }), [false]))]));
    }
    var per = traced.filter(function (c) { return c.traced.metrics.gaps.count > 0; });
    if (!per.length) return;
    var inner = per.map(function (c) {
      var gm = c.traced.metrics.gaps;
      var main = Object.keys(gm.byCause).filter(function (k) { return gm.byCause[k] > 0; }).sort(function (a, b) { return gm.byCause[b] - gm.byCause[a]; });
      var head = (KIND === 'bench' ? groupLabel(cellGroup[c.id]) + ', ' : '') + cellLabel(c) + ': ' + plural(gm.count, 'gap') + ', ' +
        gm.totalMs.toFixed(3) + ' ms, largest ' + gm.maxMs.toFixed(3) + ' ms \u2014 ' +
        main.map(function (k) { return k + ' ' + gm.byCause[k].toFixed(3) + ' ms'; }).join(', ');
      return el('details', { class: 'gap-cell', 'data-cell': c.id }, [el('summary', null, [head]), el('div', { class: 'scroll' }, [table(null,
        ['between chunks', 'ms', 'cause', 'copy busy ms', 'host busy ms', 'upload busy ms'],
        gm.largest.slice(0, 8).map(function (gp) {
          return el('tr', null, [td('#' + gp.afterChunk + ' \u2192 #' + gp.beforeChunk), td(gp.ms.toFixed(3), 'num'), td(gp.cause),
            td(gp.during.copy.toFixed(3), 'num'), td(gp.during.sink.toFixed(3), 'num'), td(gp.during.upload.toFixed(3), 'num')]);
        }), [false, true, false, true, true, true])])]);
    });
    if (per.length === 1) {
      inner[0].querySelector('summary').insertBefore(document.createTextNode('Largest gaps \u2014 '), inner[0].querySelector('summary').firstChild);
      box.appendChild(inner[0]);
    } else {
      box.appendChild(el('details', { id: 'gap-cells' },
        [el('summary', null, ['Largest gaps of each cell (' + plural(per.length, 'cell') + ' with gaps)'])].concat(inner)));
    }
  }

  // Charts: efficiency against the compute/copy ratio and against the chunk size (bench), each
  // job's wall in order (jobs), drawn at the width of their box (again on resize) with both axes titled.
  var charts = [];
  var PALETTE = ['#2f7d32', '#1f6fb2', '#c77c0e', '#8e6bbf', '#d32f2f', '#00838f', '#6d4c41', '#ad1457'];
  /**
   * A chart's frame at its box's width: grid, axes, tick values and both axis titles. spec: title,
   * xrange and yrange ([low, high]), xticks ([[x, label]]; else whole numbers across xrange, by xfmt),
   * xlabel (xshort where narrow), ylabel. Returns the svg and the x and y scales.
   */
  function chartFrame(box, spec) {
    var W = Math.max(260, box.clientWidth || 420), H = 250, L = 56, R = 14, T = 10, B = 48, PAD = 16;
    var x0 = spec.xrange[0], x1 = spec.xrange[1], ymin = spec.yrange[0], ymax = spec.yrange[1];
    var root = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'chart', role: 'img', 'aria-label': spec.title });
    var X = function (x) { return L + PAD + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (W - L - R - 2 * PAD); };
    var Y = function (y) { return T + (ymax - y) / (ymax - ymin) * (H - T - B); };
    var yt = ticks(ymin, ymax, 6), ydigits = Math.max(0, -Math.floor(Math.log10(yt.step)));
    yt.list.forEach(function (yv) {
      root.appendChild(svg('line', { x1: L, x2: W - R, y1: Y(yv), y2: Y(yv), class: 'grid' }));
      root.appendChild(svg('text', { x: L - 6, y: Y(yv) + 4, 'text-anchor': 'end' }, yv.toFixed(ydigits)));
    });
    root.appendChild(svg('line', { x1: L, x2: L, y1: T, y2: H - B, class: 'axis' }));
    root.appendChild(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'axis' }));
    var xt = spec.xticks || ticks(x0, x1, Math.max(1, Math.min(x1 - x0, Math.floor((W - L - R) / 60)))).list
      .map(function (v) { return [v, spec.xfmt(v)]; });
    xt.forEach(function (t) { root.appendChild(svg('text', { x: X(t[0]), y: H - B + 16, 'text-anchor': 'middle' }, t[1])); });
    root.appendChild(svg('text', { x: L + (W - L - R) / 2, y: H - 8, 'text-anchor': 'middle', class: 'axis-label x-label' },
      W < 440 && spec.xshort ? spec.xshort : spec.xlabel));
    root.appendChild(svg('text', {
      x: 0, y: 0, 'text-anchor': 'middle', class: 'axis-label y-label', transform: 'translate(14,' + (T + (H - T - B) / 2) + ') rotate(-90)'
    }, spec.ylabel));
    return { root: root, X: X, Y: Y, left: L, right: W - R };
  }
  /** A series' line and its points ([x, y]), each point tagged with its series and values, its tip from tip(point). */
  function plotSeries(f, s, col, tip) {
    f.root.appendChild(svg('polyline', {
      points: s.points.map(function (p) { return f.X(p[0]) + ',' + f.Y(p[1]); }).join(' '),
      fill: 'none', stroke: col, 'stroke-width': s.width || 2, 'stroke-dasharray': s.dashed ? '5 4' : 'none'
    }));
    s.points.forEach(function (p) {
      var dot = svg('circle', { cx: f.X(p[0]), cy: f.Y(p[1]), r: s.r || 3.5, fill: col, 'data-series': s.name, 'data-x': p[0], 'data-y': p[1] });
      dot.appendChild(svg('title', {}, tip(p)));
      f.root.appendChild(dot);
    });
  }
  function lineChart(box, spec) {
    var xs = spec.xs, ys = [];
    spec.series.forEach(function (s) { s.points.forEach(function (p) { ys.push(p[1]); }); });
    var f = chartFrame(box, {
      title: spec.title, xlabel: spec.xlabel, xshort: spec.xshort, ylabel: 'efficiency (ideal / wall)',
      xrange: [0, xs.length - 1], xticks: xs.map(function (x, i) { return [i, spec.xfmt(x)]; }),
      yrange: [Math.min(0.5, Math.floor((Math.min.apply(null, ys) - 0.02) * 10) / 10),
        Math.max(1.0, Math.ceil(Math.max.apply(null, ys) * 20) / 20) + 0.02]
    });
    var scaled = { root: f.root, Y: f.Y, X: function (x) { return f.X(xs.indexOf(x)); } };
    spec.series.forEach(function (s, i) {
      var pts = s.points.slice().sort(function (a, b) { return xs.indexOf(a[0]) - xs.indexOf(b[0]); });
      plotSeries(scaled, { name: s.name, points: pts, dashed: s.dashed }, PALETTE[i % PALETTE.length],
        function (p) { return s.name + ' at ' + spec.xfmt(p[0]) + ': ' + FMT.eff(p[1]); });
    });
    return f.root;
  }
  /** A legend entry: a dashed or solid line, or a dot, in the series' colour. */
  function legendItem(col, name, style) {
    var mark = style === 'dashed' ? 'height:0;border-top:2px dashed ' + col
      : style === 'dot' ? 'width:9px;height:9px;border-radius:50%;background:' + col : 'height:3px;vertical-align:2px;background:' + col;
    return el('span', null, [el('i', { style: mark }), name]);
  }
  /** The charts (spec: title, legend entries) as figures in box, drawn by draw(holder, spec) now and on resize. */
  function showCharts(box, specs, draw) {
    specs.forEach(function (spec) {
      var holder = el('div', { class: 'plot' });
      spec.fig = el('figure', { class: 'chart-fig', 'data-chart': spec.id },
        [el('figcaption', null, [spec.title]), holder, el('div', { class: 'legend' }, spec.legend)]);
      spec.holder = holder;
      box.appendChild(spec.fig);
    });
    function drawCharts() { specs.forEach(function (spec) { spec.holder.textContent = ''; spec.holder.appendChild(draw(spec.holder, spec)); }); }
    drawCharts();
    var last = 0;
    window.addEventListener('resize', function () { var w = box.clientWidth; if (w !== last) { last = w; drawCharts(); } });
  }
  function collect(filter, xOf) {
    var m = {}, order = [];
    function add(key, dashed, x, y) {
      if (!m[key]) { m[key] = { name: key, points: [], dashed: dashed }; order.push(key); }
      if (!m[key].points.some(function (q) { return q[0] === x; })) m[key].points.push([x, y]);
    }
    data.cells.filter(filter).forEach(function (c) {
      if (isNum(c.efficiency)) add(cellLabel(c), false, xOf(c), c.efficiency);
      Object.keys(c.peers).forEach(function (p) {
        var e = c.peers[p].efficiency;
        if (isNum(e)) add(p + (c.mode === 'serial' ? '' : ' d' + c.depth), true, xOf(c), e);
      });
    });
    return order.map(function (k) { return m[k]; });
  }
  function chartsSection() {
    var box = document.getElementById('charts');
    var ratios = uniq(data.cells.map(function (c) { return c.ratio; }).filter(function (r) { return r !== null; })).sort(function (a, b) { return a - b; });
    var sizes = uniq(data.cells.map(function (c) { return c.chunkBytes; })).sort(function (a, b) { return a - b; });
    if (ratios.length > 1) sizes.forEach(function (sz) {
      charts.push({
        title: 'Efficiency vs compute/copy ratio, ' + fmtBytes(sz) + ' chunks', xs: ratios, xfmt: String,
        xlabel: 'compute/copy time ratio asked (kernel time / D2H time)', xshort: 'compute/copy ratio (kernel / D2H)',
        series: collect(function (c) { return c.chunkBytes === sz && c.ratio !== null; }, function (c) { return c.ratio; })
      });
    });
    if (sizes.length > 1) (ratios.length ? ratios : [null]).forEach(function (r) {
      charts.push({
        title: 'Efficiency vs chunk size' + (r === null ? '' : ', compute/copy ' + r), xs: sizes, xfmt: fmtBytes, xlabel: 'chunk size',
        series: collect(function (c) { return c.ratio === r; }, function (c) { return c.chunkBytes; })
      });
    });
    if (!charts.length) { box.appendChild(el('p', null, ['One ratio and one chunk size: no sweep to chart.'])); return; }
    charts.forEach(function (spec) {
      spec.legend = spec.series.map(function (s, i) { return legendItem(PALETTE[i % PALETTE.length], s.name, s.dashed ? 'dashed' : 'line'); });
    });
    showCharts(box, charts, lineChart);
  }

  // Jobs mode: per cell (chunks × chunk size) the steady jobs against the ideal and the faster peer,
  // the first job after reserve(), jobs/s, and each job's wall in order.
  var jobCells = get(data, 'jobs.cells') || [];
  var jobPeerNames = uniq([].concat.apply([], jobCells.map(function (c) { return Object.keys(c.peers); })));
  var JOB_COLORS = { tandem: PALETTE[1], first: PALETTE[4], ideal: '#444', peers: [PALETTE[2], PALETTE[3], PALETTE[5]] };
  /** The peers with figures in a cell: those that ran. */
  function ranPeers(c) { return jobPeerNames.filter(function (p) { return c.peers[p] && isNum(c.peers[p].medianMs); }); }
  function jobsHeadline() {
    if (!jobCells.length) { headline('No cells in these results.', []); return; }
    var cards = [];
    /** A figure of every cell: its range as the card's value (the median in data-value), each cell's in the detail. */
    function perCell(metric, label, key, f, what) {
      var cs = jobCells.filter(function (c) { return isNum(c[key]); }), vals = cs.map(function (c) { return c[key]; });
      if (!vals.length) return null;
      cards.push(card(metric, label, rangeText(vals, f), cs.map(function (c) { return c.key + ' ' + f(c[key]); }).join(', ') + '; ' + what,
        median(vals)));
      return rangeText(vals, f);
    }
    var vi = perCell('vs-ideal', 'Steady job / ideal', 'vsIdeal', FMT.speedup, 'steady median / the chunks copied alone');
    var vp = perCell('vs-peer', 'Steady job / faster peer', 'vsFasterPeer', FMT.speedup,
      'tandem\u2019s steady median / the faster peer\u2019s; below 1: tandem faster');
    if (!vp) {
      var st = jobPeerNames.map(function (p) {
        var pc = jobCells.filter(function (c) { return c.peers[p]; })[0].peers[p];
        return { name: p, status: pc.status || 'ok', reason: pc.reason };
      });
      cards.push(card('peers', 'Steady job / faster peer', 'peers did not run', whyNoPeers(st), null));
    }
    var fv = perCell('first-vs-ideal', 'First job after reserve() / ideal', 'firstVsIdeal', FMT.speedup,
      'the first job\u2019s wall (the median of its trim() + reserve() cycles) / the chunks copied alone');
    perCell('idle-vs-peer', 'Job after idle time / faster peer', 'afterIdleVsFasterPeer', FMT.speedup,
      'tandem\u2019s median job after the host slept, the GPU idle / the faster peer\u2019s; below 1: tandem faster');
    var jr = perCell('jobs-per-sec', 'Jobs per second', 'jobsPerSec', FMT.int, 'steady jobs / the sum of their walls');
    headline('steady jobs take ' + vi + ' the ideal (the cell\u2019s chunks copied alone), the first job after reserve() ' + fv +
      '; ' + (vp ? vp + ' the faster peer\u2019s median' : 'peers did not run') + '; ' + jr + ' jobs/s.', cards);
  }
  function jobsTables() {
    var heads = ['job', 'depth', 'tandem median / p99 / first / idle ms', 'jobs/s'].concat(jobPeerNames,
      ['ideal ms', '/peer', '/ideal', 'first/ideal', 'idle/peer']);
    function times(c, prefix) {
      return el('td', { class: 'num' }, [num(c, prefix + 'medianMs', 'ms', 'span'), ' / ', num(c, prefix + 'p99Ms', 'ms', 'span'), ' / ',
        num(c, prefix + 'firstMs', 'ms', 'span'), ' / ', num(c, prefix + 'afterIdleMs', 'ms', 'span')]);
    }
    var rows = jobCells.map(function (c) {
      var tds = [td(c.key), num(c, 'depth', 'int'), times(c, ''), num(c, 'jobsPerSec', 'int')];
      jobPeerNames.forEach(function (p) {
        var pc = c.peers[p];
        tds.push(pc && isNum(pc.medianMs) ? times(c, 'peers.' + p + '.')
          : el('td', { class: 'num', title: pc && pc.reason, 'data-peer': p }, [pc ? pc.status : '\u2013']));
      });
      return el('tr', { 'data-row': c.key }, tds.concat([num(c, 'idealMs', 'ms'), num(c, 'vsFasterPeer', 'speedup'), num(c, 'vsIdeal', 'speedup'),
        num(c, 'firstVsIdeal', 'speedup'), num(c, 'afterIdleVsFasterPeer', 'speedup')]));
    });
    var t = table('jobs-table', heads, rows, heads.map(function (h, i) { return i > 0; }));
    jobPeerNames.forEach(function (p, i) { t.tHead.rows[0].cells[4 + i].setAttribute('title', p + ': median / p99 / first / idle ms'); });
    document.getElementById('jobs').appendChild(t);
    var pool = jobCells.map(function (c) {
      return el('tr', { 'data-row': c.key }, [td(c.key), num(c, 'd2hGBps', 'gbs'), num(c, 'pool.bytesPinned', 'bytes'),
        num(c, 'pool.bytesDevice', 'bytes'), num(c, 'pool.pinnedHits', 'int'), num(c, 'pool.pinnedMisses', 'int')]);
    });
    document.getElementById('pool').appendChild(table('pool-table',
      ['job', 'D2H GB/s (copy alone)', 'pinned held after', 'device held after', 'pinned hits (all jobs)', 'pinned misses (all jobs)'],
      pool, [false, true, true, true, true, true]));
  }
  function jobsChart(box, spec) {
    var c = spec.cell, walls = c.wallsMs || [];
    var levels = [{ name: 'ideal', y: c.idealMs, col: JOB_COLORS.ideal }].concat(spec.peers.map(function (p, i) {
      return { name: p, y: c.peers[p].medianMs, col: JOB_COLORS.peers[i % JOB_COLORS.peers.length], dashed: true };
    }));
    var top = Math.max.apply(null, walls.concat([c.firstMs], levels.map(function (l) { return l.y; })));
    var f = chartFrame(box, {
      title: spec.title, xrange: [0, Math.max(1, walls.length)], yrange: [0, top * 1.1], xfmt: String, ylabel: 'job wall (ms)',
      xlabel: 'job, in the order run (0: the first after reserve())', xshort: 'job (0: first after reserve())'
    });
    levels.forEach(function (l) {
      f.root.appendChild(svg('line', {
        x1: f.left, x2: f.right, y1: f.Y(l.y), y2: f.Y(l.y), stroke: l.col, 'stroke-width': 1.5, 'stroke-dasharray': l.dashed ? '5 4' : 'none',
        class: 'level', 'data-series': l.name, 'data-y': l.y
      }));
    });
    plotSeries(f, { name: 'tandem', points: walls.map(function (w, i) { return [i + 1, w]; }), r: walls.length > 60 ? 2 : 3.5, width: 1.5 },
      JOB_COLORS.tandem, function (p) { return 'job ' + p[0] + ': ' + FMT.ms(p[1]) + ' ms'; });
    plotSeries(f, { name: 'first', points: [[0, c.firstMs]], r: 4.5 }, JOB_COLORS.first,
      function (p) { return 'first job after reserve(): ' + FMT.ms(p[1]) + ' ms'; });
    return f.root;
  }
  function jobsCharts() {
    var box = document.getElementById('charts');
    if (!jobCells.length) { box.appendChild(el('p', null, ['No cells in these results.'])); return; }
    showCharts(box, jobCells.map(function (c) {
      var peers = ranPeers(c);
      return {
        id: c.key, cell: c, peers: peers, title: c.key + ': ' + plural(c.chunks, 'chunk') + ' of ' + fmtBytes(c.chunkBytes) + ', depth ' + c.depth,
        legend: [legendItem(JOB_COLORS.tandem, 'tandem, steady jobs (median ' + FMT.ms(c.medianMs) + ' ms)', 'line'),
          legendItem(JOB_COLORS.first, 'first job after reserve()', 'dot'),
          legendItem(JOB_COLORS.ideal, 'ideal, the chunks copied alone (' + FMT.ms(c.idealMs) + ' ms)', 'line')]
          .concat(peers.map(function (p, i) {
            return legendItem(JOB_COLORS.peers[i % JOB_COLORS.peers.length], p + ' median (' + FMT.ms(c.peers[p].medianMs) + ' ms)', 'dashed');
          }))
      };
    }), jobsChart);
  }

  // One run: stage times, and the run's settings.
  function stagesSection() {
    var box = document.getElementById('stages');
    if (!run) return;
    var src = run.traced ? 'traced.metrics.' : null;
    var rows = STAGES.filter(function (s) { return isNum(src ? get(run, src + 'busyMs.' + s) : get(run, 'stats.stages.' + s + '.busyMs')); }).map(function (s) {
      var key = src ? src + 'busyMs.' + s : 'stats.stages.' + s + '.busyMs', busy = get(run, key);
      var tds = [td(STAGE_LABEL[s] + (s === bottleneckOf(run) ? ' (bottleneck)' : '')), num(run, key, 'ms')];
      tds.push(src ? num(run, src + 'busyFraction.' + s, 'pct') : td(FMT.pct(busy / run.stats.wallMs), 'num'));
      tds.push(td(run.chunks ? (busy / run.chunks).toFixed(3) : '\u2013', 'num'));
      return el('tr', { 'data-stage': s, class: s === bottleneckOf(run) ? 'best' : null }, tds);
    });
    rows.push(el('tr', null, [td('wall'), num(run, 'stats.wallMs', 'ms'), td('100.0%', 'num'),
      td(run.chunks ? (run.stats.wallMs / run.chunks).toFixed(3) : '\u2013', 'num')]));
    if (rows.length === 1) box.appendChild(el('p', null, ['Stage busy times need a traced run.']));
    box.appendChild(table('stage-table', ['stage', 'busy ms', 'share of wall', 'ms per chunk'], rows, [false, true, true, true]));
  }
  function runConfig() {
    var dl = document.getElementById('run-config');
    function add(k, v) { dl.appendChild(el('dt', null, [k])); dl.appendChild(el('dd', null, [v])); }
    if (run) {
      add('workload', run.workload + (get(run, 'params.describe') ? ' \u2014 ' + run.params.describe : ''));
      add('pipeline', cellLabel(run) + ' (' + run.stats.depth + ' pinned slots, ' + run.stats.deviceSlots + ' with device buffers)');
      if (run.stats.depthReason) add('depth chosen', run.stats.depthReason);
      add('output', fmtBytes(run.stats.bytesOut) + ' off the GPU in ' + plural(run.chunks, 'chunk'));
    }
    Object.keys(data.config).forEach(function (k) {
      var v = data.config[k];
      if (v === null || v === undefined || k === 'report' || k === 'workloadName') return;
      add(k === 'kind' ? 'output kind' : k, typeof v === 'object'
        ? Object.keys(v).map(function (kk) { return kk + ' ' + (typeof v[kk] === 'object' ? JSON.stringify(v[kk]) : v[kk]); }).join(', ')
        : String(v));
    });
    if (data.command && data.command.length) add('command', data.command.join(' '));
  }

  if (KIND === 'bench') {
    benchHeadline();
    summaryTable();
    detailsTable();
    timelineSection();
    chartsSection();
    peersSection();
    gapsSection();
  } else if (KIND === 'jobs') {
    jobsHeadline();
    jobsTables();
    jobsCharts();
  } else {
    runHeadline();
    stagesSection();
    timelineSection();
    runConfig();
    gapsSection();
  }
  var notes = document.getElementById('notes');
  data.notes.forEach(function (n) { notes.appendChild(el('li', null, [n])); });
  document.body.setAttribute('data-rendered', 'true');
})();
`;
