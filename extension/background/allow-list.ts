/**
 * Which origins get `window.yzt`. Defaults: the tax-hall domains and the local demo; the user can add or
 * remove further sites from the popup. Defaults are injected by the manifest's static content scripts;
 * user sites by a dynamically registered content script, after the browser granted host permission.
 */
import browser from "webextension-polyfill";
import { originSchema } from "../../protocol/origin.js";
import { originMatchesPattern } from "../../protocol/origin.js";

const STORAGE_KEY = "userSites";
/** User sites with XTXApp (BJCA SOF_*) compatibility switched on; default sites have it on. */
const XTX_STORAGE_KEY = "xtxSites";
const USER_SCRIPT_ID = "yzt-user-sites";
export const DEFAULT_SITE_PATTERNS = ["*://*.chinatax.gov.cn/*", "*://*.beijing.gov.cn/*", "http://127.0.0.1/*"];

export function normaliseOrigin(input: string): string {
  const url = new URL(input.includes("://") ? input : `https://${input}`);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("only http(s) sites can be allowed");
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
  if (DEFAULT_SITE_PATTERNS.some((pattern) => originMatchesPattern(origin, pattern))) return true;
  return (await userSites()).includes(origin);
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
  const normalised = normaliseOrigin(origin);
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

/** XTXApp compatibility: on by default for the tax-hall domains and the demo, opt-in for added sites. */
export async function xtxEnabled(origin: string): Promise<boolean> {
  if (DEFAULT_SITE_PATTERNS.some((pattern) => originMatchesPattern(origin, pattern))) return true;
  return (await xtxSites()).includes(origin);
}

export async function setXtxSite(origin: string, enabled: boolean): Promise<string[]> {
  const sites = (await xtxSites()).filter((site) => site !== origin);
  if (enabled) sites.push(origin);
  await browser.storage.local.set({ [XTX_STORAGE_KEY]: sites });
  return sites;
}
