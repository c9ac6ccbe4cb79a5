/**
 * Three small charts as inline SVG strings: lines over steps, bars with error bars, and dots with whiskers around
 * a zero line. Every coordinate goes through `coordinate()`, and every domain through `domainOf()`, so a single
 * point, an interval of zero width or a NaN value still gives a valid picture (never "NaN" in an attribute).
 */

/** Tableau 10: distinct on white and for most colour-vision deficiencies; systems beyond ten reuse it. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const INK = '#333333';
const GRID = '#e6e6e6';
const MUTED = '#666666';
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';
const CHARACTER_WIDTH = 6.6;

export function seriesColour(index: number): string {
  return PALETTE[((index % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

/** Text for XML and HTML: element content and quoted attribute values alike. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/g, '')
    .replace(/[&<>"']/g, (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[character]!);
}

/** A coordinate as attribute text: two decimals at most, and 0 for anything that is not finite. */
export function coordinate(value: number): string {
  if (!Number.isFinite(value)) return '0';
  const rounded = Math.round(value * 100) / 100;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

/** The finite extent of `values` widened to include `include`, never of zero width. */
export function domainOf(values: readonly number[], include: readonly number[] = []): [number, number] {
  const finite = [...values, ...include].filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  if (high - low <= Math.abs(high) * 1e-12) {
    const pad = low === 0 ? 1 : Math.abs(low) * 0.5;
    low -= pad;
    high += pad;
  }
  return [low, high];
}

/** About `count` round tick values covering [low, high], and their decimals. */
export function niceTicks(low: number, high: number, count = 5): { ticks: number[]; decimals: number } {
  const raw = (high - low) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw) ?? 10 * magnitude;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (step / magnitude === 2.5 ? 1 : 0));
  const ticks: number[] = [];
  for (let index = Math.ceil(low / step - 1e-9); index * step <= high + step * 1e-9; index++) ticks.push(Number((index * step).toFixed(12)));
  return { ticks, decimals };
}

/** Widens a domain outwards to whole ticks, so the axis begins and ends at a labelled value. */
function niceDomain([low, high]: [number, number]): [number, number] {
  const { ticks } = niceTicks(low, high);
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : high - low;
  return [Math.min(low, Math.floor(low / step + 1e-9) * step), Math.max(high, Math.ceil(high / step - 1e-9) * step)];
}

function scale([low, high]: [number, number], [from, to]: [number, number]): (value: number) => number {
  return (value) => from + ((value - low) / (high - low)) * (to - from);
}

function tickLabel(value: number, decimals: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6) return `${Number((value / 1e6).toFixed(2))}M`;
  if (magnitude >= 1e4) return `${Number((value / 1e3).toFixed(1))}K`;
  return value.toFixed(Math.min(decimals, 6));
}

function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${coordinate(x)}" y="${coordinate(y)}" ${attributes}>${escapeXml(content)}</text>`;
}

function fitText(content: string, widthPixels: number): string {
  const limit = Math.max(3, Math.floor(widthPixels / CHARACTER_WIDTH));
  const characters = Array.from(content);
  return characters.length <= limit ? content : `${characters.slice(0, limit - 1).join('')}…`;
}

function svgOpen(width: number, height: number, label: string, kind: string): string {
  return (
    `<svg class="chart" data-chart="${escapeXml(kind)}" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(label)}" ${FONT} font-size="12">` +
    `<title>${escapeXml(label)}</title><rect class="background" x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`
  );
}

export interface LegendItem {
  label: string;
  colour: string;
  dashed?: boolean;
}

