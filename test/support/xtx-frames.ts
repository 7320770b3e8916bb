/**
 * Talking XTXApp from a browser page as BJCA's xtxasyn.js pages do: frames on the page's own
 * wss://127.0.0.1:21061/xtxapp/ socket, answered by the extension (no BJCA service listens there).
 */
import type { Page } from "puppeteer-core";

/** Calls one SOF_* function through the page's own XTXApp socket helper; answers come as the wire has them. */
export function sof(page: Page, name: string, ...params: unknown[]): Promise<string> {
  return page.evaluate((n, p) => (window as unknown as { call(name: string, params: unknown[]): Promise<string> }).call(n, p), name, params);
}

/**
 * Sends one raw frame on a socket of its own (libraries open several), the way a given library builds it,
 * and resolves with the parsed reply; heartbeats sent first must not disturb it. `timeoutMs`: a call that
 * waits for a window the test answers meanwhile needs longer than a plain one.
 */
export function rawFrame(page: Page, frame: Record<string, unknown>, heartbeatFirst = false, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return page.evaluate(
    (body, heartbeat, limit) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const socket = new WebSocket("wss://127.0.0.1:21061/xtxapp/");
        const timer = setTimeout(() => reject(new Error("no reply")), limit);
        socket.onopen = () => {
          if (heartbeat) socket.send("");
          socket.send(JSON.stringify(body));
        };
        socket.onmessage = (event) => {
          const reply = JSON.parse(String(event.data)) as Record<string, unknown>;
          if (reply.call_cmd_id !== body.call_cmd_id) return;
          clearTimeout(timer);
          socket.close();
          resolve(reply);
        };
      }),
    frame,
    heartbeatFirst,
    timeoutMs,
  );
}
