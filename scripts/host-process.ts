/**
 * Driver for the real native host: spawns `node dist/native-host/main.js`, speaks the real stdio
 * framing to it, and collects replies and events. Used by integration tests and the benchmark.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { hostEntry, packageRoot } from "../native-host/install/paths.js";
import { HOST_PROCESS_ENV } from "../native-host/install/host-manifest.js";
import { libraryFlag, type HostLibrary } from "../test/virtual-token/backend.js";
import { YztError } from "../protocol/errors.js";
import { encodeFrame, FrameDecoder } from "../native-host/transport/framing.js";
import type { HostEvent, Method, ParamsOf, ResultOf } from "../protocol/messages.js";

export const REPO_ROOT = packageRoot();

interface Pending {
  resolve(value: unknown): void;
  reject(error: YztError): void;
}

export class HostProcess {
  readonly events: HostEvent[] = [];
  /** Replies addressed to id 0: errors for frames that could not be read at all. */
  readonly unaddressed: YztError[] = [];
  readonly stderr: string[] = [];
  /** Every reply received, addressed to a pending call or not (fuzzing counts them). */
  responseCount = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);
  private readonly waiters: Array<() => void> = [];
  private nextId = 1;
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (chunk: Buffer) => this.onData(chunk));
    child.stderr.on("data", (chunk: Buffer) => this.stderr.push(chunk.toString("utf8")));
    this.exited = new Promise((resolve) => child.on("exit", (code) => {
      for (const pending of this.pending.values()) pending.reject(new YztError("HOST_ERROR", "host exited"));
      this.pending.clear();
      resolve(code);
    }));
  }

  /**
   * Starts the host on one library, named by its flag (--module for PKCS#11, --skf-module for SKF), or with
   * no flag, on what its environment (YZT_PKCS11_MODULE, YZT_SKF_MODULE) or discovery gives; `args` adds more
   * (a browser's own), `entry` runs another copy of the host (an installation's).
   */
  static start(options: { library?: HostLibrary; env?: Record<string, string>; args?: string[]; entry?: string }): HostProcess {
    const flags = options.library ? [libraryFlag(options.library), options.library.path] : [];
    const child = spawn(process.execPath, [options.entry ?? hostEntry(), ...flags, ...(options.args ?? [])], {
      // As the launchers browsers start run it (host-manifest.ts).
      env: { ...process.env, ...HOST_PROCESS_ENV, YZT_LOG_LEVEL: "debug", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    return new HostProcess(child);
  }

  request<M extends Method>(method: M, params: ParamsOf<M> | Record<string, unknown> = {}): Promise<ResultOf[M]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.stdin.write(encodeFrame({ id, method, params }));
    });
  }

  /** Sends arbitrary bytes, for malformed-input tests. */
  sendRaw(bytes: Buffer): void {
    this.child.stdin.write(bytes);
  }

  /** Resolves when an event matching `predicate` has arrived (including earlier ones), else rejects. */
  waitForEvent(predicate: (event: HostEvent) => boolean, timeoutMs = 3000): Promise<HostEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.events.find(predicate);
        if (found) resolve(found);
        return found !== undefined;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      const waiter = () => {
        if (check()) {
          clearTimeout(timer);
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
        }
      };
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<number | null> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  private onData(chunk: Buffer): void {
    for (const decoded of this.decoder.push(chunk)) {
      if (decoded.kind === "error") throw decoded.error;
      const message = decoded.value as Record<string, unknown>;
      if (typeof message.event === "string") {
        this.events.push(message as unknown as HostEvent);
        for (const waiter of [...this.waiters]) waiter();
        continue;
      }
      const id = message.id as number;
      this.responseCount++;
      if ("error" in message) {
        const error = YztError.fromBody(message.error);
        const pending = this.pending.get(id);
        if (pending) pending.reject(error);
        else this.unaddressed.push(error);
      } else {
        this.pending.get(id)?.resolve(message.result);
      }
      this.pending.delete(id);
    }
  }
}

/** Awaits a promise that must reject, returning the YztError. */
export async function rejectionOf(promise: Promise<unknown>): Promise<YztError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof YztError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}
