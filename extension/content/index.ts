/**
 * Content script (isolated world): relays `window.yzt` calls between the page script and the background
 * over a runtime port, hashes large data with WebCrypto before it leaves the tab, and draws the removal
 * warning. Page messages are untrusted input: only the envelope is checked here, the background validates
 * the rest and decides the origin itself.
 */
import browser from "webextension-polyfill";
import type { Runtime } from "webextension-polyfill";
import { HASH_IN_EXTENSION_BYTES, PAGE_CHANNEL, type BackgroundToContent } from "../shared/page-protocol.js";
import { hideRemovalWarning, showRemovalWarning } from "./warning-overlay.js";

let port: Runtime.Port | null = null;
const inFlight = new Set<number>();

function toPage(message: Record<string, unknown>): void {
  window.postMessage({ channel: PAGE_CHANNEL, direction: "to-page", ...message }, window.location.origin);
}

function onBackgroundMessage(raw: unknown): void {
  const message = raw as BackgroundToContent;
  switch (message.type) {
    case "result":
      inFlight.delete(message.id);
      toPage({ kind: "result", id: message.id, result: message.result });
      break;
    case "error":
      inFlight.delete(message.id);
      toPage({ kind: "error", id: message.id, error: message.error });
      break;
    case "event":
      if (message.event === "tokeninserted") hideRemovalWarning();
      toPage({ kind: "event", event: message.event, data: message.data });
      break;
    case "warning":
      if (message.show) showRemovalWarning(message.label);
      else hideRemovalWarning();
      break;
  }
}

function connect(): Runtime.Port {
  if (port) return port;
  const opened = browser.runtime.connect({ name: "yzt-page" });
  opened.onMessage.addListener(onBackgroundMessage);
  opened.onDisconnect.addListener(() => {
    port = null;
    // The background restarted: calls it was working on are lost, so say so instead of hanging.
    for (const id of inFlight) toPage({ kind: "error", id, error: { code: "HOST_ERROR", message: "the extension restarted; please retry" } });
    inFlight.clear();
  });
  port = opened;
  return opened;
}

function base64ByteLength(text: string): number {
  return (text.length / 4) * 3 - (text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0);
}

function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Large data for a detached or raw signature becomes its SHA-256 here, so megabytes never cross the native port. */
async function shrinkSignParams(params: unknown): Promise<unknown> {
  if (typeof params !== "object" || params === null) return params;
  const { data, format, ...rest } = params as Record<string, unknown>;
  if (typeof data !== "string" || format === "pkcs7-attached" || base64ByteLength(data) < HASH_IN_EXTENSION_BYTES) return params;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = base64ToBytes(data);
  } catch {
    return params; // not base64: the background rejects it with a precise message
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return { ...rest, format, digest: bytesToBase64(digest) };
}

window.addEventListener("message", (event: MessageEvent) => {
  const message = event.data as Record<string, unknown> | null;
  if (event.source !== window || !message || message.channel !== PAGE_CHANNEL || message.direction !== "to-extension") return;
  if (message.kind === "hello") {
    connect();
    toPage({ kind: "ready" });
    return;
  }
  if (message.kind !== "call" || typeof message.id !== "number" || typeof message.method !== "string") return;
  const { id, method } = message as { id: number; method: string };
  void (async () => {
    const params = method === "sign" ? await shrinkSignParams(message.params) : message.params;
    inFlight.add(id);
    connect().postMessage({ type: "call", id, method, params });
  })();
});