/** Legend items in rows across the top; returns the SVG and the height it took. */
function legend(items: readonly LegendItem[], left: number, top: number, width: number): { svg: string; height: number } {
  const parts: string[] = [];
  let x = left;
  let y = top + 10;
  for (const item of items) {
    const label = fitText(item.label, width - 40);
    const itemWidth = 28 + Array.from(label).length * CHARACTER_WIDTH + 16;
    if (x > left && x + itemWidth > left + width) {
      x = left;
      y += 18;
    }
    const dash = item.dashed ? ' stroke-dasharray="5 3"' : '';
    parts.push(
      `<g class="legend-item"><line x1="${coordinate(x)}" y1="${coordinate(y - 4)}" x2="${coordinate(x + 22)}" y2="${coordinate(y - 4)}" stroke="${item.colour}" stroke-width="3"${dash}/>` +
        `${text(x + 28, y, label, `fill="${INK}"`)}</g>`,
    );
    x += itemWidth;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: items.length === 0 ? 0 : y - top + 10 };
}

interface Plot {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Horizontal grid lines and y tick labels (value axis on the left). */
function valueAxisY(plot: Plot, domain: [number, number], y: (value: number) => number, title?: string): string {
  const { ticks, decimals } = niceTicks(domain[0], domain[1]);
  const parts = ticks.map(
    (tick) =>
      `<line class="grid" x1="${plot.left}" x2="${plot.right}" y1="${coordinate(y(tick))}" y2="${coordinate(y(tick))}" stroke="${GRID}"/>` +
      text(plot.left - 6, y(tick) + 4, tickLabel(tick, decimals), `text-anchor="end" fill="${MUTED}"`),
  );
  parts.push(`<line class="axis" x1="${plot.left}" x2="${plot.left}" y1="${plot.top}" y2="${plot.bottom}" stroke="${INK}"/>`);
  if (title !== undefined) {
    const middle = (plot.top + plot.bottom) / 2;
    parts.push(text(14, middle, title, `text-anchor="middle" fill="${INK}" transform="rotate(-90 14 ${coordinate(middle)})"`));
  }
  return `<g class="y-axis">${parts.join('')}</g>`;
}

/** Vertical grid lines and x tick labels (value axis at the bottom). */
function valueAxisX(plot: Plot, domain: [number, number], x: (value: number) => number, title?: string): string {
  const { ticks, decimals } = niceTicks(domain[0], domain[1]);
  const parts = ticks.map(
    (tick) =>
      `<line class="grid" x1="${coordinate(x(tick))}" x2="${coordinate(x(tick))}" y1="${plot.top}" y2="${plot.bottom}" stroke="${GRID}"/>` +
      `<line x1="${coordinate(x(tick))}" x2="${coordinate(x(tick))}" y1="${plot.bottom}" y2="${plot.bottom + 4}" stroke="${INK}"/>` +
      text(x(tick), plot.bottom + 16, tickLabel(tick, decimals), `text-anchor="middle" fill="${MUTED}"`),
  );
  parts.push(`<line class="axis" x1="${plot.left}" x2="${plot.right}" y1="${plot.bottom}" y2="${plot.bottom}" stroke="${INK}"/>`);
  if (title !== undefined) parts.push(text((plot.left + plot.right) / 2, plot.bottom + 34, title, `text-anchor="middle" fill="${INK}"`));
  return `<g class="x-axis">${parts.join('')}</g>`;
}

export interface LineSeries {
  /** Names the series in `data-series` (e.g. "lora train"). */
  key: string;
  colour: string;
  dashed?: boolean;
  points: readonly (readonly [number, number])[];
}

export interface LineChartOptions {
  label: string;
  xTitle: string;
  yTitle: string;
  series: readonly LineSeries[];
  legend: readonly LegendItem[];
  width?: number;
  height?: number;
}

/** Lines over x; points that are not finite break a line, and a lone point shows as a dot. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 680;
  const height = options.height ?? 340;
  const key = legend(options.legend, 64, 8, width - 80);
  const plot: Plot = { left: 64, right: width - 20, top: 16 + key.height, bottom: height - 46 };
  const finitePoints = options.series.flatMap((series) => series.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const xDomain = niceDomain(domainOf(finitePoints.map(([x]) => x)));
  const yDomain = niceDomain(domainOf(finitePoints.map(([, y]) => y)));
  const x = scale(xDomain, [plot.left, plot.right]);
  const y = scale(yDomain, [plot.bottom, plot.top]);
  const lines = options.series.map((series) => {
    const runs: string[][] = [[]];
    for (const [px, py] of series.points) {
      if (Number.isFinite(px) && Number.isFinite(py)) runs[runs.length - 1].push(`${coordinate(x(px))},${coordinate(y(py))}`);
      else if (runs[runs.length - 1].length > 0) runs.push([]);
    }
    const path = runs
      .filter((run) => run.length > 1)
      .map((run) => `M${run.join('L')}`)
      .join('');
    const dots = runs
      .filter((run) => run.length === 1 || series.dashed)
      .flat()
      .map((point) => {
        const [cx, cy] = point.split(',');
        return `<circle cx="${cx}" cy="${cy}" r="3" fill="${series.colour}"/>`;
      })
      .join('');
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    const line = path === '' ? '' : `<path d="${path}" fill="none" stroke="${series.colour}" stroke-width="2.5"${dash} stroke-linejoin="round"/>`;
    return `<g class="series" data-series="${escapeXml(series.key)}">${line}${dots}</g>`;
  });
  return [
    svgOpen(width, height, options.label, 'line'),
    key.svg,
    valueAxisY(plot, yDomain, y, options.yTitle),
    valueAxisX(plot, xDomain, x, options.xTitle),
    ...lines,
    '</svg>',
  ].join('');
}

export interface IntervalMark {
  key: string;
  label: string;
  colour: string;
  value: number;
  low: number;
  high: number;
  /** Shown on hover. */
  tooltip: string;
}

