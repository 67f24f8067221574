#!/usr/bin/env node
// The hmd command. The code lives in dist/ (TypeScript compiled by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('hmd is not built: run `npm install` (or `npm run build`)\n');
  process.exit(2);
}
process.setSourceMapsEnabled(true);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
