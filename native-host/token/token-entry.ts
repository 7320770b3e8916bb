/**
 * What the token layer knows about one key: the state every part of the layer shares (slot watcher,
 * session table, operations). One entry per token serial lives in the service's registry for as long as
 * the host runs, so a key that comes back keeps its PIN-failure count.
 */
import type { Key, Module, Session, Slot } from "graphene-pk11";
import { YztError } from "../../protocol/errors.js";
import type { TokenInfo } from "../../protocol/types.js";
import type { EventData, EventName } from "../../protocol/messages.js";
import type { ParsedCertificate } from "../crypto/certificate-view.js";
import type { ModuleCandidate } from "./modules.js";
import { pinStateFrom } from "./pin-state.js";

export interface LoadedModule {
  candidate: ModuleCandidate;
  module: Module | null;
  error?: string;
  manufacturer?: string;
  description?: string;
  /** False once the module said C_WaitForSlotEvent is unsupported: then every poll rescans the slots. */
  slotEvents: boolean;
}

export interface CertificateRecord {
  ckaIdHex: string;
  parsed: ParsedCertificate;
}

/** A promise that rejects when the token is pulled out; every operation on the token races it. */
export interface Removal {
  promise: Promise<never>;
  reject(error: YztError): void;
}

export interface TokenEntry {
  serial: string;
  label: string;
  manufacturer: string;
  model: string;
  owner: LoadedModule;
  slot: Slot;
  present: boolean;
  session: Session | null;
  loggedIn: boolean;
  /** origin → time of last use (ms). */
  grants: Map<string, number>;
  /** Wrong PINs this host saw since the last good one; null when unknown (host started with COUNT_LOW set). */
  failures: number | null;
  /**
   * Wrong PINs in a row that legacy pages supplied (XTXApp SOF_Login). Past PAGE_PIN_ATTEMPTS the host stops
   * passing page PINs to the token, so no page script can lock the key; the extension's own dialog still can.
   */
  pageFailures: number;
  certificates: CertificateRecord[] | null;
  /** Private-key handles by CKA_ID; valid only while logged in, so cleared whenever the login changes. */
  keys: Map<string, Key>;
  removal: Removal;
}

export interface ServiceEvent {
  event: EventName;
  data: EventData;
}

/** What the parts of the token layer share: the registry of tokens and the way out for events. */
export interface TokenContext {
  readonly tokens: Map<string, TokenEntry>;
  readonly pinMaxTries: number;
  now(): Date;
  emitEvent(event: EventName, data: EventData): void;
}

export function newRemoval(): Removal {
  let reject!: (error: YztError) => void;
  const promise = new Promise<never>((_, fail) => {
    reject = fail;
  });
  promise.catch(() => undefined);
  return { promise, reject };
}

export function tokenRemovedError(serial: string): YztError {
  return new YztError("TOKEN_REMOVED", `token ${serial} was removed`, { tokenSerial: serial });
}

export function tokenInfo(entry: TokenEntry, pinMaxTries: number): TokenInfo {
  let flags = 0;
  if (entry.present) {
    try {
      flags = entry.slot.getToken().flags;
    } catch {
      // Removed since the last poll; the watcher will report it.
    }
  }
  return {
    serial: entry.serial, label: entry.label, manufacturer: entry.manufacturer, model: entry.model,
    present: entry.present, loggedIn: entry.present && entry.loggedIn,
    pin: pinStateFrom(flags, pinMaxTries, entry.failures),
  };
}
