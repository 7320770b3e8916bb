/**
 * Driving the virtual token from outside, as a user would a real key: pull it out, put it back, make it
 * slow, read or reset its PIN retry counters (the user PIN's and the SO PIN's). The shim reads these files on
 * every call.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { VtokenManifest } from "./manifest.js";

export function readManifest(home: string): VtokenManifest {
  return JSON.parse(readFileSync(join(home, "manifest.json"), "utf8")) as VtokenManifest;
}

/** Accepts an alias (demo, ec, expired, expiring) or a serial. */
export function serialOf(home: string, aliasOrSerial: string): string {
  const token = readManifest(home).tokens.find((t) => t.alias === aliasOrSerial || t.serial === aliasOrSerial);
  if (!token) throw new Error(`unknown virtual token "${aliasOrSerial}" (try demo, ec, expired, expiring)`);
  return token.serial;
}

function stateDir(home: string, aliasOrSerial: string): string {
  const dir = join(home, "state", serialOf(home, aliasOrSerial));
  mkdirSync(dir, { recursive: true });
  return dir;
}

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

export function removeToken(home: string, aliasOrSerial: string): void {
  writeFileSync(join(stateDir(home, aliasOrSerial), "removed"), "");
}

export function insertToken(home: string, aliasOrSerial: string): void {
  rmSync(join(stateDir(home, aliasOrSerial), "removed"), { force: true });
}

export function isInserted(home: string, aliasOrSerial: string): boolean {
  return !existsSync(join(stateDir(home, aliasOrSerial), "removed"));
}

/** True while an operation on the key waits out its latency (the shim's busy marker): it is at the key now. */
export function isBusy(home: string, aliasOrSerial: string): boolean {
  return existsSync(join(stateDir(home, aliasOrSerial), "busy"));
}

/** Resolves once an operation is at the key (see isBusy): the moment a test means by "during". */
export async function untilBusy(home: string, aliasOrSerial: string): Promise<void> {
  while (!isBusy(home, aliasOrSerial)) await new Promise((resolve) => setTimeout(resolve, 10));
}

export function setLatency(home: string, aliasOrSerial: string, ms: number): void {
  if (!Number.isInteger(ms) || ms < 0 || ms > 600_000) throw new Error("latency must be 0..600000 ms");
  writeAtomically(join(stateDir(home, aliasOrSerial), "latency-ms"), `${ms}\n`);
}

export function getLatency(home: string, aliasOrSerial: string): number {
  const path = join(stateDir(home, aliasOrSerial), "latency-ms");
  return existsSync(path) ? Number.parseInt(readFileSync(path, "utf8"), 10) || 0 : 0;
}

/** Tries of each PIN, the user's and the SO's (admin's). */
export const MAX_PIN_TRIES = 10;

/** The state file of a PIN's retry counter (absent = all tries left). */
type PinCounter = "retries" | "so-retries";

function readCounter(home: string, aliasOrSerial: string, counter: PinCounter): number {
  const path = join(stateDir(home, aliasOrSerial), counter);
  if (!existsSync(path)) return MAX_PIN_TRIES;
  const value = Number.parseInt(readFileSync(path, "utf8"), 10);
  return Number.isFinite(value) ? value : MAX_PIN_TRIES;
}

function writeCounter(home: string, aliasOrSerial: string, counter: PinCounter, retries: number): void {
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_PIN_TRIES) throw new Error(`PIN retries must be 0..${MAX_PIN_TRIES}`);
  writeAtomically(join(stateDir(home, aliasOrSerial), counter), `${retries}\n`);
}

/** User-PIN tries left: 0 = locked. */
export function getRetries(home: string, aliasOrSerial: string): number {
  return readCounter(home, aliasOrSerial, "retries");
}

export function setRetries(home: string, aliasOrSerial: string, retries: number): void {
  writeCounter(home, aliasOrSerial, "retries", retries);
}

/** SO-PIN (admin PIN) tries left: 0 = locked, and then no unlock is possible any more. */
export function getSoRetries(home: string, aliasOrSerial: string): number {
  return readCounter(home, aliasOrSerial, "so-retries");
}

export function setSoRetries(home: string, aliasOrSerial: string, retries: number): void {
  writeCounter(home, aliasOrSerial, "so-retries", retries);
}

/** What a service point does to a locked key: SO login + C_InitPIN, setting the user PIN again. */
export function unlockToken(home: string, aliasOrSerial: string): void {
  const manifest = readManifest(home);
  const token = manifest.tokens.find((t) => t.alias === aliasOrSerial || t.serial === aliasOrSerial);
  if (!token) throw new Error(`unknown virtual token "${aliasOrSerial}"`);
  execFileSync("pkcs11-tool", ["--module", manifest.module, "--token-label", token.label, "--login", "--login-type", "so", "--so-pin", manifest.soPin, "--init-pin", "--pin", manifest.userPin], {
    env: { ...process.env, YZT_VTOKEN_HOME: home },
    stdio: "ignore",
  });
}

/** A key fresh from the issuer: its PIN is the initial one from the PIN card and must be changed (CKF_USER_PIN_TO_BE_CHANGED). */
export function setPinToBeChanged(home: string, aliasOrSerial: string, toBeChanged: boolean): void {
  const path = join(stateDir(home, aliasOrSerial), "pin-to-be-changed");
  if (toBeChanged) writeFileSync(path, "");
  else rmSync(path, { force: true });
}
