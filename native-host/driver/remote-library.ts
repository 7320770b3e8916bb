/**
 * A key library that runs in its own driver process (DESIGN.md "Key backends"), seen by the token layer
 * through the same KeyLibrary seam as an in-process adapter. The watcher's synchronous questions (what
 * changed, which keys are present) are answered from what the driver last pushed, so a slow or stuck
 * library never holds up the host: `hello` never waits for it, and the other libraries' keys go on.
 *
 * When the driver crashes, hangs past its limit or answers garbage, its calls fail (HOST_ERROR, or TIMEOUT
 * for the call that hung) naming the library and the vendor function, its keys leave (tokenremoved), and it
 * is started again after a back-off. After MAX_FAILURES within FAILURE_WINDOW_MS the library is quarantined
 * (quarantine.ts) until its file changes or the user retries (yzt doctor --retry, 全部修复).
 */
import { YztError, type ErrorBody } from "../../protocol/errors.js";
import type { Logger } from "../support/log.js";
import type { KeyDevice, KeyLibrary, LibraryCandidate, LibraryHealth, PresentKey } from "../token/device.js";
import { DriverConnection, type CallOutcome, type ConnectionEnd } from "./connection.js";
import { driverCommand, type DriverCommand } from "./launch.js";
import { claimSpareDriver } from "./spare.js";
import { DriverDevice } from "./remote-device.js";
import type { QuarantineStore } from "./quarantine.js";
import { vendorCall } from "./vendor-calls.js";
import type { DriverCall, DriverEvent, KeyRef, WireKey } from "./wire.js";

export const MAX_FAILURES = 3;
export const FAILURE_WINDOW_MS = 10 * 60_000;
const FIRST_RESTART_MS = 250;
const MAX_RESTART_MS = 10_000;

export interface DriverLimits {
  /** Enumeration, certificate reads, PIN counter, heartbeat: DESIGN.md's 15 s. */
  scanMs: number;
  /** Login, signing, decryption, PIN changes: 120 s (a vendor's own PIN or confirmation window). */
  callMs: number;
  /** How often an idle driver is asked to answer, so a library stuck in its own look is found. */
  heartbeatMs: number;
  /** How long a stopping driver may take before it is killed. */
  stopGraceMs: number;
}

export const DEFAULT_LIMITS: DriverLimits = { scanMs: 15_000, callMs: 120_000, heartbeatMs: 2_000, stopGraceMs: 3_000 };

// Key generation and writes take the signing limit: an RSA-2048 pair takes a smart card seconds to a minute.
const SLOW_CALLS = new Set<DriverCall>(["login", "sign", "decrypt", "openEnvelope", "changePin", "unlock", "generateKeyPair", "importCertificate", "importEncryptionKeyPair", "deleteContainer"]);

export interface DriverLibraryOptions {
  limits: DriverLimits;
  quarantine: QuarantineStore;
  logger: Logger;
  command?: DriverCommand;
}

export class DriverLibrary implements KeyLibrary {
  manufacturer?: string;
  description?: string;
  private loadError: string | null = null;
  private keys: WireKey[] = [];
  private scanError: ErrorBody | null = null;
  private dirty = true;
  private onChange: (() => void) | null = null;
  private connection: DriverConnection | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private failures: number[] = [];
  private closed = false;
  private state: LibraryHealth["state"] = "starting";
  private lastFailure: LibraryHealth["lastFailure"];
  private settle!: () => void;
  private readonly firstAnswer = new Promise<void>((resolve) => (this.settle = resolve));

  constructor(readonly candidate: LibraryCandidate, private readonly options: DriverLibraryOptions) {
    const quarantined = options.quarantine.find(candidate.path);
    if (quarantined) {
      this.state = "quarantined";
      this.lastFailure = { kind: "crashed", call: quarantined.call, at: quarantined.since, detail: quarantined.reason };
      this.settle();
      return;
    }
    this.connect();
  }

  get error(): string | null {
    return this.loadError;
  }

  get health(): LibraryHealth {
    return { state: this.state, recentFailures: this.failuresInWindow().length, ...(this.lastFailure ? { lastFailure: this.lastFailure } : {}) };
  }

  settled(): Promise<void> {
    return this.firstAnswer;
  }

  changed(): boolean {
    const changed = this.dirty;
    this.dirty = false;
    return changed;
  }

  presentKeys(): PresentKey[] {
    if (this.scanError) throw YztError.fromBody(this.scanError);
    return this.keys.map(({ serial, label, manufacturer, model }) => ({ serial, label, manufacturer, model }));
  }

  openKey(key: PresentKey): KeyDevice {
    const wire = this.keys.find((candidate) => candidate.serial === key.serial);
    if (!wire) throw new Error(`key ${key.serial} was not listed by ${this.candidate.path}`);
    return new DriverDevice(wire, this);
  }

  /** The running driver process, as an identity: what one has been sent, a restarted one has not. */
  currentDriver(): object | null {
    return this.connection;
  }

  /** The generation the driver gives a key now; undefined once it is gone. */
  generationOf(serial: string): number | undefined {
    return this.keys.find((key) => key.serial === serial)?.generation;
  }

  startEvents(onChange: () => void): void {
    this.onChange = onChange;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopTimers();
    const connection = this.connection;
    this.connection = null;
    await connection?.stop(this.options.limits.stopGraceMs);
  }

