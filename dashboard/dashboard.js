/* Pitchey dashboard: polls the pool's metrics (JSON) and plots the last
 * 15 minutes with uPlot.  Rates and percentiles are computed per poll
 * interval from the differences of the pool's counters and histogram
 * buckets, so a spike shows when it happens instead of being averaged into
 * the totals since start.  Nothing leaves the page but requests to the
 * service itself.
 *
 * Each chart marks its element with data-drawn (draws so far) and
 * data-values (finite values plotted) from uPlot's draw hook, so a test
 * (and a curious operator) can tell a chart that drew data from an empty
 * one. */
(function () {
  'use strict';
  var body = document.body;
  var API = body.getAttribute('data-api') || '/api/metrics?format=json';
  var POLL_MS = +body.getAttribute('data-poll-ms') || 2000;
  var WINDOW_S = +body.getAttribute('data-window-s') || 900;
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                 '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#637939', '#8c6d31', '#843c39'];

  var prev = null;          /* the last JSON answer */
  var buckets = null;       /* upper bounds in seconds */
  var charts = {};          /* name -> { el, plot, series: [labels], data: [[x], [..]...] } */
  var latency = {};         /* route ('' = all) -> { p50: [], p95: [], p99: [] }, aligned with latencyX */
  var latencyX = [];
  var failures = 0;

  function $(sel) { return document.querySelector(sel); }

  function setStatus(kind, text) {
    var el = $('#status');
    el.className = 'status ' + kind;
    el.textContent = text;
  }

  /* Same estimate as the service's histogram_quantile(): linear inside
   * the bucket holding the rank; +Inf answers the largest bound. */
  function quantile(counts, q) {
    var total = 0, i;
    for (i = 0; i < counts.length; i++) total += counts[i];
    if (total <= 0) return null;
    var rank = q * total, below = 0;
    for (i = 0; i < buckets.length; i++) {
      if (counts[i] > 0 && below + counts[i] >= rank) {
        var lower = i === 0 ? 0 : buckets[i - 1];
        return lower + (buckets[i] - lower) * Math.max(0, (rank - below) / counts[i]);
      }
      below += counts[i];
    }
    return buckets[buckets.length - 1];
  }

  function diffArray(a, b) {
    var out = [];
    for (var i = 0; i < a.length; i++) out.push(Math.max(0, a[i] - (b ? b[i] : 0)));
    return out;
  }

  function rate(now, then, dt) { return dt > 0 ? Math.max(0, now - then) / dt : null; }

  function countValues(data) {
    var n = 0;
    for (var s = 1; s < data.length; s++)
      for (var i = 0; i < data[s].length; i++)
        if (data[s][i] != null && isFinite(data[s][i])) n++;
    return n;
  }

  function maxValue(data) {
    var m = null;
    for (var s = 1; s < data.length; s++)
      for (var i = 0; i < data[s].length; i++)
        if (data[s][i] != null && isFinite(data[s][i]) && (m === null || data[s][i] > m)) m = data[s][i];
    return m;
  }

  function plotWidth(el) { return Math.max(260, el.clientWidth || 400); }

  function fmt(unit) {
    return function (u, v) {
      if (v == null) return '–';
      if (unit === 'ms') return v.toFixed(v < 1 ? 3 : 1) + ' ms';
      if (unit === '%') return v.toFixed(1) + ' %';
      if (unit === '/s') return v.toFixed(1) + '/s';
      return String(Math.round(v));
    };
  }

  /* (Re)creates a chart when its set of series changes. */
  function ensureChart(name, labels, unit) {
    var c = charts[name];
    if (c && c.labels.join('\n') === labels.join('\n')) return c;
    var fig = document.querySelector('[data-chart="' + name + '"]');
    var el = fig.querySelector('.plot');
    if (c && c.plot) c.plot.destroy();
    var data = [c ? c.data[0].slice() : []];
    labels.forEach(function (l) {
      var old = c ? c.labels.indexOf(l) : -1;
      data.push(old >= 0 ? c.data[old + 1].slice() : data[0].map(function () { return null; }));
    });
    var series = [{}];
    labels.forEach(function (l, i) {
      series.push({ label: l, stroke: PALETTE[i % PALETTE.length], width: 1.5,
                    spanGaps: false, value: fmt(unit) });
    });
    var opts = {
      width: plotWidth(el), height: 220, series: series,
      scales: { x: { time: true }, y: { range: function (u, min, max) {
        return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [{}, { size: 60, values: function (u, vals) {
        return vals.map(function (v) { return unit === 'ms' ? v + ' ms' : unit === '%' ? v + '%' : v; }); } }],
      legend: { live: true },
      hooks: { draw: [function (u) {
        fig.setAttribute('data-drawn', String(+(fig.getAttribute('data-drawn') || 0) + 1));
        fig.setAttribute('data-values', String(countValues(u.data)));
        var m = maxValue(u.data);
        fig.setAttribute('data-max', m === null ? '' : String(m));
      }] }
    };
    c = { el: el, fig: fig, labels: labels, unit: unit, data: data,
          plot: new uPlot(opts, data, el) };
    charts[name] = c;
    return c;
  }

  /* Appends one point (values in label order) and drops what is older
   * than the window. */
  function push(name, labels, unit, t, values) {
    var c = ensureChart(name, labels, unit);
    c.data[0].push(t);
    for (var i = 0; i < labels.length; i++) c.data[i + 1].push(values[i]);
    var cut = 0;
    while (cut < c.data[0].length && c.data[0][cut] < t - WINDOW_S) cut++;
    if (cut) c.data = c.data.map(function (a) { return a.slice(cut); });
    c.plot.setData(c.data);
  }

  function routeTraffic(r) { return r.requests; }

  function updateLatency(t, cur, old) {
    latencyX.push(t);
    var all = null;
    cur.routes.forEach(function (r, i) {
      var h = diffArray(r.histogram, old.routes[i] && old.routes[i].histogram);
      all = all ? all.map(function (v, k) { return v + h[k]; }) : h.slice();
      var l = latency[r.route] || (latency[r.route] = { p50: [], p95: [], p99: [] });
      l.p50.push(ms(quantile(h, 0.5)));
      l.p95.push(ms(quantile(h, 0.95)));
      l.p99.push(ms(quantile(h, 0.99)));
    });
    var a = latency[''] || (latency[''] = { p50: [], p95: [], p99: [] });
    a.p50.push(ms(all && quantile(all, 0.5)));
    a.p95.push(ms(all && quantile(all, 0.95)));
    a.p99.push(ms(all && quantile(all, 0.99)));
    var cut = 0;
    while (cut < latencyX.length && latencyX[cut] < t - WINDOW_S) cut++;
    if (cut) {
      latencyX = latencyX.slice(cut);
      Object.keys(latency).forEach(function (k) {
        ['p50', 'p95', 'p99'].forEach(function (p) { latency[k][p] = latency[k][p].slice(cut); });
      });
    }
    drawLatency();
  }

  function ms(s) { return s == null ? null : s * 1000; }

  function drawLatency() {
    var route = $('#latency-route').value;
    var l = latency[route] || { p50: [], p95: [], p99: [] };
    var c = ensureChart('latency', ['p50', 'p95', 'p99'], 'ms');
    var pad = function (a) { /* a route first seen later has fewer points */
      var n = latencyX.length - a.length; return n > 0 ? new Array(n).fill(null).concat(a) : a; };
    c.data = [latencyX.slice(), pad(l.p50), pad(l.p95), pad(l.p99)];
    c.plot.setData(c.data);
  }

  function fillRouteSelect(routes) {
    var sel = $('#latency-route');
    if (sel.options.length > 1) return;
    routes.forEach(function (r) {
      var o = document.createElement('option');
      o.value = r.route; o.textContent = r.route;
      sel.appendChild(o);
    });
    sel.addEventListener('change', drawLatency);
  }

  function summary(cur, dt, reqRate, errRate) {
    var items = [
      ['requests/s', reqRate == null ? '–' : reqRate.toFixed(1)],
      ['5xx/s', errRate == null ? '–' : errRate.toFixed(2)],
      ['workers', cur.workers.alive + ' (' + cur.workers.busy + ' busy)'],
      ['restarts', cur.workers.restarts],
      ['cache hit', pct(cur.cache.hit, cur.cache.hit + cur.cache.miss + cur.cache.stale + cur.cache.bypass)],
      ['db circuits open', cur.db.circuits_open],
      ['rooms', cur.rooms && cur.rooms.up ? cur.rooms.connections + ' conn.' : 'unreachable']
    ];
    var s = $('#summary');
    s.textContent = '';
    items.forEach(function (it) {
      var d = document.createElement('div');
      var b = document.createElement('b'); b.textContent = String(it[1]);
      var sm = document.createElement('small'); sm.textContent = it[0];
      d.appendChild(b); d.appendChild(sm); s.appendChild(d);
    });
  }

  function pct(a, total) { return total > 0 ? (100 * a / total).toFixed(1) + ' %' : '–'; }

  function sumClass(m, cls) {
    return m.routes.reduce(function (n, r) { return n + r.by_class[cls]; }, 0);
  }

  function update(cur) {
    buckets = cur.buckets_seconds;
    fillRouteSelect(cur.routes);
    var t = cur.time_ms / 1000;
    if (!prev) { /* the first answer is the baseline of the first rates */
      prev = cur;
      summary(cur, 0, null, null);
      return;
    }
    var dt = (cur.time_ms - prev.time_ms) / 1000;
    if (dt <= 0) return;
    /* A segment replaced by an upgrade restarts its counters: start over. */
    if (cur.requests < prev.requests) { prev = cur; return; }

    /* Routes that have seen traffic (a series appears with its first request). */
    var active = cur.routes.map(function (r, i) { return [r, prev.routes[i]]; })
      .filter(function (p) { return routeTraffic(p[0]) > 0; });
    push('requests', active.map(function (p) { return p[0].route; }), '/s', t, active.map(function (p) {
      return rate(routeTraffic(p[0]), p[1] ? routeTraffic(p[1]) : 0, dt);
    }));
    updateLatency(t, cur, prev);

    var c = cur.cache, p = prev.cache;
    var hit = c.hit - p.hit, miss = c.miss - p.miss, stale = c.stale - p.stale, bypass = c.bypass - p.bypass;
    var lookups = hit + miss + stale + bypass;
    push('cache', ['hit', 'stale', 'bypass'], '%', t, lookups > 0 ?
         [100 * hit / lookups, 100 * stale / lookups, 100 * bypass / lookups] : [null, null, null]);

    var dbh = diffArray(cur.db.time.histogram, prev.db.time.histogram);
    var dbCount = cur.db.time.count - prev.db.time.count;
    var dbAvg = dbCount > 0 ? 1000 * (cur.db.time.sum_seconds - prev.db.time.sum_seconds) / dbCount : null;
    push('postgres', ['average', 'p95'], 'ms', t, [dbAvg, ms(quantile(dbh, 0.95))]);

    var e5 = rate(sumClass(cur, '5xx'), sumClass(prev, '5xx'), dt);
    var e4 = rate(sumClass(cur, '4xx'), sumClass(prev, '4xx'), dt);
    var dbErr = function (m) { var e = m.db.errors; return e.query + e.timeout + e.unavailable + e.circuit_open; };
    push('errors', ['5xx', '4xx', 'Postgres errors', 'memcached errors'], '/s', t,
         [e5, e4, rate(dbErr(cur), dbErr(prev), dt), rate(cur.memcached.errors, prev.memcached.errors, dt)]);

    push('workers', ['alive', 'busy'], '', t, [cur.workers.alive, cur.workers.busy]);

    var r = cur.rooms, pr = prev.rooms;
    push('rooms', ['connections', 'deliveries/s'], '', t, r && r.up ?
         [r.connections, pr && pr.up ? rate(r.messages_out, pr.messages_out, dt) : null] : [null, null]);

    summary(cur, dt, rate(cur.requests, prev.requests, dt), e5);
    prev = cur;
  }

  function poll() {
    var started = Date.now();
    var ctl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, POLL_MS * 2) : null;
    fetch(API, { cache: 'no-store', signal: ctl ? ctl.signal : undefined })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status + (res.status === 403 ?
          ' (this address is not in [metrics] allow)' : ''));
        return res.json();
      })
      .then(function (m) {
        failures = 0;
        update(m);
        setStatus('ok', 'live · ' + new Date(m.time_ms).toLocaleTimeString());
      })
      .catch(function (err) {
        failures++;
        setStatus('down', 'cannot reach the service: ' + (err && err.message || err) +
                  ' · retrying every ' + POLL_MS / 1000 + ' s');
      })
      .then(function () {
        if (timer) clearTimeout(timer);
        setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
      });
  }

  window.addEventListener('resize', function () {
    Object.keys(charts).forEach(function (k) {
      var c = charts[k];
      c.plot.setSize({ width: plotWidth(c.el), height: 220 });
    });
  });
  if (typeof uPlot !== 'function') {
    setStatus('down', 'the charting library did not load (vendor/uplot)');
    return;
  }
  poll();
})();
