/**
 * XOR chunk codec benchmark: encode and decode throughput on one core, in samples per second.
 *
 *   npm run bench xor
 *   node dist/bench/xor.bench.js [--chunks N] [--samples S] [--repeat R]
 *
 * Data: N chunks (default 10,000) of S samples (default 120, Prometheus's chunk size) at a 15s
 * scrape interval with a few ms of jitter, of four kinds in equal parts:
 *   counter   integer request counts growing by a Poisson-like amount, with a rare reset
 *   gauge     float gauges with noise in all mantissa bits (memory, temperatures)
 *   ratio     values in [0, 1] that move a little (cache hit ratios, CPU share)
 *   constant  `up`-like series: one value throughout
 *
 * Each phase runs once to warm up, then R times (default 7); the median is reported. Decode
 * writes into one reused pair of Float64Arrays, as the Parquet reader does. A windowed decode
 * (the middle half of every chunk, via mint/maxt) is timed as well. Nothing is asserted on time;
 * the decoded samples are checked once against the input. The last line is one line of JSON.
 */

import { performance } from 'node:perf_hooks';
import { decodeXorChunk, encodeXorChunk } from '../src/storage/parquet/xor.js';
import { gauss, prng } from '../src/util/random.js';

interface Options {
  chunks: number;
  samples: number;
  repeat: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { chunks: 10_000, samples: 120, repeat: 7 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      const n = Number(v);
      if (v === undefined || !(n > 0) || !Number.isInteger(n)) throw new Error(`${flag} needs a positive integer`);
      return n;
    };
    if (flag === '--chunks') o.chunks = value();
    else if (flag === '--samples') o.samples = value();
    else if (flag === '--repeat') o.repeat = value();
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write('usage: node dist/bench/xor.bench.js [--chunks N] [--samples S] [--repeat R]\n');
      process.exit(0);
    } else throw new Error(`unknown flag ${a}`);
  }
  if (o.samples > 65535) throw new Error('--samples: at most 65535 per chunk');
  return o;
}

const KINDS = ['counter', 'gauge', 'ratio', 'constant'] as const;
type Kind = (typeof KINDS)[number];

