/**
 * The host's end of one driver process: starts it, frames requests to its stdin, reads replies and pushed
 * events from its frame descriptor (stdio-layout.ts; the driver's stdout, where vendor libraries print, goes
 * to the host's stderr), and holds a deadline on every call. A call past its deadline (a vendor call that
 * never returns), a frame that does not parse, or the process dying all end the connection once, through
 * `onEnd`, with what happened and which call was running; the driver is killed if it still runs. What to do
 * next (restart, quarantine) is remote-library.ts's business.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { YztError } from "../../protocol/errors.js";
import type { LibraryCandidate, PinReading } from "../token/device.js";
import { encodeFrame, FrameDecoder } from "../transport/framing.js";
import type { DriverCommand } from "./launch.js";
import { driverStdio, FRAMES_FD_ENV } from "./stdio-layout.js";
import { DRIVER_FRAMES_FD, encodeBytes, MAX_DRIVER_FRAME_BYTES, parseDriverFrame, type DriverCall, type DriverEvent, type KeyRef } from "./wire.js";

/** How long a driver's frames may still be read after it exited. */
const FRAMES_DRAIN_MS = 200;

export interface CallOutcome {
  result: unknown;
  pin?: PinReading;
}

/** A driver's error answer, with the PIN counter read after the failed call (a wrong PIN changes it). */
export class DriverCallError extends YztError {
  constructor(error: YztError, readonly pin?: PinReading) {
    super(error.code, error.message, error.data);
  }
}

/** Why a connection ended. `call` is the driver call that was running (or "load"/"scan" when none was). */
export type ConnectionEnd =
  | { kind: "stopped" }
  | { kind: "crashed"; exitCode: number | null; signal: string | null; call: string; key?: KeyRef }
  | { kind: "hung"; call: string; limitMs: number; key?: KeyRef }
  | { kind: "garbage"; detail: string; call: string };

interface Pending {
  call: DriverCall;
  key?: KeyRef;
  resolve(outcome: CallOutcome): void;
  reject(error: YztError): void;
  timer: NodeJS.Timeout;
  /** Error for this call when the connection ends under it. */
  failure?: YztError;
}

export interface ConnectionHandlers {
  onEvent(event: DriverEvent): void;
  /** Called once; every pending call has been rejected with `failureFor(end)` just before. */
  onEnd(end: ConnectionEnd): void;
  /** The error a call gets when the connection ends under it. */
  failureFor(end: ConnectionEnd, call: DriverCall, key?: KeyRef): YztError;
}

/** Every driver still running: whatever the host's way out, none survives it (orphan-guard.ts covers a kill). */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  running.add(child);
  child.once("exit", () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const driver of running) driver.kill("SIGKILL");
  });
}

export class DriverConnection {
  private readonly child: ChildProcess;
  private readonly frames: Readable;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new FrameDecoder(MAX_DRIVER_FRAME_BYTES);
  private nextId = 1;
  private ended = false;
  private stopRequested = false;
  /** What the driver does on its own before it has answered anything: loading, then its first look. */
  private phase: "load" | "scan" = "load";

  /**
   * Starts the driver; or, with `spare`, takes the spare driver the host's loader started (spare.ts, on this
   * runtime with the usual layout) and tells it which library to load.
   */
  constructor(command: DriverCommand, private readonly handlers: ConnectionHandlers, spare?: { child: ChildProcess; load: LibraryCandidate }) {
    const layout = driverStdio(command.arch);
    const env = layout.driverFramesFd === DRIVER_FRAMES_FD ? process.env : { ...process.env, [FRAMES_FD_ENV]: String(layout.driverFramesFd) };
    this.child = spare?.child ?? spawn(command.command, command.args, { stdio: layout.stdio, env, windowsHide: true });
    track(this.child);
    if (spare) this.child.stdin!.write(encodeFrame({ load: spare.load }));
    this.frames = this.child.stdio[layout.framesEntry] as Readable;
    this.frames.on("data", (chunk: Buffer) => this.receive(chunk));
    // A write to a driver that just died fails with EPIPE; its exit reports the crash.
    this.child.stdin!.on("error", () => undefined);
    this.child.on("error", (error) => this.end({ kind: "crashed", exitCode: null, signal: null, call: `start (${error.message})` }));
    this.child.on("exit", (exitCode, signal) => {
      // What the driver wrote before it exited (its last answer, why its library did not load) is read first;
      // a grandchild still holding the pipe (a vendor's helper daemon) does not keep the end waiting.
      const report = () => {
        if (this.stopRequested) this.end({ kind: "stopped" });
        else this.end({ kind: "crashed", exitCode, signal, call: this.runningCall() });
      };
      if (this.frames.readableEnded) report();
      else {
        const fallback = setTimeout(report, FRAMES_DRAIN_MS);
        this.frames.once("end", () => {
          clearTimeout(fallback);
          report();
        });
      }
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.ended;
  }

  /** Marks the driver's own work: once it has loaded, a crash with no call running happened in a look for keys. */
  loaded(): void {
    this.phase = "scan";
  }

  call(call: DriverCall, limitMs: number, key?: KeyRef, args?: unknown): Promise<CallOutcome> {
    if (this.ended) return Promise.reject(new YztError("HOST_ERROR", "the key library's driver is not running"));
    const id = this.nextId++;
    return new Promise<CallOutcome>((resolve, reject) => {
      const timer = setTimeout(() => this.end({ kind: "hung", call, limitMs, ...(key ? { key } : {}) }), limitMs);
      timer.unref();
      this.pending.set(id, { call, ...(key ? { key } : {}), resolve, reject, timer });
      this.child.stdin!.write(encodeFrame({ id, call, ...(key ? { key } : {}), ...(args !== undefined ? { args } : {}) }, encodeBytes));
    });
  }

  /** Asks the driver to close its library and exit; kills it if it has not within `graceMs`. */
  stop(graceMs: number): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.stopRequested = true;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    const killer = setTimeout(() => this.kill(), graceMs);
    this.child.stdin!.end();
    return exited.finally(() => clearTimeout(killer));
  }

  /** Ends the driver at once (a hang, a garbage frame, the host exiting). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private receive(chunk: Buffer): void {
    for (const decoded of this.decoder.push(chunk)) {
      if (this.ended) return;
      try {
        if (decoded.kind === "error") throw decoded.error;
        const frame = parseDriverFrame(decoded.value);
        if (frame.kind === "event") {
          this.handlers.onEvent(frame.event);
          continue;
        }
        const pending = this.pending.get(frame.reply.id);
        if (!pending) throw new YztError("HOST_ERROR", `a reply to unknown request ${frame.reply.id}`);
        this.pending.delete(frame.reply.id);
        clearTimeout(pending.timer);
        if (frame.reply.error) pending.reject(new DriverCallError(YztError.fromBody(frame.reply.error), frame.reply.pin));
        else pending.resolve({ result: frame.reply.result, ...(frame.reply.pin ? { pin: frame.reply.pin } : {}) });
      } catch (error) {
        this.end({ kind: "garbage", detail: YztError.from(error).message, call: this.runningCall() });
      }
    }
  }

  /** The oldest call still waiting for its answer, else what the driver does by itself. */
  private runningCall(): string {
    const first = this.pending.values().next();
    return first.done ? this.phase : first.value.call;
  }

  private end(end: ConnectionEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.kill();
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.handlers.failureFor(end, pending.call, pending.key));
    }
    this.pending.clear();
    this.handlers.onEnd(end);
  }
}
