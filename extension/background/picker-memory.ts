/**
 * The certificate last chosen in the picker, per site: an office files for one company after another on
 * the same site, and the next filing is most often for the same company. Kept in the extension's local
 * storage (never visible to pages); a certificate that is no longer offered is simply not preselected.
 */
import browser from "webextension-polyfill";

const STORAGE_KEY = "pickerChoices";
/** Enough for every tax-hall site a desk uses; the oldest choice goes first. */
const MAX_SITES = 50;

type Choices = Record<string, string>;

async function load(): Promise<Choices> {
  const stored = (await browser.storage.local.get(STORAGE_KEY))[STORAGE_KEY];
  return stored && typeof stored === "object" ? (stored as Choices) : {};
}

export async function rememberedChoice(origin: string): Promise<string | null> {
  const choice = (await load())[origin];
  return typeof choice === "string" ? choice : null;
}

export async function rememberChoice(origin: string, certificateId: string): Promise<void> {
  const choices = await load();
  delete choices[origin];
  choices[origin] = certificateId;
  const origins = Object.keys(choices);
  for (const old of origins.slice(0, Math.max(0, origins.length - MAX_SITES))) delete choices[old];
  await browser.storage.local.set({ [STORAGE_KEY]: choices });
}
