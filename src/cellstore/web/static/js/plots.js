// Plots drawn with uPlot (loaded as the global `uPlot` by index.html): canvas, fast on the few
// thousand points the downsampled /series endpoint answers for any size of test.

import { get } from "./api.js";
import { fmtNumber, h, replace } from "./dom.js";

const COLORS = ["#1f5fbf", "#d9480f", "#2b8a3e", "#7048e8"];

function plotHeight(small) {
  const phone = window.innerWidth < 700;
  if (small) return phone ? 180 : 220;
  return phone ? 240 : 340;
}

// A uPlot in `container`, resized with it and destroyed when the view goes away.
function makePlot(container, opts, data, signal, small = false) {
  const width = Math.max(240, container.clientWidth || 600);
  const plot = new uPlot({ width, height: plotHeight(small), ...opts }, data, container);
  let lastWidth = width;
  const observer = new ResizeObserver(() => {
    const now = container.clientWidth;
    if (now > 0 && Math.abs(now - lastWidth) > 2) {
      lastWidth = now;
      plot.setSize({ width: now, height: plotHeight(small) });
    }
  });
  observer.observe(container);
  signal?.addEventListener("abort", () => {
    observer.disconnect();
    plot.destroy();
  });
  return plot;
}

const valueText = (u, v) => (v === null || v === undefined ? "–" : fmtNumber(v, 5));

// Join series of different x (each [xs, ys]) into uPlot's aligned columns, gaps as undefined.
function aligned(tables) {
  return tables.length === 1 ? tables[0] : uPlot.join(tables);
}

function dropNullX(xs, ys) {
  const outX = [];
  const outY = [];
  for (let i = 0; i < xs.length; i += 1) {
    if (xs[i] !== null && xs[i] !== undefined) {
      outX.push(xs[i]);
      outY.push(ys[i]);
    }
  }
  return [outX, outY];
}

function timeUnit(spanSeconds) {
  if (spanSeconds <= 600) return { factor: 1, label: "Time [s]" };
  if (spanSeconds <= 3 * 3600) return { factor: 60, label: "Time [min]" };
  return { factor: 3600, label: "Time [h]" };
}

const AXIS_LABELS = { "Voltage [V]": "V", "Current [A]": "A" };

// Voltage and current against time over the whole test; drag to zoom in (the window is fetched
// again at full resolution), double-click or "Reset zoom" to see everything again.
export async function timeSeriesPlot(container, info, id, signal) {
  let columns = ["Voltage [V]", "Current [A]"];
  const maxPoints = () => Math.min(4000, Math.max(400, Math.round((container.clientWidth || 600) * 2)));

  async function fetchWindow(start, end) {
    try {
      return await get(`/cell_measurements/${id}/series`, { y: columns, max_points: maxPoints(), start, end }, signal);
    } catch (error) {
      // A series without current still plots its voltage.
      if (columns.length > 1 && (error.status === 400 || error.status === 404) && /Current/.test(error.message)) {
        columns = ["Voltage [V]"];
        return fetchWindow(start, end);
      }
      throw error;
    }
  }

  const first = await fetchWindow();
  const xs0 = first.series[columns[0]][first.x].filter((v) => v !== null);
  const unit = timeUnit(xs0.length ? xs0[xs0.length - 1] - xs0[0] : 0);

  const toData = (answer) =>
    aligned(
      columns.map((c) => {
        const [xs, ys] = dropNullX(answer.series[c][answer.x], answer.series[c][c]);
        return [xs.map((x) => x / unit.factor), ys];
      }),
    );
  const describe = (answer, zoomed) => {
    const shown = Math.max(...columns.map((c) => answer.series[c][c].length));
    const rows = answer.row_end - answer.row_start;
    const how = answer.source === "overview" ? "from the precomputed overview" : "from the rows";
    replace(
      info,
      `${fmtNumber(shown)} points of ${rows.toLocaleString()} rows${zoomed ? " in this window" : ""}, ${how}. `,
      h("span", { class: "muted" }, "Drag across the plot to zoom in; double-click to zoom out."),
    );
  };

  let sequence = 0;
  async function zoom(x0, x1) {
    const mine = ++sequence;
    try {
      const answer = await fetchWindow(x0 * unit.factor, x1 * unit.factor);
      if (mine !== sequence) return;
      plot.setData(toData(answer), false);
      describe(answer, true);
    } catch (error) {
      if (error.name !== "AbortError") replace(info, h("span", { class: "error" }, error.message));
    }
  }
  async function reset() {
    const mine = ++sequence;
    try {
      const answer = await fetchWindow();
      if (mine !== sequence) return;
      plot.setData(toData(answer), true);
      describe(answer, false);
    } catch (error) {
      if (error.name !== "AbortError") replace(info, h("span", { class: "error" }, error.message));
    }
  }

  const opts = {
    scales: { x: { time: false }, V: { auto: true }, A: { auto: true } },
    series: [
      { label: unit.label, value: valueText },
      ...columns.map((c, i) => ({
        label: c,
        scale: AXIS_LABELS[c],
        stroke: COLORS[i],
        width: 1.5,
        spanGaps: true,
        value: valueText,
        points: { show: false },
      })),
    ],
    axes: [
      { label: unit.label },
      { scale: "V", label: "Voltage [V]" },
      columns.length > 1 ? { scale: "A", side: 1, label: "Current [A]", grid: { show: false } } : null,
    ].filter(Boolean),
    cursor: {
      drag: { x: true, y: false, setScale: true },
      bind: {
        dblclick: () => () => {
          reset();
          return null;
        },
      },
    },
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width > 2) {
            zoom(u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x"));
          }
        },
      ],
    },
  };
  const plot = makePlot(container, opts, toData(first), signal);
  describe(first, false);
  return { plot, reset };
}

