/**
 * Hand-written SVG charts for the report: horizontal bars (ns per packet, restoration) and
 * median-with-range rows (throughput ratios), each with optional reference lines (targets).
 * Plain SVG 1.1, no scripts, no external fonts.
 *
 * @module
 */

/** One bar. */
export interface Bar {
  readonly label: string;
  readonly value: number | null;
  /** Fill colour. */
  readonly color?: string;
  /** Text after the bar; default the value. */
  readonly text?: string;
}

/** A vertical reference line (a target). */
export interface RefLine {
  readonly value: number;
  readonly label: string;
}

/** One interval row: median with a min..max whisker. */
export interface IntervalRow {
  readonly label: string;
  readonly median: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly color?: string;
}

/** Colours by strategy name (the report's legend). */
export const COLORS: Readonly<Record<string, string>> = {
  none: "#9e9e9e",
  "skb-addr": "#1f77b4",
  "skb-data": "#ff7f0e",
  reference: "#6a6a6a",
  floor: "#bdbdbd",
};

/** The colour of a strategy (or reference) name; unknown names get a neutral blue. */
export function colorOf(name: string | null): string {
  return (name === null ? undefined : COLORS[name]) ?? "#1f77b4";
}

const FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="12"';
const LABEL_W = 330;
const PLOT_W = 420;
const ROW_H = 20;
const TOP = 44;
const RIGHT = 90;

/** Escapes text for SVG content and attributes. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function fmt(v: number): string {
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function frame(title: string, rows: number, body: string[], note?: string): string {
  const h = TOP + rows * ROW_H + (note ? 34 : 16);
  const w = LABEL_W + PLOT_W + RIGHT;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`,
    `<rect width="${w}" height="${h}" fill="#ffffff"/>`,
    `<text x="10" y="20" ${FONT} font-size="14" font-weight="bold">${esc(title)}</text>`,
    ...body,
    note ? `<text x="10" y="${h - 10}" ${FONT} fill="#555">${esc(note)}</text>` : "",
    "</svg>",
    "",
  ].filter((l) => l !== "").join("\n");
}

function refLines(lines: readonly RefLine[], x: (v: number) => number, rows: number): string[] {
  return lines.flatMap((r) => {
    const px = x(r.value);
    return [
      `<line x1="${px}" y1="${TOP - 8}" x2="${px}" y2="${TOP + rows * ROW_H}" stroke="#d62728" ` +
      `stroke-dasharray="4 3"/>`,
      `<text x="${px + 3}" y="${TOP - 10}" ${FONT} fill="#d62728">${esc(r.label)}</text>`,
    ];
  });
}

/** A horizontal bar chart; bars with a null value are drawn as "n/a". */
export function barChart(opts: {
  title: string;
  bars: readonly Bar[];
  refs?: readonly RefLine[];
  max?: number;
  note?: string;
}): string {
  const values = opts.bars.map((b) => b.value ?? 0).concat((opts.refs ?? []).map((r) => r.value));
  const max = opts.max ?? Math.max(1, ...values) * 1.05;
  const x = (v: number) => LABEL_W + (Math.max(0, Math.min(v, max)) / max) * PLOT_W;
  const body: string[] = [];
  for (const [i, b] of opts.bars.entries()) {
    const y = TOP + i * ROW_H;
    body.push(
      `<text x="${LABEL_W - 6}" y="${y + 14}" ${FONT} text-anchor="end">${esc(b.label)}</text>`,
    );
    if (b.value === null || !Number.isFinite(b.value)) {
      body.push(`<text x="${LABEL_W + 4}" y="${y + 14}" ${FONT} fill="#888">n/a</text>`);
      continue;
    }
    const w = Math.max(1, x(b.value) - LABEL_W);
    body.push(
      `<rect x="${LABEL_W}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW_H - 6}" ` +
        `fill="${b.color ?? COLORS["skb-addr"]}"/>`,
      `<text x="${LABEL_W + w + 4}" y="${y + 14}" ${FONT}>${esc(b.text ?? fmt(b.value))}</text>`,
    );
  }
  body.push(...refLines(opts.refs ?? [], x, opts.bars.length));
  return frame(opts.title, opts.bars.length, body, opts.note);
}

/** Median dots with min..max whiskers on a shared axis [lo, hi]. */
export function intervalChart(opts: {
  title: string;
  rows: readonly IntervalRow[];
  lo: number;
  hi: number;
  refs?: readonly RefLine[];
  note?: string;
}): string {
  const span = opts.hi - opts.lo || 1;
  const x = (v: number) =>
    LABEL_W + (Math.max(opts.lo, Math.min(v, opts.hi)) - opts.lo) / span * PLOT_W;
  const body: string[] = [];
  const axisY = TOP + opts.rows.length * ROW_H;
  for (let k = 0; k <= 4; k++) {
    const v = opts.lo + (span * k) / 4;
    const px = x(v);
    body.push(
      `<line x1="${px}" y1="${TOP}" x2="${px}" y2="${axisY}" stroke="#eeeeee"/>`,
      `<text x="${px}" y="${axisY + 12}" ${FONT} font-size="10" text-anchor="middle">` +
        `${fmt(v)}</text>`,
    );
  }
  for (const [i, r] of opts.rows.entries()) {
    const y = TOP + i * ROW_H + ROW_H / 2;
    body.push(
      `<text x="${LABEL_W - 6}" y="${y + 4}" ${FONT} text-anchor="end">${esc(r.label)}</text>`,
    );
    if (r.median === null || !Number.isFinite(r.median)) {
      body.push(`<text x="${LABEL_W + 4}" y="${y + 4}" ${FONT} fill="#888">n/a</text>`);
      continue;
    }
    const color = r.color ?? COLORS["skb-addr"];
    if (r.min !== null && r.max !== null && Number.isFinite(r.min) && Number.isFinite(r.max)) {
      body.push(
        `<line x1="${x(r.min)}" y1="${y}" x2="${x(r.max)}" y2="${y}" stroke="${color}" ` +
          `stroke-width="2"/>`,
      );
    }
    body.push(
      `<circle cx="${x(r.median)}" cy="${y}" r="4" fill="${color}"/>`,
      `<text x="${LABEL_W + PLOT_W + 6}" y="${y + 4}" ${FONT}>${fmt(r.median)}</text>`,
    );
  }
  body.push(...refLines(opts.refs ?? [], x, opts.rows.length));
  return frame(opts.title, opts.rows.length + 1, body, opts.note);
}

/**
 * A minimal well-formedness check (for tests and the report writer): one root `<svg>` element,
 * every other tag closed in order. Not a full XML parser.
 */
export function checkSvg(text: string): void {
  const stack: string[] = [];
  const tags = text.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g);
  let roots = 0;
  for (const m of tags) {
    const [, close, name, , self] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`svg: unexpected </${name}>`);
    } else if (!self) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) {
      roots++;
    }
  }
  if (stack.length) throw new Error(`svg: unclosed <${stack.join("><")}>`);
  if (roots !== 1 || !text.trimStart().startsWith("<svg")) throw new Error("svg: not one <svg>");
}
