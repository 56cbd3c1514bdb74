/* faultline HTML report: draws each experiment's charts with uPlot from the
 * JSON in #faultline-data (written by internal/report). Everything it needs
 * is inlined in the page; it fetches nothing.
 *
 * window.__faultline exposes what was drawn (charts, their point counts,
 * errors) so the browser test can check the page without scraping pixels.
 */
(function () {
  'use strict';

  var state = { ready: false, charts: [], errors: [] };
  window.__faultline = state;
  var plotsByID = {};
  // xRanges reports each chart's visible time range, so a test can check
  // that zooming one chart zooms its experiment's others.
  state.xRanges = function () {
    return Object.keys(plotsByID).map(function (id) {
      var u = plotsByID[id];
      return { id: id, min: u.scales.x.min, max: u.scales.x.max };
    });
  };

  var COLORS = {
    p50: '#0969da', p90: '#54aeff', p99: '#8250df',
    ok: '#1a7f37', okFill: 'rgba(26,127,55,0.08)', err: '#cf222e', errFill: 'rgba(207,34,46,0.10)',
    axis: '#59636e', grid: '#eef1f4', tick: '#d1d9e0',
    phase: '#8c959f', abort: '#cf222e',
    pass: '#2da44e', fail: '#e5534b', part: '#d4a72c', none: '#eaeef2'
  };
  var FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "DejaVu Sans", sans-serif';
  var AXIS_MIN = 64;    // px: y axes of every chart share one width so the time axes line up
  var LANE_LABEL = 28;  // characters of a probe name shown on the lane axis

  function fmtClock(sec) {
    if (sec == null || !isFinite(sec)) return '—';
    var neg = sec < 0;
    sec = Math.abs(sec);
    var m = Math.floor(sec / 60);
    var s = sec - m * 60;
    var ss = (s < 10 ? '0' : '') + (Number.isInteger(s) ? s.toFixed(0) : s.toFixed(1));
    return (neg ? '-' : '') + m + ':' + ss;
  }

  function fmtNum(v, unit) {
    if (v == null || !isFinite(v)) return '—';
    var a = Math.abs(v);
    var s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
    return s + (unit || '');
  }

  function fmtLane(v) {
    if (v == null) return '—';
    if (v >= 1) return 'passed';
    if (v <= 0) return 'failed';
    return Math.round(v * 100) + '% passed';
  }

  function laneColor(v) {
    if (v >= 1) return COLORS.pass;
    if (v <= 0) return COLORS.fail;
    return COLORS.part;
  }

  function short(s) {
    return s.length > LANE_LABEL ? s.slice(0, LANE_LABEL - 1) + '…' : s;
  }

  // alpha turns '#rrggbb' into an rgba() fill.
  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }

  function textWidth(texts) {
    var ctx = document.createElement('canvas').getContext('2d');
    ctx.font = FONT;
    var w = 0;
    texts.forEach(function (t) { w = Math.max(w, ctx.measureText(t).width); });
    return Math.ceil(w);
  }

  function countPoints(data) {
    var n = 0;
    for (var i = 1; i < data.length; i++) {
      for (var j = 0; j < data[i].length; j++) {
        if (data[i][j] != null) n++;
      }
    }
    return n;
  }

  // clampX converts a time (s) to a canvas x inside the plotting area.
  function clampX(u, sec) {
    var x = u.valToPos(sec, 'x', true);
    return Math.min(Math.max(x, u.bbox.left), u.bbox.left + u.bbox.width);
  }

  // Fault windows as translucent bands under the data; instantaneous faults
  // (pod-kill and the like) as a thin line, so they are not invisible.
  function drawFaults(exp) {
    return function (u) {
      var ctx = u.ctx, b = u.bbox, px = uPlot.pxRatio;
      ctx.save();
      exp.faults.forEach(function (f) {
        var x0 = clampX(u, f.startSec), x1 = clampX(u, f.endSec);
        if (x1 - x0 < 2 * px) {
          ctx.fillStyle = alpha(f.color, 0.6);
          ctx.fillRect(x0 - px, b.top, 2 * px, b.height);
        } else {
          ctx.fillStyle = alpha(f.color, 0.13);
          ctx.fillRect(x0, b.top, x1 - x0, b.height);
        }
      });
      ctx.restore();
    };
  }

  // Phase boundaries as dashed lines with the phase's name, and the abort
  // as a solid red line, drawn over the data.
  function drawMarks(exp) {
    return function (u) {
      var ctx = u.ctx, b = u.bbox, px = uPlot.pxRatio;
      ctx.save();
      ctx.font = Math.round(11 * px) + 'px ' + FONT.replace(/^\d+px /, '');
      // save() kept whatever alignment uPlot last used for its axes.
      ctx.textAlign = 'left';
      ctx.textBaseline = 'bottom';
      ctx.lineWidth = px;
      ctx.setLineDash([4 * px, 3 * px]);
      ctx.strokeStyle = COLORS.phase;
      exp.phases.forEach(function (p, i) {
        var x = clampX(u, p.startSec);
        if (i > 0 || p.startSec > 0) {
          ctx.beginPath();
          ctx.moveTo(Math.round(x) + 0.5, b.top);
          ctx.lineTo(Math.round(x) + 0.5, b.top + b.height);
          ctx.stroke();
        }
        // Phase names sit in the padding above the plot, never over data.
        var x1 = clampX(u, p.endSec);
        var label = p.name;
        if (x1 - x > ctx.measureText(label).width + 8 * px) {
          ctx.fillStyle = COLORS.axis;
          ctx.fillText(label, x + 4 * px, b.top - 3 * px);
        }
      });
      if (exp.abort) {
        var xa = clampX(u, exp.abort.atSec);
        ctx.setLineDash([]);
        ctx.strokeStyle = COLORS.abort;
        ctx.lineWidth = 2 * px;
        ctx.beginPath();
        ctx.moveTo(xa, b.top);
        ctx.lineTo(xa, b.top + b.height);
        ctx.stroke();
      }
      ctx.restore();
    };
  }

  // Probe lanes: one row per probe, each bucket colored by how many of its
  // evaluations passed. Drawn directly on the canvas because a state
  // timeline is not a line; uPlot still owns axes, cursor, zoom and legend.
  function drawLanes(exp) {
    return function (u) {
      var ctx = u.ctx, px = uPlot.pxRatio;
      var lanes = exp.series.probes, t = exp.series.tSec, step = exp.stepSec, n = lanes.length;
      ctx.save();
      lanes.forEach(function (lane, i) {
        var hold = holdBuckets(lane.pass);
        var center = n - i - 0.5;
        var y0 = u.valToPos(center + 0.32, 'y', true), y1 = u.valToPos(center - 0.32, 'y', true);
        var x0 = clampX(u, 0), x1 = clampX(u, exp.endSec);
        ctx.fillStyle = COLORS.none;
        ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
        for (var j = 0; j < t.length; j++) {
          var v = lane.pass[j];
          if (v == null) continue;
          // A probe that runs every few seconds holds its state until its
          // next run; a longer silence shows as "not run".
          var k = j + 1;
          while (k < t.length && k - j < hold && lane.pass[k] == null) k++;
          var a = clampX(u, t[j]), c = clampX(u, Math.min(t[j] + (k - j) * step, exp.endSec));
          if (c <= a) continue;
          ctx.fillStyle = laneColor(v);
          // +px closes hairline seams between adjacent buckets.
          ctx.fillRect(a, y0, c - a + px, y1 - y0);
        }
      });
      ctx.restore();
    };
  }

  // holdBuckets is how many buckets a lane's state lasts: the probe's usual
  // interval between runs (the median gap), at least one bucket.
  function holdBuckets(col) {
    var gaps = [], last = -1;
    for (var i = 0; i < col.length; i++) {
      if (col[i] == null) continue;
      if (last >= 0) gaps.push(i - last);
      last = i;
    }
    if (!gaps.length) return 1;
    gaps.sort(function (a, b) { return a - b; });
    return gaps[Math.floor(gaps.length / 2)];
  }

  function baseOpts(exp, width, height, axisSize, ySeries) {
    var first = null, last = null, t = exp.centers;
    if (t.length) { first = t[0]; last = t[t.length - 1]; }
    return {
      width: width,
      height: height,
      // Room above the plot for the phase names.
      padding: [18, 14, 0, 0],
      cursor: { sync: { key: exp.id }, drag: { x: true, y: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: {
          time: false,
          // The whole run, 0 to end, when showing everything (uPlot asks
          // with the data's extent); the selection when zoomed.
          range: function (u, min, max) {
            if (min == null || max == null || (min <= first && max >= last)) return [0, exp.endSec];
            return [min, max];
          }
        }
      },
      axes: [
        {
          stroke: COLORS.axis, font: FONT, size: 30,
          grid: { stroke: COLORS.grid, width: 1 },
          ticks: { stroke: COLORS.tick, width: 1, size: 4 },
          // Clock-friendly steps (10 s, 1 min, 5 min…), not uPlot's decimal
          // ones, which would label an hour-long run at 8:20, 16:40….
          incrs: [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400],
          values: function (u, splits) { return splits.map(fmtClock); }
        },
        Object.assign({
          stroke: COLORS.axis, font: FONT, size: axisSize,
          grid: { stroke: COLORS.grid, width: 1 },
          ticks: { stroke: COLORS.tick, width: 1, size: 4 }
        }, ySeries.axis || {})
      ],
      series: [{ label: 'time', value: function (u, v) { return fmtClock(v); } }].concat(ySeries.series),
      hooks: {
        drawClear: [drawFaults(exp)],
        // Over uPlot's grid and series, under the phase marks.
        draw: (ySeries.over || []).concat([drawMarks(exp)])
      }
    };
  }

  function zeroBased(minTop) {
    return function (u, min, max) {
      if (max == null || !isFinite(max) || max <= 0) return [0, minTop];
      return [0, Math.max(minTop, max * 1.1)];
    };
  }

  function line(label, color, unit, extra) {
    return Object.assign({
      label: label, stroke: color, width: 1.5, spanGaps: false,
      value: function (u, v) { return fmtNum(v, unit); }
    }, extra || {});
  }

  function chartSpecs(exp) {
    var s = exp.series, x = exp.centers;
    var specs = [
      {
        kind: 'latency', height: 230,
        data: [x, s.p50Ms, s.p90Ms, s.p99Ms],
        ySeries: {
          series: [
            line('p50', COLORS.p50, ' ms'),
            line('p90', COLORS.p90, ' ms', { dash: [5, 3] }),
            line('p99', COLORS.p99, ' ms', { width: 2 })
          ]
        },
        scaleY: zeroBased(1)
      },
      {
        kind: 'throughput', height: 200,
        data: [x, s.okPerSec, s.errorsPerSec],
        ySeries: {
          series: [
            line('ok/s', COLORS.ok, '/s', { fill: COLORS.okFill }),
            line('errors/s', COLORS.err, '/s', { fill: COLORS.errFill })
          ]
        },
        scaleY: zeroBased(1)
      },
      {
        kind: 'errors', height: 170,
        data: [x, s.errorRatePct],
        ySeries: { series: [line('error rate', COLORS.err, '%', { fill: COLORS.errFill })] },
        scaleY: zeroBased(5)
      }
    ];
    var lanes = s.probes || [];
    if (lanes.length) {
      var n = lanes.length;
      var names = lanes.map(function (l) { return l.kind === 'consistency' ? l.name + ' (golden)' : l.name; });
      specs.push({
        kind: 'probes', height: 46 + 26 * n,
        data: [x].concat(lanes.map(function (l) { return l.pass; })),
        ySeries: {
          series: names.map(function (name, i) {
            return {
              label: name, stroke: COLORS.pass, width: 0,
              paths: function () { return null; }, points: { show: false },
              value: function (u, v) { return fmtLane(v); }
            };
          }),
          axis: {
            grid: { show: false }, ticks: { show: false },
            splits: function () { return names.map(function (_, i) { return n - i - 0.5; }); },
            values: function (u, splits) {
              return splits.map(function (v) { return short(names[Math.round(n - 0.5 - v)] || ''); });
            }
          },
          over: [drawLanes(exp)]
        },
        scaleY: function () { return [0, n]; },
        laneNames: names
      });
    }
    return specs;
  }

  function render(exp) {
    var s = exp.series;
    exp.stepSec = s.step / 1e9;
    // Lines plot each bucket at its middle; lanes use the edges.
    exp.centers = s.tSec.map(function (t) { return Math.round((t + exp.stepSec / 2) * 1000) / 1000; });
    var specs = chartSpecs(exp);
    var laneNames = [];
    specs.forEach(function (sp) { if (sp.laneNames) laneNames = sp.laneNames.map(short); });
    var axisSize = Math.max(AXIS_MIN, textWidth(laneNames) + 18);
    var plots = [];
    specs.forEach(function (sp) {
      var el = document.getElementById(exp.id + '-' + sp.kind);
      if (!el) return;
      try {
        var opts = baseOpts(exp, el.clientWidth || 800, sp.height, axisSize, sp.ySeries);
        opts.scales.y = { range: sp.scaleY };
        var u = new uPlot(opts, sp.data, el);
        var points = countPoints(sp.data);
        el.setAttribute('data-points', String(points));
        plots.push({ u: u, el: el, height: sp.height });
        plotsByID[el.id] = u;
        state.charts.push({ experiment: exp.id, name: exp.name, kind: sp.kind, points: points, width: u.width, height: u.height });
      } catch (e) {
        state.errors.push(exp.id + '/' + sp.kind + ': ' + (e && e.message ? e.message : String(e)));
        var msg = document.createElement('div');
        msg.className = 'chart-error';
        msg.textContent = 'This chart could not be drawn: ' + (e && e.message ? e.message : e);
        el.appendChild(msg);
        console.error(e);
      }
    });
    return plots;
  }

  function main() {
    var node = document.getElementById('faultline-data');
    var exps = JSON.parse(node.textContent);
    var plots = [];
    exps.forEach(function (exp) { plots = plots.concat(render(exp)); });

    // Charts follow the page width; redraw once the resizing settles.
    var pending = 0;
    window.addEventListener('resize', function () {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(function () {
        plots.forEach(function (p) {
          var w = p.el.clientWidth;
          if (w > 0 && w !== p.u.width) p.u.setSize({ width: w, height: p.height });
        });
      });
    });
    state.ready = true;
    document.documentElement.setAttribute('data-report-ready', 'true');
  }

  try {
    main();
  } catch (e) {
    state.errors.push(e && e.message ? e.message : String(e));
    console.error(e);
  }
})();
