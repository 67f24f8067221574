/** An in-memory series store: the engine's test double and the OpenMetrics loader's target. */

import { compareLabels, getLabel, labelsKey, METRIC_NAME, type Labels } from './labels.js';
import { matchesAll, type LabelMatcher } from './matchers.js';
import { setStale } from './stale.js';
import { lowerBound, upperBound, type Queryable, type SelectRequest, type SelectResult, type Series } from './queryable.js';

interface Builder {
  labels: Labels;
  ts: Float64Array;
  vs: Float64Array;
  n: number;
  sorted: boolean;
  /** Whether any appended value may be a staleness marker (any NaN counts). */
  nan: boolean;
}

/** Append-only in-memory store; samples are kept in growable typed arrays per series. */
export class MemoryStore implements Queryable {
  private readonly byKey = new Map<string, Builder>();
  private sortedSeries: Builder[] | null = null;

  /** Appends one sample. Out-of-order appends are allowed and sorted lazily; a repeated timestamp overwrites. */
  append(labels: Labels, t: number, v: number): void {
    const key = labelsKey(labels);
    let b = this.byKey.get(key);
    if (!b) {
      b = { labels, ts: new Float64Array(16), vs: new Float64Array(16), n: 0, sorted: true, nan: false };
      this.byKey.set(key, b);
      this.sortedSeries = null;
    }
    if (b.n === b.ts.length) {
      const ts = new Float64Array(b.n * 2);
      ts.set(b.ts);
      const vs = new Float64Array(b.n * 2);
      vs.set(b.vs);
      b.ts = ts;
      b.vs = vs;
    }
    if (b.n > 0 && b.ts[b.n - 1]! >= t) b.sorted = false;
    b.ts[b.n] = t;
    b.vs[b.n] = v;
    if (v !== v) b.nan = true;
    b.n++;
  }

  /** Appends a staleness marker, written bit-exactly (a JS number may lose the NaN payload). */
  appendStale(labels: Labels, t: number): void {
    this.append(labels, t, NaN);
    const b = this.byKey.get(labelsKey(labels))!;
    setStale(b.vs, b.n - 1);
  }

  /** Appends a whole series (copied; timestamps sorted), keeping NaN payloads bit-exact. */
  appendSeries(labels: Labels, timestamps: Float64Array, values: Float64Array): void {
    if (timestamps.length !== values.length) throw new Error('appendSeries: timestamps and values differ in length');
    const key = labelsKey(labels);
    let b = this.byKey.get(key);
    if (!b) {
      b = { labels, ts: new Float64Array(0), vs: new Float64Array(0), n: 0, sorted: true, nan: false };
      this.byKey.set(key, b);
      this.sortedSeries = null;
    }
    const need = b.n + timestamps.length;
    if (need > b.ts.length) {
      const ts = new Float64Array(need);
      ts.set(b.ts.subarray(0, b.n));
      const vs = new Float64Array(need);
      vs.set(b.vs.subarray(0, b.n));
      b.ts = ts;
      b.vs = vs;
    }
    if (timestamps.length > 0 && b.n > 0 && b.ts[b.n - 1]! >= timestamps[0]!) b.sorted = false;
    for (let i = 1; i < timestamps.length; i++) if (timestamps[i]! <= timestamps[i - 1]!) b.sorted = false;
    b.ts.set(timestamps, b.n);
    b.vs.set(values, b.n);
    if (!b.nan) for (let i = 0; i < values.length; i++) if (values[i] !== values[i]) b.nan = true;
    b.n = need;
  }

  /** Removes everything. */
  clear(): void {
    this.byKey.clear();
    this.sortedSeries = null;
  }

  /** Number of series. */
  get seriesCount(): number {
    return this.byKey.size;
  }

  /** Number of samples over all series. */
  get sampleCount(): number {
    let n = 0;
    for (const b of this.byKey.values()) n += b.n;
    return n;
  }

  /** Earliest and latest sample timestamps, or undefined when empty. */
  timeRange(): { mint: number; maxt: number } | undefined {
    let mint = Infinity;
    let maxt = -Infinity;
    for (const b of this.byKey.values()) {
      this.finish(b);
      if (b.n === 0) continue;
      mint = Math.min(mint, b.ts[0]!);
      maxt = Math.max(maxt, b.ts[b.n - 1]!);
    }
    return mint === Infinity ? undefined : { mint, maxt };
  }