function generate(o: Options): { ts: Float64Array; vs: Float64Array; kinds: Kind[] } {
  const rnd = prng(42);
  const n = o.chunks * o.samples;
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  const kinds: Kind[] = [];
  const start = Date.UTC(2025, 5, 12);
  for (let c = 0; c < o.chunks; c++) {
    const kind = KINDS[c % KINDS.length]!;
    kinds.push(kind);
    const base = c * o.samples;
    let t = start + Math.floor(rnd() * 15000);
    let counter = Math.floor(rnd() * 1e6);
    const rate = 1 + rnd() * 200;
    let gaugeLevel = 1e8 * (1 + rnd());
    let ratio = rnd();
    const constant = rnd() < 0.9 ? 1 : 0;
    for (let i = 0; i < o.samples; i++) {
      t += 15000 + Math.round(gauss(rnd) * 3);
      ts[base + i] = t;
      let v: number;
      switch (kind) {
        case 'counter':
          if (rnd() < 0.002) counter = 0;
          counter += Math.max(0, Math.round(rate + gauss(rnd) * Math.sqrt(rate)));
          v = counter;
          break;
        case 'gauge':
          gaugeLevel += gauss(rnd) * 1e5;
          v = gaugeLevel + rnd();
          break;
        case 'ratio':
          ratio = Math.min(1, Math.max(0, ratio + gauss(rnd) * 0.01));
          v = ratio;
          break;
        default:
          v = constant;
      }
      vs[base + i] = v;
    }
  }
  return { ts, vs, kinds };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const { ts, vs, kinds } = generate(o);
  const total = o.chunks * o.samples;

  // Encode.
  let chunks: Uint8Array[] = [];
  const encodeOnce = () => {
    const out: Uint8Array[] = new Array(o.chunks);
    for (let c = 0; c < o.chunks; c++) out[c] = encodeXorChunk(ts, vs, c * o.samples, (c + 1) * o.samples);
    return out;
  };
  chunks = encodeOnce();
  const encMs: number[] = [];
  for (let r = 0; r < o.repeat; r++) {
    const t0 = performance.now();
    chunks = encodeOnce();
    encMs.push(performance.now() - t0);
  }

  // Check once that decoding gives the input back, bit for bit.
  const outTs = new Float64Array(o.samples);
  const outVs = new Float64Array(o.samples);
  const inBits = new Int32Array(vs.buffer);
  const outBits = new Int32Array(outVs.buffer);
  for (let c = 0; c < o.chunks; c++) {
    const n = decodeXorChunk(chunks[c]!, outTs, outVs, 0);
    if (n !== o.samples) throw new Error(`chunk ${c}: decoded ${n} samples`);
    for (let i = 0; i < n; i++) {
      const j = c * o.samples + i;
      if (outTs[i] !== ts[j] || outBits[2 * i] !== inBits[2 * j] || outBits[2 * i + 1] !== inBits[2 * j + 1]) {
        throw new Error(`chunk ${c} sample ${i} differs after decoding`);
      }
    }
  }

  // Decode, whole chunks.
  let sink = 0;
  const decodeOnce = () => {
    let n = 0;
    for (let c = 0; c < o.chunks; c++) n += decodeXorChunk(chunks[c]!, outTs, outVs, 0);
    sink += outTs[0]! + n;
    return n;
  };
  decodeOnce();
  const decMs: number[] = [];
  for (let r = 0; r < o.repeat; r++) {
    const t0 = performance.now();
    decodeOnce();
    decMs.push(performance.now() - t0);
  }

  // Decode the middle half of every chunk (skips the first quarter, stops after the third).
  const windows = new Float64Array(o.chunks * 2);
  for (let c = 0; c < o.chunks; c++) {
    windows[2 * c] = ts[c * o.samples + Math.floor(o.samples / 4)]!;
    windows[2 * c + 1] = ts[c * o.samples + Math.floor((3 * o.samples) / 4) - 1]!;
  }
  let windowSamples = 0;
  const windowOnce = () => {
    let n = 0;
    for (let c = 0; c < o.chunks; c++) n += decodeXorChunk(chunks[c]!, outTs, outVs, 0, windows[2 * c]!, windows[2 * c + 1]!);
    sink += n;
    return n;
  };
  windowSamples = windowOnce();
  const winMs: number[] = [];
  for (let r = 0; r < o.repeat; r++) {
    const t0 = performance.now();
    windowOnce();
    winMs.push(performance.now() - t0);
  }

  // Sizes.
  let bytes = 0;
  const kindBytes = new Map<Kind, number>();
  const kindChunks = new Map<Kind, number>();
  for (let c = 0; c < o.chunks; c++) {
    bytes += chunks[c]!.length;
    kindBytes.set(kinds[c]!, (kindBytes.get(kinds[c]!) ?? 0) + chunks[c]!.length);
    kindChunks.set(kinds[c]!, (kindChunks.get(kinds[c]!) ?? 0) + 1);
  }

  const enc = median(encMs);
  const dec = median(decMs);
  const win = median(winMs);
  const encodeSamplesPerSec = total / (enc / 1000);
  const decodeSamplesPerSec = total / (dec / 1000);
  const windowChunksPerSec = o.chunks / (win / 1000);
  const bytesPerSample = bytes / total;

  const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(1));
  const rows: string[][] = [
    ['phase', 'median ms', 'samples/s', 'ns/sample'],
    ['encode', enc.toFixed(1), fmt(encodeSamplesPerSec), ((enc * 1e6) / total).toFixed(1)],
    ['decode', dec.toFixed(1), fmt(decodeSamplesPerSec), ((dec * 1e6) / total).toFixed(1)],
    ['decode middle half (mint/maxt)', win.toFixed(1), `${fmt(windowSamples / (win / 1000))} kept`, ((win * 1e6) / total).toFixed(1)],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(`XOR chunks: ${o.chunks} chunks × ${o.samples} samples = ${total} samples, median of ${o.repeat} runs, node ${process.version}\n\n`);
  for (const r of rows) process.stdout.write(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ') + '\n');
  process.stdout.write(`\nbytes per sample: ${bytesPerSample.toFixed(3)} overall`);
  for (const k of KINDS) process.stdout.write(`, ${k} ${((kindBytes.get(k) ?? 0) / ((kindChunks.get(k) ?? 1) * o.samples)).toFixed(3)}`);
  process.stdout.write('\n');
  if (sink === 0.5) process.stdout.write('\n'); // keep the results alive

  process.stdout.write(
    JSON.stringify({
      bench: 'xor',
      chunks: o.chunks,
      samplesPerChunk: o.samples,
      repeat: o.repeat,
      decodeSamplesPerSec: Math.round(decodeSamplesPerSec),
      encodeSamplesPerSec: Math.round(encodeSamplesPerSec),
      windowDecodeChunksPerSec: Math.round(windowChunksPerSec),
      bytesPerSample: Number(bytesPerSample.toFixed(4)),
      bytesPerSampleByKind: Object.fromEntries(KINDS.map((k) => [k, Number(((kindBytes.get(k) ?? 0) / ((kindChunks.get(k) ?? 1) * o.samples)).toFixed(4))])),
    }) + '\n',
  );
}

main();
