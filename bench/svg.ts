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

const FAMILY = 'font-family="DejaVu Sans, Arial, sans-serif"';

/** Font attributes (one font-size: XML forbids a repeated attribute, and renderers refuse it). */
function font(size = 12): string {
  return `${FAMILY} font-size="${size}"`;
}
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
    `<text x="10" y="20" ${font(14)} font-weight="bold">${esc(title)}</text>`,
    ...body,
    note ? `<text x="10" y="${h - 10}" ${font()} fill="#555">${esc(note)}</text>` : "",
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
      `<text x="${px + 3}" y="${TOP - 10}" ${font()} fill="#d62728">${esc(r.label)}</text>`,
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
      `<text x="${LABEL_W - 6}" y="${y + 14}" ${font()} text-anchor="end">${esc(b.label)}</text>`,
    );
    if (b.value === null || !Number.isFinite(b.value)) {
      body.push(`<text x="${LABEL_W + 4}" y="${y + 14}" ${font()} fill="#888">n/a</text>`);
      continue;
    }
    const w = Math.max(1, x(b.value) - LABEL_W);
    body.push(
      `<rect x="${LABEL_W}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW_H - 6}" ` +
        `fill="${b.color ?? COLORS["skb-addr"]}"/>`,
      `<text x="${LABEL_W + w + 4}" y="${y + 14}" ${font()}>${esc(b.text ?? fmt(b.value))}</text>`,
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
      `<text x="${px}" y="${axisY + 12}" ${font(10)} text-anchor="middle">` +
        `${fmt(v)}</text>`,
    );
  }
  for (const [i, r] of opts.rows.entries()) {
    const y = TOP + i * ROW_H + ROW_H / 2;
    body.push(
      `<text x="${LABEL_W - 6}" y="${y + 4}" ${font()} text-anchor="end">${esc(r.label)}</text>`,
    );
    if (r.median === null || !Number.isFinite(r.median)) {
      body.push(`<text x="${LABEL_W + 4}" y="${y + 4}" ${font()} fill="#888">n/a</text>`);
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
      `<text x="${LABEL_W + PLOT_W + 6}" y="${y + 4}" ${font()}>${fmt(r.median)}</text>`,
    );
  }
  body.push(...refLines(opts.refs ?? [], x, opts.rows.length));
  return frame(opts.title, opts.rows.length + 1, body, opts.note);
}

/**
 * A minimal well-formedness check (for tests and the report writer): one root `<svg>` element,
 * every other tag closed in order, no attribute twice in a tag. Not a full XML parser.
 */
