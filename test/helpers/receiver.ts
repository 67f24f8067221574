/**
 * A real HTTP endpoint for the daemon's webhooks, as a deploy system would run one: it records
 * every call and deduplicates by Idempotency-Key (the first call with a key acts; repeats are
 * answered the same and counted). It can fail the first calls, to exercise retries.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HookCall {
  readonly path: string;
  readonly key: string | undefined;
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
}

export interface Receiver {
  readonly url: string;
  /** Every call, in order, repeats and failed ones included. */
  readonly calls: HookCall[];
  /** Calls that acted: one per distinct idempotency key, answered 2xx. */
  readonly acted: HookCall[];
  /** Answer the next `n` calls with `status` (then succeed again). */
  failNext(n: number, status?: number): void;
  /** Wait this long before answering each call (so that a caller can die while it waits). */
  delayMs: number;
  /** Calls received so far, answered or not (`calls` holds them once answered). */
  arrived: number;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1. */
export async function startReceiver(): Promise<Receiver> {
  const calls: HookCall[] = [];
  const acted: HookCall[] = [];
  const seen = new Set<string>();
  let failing = 0;
  let failStatus = 503;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.arrived++;
      setTimeout(answer, receiver.delayMs);
    });
    const answer = () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = { unparsable: true };
      }
      const key = req.headers['idempotency-key'] as string | undefined;
      const call: HookCall = { path: req.url ?? '', key, authorization: req.headers.authorization, body };
      calls.push(call);
      if (failing > 0) {
        failing--;
        res.writeHead(failStatus, { 'content-type': 'text/plain' }).end('try later');
        return;
      }
      if (key !== undefined && !seen.has(key)) {
        seen.add(key);
        acted.push(call);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    };
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const receiver: Receiver = {
    delayMs: 0,
    arrived: 0,
    url: `http://127.0.0.1:${port}`,
    calls,
    acted,
    failNext(n, status = 503) {
      failing = n;
      failStatus = status;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return receiver;
}
