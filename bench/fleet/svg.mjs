// The plot of `npm run fleet`, as hand-written SVG: STS calls per second over time, one line per series, on a
// logarithmic scale, with the outages shaded and the quota drawn.

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

/**
 * `series`: [{ label, color, perSecond: number[] }]; `bucketS`: seconds averaged per point; `outages`:
 * [{ fromS, toS, label }]; `quota`: calls/s or undefined. Returns the SVG text.
 */
export function plotCallsPerSecond({ title, subtitle, series, bucketS, outages = [], quota, events = [] }) {
  const W = 960;
  const H = 420;
  const m = { l: 70, r: 20, t: 56, b: 48 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const lengthS = Math.max(...series.map((s) => s.perSecond.length));
  const points = series.map((s) => {
    const out = [];
    for (let i = 0; i < s.perSecond.length; i += bucketS) {
      const slice = s.perSecond.slice(i, i + bucketS);
      out.push(slice.reduce((a, b) => a + b, 0) / slice.length);
    }
    return out;
  });
  const maxY = Math.max(10, quota ?? 0, ...points.flat());
  const decades = Math.ceil(Math.log10(maxY));
  const y = (v) => m.t + ph - (Math.log10(1 + v) / Math.log10(1 + 10 ** decades)) * ph;
  const x = (s) => m.l + (s / lengthS) * pw;
  const parts = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" ` +
      `font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.l}" y="22" font-size="15" font-weight="600">${esc(title)}</text>`,
    `<text x="${m.l}" y="40" fill="#555">${esc(subtitle)}</text>`,
  );
  for (const o of outages) {
    parts.push(
      `<rect x="${x(o.fromS).toFixed(1)}" y="${m.t}" width="${(x(o.toS) - x(o.fromS)).toFixed(1)}" height="${ph}" fill="#fde2e2"/>`,
      `<text x="${(x(o.fromS) + 3).toFixed(1)}" y="${m.t + 14}" fill="#b42318">${esc(o.label)}</text>`,
    );
  }
  for (const e of events) {
    parts.push(
      `<line x1="${x(e.atS).toFixed(1)}" x2="${x(e.atS).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#999" stroke-dasharray="2 3"/>`,
      `<text x="${(x(e.atS) + 3).toFixed(1)}" y="${m.t + ph - 6}" fill="#666">${esc(e.label)}</text>`,
    );
  }
  for (let d = 0; d <= decades; d++) {
    const v = 10 ** d;
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${m.l - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v >= 1000 ? `${v / 1000}k` : v}</text>`,
    );
  }
  parts.push(
    `<text x="${m.l - 8}" y="${(y(0) + 4).toFixed(1)}" text-anchor="end" fill="#555">0</text>`,
    `<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">STS calls per second (log scale, ${bucketS}-s means)</text>`,
  );
  const stepMin = lengthS > 4 * 3600 ? 60 : lengthS > 3600 ? 30 : 5;
  for (let s = 0; s <= lengthS; s += stepMin * 60) {
    parts.push(
      `<line x1="${x(s).toFixed(1)}" x2="${x(s).toFixed(1)}" y1="${m.t + ph}" y2="${m.t + ph + 4}" stroke="#555"/>`,
      `<text x="${x(s).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle" fill="#555">${s / 60}</text>`,
    );
  }
  parts.push(
    `<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle" fill="#333">minutes</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
  );
  if (quota) {
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${y(quota).toFixed(1)}" y2="${y(quota).toFixed(1)}" stroke="#555" stroke-dasharray="6 4"/>`,
      `<text x="${m.l + pw - 4}" y="${(y(quota) - 4).toFixed(1)}" text-anchor="end" fill="#555">quota ${quota}/s</text>`,
    );
  }
  series.forEach((s, k) => {
    const d = points[k].map((v, i) => `${i ? "L" : "M"}${x(i * bucketS).toFixed(1)} ${y(v).toFixed(1)}`).join("");
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    parts.push(
      `<rect x="${m.l + 10}" y="${m.t + 24 + k * 18}" width="14" height="3" fill="${s.color}"/>`,
      `<text x="${m.l + 30}" y="${m.t + 29 + k * 18}" fill="#222">${esc(s.label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
