/**
 * Content script (isolated world): relays `window.yzt` calls between the page script and the background
 * over a runtime port and draws the removal warning. Page messages are untrusted input: only the envelope
 * is checked here, the background validates the rest and decides the origin itself.
 */
import browser from "webextension-polyfill";
import type { Runtime } from "webextension-polyfill";
import { PAGE_CHANNEL, type BackgroundToContent } from "../shared/page-protocol.js";
import { FORBIDDEN_KEYS_MESSAGE, hasForbiddenKeys } from "../shared/plain-data.js";
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
      if (message.event === "tokeninserted") hideRemovalWarning(message.data.tokenSerial);
      toPage({ kind: "event", event: message.event, data: message.data });
      break;
    case "warning":
      if (message.show) showRemovalWarning({ label: message.label, company: message.company, tokenSerial: message.tokenSerial });
      else hideRemovalWarning(message.tokenSerial);
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

/**
 * Page data copied into the content script's own realm. In Firefox, page objects reach content scripts
 * behind Xray wrappers that refuse some property access; page API messages are plain JSON anyway.
 */
function plainCopy(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return null;
  }
}

window.addEventListener("message", (event: MessageEvent) => {
  if (event.source !== window) return;
  const peek = event.data as Record<string, unknown> | null;
  if (!peek || typeof peek !== "object" || peek.channel !== PAGE_CHANNEL || peek.direction !== "to-extension") return;
  if (peek.kind === "hello") {
    connect();
    toPage({ kind: "ready" });
    return;
  }
  // From here on every call gets exactly one answer, whatever the page sent: never leave it hanging.
  const id = peek.kind === "call" ? peek.id : undefined;
  if (typeof id !== "number") return;
  const refuse = (code: string, text: string) => toPage({ kind: "error", id, error: { code, message: text } });
  const message = plainCopy(peek) as Record<string, unknown> | null;
  // Not plain data (Firefox's Xray wrappers refuse some page objects), or changed by the copy.
  if (!message || message.id !== id || typeof message.method !== "string") {
    refuse("BAD_REQUEST", "the call's arguments are not plain data");
    return;
  }
  if (hasForbiddenKeys(message.params)) {
    refuse("BAD_REQUEST", FORBIDDEN_KEYS_MESSAGE);
    return;
  }
  try {
    inFlight.add(id);
    connect().postMessage({ type: "call", id, method: message.method, params: message.params });
  } catch (error) {
    inFlight.delete(id);
    refuse("INTERNAL", `the extension could not forward the call: ${String(error)}`);
  }
});