  /** A device call, or a library call without `key`, with the limit its kind of call has. */
  call(call: DriverCall, key?: KeyRef, args?: unknown): Promise<CallOutcome> {
    const connection = this.connection;
    if (!connection?.alive) {
      return Promise.reject(new YztError("HOST_ERROR", `the key library ${this.candidate.path} is ${this.state === "quarantined" ? "quarantined after repeated crashes" : "restarting after a crash"}`, { library: this.candidate.path }));
    }
    return connection.call(call, SLOW_CALLS.has(call) ? this.options.limits.callMs : this.options.limits.scanMs, key, args);
  }

  private connect(): void {
    this.state = this.failures.length > 0 ? "restarting" : "starting";
    const command = this.options.command ?? driverCommand(this.candidate);
    if ("refusal" in command) {
      this.loadError = command.refusal;
      this.settle();
      return;
    }
    // The first start of a library takes the spare driver, already past its Node start, where one is left.
    const spare = this.failures.length === 0 && !this.options.command ? claimSpareDriver(command.command, command.args[0]!) : null;
    const connection = new DriverConnection(command, {
      onEvent: (event) => this.receive(connection, event),
      onEnd: (end) => this.ended(connection, end),
      failureFor: (end, call) => this.failureFor(end, call),
    }, spare ? { child: spare, load: this.candidate } : undefined);
    this.connection = connection;
    this.heartbeat = setInterval(() => {
      // A driver stuck in a vendor call cannot answer; the call's limit then ends it.
      if (connection.alive) connection.call("ping", this.options.limits.scanMs).catch(() => undefined);
    }, this.options.limits.heartbeatMs);
    this.heartbeat.unref();
  }

  private receive(connection: DriverConnection, event: DriverEvent): void {
    if (connection !== this.connection) return;
    if (event.event === "loaded") {
      connection.loaded();
      this.loadError = event.error;
      if (event.manufacturer) this.manufacturer = event.manufacturer;
      if (event.description) this.description = event.description;
      if (event.error !== null) {
        this.options.logger.log("warn", "key library failed to load", { kind: this.candidate.kind, path: this.candidate.path, error: event.error });
        this.settle();
      }
      return;
    }
    this.keys = event.keys;
    this.scanError = event.scanError;
    this.state = "ready";
    this.markChanged();
    this.settle();
  }

  private ended(connection: DriverConnection, end: ConnectionEnd): void {
    if (connection !== this.connection) return;
    this.stopTimers();
    this.connection = null;
    this.settle();
    // The driver's keys are gone with it: the watcher reports them removed, and again inserted after a restart.
    // It hears of it on the next turn of the event loop, once the calls that failed with the driver have
    // reached their callers: they get the error that names the library and the call, not the removal.
    this.keys = [];
    this.scanError = null;
    setImmediate(() => this.markChanged());
    if (end.kind === "stopped" || this.closed || this.loadError !== null) return;
    const call = vendorCall(this.candidate.kind, end.call);
    const detail = describeEnd(end);
    this.lastFailure = { kind: end.kind, call, at: new Date().toISOString(), detail };
    this.failures = [...this.failuresInWindow(), Date.now()];
    this.options.logger.log("warn", "key library driver failed", { path: this.candidate.path, kind: end.kind, call, detail, failures: this.failures.length });
    if (this.failures.length >= MAX_FAILURES) {
      this.state = "quarantined";
      this.options.quarantine.add(this.candidate.path, { since: this.lastFailure.at, call, reason: `${end.kind}: ${detail}` });
      this.options.logger.log("warn", "key library quarantined", { path: this.candidate.path, call });
      this.settle();
      return;
    }
    this.state = "restarting";
    const backoffMs = Math.min(FIRST_RESTART_MS * 2 ** (this.failures.length - 1), MAX_RESTART_MS);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.closed) this.connect();
    }, backoffMs);
  }

  private failureFor(end: ConnectionEnd, call: DriverCall): YztError {
    const vendor = vendorCall(this.candidate.kind, call);
    const data = { library: this.candidate.path, call: vendor };
    if (end.kind === "hung") {
      return new YztError("TIMEOUT", `the key library ${this.candidate.path} did not return from ${vendor} within ${Math.round(end.limitMs / 1000)} s; its driver was stopped`, data);
    }
    if (end.kind === "stopped") return new YztError("HOST_ERROR", `the key library ${this.candidate.path} was closed`, data);
    return new YztError("HOST_ERROR", `the key library ${this.candidate.path} crashed in ${vendor} (${describeEnd(end)}); it is being restarted`, data);
  }

  private markChanged(): void {
    this.dirty = true;
    this.onChange?.();
  }

  /** When the crashes and hangs within the quarantine window happened. */
  private failuresInWindow(): number[] {
    const now = Date.now();
    return this.failures.filter((at) => now - at < FAILURE_WINDOW_MS);
  }

  private stopTimers(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.heartbeat = null;
    this.restartTimer = null;
  }
}

function describeEnd(end: ConnectionEnd): string {
  switch (end.kind) {
    case "crashed":
      return end.signal ? `signal ${end.signal}` : `exit code ${end.exitCode}`;
    case "hung":
      return `no answer within ${Math.round(end.limitMs / 1000)} s`;
    case "garbage":
      return `unreadable answer: ${end.detail}`;
    default:
      return "stopped";
  }
}
