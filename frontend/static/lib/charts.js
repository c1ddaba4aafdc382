// Plain SVG charts (no library): the per-label IoU bar chart of a segmentation branch.

const SVG = "http://www.w3.org/2000/svg";
const ROW = 24;
const LABEL_WIDTH = 120;
const VALUE_WIDTH = 52;
const LOW_IOU = 0.5;

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** Rows of the chart: [{name, value (0..1 or null), colour}] in taxonomy order. */
export function iouRows(perLabelIou, labels) {
  const colours = new Map((labels || []).map((label) => [label.name, label.colour]));
  return Object.entries(perLabelIou || {}).map(([name, value]) => ({
    name, value: value === null || value === undefined ? null : Number(value), colour: colours.get(name) || "#888888",
  }));
}

/** An IoU value for people: "0.83", or "n/a" for a label absent from the held-out set. */
export function formatIou(value) {
  return value === null ? "n/a" : value.toFixed(2);
}

/**
 * A horizontal bar chart of per-label IoU (0..1), one row per label with its colour swatch;
 * labels missing from the held-out annotations show "n/a". Returns an <svg> element.
 */
export function iouChart(perLabelIou, labels, { width = 520, title = "Per-label IoU on held-out annotations" } = {}) {
  const rows = iouRows(perLabelIou, labels);
  const barWidth = width - LABEL_WIDTH - VALUE_WIDTH;
  const height = rows.length * ROW + 8;
  const chart = svg("svg", { class: "chart iou-chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `${title}: ${rows.map((row) => `${row.name} ${formatIou(row.value)}`).join(", ")}` });
  chart.append(svg("title", {}, title));
  rows.forEach((row, index) => {
    const y = index * ROW + 4;
    const group = svg("g", { class: "iou-row", "data-label": row.name, "data-iou": row.value === null ? "" : row.value });
    group.append(svg("rect", { x: 0, y: y + 6, width: 10, height: 10, rx: 2, fill: row.colour, stroke: "rgba(0,0,0,.25)" }));
    group.append(svg("text", { x: 16, y: y + 15 }, row.name));
    group.append(svg("rect", { class: "bar-bg", x: LABEL_WIDTH, y: y + 4, width: barWidth, height: 14, rx: 3 }));
    if (row.value !== null) {
      group.append(svg("rect", { class: `bar${row.value < LOW_IOU ? " low" : ""}`, x: LABEL_WIDTH, y: y + 4,
        width: Math.max(1, Math.round(barWidth * Math.min(1, Math.max(0, row.value)))), height: 14, rx: 3 }));
    }
    group.append(svg("text", { class: "value", x: width - VALUE_WIDTH + 8, y: y + 15 }, formatIou(row.value)));
    chart.append(group);
  });
  return chart;
}
