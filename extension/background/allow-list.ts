/**
 * Which origins get `window.yzt` (API.md section 4; the rule itself is protocol/origin.ts). Defaults: the
 * tax-hall domains over https; the user can add or remove further https sites from the popup. Defaults are
 * injected by the manifest's static content scripts; user sites by a dynamically registered content script,
 * after the browser granted host permission. Loopback sites only while the developer setting is on.
 */
import browser from "webextension-polyfill";
import { DEFAULT_SITE_PATTERNS, originAllowed, originSchema, siteRefusal } from "../../protocol/origin.js";
import { YztError } from "../../protocol/errors.js";
import { developerLoopbackEnabled } from "../shared/developer-setting.js";

const STORAGE_KEY = "userSites";
/** User sites with XTXApp (BJCA SOF_*) compatibility switched on; default sites have it on. */
const XTX_STORAGE_KEY = "xtxSites";
const USER_SCRIPT_ID = "yzt-user-sites";
export { DEFAULT_SITE_PATTERNS };

/** A site the user wants to add, as an origin; http:// and (without the developer setting) loopback refused. */
export function normaliseOrigin(input: string, developerLoopback: boolean): string {
  let url: URL;
  try {
    url = new URL(input.includes("://") ? input : `https://${input}`);
  } catch {
    throw new YztError("BAD_REQUEST", "not a site address");
  }
  const refusal = siteRefusal(url.origin, developerLoopback);
  if (refusal === "notHttps") throw new YztError("NOT_ALLOWED", "only https:// sites can be allowed", { reason: refusal });
  if (refusal === "loopback") throw new YztError("NOT_ALLOWED", "local (loopback) sites need the developer setting", { reason: refusal });
  if (refusal) throw new YztError("BAD_REQUEST", "not a site address");
  return originSchema.parse(url.origin, "origin");
}

/** A list of origins kept in extension storage; anything malformed there reads as empty. */
async function storedOrigins(key: string): Promise<string[]> {
  const stored = (await browser.storage.local.get(key))[key];
  return Array.isArray(stored) ? stored.filter((s): s is string => typeof s === "string") : [];
}

export function userSites(): Promise<string[]> {
  return storedOrigins(STORAGE_KEY);
}

export async function isAllowed(origin: string): Promise<boolean> {
  return originAllowed(origin, await userSites(), await developerLoopbackEnabled());
}

/** Keeps the dynamic content scripts in line with the stored user sites. */
export async function syncUserScripts(): Promise<void> {
  const sites = await userSites();
  const registered = await browser.scripting.getRegisteredContentScripts({ ids: [USER_SCRIPT_ID, `${USER_SCRIPT_ID}-main`] });
  if (registered.length > 0) await browser.scripting.unregisterContentScripts({ ids: registered.map((s) => s.id) });
  if (sites.length === 0) return;
  const matches = sites.map((origin) => `${origin}/*`);
  const manifest = browser.runtime.getManifest() as { content_scripts?: { js?: string[]; world?: string }[] };
  const mainJs = manifest.content_scripts?.find((s) => s.world === "MAIN")?.js ?? [];
  const relayJs = manifest.content_scripts?.find((s) => s.world !== "MAIN")?.js ?? [];
  await browser.scripting.registerContentScripts([
    { id: `${USER_SCRIPT_ID}-main`, matches, js: mainJs, runAt: "document_start", allFrames: false, world: "MAIN" } as never,
    { id: USER_SCRIPT_ID, matches, js: relayJs, runAt: "document_start", allFrames: false },
  ]);
}

export async function addUserSite(origin: string): Promise<string[]> {
  const normalised = normaliseOrigin(origin, await developerLoopbackEnabled());
  const sites = await userSites();
  if (!sites.includes(normalised)) sites.push(normalised);
  await browser.storage.local.set({ [STORAGE_KEY]: sites });
  await syncUserScripts();
  return sites;
}

export async function removeUserSite(origin: string): Promise<string[]> {
  const sites = (await userSites()).filter((site) => site !== origin);
  await browser.storage.local.set({ [STORAGE_KEY]: sites });
  await syncUserScripts();
  try {
    await browser.permissions.remove({ origins: [`${origin}/*`] });
  } catch {
    // Permission may have been revoked already by the user in the browser settings.
  }
  return sites;
}

export function xtxSites(): Promise<string[]> {
  return storedOrigins(XTX_STORAGE_KEY);
}

/** XTXApp compatibility: on by default for the tax-hall domains, opt-in for added sites; same origin rules. */
export async function xtxEnabled(origin: string): Promise<boolean> {
  if (!(await isAllowed(origin))) return false;
  if (originAllowed(origin, [], false)) return true;
  return (await xtxSites()).includes(origin);
}

const SYNC_PAGES_KEY = "xtxSyncPages";

/** Sites seen using BJCA's synchronous library, which cannot work here: the popup tells the user. */
export function syncPages(): Promise<string[]> {
  return storedOrigins(SYNC_PAGES_KEY);
}

export async function rememberSyncPage(origin: string): Promise<void> {
  const known = await syncPages();
  if (known.includes(origin)) return;
  await browser.storage.local.set({ [SYNC_PAGES_KEY]: [...known, origin].slice(-20) });
}

export async function setXtxSite(origin: string, enabled: boolean): Promise<string[]> {
  const sites = (await xtxSites()).filter((site) => site !== origin);
  if (enabled) sites.push(origin);
  await browser.storage.local.set({ [XTX_STORAGE_KEY]: sites });
  return sites;
}