export interface BarChartOptions {
  label: string;
  yTitle: string;
  bars: readonly IntervalMark[];
  /** Decimals of the value printed above each bar. */
  decimals: number;
  width?: number;
  height?: number;
}

function finiteInterval(mark: IntervalMark): { low: number; high: number } | undefined {
  return Number.isFinite(mark.low) && Number.isFinite(mark.high) ? { low: Math.min(mark.low, mark.high), high: Math.max(mark.low, mark.high) } : undefined;
}

/** One bar per system from zero to its value, with an error bar over its interval. */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? Math.max(280, Math.min(680, 96 + options.bars.length * 84));
  const height = options.height ?? 280;
  const plot: Plot = { left: 60, right: width - 16, top: 16, bottom: height - 40 };
  const values = options.bars.flatMap((bar) => [bar.value, bar.low, bar.high]);
  const domain = niceDomain(domainOf(values, [0]));
  const y = scale(domain, [plot.bottom, plot.top]);
  const band = (plot.right - plot.left) / Math.max(1, options.bars.length);
  const barWidth = Math.min(56, band * 0.6);
  const zero = y(0);
  const bars = options.bars.map((bar, index) => {
    const centre = plot.left + band * (index + 0.5);
    const parts = [`<title>${escapeXml(bar.tooltip)}</title>`];
    if (Number.isFinite(bar.value)) {
      const top = Math.min(zero, y(bar.value));
      parts.push(
        `<rect class="bar" x="${coordinate(centre - barWidth / 2)}" y="${coordinate(top)}" width="${coordinate(barWidth)}" height="${coordinate(Math.abs(y(bar.value) - zero))}" fill="${bar.colour}"/>`,
      );
    }
    const interval = finiteInterval(bar);
    if (interval !== undefined) {
      const [y1, y2] = [y(interval.low), y(interval.high)];
      const cap = barWidth / 4;
      parts.push(
        `<g class="error-bar" stroke="${INK}" stroke-width="1.5">` +
          `<line x1="${coordinate(centre)}" x2="${coordinate(centre)}" y1="${coordinate(y1)}" y2="${coordinate(y2)}"/>` +
          `<line x1="${coordinate(centre - cap)}" x2="${coordinate(centre + cap)}" y1="${coordinate(y1)}" y2="${coordinate(y1)}"/>` +
          `<line x1="${coordinate(centre - cap)}" x2="${coordinate(centre + cap)}" y1="${coordinate(y2)}" y2="${coordinate(y2)}"/></g>`,
      );
    }
    const labelTop = Math.min(Number.isFinite(bar.value) ? y(bar.value) : zero, interval === undefined ? zero : y(interval.high));
    if (Number.isFinite(bar.value)) parts.push(text(centre, labelTop - 5, bar.value.toFixed(options.decimals), `text-anchor="middle" fill="${INK}"`));
    parts.push(text(centre, plot.bottom + 16, fitText(bar.label, band - 4), `text-anchor="middle" fill="${INK}"`));
    return `<g class="bar-group" data-series="${escapeXml(bar.key)}">${parts.join('')}</g>`;
  });
  const baseline = `<line class="zero" x1="${plot.left}" x2="${plot.right}" y1="${coordinate(zero)}" y2="${coordinate(zero)}" stroke="${INK}"/>`;
  return [svgOpen(width, height, options.label, 'bars'), valueAxisY(plot, domain, y, options.yTitle), ...bars, baseline, '</svg>'].join('');
}