// A flat series (an efficiency of 100 % every cycle) gets a narrow axis around its value rather
// than uPlot's wide default.
function steadyRange(u, min, max) {
  if (min === null || max === null) return [0, 1];
  if (max - min > 1e-9 * Math.max(1, Math.abs(max))) return uPlot.rangeNum(min, max, 0.1, true);
  const pad = Math.max(Math.abs(max) * 0.02, 1e-6);
  return [min - pad, max + pad];
}

const CYCLE_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000];

const CYCLE_GROUPS = [
  {
    title: "Capacity",
    axis: "Capacity [A.h]",
    columns: [
      ["Discharge capacity [A.h]", "Discharge"],
      ["Charge capacity [A.h]", "Charge"],
    ],
  },
  {
    title: "Energy",
    axis: "Energy [W.h]",
    columns: [
      ["Discharge energy [W.h]", "Discharge"],
      ["Charge energy [W.h]", "Charge"],
    ],
  },
  {
    title: "Efficiency",
    axis: "Efficiency [%]",
    percent: true,
    columns: [
      ["Coulombic efficiency", "Coulombic"],
      ["Energy efficiency", "Energy"],
    ],
  },
  {
    title: "Retention",
    axis: "Retention [%]",
    percent: true,
    columns: [
      ["Capacity retention", "Capacity"],
      ["Energy retention", "Energy"],
    ],
  },
];

// Capacity, energy, coulombic efficiency and retention against cycle.
export function cyclePlots(container, cycles, signal) {
  const x = cycles["Cycle count"] || [];
  const grid = h("div", { class: "plot-grid" });
  replace(container, grid);
  for (const group of CYCLE_GROUPS) {
    // All zero is what a series without energy columns gives: nothing to show either.
    const present = group.columns.filter(([c]) => (cycles[c] || []).some((v) => v !== null && v !== undefined && v !== 0));
    const figure = h("figure", { class: "small-plot", "data-plot": group.title }, h("figcaption", {}, group.title));
    grid.append(figure);
    if (!x.length || !present.length) {
      figure.append(h("p", { class: "muted" }, `No ${group.title.toLowerCase()} data in this series.`));
      continue;
    }
    const box = h("div", { class: "plot" });
    figure.append(box);
    const scale = group.percent ? 100 : 1;
    const data = [x, ...present.map(([c]) => cycles[c].map((v) => (v === null ? null : v * scale)))];
    const opts = {
      scales: { x: { time: false }, y: { range: steadyRange } },
      series: [
        { label: "Cycle", value: valueText },
        ...present.map(([, label], i) => ({
          label,
          stroke: COLORS[i],
          width: 1.5,
          value: valueText,
          points: { show: true, size: 5, fill: COLORS[i] },
          // Charge often lies on discharge: dashed, so that both stay visible.
          dash: i ? [6, 4] : undefined,
        })),
      ],
      axes: [{ label: "Cycle", incrs: CYCLE_TICKS }, { label: group.axis }],
    };
    makePlot(box, opts, data, signal, true);
  }
}

// dQ/dV against voltage of one cycle's charge and discharge.
export async function dqdvPlot(container, id, cycle, signal) {
  const answer = await get(`/cell_measurements/${id}/analysis/dqdv`, { cycle }, signal);
  const parts = [
    ["charge", "Charge"],
    ["discharge", "Discharge"],
  ].filter(([key]) => (answer[key]?.["Voltage [V]"] || []).length);
  replace(container);
  if (!parts.length) {
    container.append(h("p", { class: "muted" }, `Cycle ${cycle} has no charge or discharge to differentiate.`));
    return null;
  }
  const data = aligned(parts.map(([key]) => [answer[key]["Voltage [V]"], answer[key]["dQ/dV [A.h/V]"]]));
  const opts = {
    scales: { x: { time: false } },
    series: [
      { label: "Voltage [V]", value: valueText },
      ...parts.map(([, label], i) => ({
        label,
        stroke: COLORS[i],
        width: 1.5,
        spanGaps: true,
        value: valueText,
        points: { show: false },
      })),
    ],
    axes: [{ label: "Voltage [V]" }, { label: "dQ/dV [A.h/V]" }],
  };
  return makePlot(container, opts, data, signal);
}