export function checkSvg(text: string): void {
  const stack: string[] = [];
  const tags = text.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g);
  let roots = 0;
  for (const m of tags) {
    const [, close, name, attrs, self] = m;
    const names = [...(attrs ?? "").matchAll(/([\w:-]+)=/g)].map((a) => a[1]);
    const repeated = names.find((a, i) => names.indexOf(a) !== i);
    if (repeated) throw new Error(`svg: <${name}> repeats the attribute ${repeated}`);
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

/** A gate window of a taprio cycle (bench/taprio.ts GateWindow). */
export interface GateWindowLike {
  readonly tc: number;
  readonly startNs: number;
  readonly endNs: number;
}

/** One talker's packets per bin of the cycle (bench/taprio.ts GateRow). */
export interface GateRowLike {
  readonly talker: string;
  readonly priority: number;
  /** Its traffic class: bar colour, and the window it should land in. */
  readonly tc: number;
  readonly bins: readonly number[];
}

/** One panel of {@linkcode gateSvg}: an arm (bench/taprio.ts TaprioArm fits). */
export interface GateArmLike {
  readonly label: string;
  readonly cycleNs: number;
  readonly binNs: number;
  readonly windows: readonly GateWindowLike[];
  readonly histogram: readonly GateRowLike[];
  readonly inOwnWindow?: Readonly<Record<string, number | null>>;
  readonly error?: string;
}

/** Colours by taprio traffic class; a talker's bars and its class's window share one. */
export const TC_COLORS: readonly string[] = ["#2ca02c", "#1f77b4", "#ff7f0e", "#7f7f7f"];

function tcColor(tc: number): string {
  return TC_COLORS[tc] ?? "#9467bd";
}

const GATE = { left: 225, plotW: 600, right: 20, top: 64, panelH: 118, barH: 78, gap: 14 };

/**
 * Packets per gate: one panel per arm, x = position in the taprio cycle, the gate windows shaded
 * in their class's colour, and per bin a stacked bar of each talker's packets in the colour of its
 * own class. A talker in its own window is a bar on a background of its colour. Bars are
 * `<rect data-talker data-bin data-count>` so tests can read them back; each panel has its own
 * y scale (its tallest bin).
 *
 * @example
 * ```ts
 * import { gateSvg } from "./svg.ts";
 * const windows = [{ tc: 1, startNs: 0, endNs: 2000 }, { tc: 3, startNs: 2000, endNs: 4000 }];
 * const svg = gateSvg([{
 *   label: "skb-addr",
 *   cycleNs: 4000,
 *   binNs: 1000,
 *   windows,
 *   histogram: [{ talker: "a", priority: 1, tc: 1, bins: [5, 3, 0, 0] }],
 * }], { title: "packets per gate" });
 * console.log(svg.includes('data-count="5"')); // true
 * ```
 */
export function gateSvg(
  arms: readonly GateArmLike[],
  opts: { title: string; note?: string },
): string {
  const g = GATE;
  const w = g.left + g.plotW + g.right;
  const h = g.top + arms.length * (g.panelH + g.gap) + (opts.note ? 24 : 6);
  const body: string[] = [];
  // Legend: talkers (from the first arm that has any) and the shading.
  const legendRows = arms.find((a) => a.histogram.length)?.histogram ?? [];
  let lx = 10;
  for (const r of legendRows) {
    const text = `${r.talker} (priority ${r.priority} → TC${r.tc})`;
    body.push(
      `<rect x="${lx}" y="32" width="12" height="12" fill="${tcColor(r.tc)}"/>`,
      `<text x="${lx + 16}" y="42" ${font()}>${esc(text)}</text>`,
    );
    lx += 24 + text.length * 6.6;
  }
  body.push(
    `<text x="10" y="58" ${font()} fill="#555">` +
      `${esc("shaded: the window in which taprio opens that class's gate")}</text>`,
  );
  for (const [p, arm] of arms.entries()) {
    const top = g.top + p * (g.panelH + g.gap);
    const base = top + 14 + g.barH;
    const x = (ns: number) => g.left + (ns / arm.cycleNs) * g.plotW;
    body.push(
      `<text x="10" y="${top + 26}" ${font()} font-weight="bold">${esc(arm.label)}</text>`,
    );
    if (arm.error) {
      body.push(`<text x="10" y="${top + 44}" ${font()} fill="#d62728">failed</text>`);
    }
    for (const [i, r] of arm.histogram.entries()) {
      const f = arm.inOwnWindow?.[r.talker];
      const pct = f === null || f === undefined ? "-" : `${(f * 100).toFixed(0)} %`;
      body.push(
        `<text x="10" y="${top + 44 + i * 15}" ${font(11)} fill="${tcColor(r.tc)}">` +
          `${esc(`${r.talker}: ${pct} in own window`)}</text>`,
      );
    }
    for (const win of arm.windows) {
      const x0 = x(win.startNs), x1 = x(win.endNs);
      body.push(
        `<rect x="${x0.toFixed(1)}" y="${top + 14}" width="${(x1 - x0).toFixed(1)}" ` +
          `height="${g.barH}" fill="${tcColor(win.tc)}" fill-opacity="0.16" ` +
          `data-window="TC${win.tc}"/>`,
        `<text x="${((x0 + x1) / 2).toFixed(1)}" y="${top + 10}" ${font(10)} ` +
          `text-anchor="middle" fill="${tcColor(win.tc)}">TC${win.tc}</text>`,
      );
    }
    const nBins = Math.round(arm.cycleNs / arm.binNs);
    const totals = Array.from(
      { length: nBins },
      (_, i) => arm.histogram.reduce((s, r) => s + (r.bins[i] ?? 0), 0),
    );
    const max = Math.max(0, ...totals);
    const bw = g.plotW / nBins;
    for (let i = 0; i < nBins && max > 0; i++) {
      let y = base;
      for (const r of arm.histogram) {
        const n = r.bins[i] ?? 0;
        if (n <= 0) continue;
        const bh = (n / max) * g.barH;
        y -= bh;
        body.push(
          `<rect x="${(g.left + i * bw + 0.5).toFixed(2)}" y="${y.toFixed(2)}" ` +
            `width="${Math.max(0.5, bw - 1).toFixed(2)}" height="${bh.toFixed(2)}" ` +
            `fill="${tcColor(r.tc)}" data-talker="${esc(r.talker)}" data-bin="${i}" ` +
            `data-count="${n}"/>`,
        );
      }
    }
    body.push(
      `<line x1="${g.left}" y1="${base}" x2="${g.left + g.plotW}" y2="${base}" stroke="#333"/>`,
      `<text x="${g.left - 4}" y="${top + 24}" ${font(10)} text-anchor="end">` +
        `${max}</text>`,
    );
    const ticks = [...new Set([0, ...arm.windows.flatMap((v) => [v.startNs, v.endNs])])].sort(
      (a, b) => a - b,
    );
    for (const t of ticks) {
      const us = t / 1000;
      body.push(
        `<line x1="${x(t)}" y1="${base}" x2="${x(t)}" y2="${base + 4}" stroke="#333"/>`,
        `<text x="${x(t)}" y="${base + 15}" ${font(10)} text-anchor="middle">` +
          `${esc(`${Number.isInteger(us) ? us : us.toFixed(1)} us`)}</text>`,
      );
    }
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`,
    `<rect width="${w}" height="${h}" fill="#ffffff"/>`,
    `<text x="10" y="20" ${font(14)} font-weight="bold">${esc(opts.title)}</text>`,
    ...body,
    opts.note ? `<text x="10" y="${h - 8}" ${font()} fill="#555">${esc(opts.note)}</text>` : "",
    "</svg>",
    "",
  ].filter((l) => l !== "").join("\n");
}
