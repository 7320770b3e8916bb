/**
 * Native-messaging registration: the host manifest each browser family reads, and the launcher script it
 * points to. Browsers start the host with a minimal command line, so the launcher pins the Node binary, the
 * host entry and the environment (module path, virtual-token home) the user chose at install time.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { HOST_NAME } from "../../protocol/messages.js";

export type BrowserFamily = "chromium" | "firefox";

export const FIREFOX_EXTENSION_ID = "yzt-bridge@yztbridge.org";

/** Chrome derives an extension id from the manifest `key`: SHA-256 of the DER key, first 16 bytes, as a-p. */
export function chromeExtensionIdFromKey(base64Key: string): string {
  const digest = createHash("sha256").update(Buffer.from(base64Key, "base64")).digest("hex").slice(0, 32);
  return [...digest].map((hex) => String.fromCharCode(97 + parseInt(hex, 16))).join("");
}

/** The stable Chrome extension id, from the `{{chrome}}.key` in the repository's manifest.json. */
export function chromeExtensionId(manifestPath: string): string {
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, unknown>;
  const key = manifest["{{chrome}}.key"] ?? manifest.key;
  if (typeof key !== "string") throw new Error(`${manifestPath} has no extension key`);
  return chromeExtensionIdFromKey(key);
}

/**
 * The manifest a browser family reads. Chromium browsers get every published id (`storeIds`: Edge Add-ons,
 * 360; see extension-ids.ts) beside the Chrome id, so the copy from any store may connect.
 */
export function hostManifest(family: BrowserFamily, launcherPath: string, chromeId: string, storeIds: readonly string[] = []): Record<string, unknown> {
  const common = { name: HOST_NAME, description: "yzt-bridge native host (USB certificate tokens)", path: launcherPath, type: "stdio" };
  const origins = [...new Set([chromeId, ...storeIds])].map((id) => `chrome-extension://${id}/`);
  return family === "firefox" ? { ...common, allowed_extensions: [FIREFOX_EXTENSION_ID] } : { ...common, allowed_origins: origins };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Environment every launcher sets for the host's Node. glibc gives each thread that allocates its own malloc
 * arena and keeps what it once held; a host signs on libuv's pool threads, and with one arena per thread it
 * grew some 5 MB more after a thousand signatures than with two. (Other C libraries ignore the variable.)
 */
export const HOST_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

const HOST_LAUNCHER_NOTE = "yzt-bridge native host launcher (generated; browsers run this via native messaging)";

/** A shell launcher that runs `entry` on `node`; `note` says what it is (default: the native host's). */
export function launcherScript(options: { node: string; entry: string; env?: Record<string, string>; note?: string }): string {
  const exports = Object.entries({ ...HOST_PROCESS_ENV, ...options.env })
    .filter(([name]) => /^[A-Z_][A-Z0-9_]*$/.test(name))
    .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
    .join("");
  return `#!/bin/sh\n# ${options.note ?? HOST_LAUNCHER_NOTE}\n${exports}exec ${shellQuote(options.node)} ${shellQuote(options.entry)} "$@"\n`;
}

export interface Registration {
  family: BrowserFamily;
  /** Directory the browser searches for host manifests. */
  manifestDir: string;
  launcherPath: string;
  node: string;
  entry: string;
  env?: Record<string, string>;
  chromeId: string;
}

/** Writes launcher + manifest; returns the manifest path. */
export function writeRegistration(registration: Registration): string {
  mkdirSync(dirname(registration.launcherPath), { recursive: true });
  writeFileSync(registration.launcherPath, launcherScript(registration));
  chmodSync(registration.launcherPath, 0o755);
  mkdirSync(registration.manifestDir, { recursive: true });
  const manifestPath = join(registration.manifestDir, `${HOST_NAME}.json`);
  writeFileSync(manifestPath, JSON.stringify(hostManifest(registration.family, registration.launcherPath, registration.chromeId), null, 2) + "\n");
  return manifestPath;
}
