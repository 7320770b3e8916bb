/**
 * `window.yzt` (API.md section 1), injected into the MAIN world of allowed top-level pages at document_start.
 * It only forwards calls to the content script with window.postMessage and turns answers back into promises;
 * it holds no secrets (PINs are typed in extension windows) and every call is validated again by the
 * background, which also takes the origin from the browser rather than from here.
 */
import { PAGE_CHANNEL } from "../shared/channel.js";

type Listener = (event: { tokenSerial?: string }) => void;
type EventType = "tokeninserted" | "tokenremoved" | "sessionended" | "certificateschanged";
const EVENT_TYPES: readonly string[] = ["tokeninserted", "tokenremoved", "sessionended", "certificateschanged"];

class YztError extends Error {
  override readonly name = "YztError";
  constructor(readonly code: string, message: string, readonly data?: Record<string, unknown>) {
    super(message);
  }
}

function install(): void {
  if (window.top !== window || Object.hasOwn(window, "yzt")) return;

  const pending = new Map<number, { resolve(value: unknown): void; reject(error: YztError): void }>();
  const listeners = new Map<string, Set<Listener>>();
  const submissions = new Map<number, (error: YztError) => void>();
  let nextCallId = 1;
  let nextSubmissionId = 1;
  let ready = false;

  function post(message: Record<string, unknown>): void {
    window.postMessage({ channel: PAGE_CHANNEL, direction: "to-extension", ...message }, window.location.origin);
  }

  function call<T>(method: string, params: unknown = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = nextCallId++;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      post({ kind: "call", id, method, params });
    });
  }

  function dispatch(type: string, data: { tokenSerial?: string }): void {
    if (type === "tokenremoved") {
      for (const reject of submissions.values()) reject(new YztError("TOKEN_REMOVED", "证书已拔出，请重新插入证书后再提交 (the token was removed)", data));
    }
    for (const listener of [...(listeners.get(type) ?? [])]) {
      try {
        listener({ ...data });
      } catch (error) {
        // A failing page listener must not stop the others.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  window.addEventListener("message", (event: MessageEvent) => {
    const message = event.data as Record<string, unknown> | null;
    if (event.source !== window || !message || message.channel !== PAGE_CHANNEL || message.direction !== "to-page") return;
    if (message.kind === "ready" && !ready) {
      ready = true;
      window.dispatchEvent(new Event("yzt-ready"));
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
      dispatch(message.event, (message.data ?? {}) as { tokenSerial?: string });
    }
  });

  function checkListener(type: unknown, cb: unknown): asserts cb is Listener {
    if (typeof type !== "string" || !EVENT_TYPES.includes(type)) throw new YztError("BAD_REQUEST", `unknown event type "${String(type)}"`);
    if (typeof cb !== "function") throw new YztError("BAD_REQUEST", "the listener must be a function");
  }

  const api = Object.freeze({
    version: () => call("version"),
    status: () => call("status"),
    listCertificates: (filter?: unknown) => call("listCertificates", filter ?? {}),
    selectCertificate: (options?: unknown) => call("selectCertificate", options ?? {}),
    login: (options: unknown) => call("login", options),
    sign: (options: unknown) => call("sign", options),
    changePin: (options: unknown) => call("changePin", options),
    logout: () => call("logout"),
    async submission<T>(label: string, work: () => Promise<T>): Promise<T> {
      if (typeof work !== "function") throw new YztError("BAD_REQUEST", "submission: work must be a function");
      const submissionId = nextSubmissionId++;
      await call("submissionBegin", { submissionId, label: String(label).slice(0, 200) });
      let abort!: (error: YztError) => void;
      const removed = new Promise<never>((_, reject) => {
        abort = reject;
      });
      submissions.set(submissionId, abort);
      try {
        // If the key is pulled out, the submission fails at once even if `work` waits on something else.
        return await Promise.race([Promise.resolve().then(work), removed]);
      } finally {
        submissions.delete(submissionId);
        call("submissionEnd", { submissionId }).catch(() => undefined);
      }
    },
    addEventListener(type: EventType, cb: Listener): void {
      checkListener(type, cb);
      let set = listeners.get(type);
      if (!set) listeners.set(type, (set = new Set()));
      set.add(cb);
    },
    removeEventListener(type: EventType, cb: Listener): void {
      checkListener(type, cb);
      listeners.get(type)?.delete(cb);
    },
  });

  Object.defineProperty(window, "yzt", { value: api, writable: false, configurable: false, enumerable: true });
  post({ kind: "hello" });
}

install();
