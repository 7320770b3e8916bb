/**
 * Every id the extension is published under, so each browser's copy may talk to the host. The Chrome id
 * comes from the manifest `key` (the CRX key: the signed .crx, the Linux packages and an unpacked copy share
 * it). Stores give ids of their own, known once the extension is listed (their uploads carry no key): the
 * Chrome Web Store, Microsoft Edge Add-ons and the 360 extension platform. Those are a build setting,
 * `packaging/extension-ids.json` (`{"chromeWebStore": id|null, "edge": id|null, "qihoo360": id|null}`),
 * overridden by YZT_CHROME_WEB_STORE_ID / YZT_EDGE_EXTENSION_ID / YZT_360_EXTENSION_ID. Unset, the Web Store
 * and Edge ids are the Chrome id (the browsers then run the same CRX) and there is no 360 id.
 * Packages carry the resolved list as `extension-ids.json` beside their manifest.json, so `yzt install` and
 * `yzt doctor` in an installation see exactly what its installer registered.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromeExtensionId } from "./host-manifest.js";

export interface PublishedIds {
  chrome: string;
  /** The Chrome Web Store listing's id: the store link the environment page shows. */
  chromeWebStore: string;
  /** The Edge Add-ons id: what the Edge external-extension key names. */
  edge: string;
  qihoo360: string | null;
}

/** What a resolved extension-ids.json holds (packages), or the build setting (checkout: ids may be null). */
export interface StoreIdSetting {
  chromeWebStore?: string | null;
  edge?: string | null;
  qihoo360?: string | null;
}

const EXTENSION_ID = /^[a-p]{32}$/;

function checkedId(value: string | null | undefined, what: string): string | null {
  if (value === null || value === undefined || value === "") return null;
  if (!EXTENSION_ID.test(value)) throw new Error(`${what}: "${value}" is not an extension id (32 letters a-p)`);
  return value;
}

/** What an installation's extension-ids.json holds: the resolved store ids. */
export function storeIdFile(ids: PublishedIds): StoreIdSetting {
  return { chromeWebStore: ids.chromeWebStore, edge: ids.edge, qihoo360: ids.qihoo360 };
}

/** The store-id setting of an installation (`extension-ids.json`) or a checkout (`packaging/extension-ids.json`). */
function storeIdSetting(root: string): StoreIdSetting {
  for (const path of [join(root, "extension-ids.json"), join(root, "packaging", "extension-ids.json")]) {
    if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8")) as StoreIdSetting;
  }
  return {};
}

/** `chrome`: the id of the built manifest's key when packaging (a release key differs from the checkout's). */
export function publishedIds(root: string, options: { chrome?: string; env?: NodeJS.ProcessEnv } = {}): PublishedIds {
  const env = options.env ?? process.env;
  const setting = storeIdSetting(root);
  const chrome = options.chrome ?? chromeExtensionId(join(root, "manifest.json"));
  return {
    chrome,
    chromeWebStore: checkedId(env.YZT_CHROME_WEB_STORE_ID ?? setting.chromeWebStore, "Chrome Web Store id") ?? chrome,
    edge: checkedId(env.YZT_EDGE_EXTENSION_ID ?? setting.edge, "Edge Add-ons id") ?? chrome,
    qihoo360: checkedId(env.YZT_360_EXTENSION_ID ?? setting.qihoo360, "360 extension platform id"),
  };
}

/** Store ids other than the Chrome one (which the host manifest always allows), without repeats. */
export function storeIds(ids: PublishedIds): string[] {
  return [...new Set([ids.chromeWebStore, ids.edge, ...(ids.qihoo360 ? [ids.qihoo360] : [])])].filter((id) => id !== ids.chrome);
}
