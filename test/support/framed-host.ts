/**
 * A host process started the way a test needs (under Wine, under qemu-user), talked to as a browser talks to
 * it: native-messaging frames in and out, replies by id, pushed events kept in order. Every wait is bounded
 * and says what it waited for, with the host's stderr.
 */
import type { spawn } from "node:child_process";
import { encodeFrame, FrameDecoder } from "../../native-host/transport/framing.js";

export interface HostReply {
  id: number;
  result?: unknown;
  error?: { code: string; message: string };
}

type Waiter = { done: (value: unknown) => boolean };

/** A running host: requests, replies and events as native messaging carries them; every wait is bounded. */
export class FramedHost {
  readonly events: Array<{ event: string; data: Record<string, unknown> }> = [];
  stderr = "";
  private readonly replies = new Map<number, HostReply>();
  private readonly waiters = new Set<Waiter>();
  private nextId = 1;
  private readonly exited: Promise<number | null>;
  /** How the process ended, once it has: every wait still open fails at once with it. */
  private ended: string | null = null;

  constructor(private readonly child: ReturnType<typeof spawn>) {
    const decoder = new FrameDecoder(4 * 1024 * 1024);
    child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      for (const decoded of decoder.push(chunk)) {
        if (decoded.kind !== "message") continue;
        const value = decoded.value as HostReply & { event?: string; data?: Record<string, unknown> };
        if (typeof value.id === "number") this.replies.set(value.id, value);
        else if (typeof value.event === "string") this.events.push({ event: value.event, data: value.data ?? {} });
      }
      for (const waiter of [...this.waiters]) if (waiter.done(undefined)) this.waiters.delete(waiter);
    });
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    // "close", not "exit": by then every frame the host wrote has been read.
    child.on("close", (code, signal) => {
      this.ended = `the host exited (code ${code}, signal ${signal})`;
      for (const waiter of [...this.waiters]) if (waiter.done(undefined)) this.waiters.delete(waiter);
    });
  }

  /** Resolves with `probe()`'s first non-undefined value, checked after every frame; rejects after `ms`. */
  until<T>(probe: () => T | undefined, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${what} within ${ms} ms; host stderr:\n${this.stderr.slice(-3000)}`));
      }, ms);
      const waiter: Waiter = {
        done: () => {
          const value = probe();
          if (value === undefined && this.ended === null) return false;
          clearTimeout(timer);
          if (value !== undefined) resolve(value);
          else reject(new Error(`${what}: ${this.ended}; host stderr:\n${this.stderr.slice(-3000)}`));
          return true;
        },
      };
      if (!waiter.done(undefined)) this.waiters.add(waiter);
    });
  }

  send(method: string, params: Record<string, unknown> = {}): number {
    const id = this.nextId++;
    this.child.stdin!.write(encodeFrame({ id, method, params }));
    return id;
  }

  call(method: string, params: Record<string, unknown>, ms: number): Promise<HostReply> {
    const id = this.send(method, params);
    return this.until(() => this.replies.get(id), ms, `no answer to ${method}`);
  }

  /** Closes the host's stdin, as the browser does, and waits for its exit code. */
  async close(ms: number): Promise<number | null> {
    this.child.stdin!.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the host did not exit within ${ms} ms after stdin closed; host stderr:\n${this.stderr.slice(-3000)}`)), ms);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
