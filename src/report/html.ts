/**
 * What every hmd HTML page shares: escaping, how times and values read, the palette and base
 * style, and the document around a body. The pages must stand alone (mailed, attached, opened
 * from an artifact years later, or served by a daemon with no static files), so this is all
 * inline and nothing here ever points outside the document.
 */

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text and attribute values alike; every string from a spec, a result or a rollout passes here. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]!);
}

/** An ISO 8601 UTC timestamp, for datetime and data-* attributes. */
export function iso(t: number): string {
  return new Date(t).toISOString();
}

/** A time as people read it on the page: `2025-06-14 12:00:00 UTC`. */
export function utc(t: number): string {
  const s = iso(t);
  return `${s.slice(0, 10)} ${s.slice(11, 19)} UTC`;
}

/** Hours and minutes of a UTC time, for axis ticks. */
export function hhmm(t: number): string {
  return iso(t).slice(11, 16);
}

/** Hours, minutes and seconds of a UTC time, for tooltips. */
export function hhmmss(t: number): string {
  return iso(t).slice(11, 19);
}

/** A measured value in a few significant digits: SLIs span ratios of 1e-5 to latencies of seconds. */
export function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

/** Table cells around already escaped contents. */
export function cells(values: readonly string[], tag = 'td'): string {
  return values.map((v) => `<${tag}>${v}</${tag}>`).join('');
}

/** The colours every page and chart use; the chart's CSS reads them, so it comes first. */
const PALETTE = `:root { --fg: #1d232a; --muted: #5d6b79; --line: #d8dee4; --bg: #fff; --pass: #2e9e4f; --warn: #e08a00; --fail: #d22f27; --nodata: #9aa4ae; --error: #8a3ffc; --sli: #1f5fbf; --base: #6b7785; }`;

/** The palette, type, headings and tables every page starts from (a page appends its own rules). */
export const BASE_CSS = `
${PALETTE}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 16px; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 16px 0 6px; }
.generated, .sub, .tags { color: var(--muted); }
dl.stats, dl.facts { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 8px 0 14px; }
dl div { display: flex; flex-direction: column; }
dt { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: #f5f7f9; }
td { font-variant-numeric: tabular-nums; }
`;

/** What goes around a page's body. */
export interface PageFrame {
  readonly title: string;
  /** The whole stylesheet, inlined. */
  readonly css: string;
  /** Lines of the body, already escaped. */
  readonly body: readonly string[];
  /** Reload every this many seconds: a live status page with no script. */
  readonly refreshSeconds?: number;
}

/** A complete, self-contained HTML document. */
export function htmlPage(p: PageFrame): string {
  const refresh = p.refreshSeconds !== undefined && Number.isFinite(p.refreshSeconds) && p.refreshSeconds > 0 ? Math.max(1, Math.round(p.refreshSeconds)) : undefined;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // The page must stay complete offline: the browser refuses anything but its own inline CSS.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    ...(refresh !== undefined ? [`<meta http-equiv="refresh" content="${refresh}">`] : []),
    `<title>${esc(p.title)}</title>`,
    `<style>${p.css}</style>`,
    '</head>',
    '<body>',
    ...p.body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
