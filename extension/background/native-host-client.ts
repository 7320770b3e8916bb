/**
 * The single long-lived native-messaging port to the host (API.md section 2). Keeping one port keeps the
 * host, and with it the tokens' PKCS#11 sessions, alive as long as the browser. Requests are not validated
 * again here: the background built them from page calls it validated itself (and from its own values, typed
 * by the shared protocol), and the host validates every frame it reads. When the host dies every pending
 * call rejects HOST_ERROR (HOST_MISSING when it was never reachable), and the port is reopened with back-off
 * so token events keep flowing.
 */
import browser from "webextension-polyfill";
import type { Runtime } from "webextension-polyfill";
import { YztError } from "../../protocol/errors.js";
import {
  EVENT_NAMES, HOST_NAME, type HostEvent, type Method, type ParamsOf, type ResultOf,
} from "../../protocol/messages.js";

interface Pending {
  resolve(value: unknown): void;
  reject(error: YztError): void;
  timer: ReturnType<typeof setTimeout>;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** Token operations may wait on a slow key; the host bounds them itself at 120 s. */
const TOKEN_OPERATION_TIMEOUT_MS = 130_000;
const SLOW_METHODS: ReadonlySet<Method> = new Set(["login", "sign", "changePin", "repair", "diagnose", "listCertificates"]);
const MAX_BACKOFF_MS = 30_000;

/** Chrome and Firefox word a missing or unregistered host differently. */
function looksMissing(message: string): boolean {
  return /not found|no such native application|forbidden|not allowed|access to the specified native messaging host/i.test(message);
}

export class NativeHostClient {
  private port: Runtime.Port | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: HostEvent) => void>();
  private readonly openListeners = new Set<() => void>();
  private nextId = 1;
  private heardFromHost = false;
  private backoffMs = 500;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** Last disconnect reason, for status() and diagnostics. */
  lastProblem: YztError | null = null;

  onEvent(listener: (event: HostEvent) => void): void {
    this.listeners.add(listener);
  }

  /** Called each time a port to a (new) host process opens: a restarted host needs its settings again. */
  onOpen(listener: () => void): void {
    this.openListeners.add(listener);
  }

  request<M extends Method>(method: M, params: ParamsOf<M>): Promise<ResultOf[M]> {
    const port = this.connect();
    const id = this.nextId++;
    return new Promise<ResultOf[M]>((resolve, reject) => {
      const timeoutMs = SLOW_METHODS.has(method) ? TOKEN_OPERATION_TIMEOUT_MS : DEFAULT_TIMEOUT_MS;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new YztError("TIMEOUT", `the native host did not answer ${method} in time`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        port.postMessage({ id, method, params });
      } catch (error) {
        this.settle(id, new YztError("HOST_ERROR", `cannot reach the native host: ${String(error)}`));
      }
    });
  }

  /** Opens the port now (at start-up) so token events arrive before any page asks. */
  connect(): Runtime.Port {
    if (this.port) return this.port;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const port = browser.runtime.connectNative(HOST_NAME);
    port.onMessage.addListener((message: unknown) => this.onMessage(message));
    port.onDisconnect.addListener((closed: Runtime.Port) => this.onDisconnect(closed));
    this.port = port;
    for (const listener of this.openListeners) listener();
    return port;
  }

  private onMessage(message: unknown): void {
    this.heardFromHost = true;
    this.backoffMs = 500;
    this.lastProblem = null;
    if (typeof message !== "object" || message === null) return;
    const record = message as Record<string, unknown>;
    if (typeof record.event === "string") {
      if (!(EVENT_NAMES as readonly string[]).includes(record.event)) return;
      const data = typeof record.data === "object" && record.data !== null ? record.data : {};
      for (const listener of this.listeners) listener({ event: record.event, data } as HostEvent);
      return;
    }
    if (typeof record.id !== "number") return;
    if ("error" in record) this.settle(record.id, YztError.fromBody(record.error));
    else if ("result" in record) this.settle(record.id, null, record.result);
  }

  private settle(id: number, error: YztError | null, result?: unknown): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (error) pending.reject(error);
    else pending.resolve(result);
  }

  private onDisconnect(closed: Runtime.Port): void {
    const reason =
      (closed as Runtime.Port & { error?: { message?: string } }).error?.message ??
      (globalThis as { chrome?: { runtime?: { lastError?: { message?: string } } } }).chrome?.runtime?.lastError?.message ??
      "the native host closed the connection";
    const missing = !this.heardFromHost && looksMissing(reason);
    const failure = missing
      ? new YztError("HOST_MISSING", `yzt-bridge native host is not installed: run "yzt install" (${reason})`, { host: HOST_NAME })
      : new YztError("HOST_ERROR", `the native host stopped: ${reason}`);
    this.port = null;
    this.heardFromHost = false;
    this.lastProblem = failure;
    for (const id of [...this.pending.keys()]) this.settle(id, failure);
    // Reopen so events (token inserted/removed) resume; a missing host is retried slowly.
    const delay = missing ? MAX_BACKOFF_MS : this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.port) this.connect();
    }, delay);
  }
}