  private finish(b: Builder): void {
    if (b.sorted) return;
    const idx = Array.from({ length: b.n }, (_, i) => i);
    // Stable sort, so that the last write of a repeated timestamp wins below.
    idx.sort((x, y) => b.ts[x]! - b.ts[y]!);
    const ts = new Float64Array(b.ts.length);
    const vs = new Float64Array(b.vs.length);
    let n = 0;
    for (const i of idx) {
      if (n > 0 && ts[n - 1] === b.ts[i]) n--;
      ts[n] = b.ts[i]!;
      vs.set(b.vs.subarray(i, i + 1), n);
      n++;
    }
    b.ts = ts;
    b.vs = vs;
    b.n = n;
    b.sorted = true;
  }

  private all(): Builder[] {
    if (!this.sortedSeries) {
      this.sortedSeries = [...this.byKey.values()].sort((a, b) => compareLabels(a.labels, b.labels));
      this.byName = null;
    }
    return this.sortedSeries;
  }

  /** Series by metric name (each list in label order): most selectors name their metric. */
  private byName: Map<string, Builder[]> | null = null;

  private candidates(matchers: readonly LabelMatcher[]): Builder[] {
    const all = this.all();
    const nameEq = matchers.find((m) => m.name === METRIC_NAME && m.type === '=');
    if (!nameEq) return all;
    if (!this.byName) {
      this.byName = new Map();
      for (const b of all) {
        const name = getLabel(b.labels, METRIC_NAME);
        const list = this.byName.get(name);
        if (list) list.push(b);
        else this.byName.set(name, [b]);
      }
    }
    return this.byName.get(nameEq.value) ?? [];
  }

  /** Every series as stored (no copy). */
  allSeries(): Series[] {
    return this.all().map((b) => {
      this.finish(b);
      return { labels: b.labels, timestamps: b.ts.subarray(0, b.n), values: b.vs.subarray(0, b.n) };
    });
  }

  async select(req: SelectRequest): Promise<SelectResult> {
    return this.selectSync(req.matchers, req.mint, req.maxt);
  }

  /** Synchronous select: series matching all matchers with at least one sample in [mint, maxt]. */
  selectSync(matchers: readonly LabelMatcher[], mint: number, maxt: number): SelectResult {
    const out: Series[] = [];
    let samples = 0;
    // A regex runs once per distinct label value, not once per series.
    const memo = matchers.map(() => new Map<string, boolean>());
    const accept = (ls: Labels): boolean => {
      for (let k = 0; k < matchers.length; k++) {
        const m = matchers[k]!;
        const v = getLabel(ls, m.name);
        let ok = memo[k]!.get(v);
        if (ok === undefined) {
          ok = m.matches(v);
          memo[k]!.set(v, ok);
        }
        if (!ok) return false;
      }
      return true;
    };
    for (const b of this.candidates(matchers)) {
      if (!accept(b.labels)) continue;
      this.finish(b);
      const ts = b.ts.subarray(0, b.n);
      const lo = lowerBound(ts, mint);
      const hi = upperBound(ts, maxt, lo);
      if (hi <= lo) continue;
      samples += hi - lo;
      out.push({ labels: b.labels, timestamps: ts.subarray(lo, hi), values: b.vs.subarray(lo, hi), mayHaveStale: b.nan });
    }
    return { series: out, stats: { seriesFetched: out.length, samplesFetched: samples, bytesRead: 0 } };
  }

  async labelNames(matchers: readonly LabelMatcher[]): Promise<string[]> {
    const names = new Set<string>();
    for (const b of this.all()) {
      if (matchers.length && !matchesAll(matchers, b.labels)) continue;
      for (const l of b.labels) names.add(l.name);
    }
    return [...names].sort();
  }

  async labelValues(name: string, matchers: readonly LabelMatcher[]): Promise<string[]> {
    const vals = new Set<string>();
    for (const b of this.all()) {
      if (matchers.length && !matchesAll(matchers, b.labels)) continue;
      for (const l of b.labels) if (l.name === name) vals.add(l.value);
    }
    return [...vals].sort();
  }
}
