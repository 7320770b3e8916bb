/**
 * The page side of the page ↔ content-script channel: numbered calls over window.postMessage answered as
 * promises, and extension events fanned out to subscribers. Used by `window.yzt` and the XTXApp layer.
 */
import { PAGE_CHANNEL } from "../shared/channel.js";
import { FORBIDDEN_KEYS_MESSAGE, hasForbiddenKeys } from "../shared/plain-data.js";

export class YztError extends Error {
  override readonly name = "YztError";
  constructor(readonly code: string, message: string, readonly data?: Record<string, unknown>) {
    super(message);
  }
}

export interface PageBridge {
  call<T>(method: string, params?: unknown): Promise<T>;
  onEvent(listener: (type: string, data: { tokenSerial?: string }) => void): void;
  onReady(listener: () => void): void;
}

export function createBridge(): PageBridge {
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: YztError): void }>();
  const eventListeners: Array<(type: string, data: { tokenSerial?: string }) => void> = [];
  const readyListeners: Array<() => void> = [];
  let nextId = 1;
  let ready = false;

  const post = (message: Record<string, unknown>) =>
    window.postMessage({ channel: PAGE_CHANNEL, direction: "to-extension", ...message }, window.location.origin);

  window.addEventListener("message", (event: MessageEvent) => {
    const message = event.data as Record<string, unknown> | null;
    if (event.source !== window || !message || message.channel !== PAGE_CHANNEL || message.direction !== "to-page") return;
    if (message.kind === "ready" && !ready) {
      ready = true;
      for (const listener of readyListeners) listener();
    } else if (message.kind === "result" || message.kind === "error") {
      const entry = pending.get(message.id as number);
      if (!entry) return;
      pending.delete(message.id as number);
      if (message.kind === "result") entry.resolve(message.result);
      else {
        const body = (message.error ?? {}) as { code?: string; message?: string; data?: Record<string, unknown> };
        entry.reject(new YztError(body.code ?? "INTERNAL", body.message ?? "unknown error", body.data));
      }
    } else if (message.kind === "event" && typeof message.event === "string") {
      for (const listener of eventListeners) listener(message.event, (message.data ?? {}) as { tokenSerial?: string });
    }
  });
  post({ kind: "hello" });

  return {
    call<T>(method: string, params: unknown = {}): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const id = nextId++;
        if (hasForbiddenKeys(params)) {
          reject(new YztError("BAD_REQUEST", FORBIDDEN_KEYS_MESSAGE));
          return;
        }
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        try {
          post({ kind: "call", id, method, params });
        } catch (error) {
          // Functions, DOM nodes and the like cannot be posted (DataCloneError): a typed error, never a hang.
          pending.delete(id);
          reject(new YztError("BAD_REQUEST", `arguments must be plain data (${error instanceof Error ? error.name : "not cloneable"})`));
        }
      });
    },
    onEvent(listener) {
      eventListeners.push(listener);
    },
    onReady(listener) {
      if (ready) listener();
      else readyListeners.push(listener);
    },
  };
}
