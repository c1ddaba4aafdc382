// What a library card says about where a vector came from, and its loss curve as a small chart.
// Pure helpers (no page state) so they are unit-tested with node.

/** One line of provenance: the starter script, a session's optimisation or a refinement, or an upload. */
export function provenanceText(vector) {
  const figures = (vector.settings && vector.settings.starter_figures) || null;
  if (figures && figures.script) {
    return `starter library: ${(figures.kind || "edit").replace(/_/g, " ")} optimised on seed ${figures.seed}` +
      (figures.oracle_hit !== undefined ? ` (oracle hit ${Math.round(figures.oracle_hit * 100)}%)` : "");
  }
  const parts = [];
  if (vector.job) parts.push(`optimised by job ${vector.job}`);
  if (vector.source_session) parts.push(`in session ${vector.source_session}`);
  if (vector.source_image) parts.push(`on image ${vector.source_image}`);
  if (vector.settings && vector.settings.steps) parts.push(`${vector.settings.steps} steps`);
  return parts.length ? parts.join(" · ") : "uploaded";
}

/** SVG polyline points of `curve` scaled into a width x height box (y grows downwards). */
export function curvePoints(curve, width, height) {
  const values = (curve || []).filter((value) => Number.isFinite(value));
  if (values.length < 2) return "";
  const low = Math.min(...values); const high = Math.max(...values);
  const span = high - low || 1;
  return values.map((value, index) => {
    const x = (index / (values.length - 1)) * width;
    const y = height - ((value - low) / span) * height;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(" ");
}

/** Whether `vector` can be applied to images of `model` (same model, still active). */
export function applicableTo(vector, model) {
  return Boolean(model) && vector.model === model.id && model.is_active !== false;
}

/** The strengths a vector's strip shows: -2, -1, 0, 1, 2 within its allowed range (as the server renders). */
export function stripScales(vector) {
  return [-2, -1, 0, 1, 2].filter((scale) => scale >= vector.min_scale && scale <= vector.max_scale);
}
