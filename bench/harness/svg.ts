/**
 * SVG line charts drawn by the harness itself (no plotting library, no browser): axes with round ticks,
 * one coloured line per series (dashed for a series' second aspect, e.g. consume next to produce), a legend,
 * and an optional log scale for latencies. Output is a standalone SVG document that GitHub and browsers
 * render inline.
 */

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  /** series with the same colour index share a colour (a system's produce and consume lines) */
  colour?: number;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  /** labels for x positions 0..n-1 instead of numbers */
  xCategories?: string[];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const W = 920;
const H = 360;
const M = { left: 70, right: 300, top: 40, bottom: 50 };

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

const fmt = (v: number) => (Number.isInteger(v) ? v.toLocaleString('en-US') : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toPrecision(2));

export function lineChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logY || y > 0));
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const xMin = spec.xCategories ? 0 : Math.min(0, ...xs);
  const xMax = spec.xCategories ? Math.max(1, spec.xCategories.length - 1) : Math.max(1, ...xs);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  let yMin: number;
  let yMax: number;
  let yTicks: number[];
  if (spec.logY) {
    yMin = 10 ** Math.floor(Math.log10(Math.min(...ys, 1)));
    yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys, yMin * 10)));
    yTicks = [];
    for (let v = yMin; v <= yMax * 1.0001; v *= 10) yTicks.push(v);
  } else {
    yMin = 0;
    const top = Math.max(...ys, 1e-9);
    const step = niceStep(top, 5);
    yMax = Math.ceil(top / step) * step;
    yTicks = [];
    for (let v = 0; v <= yMax + step / 2; v += step) yTicks.push(v);
  }
  const px = (x: number) => M.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number) =>
    spec.logY ? M.top + plotH - ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH : M.top + plotH - ((y - yMin) / (yMax - yMin || 1)) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(spec.title)}</text>`,
  ];
  for (const v of yTicks) {
    const y = py(v).toFixed(1);
    out.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`, `<text x="${M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  const xTicks = spec.xCategories ? spec.xCategories.map((_, i) => i) : (() => {
    const step = niceStep(xMax - xMin, 8);
    const t: number[] = [];
    for (let v = Math.ceil(xMin / step) * step; v <= xMax; v += step) t.push(v);
    return t;
  })();
  for (const v of xTicks) {
    const x = px(v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top + plotH}" y2="${M.top + plotH + 4}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${M.top + plotH + 17}" text-anchor="middle">${esc(spec.xCategories ? spec.xCategories[v]! : fmt(v))}</text>`);
  }
  out.push(
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + plotH}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left + plotW}" y1="${M.top + plotH}" y2="${M.top + plotH}" stroke="#333"/>`,
    `<text x="${M.left + plotW / 2}" y="${H - 10}" text-anchor="middle">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`,
  );
  spec.series.forEach((s, i) => {
    const colour = COLOURS[(s.colour ?? i) % COLOURS.length]!;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logY || y > 0));
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of pts.length <= 12 ? pts : []) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`);
    const ly = M.top + 10 + i * 18;
    out.push(
      `<line x1="${W - M.right + 12}" x2="${W - M.right + 36}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`,
      `<text x="${W - M.right + 42}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
