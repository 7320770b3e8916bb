/**
 * The token layer: everything the host does with PKCS#11 keys, behind one facade for the dispatcher and
 * the CLI. It may import crypto/ (certificates, CMS, encodings), support/ and the protocol contract; nothing
 * in it knows about framing or the browser.
 *
 * The parts, each in its own file:
 * - slot-watcher.ts: loads modules, polls slot events, inserts and removes tokens;
 * - sessions.ts:     one PKCS#11 session per token, per-origin grants, PIN login, idle expiry;
 * - operations.ts:   list certificates, login, sign, change PIN;
 * - token-queue.ts:  one operation at a time per token, racing removal and a timeout.
 * Signing runs through pkcs11js' asynchronous C_Sign (a worker thread), so a slow USB key never blocks slot
 * watching or other tokens.
 */
import { EventEmitter } from "node:events";
import type { SignResult, TokenInfo, YztCertificate } from "../../protocol/types.js";
import type { EventData, EventName, LoginResult } from "../../protocol/messages.js";
import { silentLogger, type Logger } from "../support/log.js";
import type { ModuleCandidate } from "./modules.js";
import type { Sm2Settings } from "./key-signer.js";
import { TokenOperations, type CertificateSnapshot, type SignParams } from "./operations.js";
import { DEFAULT_PIN_MAX_TRIES } from "./pin-state.js";
import { SessionTable } from "./sessions.js";
import { SlotWatcher } from "./slot-watcher.js";
import { tokenInfo, type LoadedModule, type ServiceEvent, type TokenContext, type TokenEntry } from "./token-entry.js";
import { TokenQueue } from "./token-queue.js";

export type { LoadedModule, ServiceEvent } from "./token-entry.js";

export interface TokenServiceOptions {
  /** Grants unused for this long end; when none is left the token is logged out. */
  idleTimeoutMs?: number;
  /** Slot polling period; removal is seen within this (DESIGN.md: ≤ 200 ms). */
  pollIntervalMs?: number;
  /** Upper bound for one token operation (a key waiting for a button press, a wedged driver). */
  operationTimeoutMs?: number;
  pinMaxTries?: number;
  now?: () => Date;
  logger?: Logger;
  /** SM2 mechanisms of libraries named in config.json, and where that file is (for error messages). */
  sm2?: Sm2Settings;
}

export class TokenService extends EventEmitter<{ event: [ServiceEvent] }> {
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly context: TokenContext;
  private readonly sessions: SessionTable;
  private readonly watcher: SlotWatcher;
  private readonly operations: TokenOperations;
  private readonly pollIntervalMs: number;

  constructor(private candidates: ModuleCandidate[], options: TokenServiceOptions = {}) {
    super();
    const now = options.now ?? (() => new Date());
    const logger = options.logger ?? silentLogger;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.context = {
      tokens: this.tokens,
      pinMaxTries: options.pinMaxTries ?? DEFAULT_PIN_MAX_TRIES,
      now,
      emitEvent: (event: EventName, data: EventData) => this.emit("event", { event, data }),
    };
    const queue = new TokenQueue(options.operationTimeoutMs ?? 120_000, () => this.watcher.scan(false));
    this.sessions = new SessionTable(this.context, queue, options.idleTimeoutMs ?? 30 * 60 * 1000);
    this.watcher = new SlotWatcher(this.context, this.sessions, logger);
    this.operations = new TokenOperations(this.context, this.sessions, queue, logger, options.sm2 ?? { configured: [], configPath: "config.json" });
  }

  get modules(): LoadedModule[] {
    return this.watcher.modules;
  }

  /** Loads the modules and takes the first look at the slots; `watch` starts polling and idle expiry. */
  start(watch = true): void {
    this.watcher.load(this.candidates);
    if (watch) {
      this.watcher.startPolling(this.pollIntervalMs);
      this.sessions.startIdleSweep();
    }
  }

  get idleTimeout(): number {
    return this.sessions.idleTimeout;
  }

  setIdleTimeout(ms: number): void {
    this.sessions.setIdleTimeout(ms);
  }

  /** Logs out, closes sessions and finalizes every module. */
  close(): void {
    this.sessions.stopIdleSweep();
    for (const entry of this.tokens.values()) this.sessions.dropSession(entry);
    this.tokens.clear();
    this.watcher.close();
  }

  /** Repair: forget every session and module handle, rediscover, load again. */
  reload(candidates?: ModuleCandidate[]): void {
    const watching = this.watcher.watching;
    for (const entry of this.tokens.values()) {
      if (entry.present) this.watcher.markRemoved(entry);
    }
    this.close();
    if (candidates) this.candidates = candidates;
    this.start(watching);
  }

  listTokens(): TokenInfo[] {
    this.watcher.scan(false);
    return [...this.tokens.values()].map((entry) => tokenInfo(entry, this.context.pinMaxTries));
  }

  listCertificates(filter: { purpose?: "sign" | "encrypt"; tokenSerial?: string } = {}): Promise<YztCertificate[]> {
    return this.operations.listCertificates(filter);
  }

  hasGrant(origin: string, tokenSerial: string): boolean {
    return this.sessions.hasGrant(origin, tokenSerial);
  }

  /** Module/token/certificate facts for diagnostics, without touching any PIN. */
  async snapshot(): Promise<{ tokens: TokenInfo[]; certificates: CertificateSnapshot[] }> {
    const tokens = this.listTokens();
    return { tokens, certificates: await this.operations.certificateSnapshots() };
  }

  login(params: Parameters<TokenOperations["login"]>[0]): Promise<LoginResult> {
    return this.operations.login(params);
  }

  sign(params: SignParams): Promise<SignResult> {
    return this.operations.sign(params);
  }

  logout(params: { origin?: string; tokenSerial?: string } = {}): Promise<{ loggedOut: string[] }> {
    return this.sessions.logout(params);
  }

  changePin(params: Parameters<TokenOperations["changePin"]>[0]): Promise<{ changed: true }> {
    return this.operations.changePin(params);
  }

  decrypt(params: Parameters<TokenOperations["decrypt"]>[0]): Promise<{ data: string }> {
    return this.operations.decrypt(params);
  }

  unlock(params: Parameters<TokenOperations["unlock"]>[0]): Promise<{ unlocked: true }> {
    return this.operations.unlock(params);
  }

  signXml(params: Parameters<TokenOperations["signXml"]>[0]): Promise<{ xml: string }> {
    return this.operations.signXml(params);
  }
}
