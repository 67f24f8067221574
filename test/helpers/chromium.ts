/**
 * A real headless Chromium for tests that must see a page as a browser renders it: Debian's
 * `chromium` (or HMD_CHROMIUM) driven by playwright-core, which launches it with a fresh
 * temporary profile and removes that when the browser closes.
 *
 *   const browser = await launchChromium();
 *   const p = await openHtml(browser, html);   // written to a temp file, opened as file://
 *   ... p.page.$$eval(...), p.requests, p.consoleErrors ...
 *   await p.close(); await browser.close();
 *
 * Tests that need it use `chromiumTest(suite, name, fn)`: skipped when the browser is missing,
 * except under CI=true, where that is a failure (as `prometheusTest` does for Prometheus).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';

export const CHROMIUM_BIN = process.env['HMD_CHROMIUM'] ?? '/usr/bin/chromium';

export const MISSING_CHROMIUM = `chromium is not installed at ${CHROMIUM_BIN} (CI must install it: apt-get install chromium; or set HMD_CHROMIUM)`;

// Nothing the browser does on its own (updates, sync, QUIC probes) may show up as a request of the page.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let available: boolean | undefined;

/** True when the Chromium binary runs (`--version`). */
export function haveChromium(): boolean {
  available ??= spawnSync(CHROMIUM_BIN, ['--version'], { stdio: 'ignore', timeout: 30_000 }).status === 0;
  return available;
}

let told = false;

/** Registers a test that needs Chromium: run when present, skipped (with a note) when not, failed under CI=true when not. */
export function chromiumTest<T>(s: Test<T>, name: string, fn: Parameters<Test<T>>[1]): void {
  if (haveChromium()) s(name, fn);
  else if (process.env['CI'] && process.env['CI'] !== 'false') s(name, () => assert.unreachable(MISSING_CHROMIUM));
  else {
    if (!told) console.warn(`skipping browser tests: ${MISSING_CHROMIUM}`);
    told = true;
    s.skip(name, fn);
  }
}

/** Starts headless Chromium; close it with `browser.close()`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_BIN, args: ARGS, timeout: 60_000 });
}

/** A page opened from a file, with what it asked for and what it complained about. */
export interface OpenedPage {
  readonly page: Page;
  readonly url: string;
  /** Every request the page made, the document's own included. */
  readonly requests: string[];
  /** Console errors and uncaught exceptions (a Content-Security-Policy refusal is one). */
  readonly consoleErrors: string[];
  close(): Promise<void>;
}

/** Writes `html` to a fresh temp directory and opens it as a file:// page, recording requests and errors from the start. */
export async function openHtml(browser: Browser, html: string): Promise<OpenedPage> {
  const dir = mkdtempSync(join(tmpdir(), 'hmd-html-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, html);
  const opened = await openUrl(browser, pathToFileURL(file).href);
  return {
    ...opened,
    close: async () => {
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens a page served at `url` (a daemon's status page), recording requests and errors from the start. */
export async function openUrl(browser: Browser, url: string): Promise<OpenedPage> {
  const page = await browser.newPage();
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(url, { waitUntil: 'load' });
  return { page, url, requests, consoleErrors, close: () => page.close() };
}