export interface WhiskerChartOptions {
  label: string;
  xTitle: string;
  rows: readonly IntervalMark[];
  width?: number;
}

/** One row per system: a dot at the value and a whisker over its interval, around a vertical zero line. */
export function whiskerChart(options: WhiskerChartOptions): string {
  const width = options.width ?? 520;
  const rowHeight = 30;
  const labelWidth = Math.min(180, 16 + Math.max(4, ...options.rows.map((row) => Array.from(row.label).length)) * CHARACTER_WIDTH);
  const plot: Plot = { left: labelWidth, right: width - 20, top: 12, bottom: 12 + Math.max(1, options.rows.length) * rowHeight };
  const height = plot.bottom + 42;
  const domain = niceDomain(domainOf(options.rows.flatMap((row) => [row.value, row.low, row.high]), [0]));
  const x = scale(domain, [plot.left, plot.right]);
  const rows = options.rows.map((row, index) => {
    const centre = plot.top + rowHeight * (index + 0.5);
    const parts = [`<title>${escapeXml(row.tooltip)}</title>`, text(plot.left - 8, centre + 4, fitText(row.label, labelWidth - 12), `text-anchor="end" fill="${INK}"`)];
    const interval = finiteInterval(row);
    if (interval !== undefined) {
      const [x1, x2] = [x(interval.low), x(interval.high)];
      parts.push(
        `<g class="whisker" stroke="${row.colour}" stroke-width="2.5">` +
          `<line x1="${coordinate(x1)}" x2="${coordinate(x2)}" y1="${coordinate(centre)}" y2="${coordinate(centre)}"/>` +
          `<line x1="${coordinate(x1)}" x2="${coordinate(x1)}" y1="${coordinate(centre - 7)}" y2="${coordinate(centre + 7)}"/>` +
          `<line x1="${coordinate(x2)}" x2="${coordinate(x2)}" y1="${coordinate(centre - 7)}" y2="${coordinate(centre + 7)}"/></g>`,
      );
    }
    if (Number.isFinite(row.value)) parts.push(`<circle class="point" cx="${coordinate(x(row.value))}" cy="${coordinate(centre)}" r="5" fill="${row.colour}"/>`);
    return `<g class="whisker-row" data-series="${escapeXml(row.key)}">${parts.join('')}</g>`;
  });
  const zeroLine = `<line class="zero" x1="${coordinate(x(0))}" x2="${coordinate(x(0))}" y1="${plot.top - 6}" y2="${plot.bottom}" stroke="${INK}" stroke-width="1.5" stroke-dasharray="4 3"/>`;
  return [svgOpen(width, height, options.label, 'whiskers'), valueAxisX(plot, domain, x, options.xTitle), zeroLine, ...rows, '</svg>'].join('');
}
