/* The dashboard's little JavaScript: the charts (Chart.js, vendored), the patient page's parts
   that come from other services, the progress of an export, and a time zone field set to the
   browser's. Every page works without it:
   the charts have tables beside them, the parts have links, the export page can be reloaded. */
(function () {
  "use strict";

  var COLOURS = {
    nrs: "#0a58a8",
    relief: "#7a3e00",
    band: "rgba(40, 120, 60, 0.22)",
    bandLine: "rgba(40, 120, 60, 0.6)",
    flare: "rgba(164, 22, 26, 0.08)",
    flareText: "#7a1013",
    injection: "#4d4d4d",
    published: "#a4161a",
  };

  function data(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function point(x, y, extra) {
    var value = { x: x, y: y };
    if (extra) {
      Object.keys(extra).forEach(function (key) { value[key] = extra[key]; });
    }
    return value;
  }

  /* Shades the weeks of the expected post-injection flare and marks each injection. */
  var flarePlugin = {
    id: "flareWindows",
    beforeDatasetsDraw: function (chart, args, options) {
      var windows = options.windows || [];
      if (!windows.length) { return; }
      var x = chart.scales.x;
      var area = chart.chartArea;
      var ctx = chart.ctx;
      ctx.save();
      windows.forEach(function (start, index) {
        var left = Math.max(x.getPixelForValue(start), area.left);
        var right = Math.min(x.getPixelForValue(start + options.weeks), area.right);
        if (right > left) {
          ctx.fillStyle = COLOURS.flare;
          ctx.fillRect(left, area.top, right - left, area.bottom - area.top);
        }
        ctx.strokeStyle = COLOURS.injection;
        ctx.setLineDash([2, 3]);
        ctx.beginPath();
        ctx.moveTo(left, area.top);
        ctx.lineTo(left, area.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        if (index === 0 || start - windows[index - 1] >= options.weeks) {
          ctx.fillStyle = COLOURS.flareText;
          ctx.font = "12px system-ui, sans-serif";
          ctx.fillText("expected flare", left + 4, area.top + 14);
        }
      });
      ctx.restore();
    },
  };

  function baseOptions(xTitle) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      parsing: { xAxisKey: "x", yAxisKey: "y" },
      interaction: { mode: "nearest", intersect: false },
      plugins: {
        legend: {
          labels: {
            usePointStyle: true,
            filter: function (item, chartData) {
              return !chartData.datasets[item.datasetIndex].hideInLegend;
            },
          },
        },
      },
      scales: {
        x: { type: "linear", title: { display: true, text: xTitle } },
      },
    };
  }

  function patientCharts() {
    var chartData = data("patient-chart-data");
    if (!chartData || !window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart='patient']").forEach(function (canvas) {
      var course = chartData.courses[Number(canvas.dataset.course)];
      if (!course) { return; }
      var options = baseOptions("Weeks since the first injection");
      options.scales.nrs = {
        type: "linear", position: "left", min: 0, max: 10,
        title: { display: true, text: "NRS (0-10)" },
      };
      options.scales.relief = {
        type: "linear", position: "right",
        title: { display: true, text: "Relief from baseline (%)" },
        grid: { drawOnChartArea: false },
      };
      options.plugins.flareWindows = { windows: course.injection_weeks, weeks: course.flare_weeks };
      new window.Chart(canvas, {
        type: "line",
        data: {
          datasets: [
            {
              label: "Typical band, Q1",
              hideInLegend: true,
              data: course.band.map(function (w) { return point(w.week, w.q1, { n: w.n }); }),
              yAxisID: "relief",
              borderColor: COLOURS.bandLine,
              borderWidth: 1,
              pointRadius: 0,
              fill: false,
            },
            {
              label: "Typical band (Q1-Q3 of comparable courses)",
              data: course.band.map(function (w) { return point(w.week, w.q3, { n: w.n }); }),
              yAxisID: "relief",
              borderColor: COLOURS.bandLine,
              backgroundColor: COLOURS.band,
              borderWidth: 1,
              pointRadius: 0,
              pointStyle: "rect",
              fill: "-1",
            },
            {
              label: "Relief from baseline (%)",
              data: course.weeks
                .filter(function (w) { return w.percent_change !== null; })
                .map(function (w) { return point(w.week, w.percent_change); }),
              yAxisID: "relief",
              borderColor: COLOURS.relief,
              backgroundColor: COLOURS.relief,
              borderDash: [6, 4],
              pointStyle: "triangle",
              pointRadius: 4,
            },
            {
              label: "Mean NRS (weekly)",
              data: course.weeks.map(function (w) { return point(w.week, w.nrs, { scores: w.scores }); }),
              yAxisID: "nrs",
              borderColor: COLOURS.nrs,
              backgroundColor: COLOURS.nrs,
              pointStyle: "circle",
              pointRadius: 4,
              borderWidth: 2,
            },
          ],
        },
        options: options,
        plugins: [flarePlugin],
      });
    });
  }

  function cohortCharts() {
    var chartData = data("cohort-chart-data");
    if (!chartData || !window.Chart) { return; }
    var curveCanvas = document.getElementById("cohort-curve");
    if (curveCanvas) {
      var options = baseOptions("Weeks since the first injection");
      options.scales.y = { title: { display: true, text: "Relief from baseline (%)" } };
      options.plugins.tooltip = {
        callbacks: {
          afterLabel: function (item) { return "n = " + item.raw.n; },
        },
      };
      new window.Chart(curveCanvas, {
        type: "line",
        data: {
          datasets: [
            {
              label: "Q1",
              hideInLegend: true,
              data: chartData.curve.map(function (p) { return point(p.week, p.q1, { n: p.n }); }),
              borderColor: COLOURS.bandLine,
              borderWidth: 1,
              pointRadius: 0,
              fill: false,
            },
            {
              label: "Interquartile range (Q1-Q3)",
              data: chartData.curve.map(function (p) { return point(p.week, p.q3, { n: p.n }); }),
              borderColor: COLOURS.bandLine,
              backgroundColor: COLOURS.band,
              borderWidth: 1,
              pointRadius: 0,
              pointStyle: "rect",
              fill: "-1",
            },
            {
              label: "Median relief",
              data: chartData.curve.map(function (p) { return point(p.week, p.median, { n: p.n }); }),
              borderColor: COLOURS.nrs,
              backgroundColor: COLOURS.nrs,
              pointRadius: 3,
              borderWidth: 2,
            },
          ],
        },
        options: options,
      });
    }
    var kmCanvas = document.getElementById("durability-chart");
    if (kmCanvas) {
      var start = [point(0, 100, { at_risk: null })];
      var curve = start.concat(chartData.durability.map(function (p) {
        return point(p.months, p.percent, { at_risk: p.at_risk });
      }));
      var low = start.concat(chartData.durability.map(function (p) { return point(p.months, p.ci_low); }));
      var high = start.concat(chartData.durability.map(function (p) { return point(p.months, p.ci_high); }));
      var datasets = [
        { label: "95 % low", hideInLegend: true, data: low, stepped: true, borderWidth: 0, pointRadius: 0, fill: false },
        {
          label: "95 % interval", data: high, stepped: true, borderWidth: 0, pointRadius: 0,
          backgroundColor: COLOURS.band, pointStyle: "rect", fill: "-1",
        },
        {
          label: "This cohort: still keeping relief", data: curve, stepped: true,
          borderColor: COLOURS.nrs, backgroundColor: COLOURS.nrs, borderWidth: 2, pointRadius: 0,
        },
      ];
      chartData.published.forEach(function (b, index) {
        var shape = index === 0 ? "rectRot" : "crossRot";
        datasets.push({
          label: b.label + ": " + b.figure + " %" + (b.n ? " (n = " + b.n + ")" : ""),
          type: "line",
          data: [point(b.months, b.figure)],
          borderColor: COLOURS.published,
          backgroundColor: COLOURS.published,
          pointStyle: shape,
          pointRadius: 7,
          showLine: false,
        });
        if (b.ci_low !== null && b.ci_high !== null) {
          datasets.push({
            label: b.label + " 95 % interval",
            hideInLegend: true,
            data: [point(b.months, b.ci_low), point(b.months, b.ci_high)],
            borderColor: COLOURS.published,
            borderWidth: 2,
            pointRadius: 0,
          });
        }
      });
      var kmOptions = baseOptions("Months since the first injection");
      kmOptions.scales.y = { min: 0, max: 100, title: { display: true, text: "Still keeping relief (%)" } };
      kmOptions.scales.x.min = 0;
      new window.Chart(kmCanvas, { type: "line", data: { datasets: datasets }, options: kmOptions });
    }
  }

  function fragments() {
    document.querySelectorAll("[data-fragment]").forEach(function (box) {
      fetch(box.dataset.fragment, {
        credentials: "same-origin",
        headers: { "X-Dashboard-Fragment": "1" },
      })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.text();
        })
        .then(function (html) { box.innerHTML = html; })
        .catch(function () {
          var note = document.createElement("p");
          note.className = "notice";
          note.textContent = "This part could not be loaded. Use the link to open it on its own.";
          box.insertBefore(note, box.firstChild);
        })
        .then(function () { box.setAttribute("aria-busy", "false"); });
    });
  }

  function exportProgress() {
    var box = document.querySelector("[data-export-status]");
    if (!box) { return; }
    var bar = box.querySelector("progress");
    var fields = {};
    box.querySelectorAll("[data-field]").forEach(function (el) { fields[el.dataset.field] = el; });
    var download = document.getElementById("export-download");
    function poll() {
      fetch(box.dataset.exportStatus, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (state) {
          bar.value = state.percent;
          bar.textContent = state.percent + " %";
          fields.status.textContent = state.status_text;
          fields.percent.textContent = state.percent;
          fields.done.textContent = state.done;
          fields.total.textContent = state.total;
          if (state.download) {
            download.querySelector("a").href = state.download;
            download.hidden = false;
          }
          if (state.status === "queued" || state.status === "running") {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  }

  /* A time zone field starts at the browser's own zone, when the list has it. */
  function browserZone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    document.querySelectorAll("select[data-browser-zone]").forEach(function (select) {
      if (!select.dataset.chosen && zone && select.querySelector("option[value='" + zone + "']")) {
        select.value = zone;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    browserZone();
    patientCharts();
    cohortCharts();
    fragments();
    exportProgress();
  });
})();
