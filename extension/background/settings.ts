/**
 * User settings kept in extension storage and pushed to the native host: today the idle timeout of
 * signing sessions (default 30 minutes), changed in the popup.
 */
import browser from "webextension-polyfill";
import type { NativeHostClient } from "./native-host-client.js";

export const SETTINGS_KEY = "idleTimeoutMinutes";
export const DEFAULT_IDLE_MINUTES = 30;

export async function idleTimeoutMinutes(): Promise<number> {
  const stored = (await browser.storage.local.get(SETTINGS_KEY))[SETTINGS_KEY];
  return typeof stored === "number" && Number.isInteger(stored) && stored >= 1 && stored <= 1440 ? stored : DEFAULT_IDLE_MINUTES;
}

export async function applySettings(host: NativeHostClient): Promise<void> {
  const minutes = await idleTimeoutMinutes();
  await host.request("configure", { idleTimeoutSeconds: minutes * 60 }).catch(() => undefined);
}

export function watchSettings(host: NativeHostClient): void {
  browser.storage.onChanged.addListener((changes, area) => {
    if (area === "local" && SETTINGS_KEY in changes) void applySettings(host);
  });
}
