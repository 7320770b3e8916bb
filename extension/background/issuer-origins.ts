/**
 * The issuer origins (API.md section 4): the sites that may renew and unlock keys, each write behind the
 * consent window. The default (https://yzt.beijing.gov.cn), plus those of enterprise policy (managed storage
 * `issuerOrigins`) and of the host's config file (`issuerOrigins`, told in `hello`). Never from a page and
 * never from the popup. An issuer origin gets the functions only where it gets the API at all (allow-list).
 */
import browser from "webextension-polyfill";
import { acceptableIssuerOrigin, DEFAULT_ISSUER_ORIGINS } from "../../protocol/origin.js";
import { isAllowed } from "./allow-list.js";
import type { NativeHostClient } from "./native-host-client.js";

export type IssuerSource = "default" | "policy" | "config";

export interface IssuerOrigin {
  origin: string;
  source: IssuerSource;
}

function acceptable(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === "string" && acceptableIssuerOrigin(entry)) : [];
}

async function policyOrigins(): Promise<string[]> {
  try {
    return acceptable((await browser.storage.managed.get("issuerOrigins")).issuerOrigins);
  } catch {
    // No policy installed (Firefox throws then): none.
    return [];
  }
}

/** The host's config is read once per background lifetime; a host that cannot be reached adds none. */
let configured: Promise<string[]> | null = null;
function configOrigins(host: NativeHostClient): Promise<string[]> {
  configured ??= host.request("hello", {}).then(
    (hello) => acceptable(hello.issuerOrigins),
    () => {
      configured = null;
      return [];
    },
  );
  return configured;
}

export async function issuerOrigins(host: NativeHostClient): Promise<IssuerOrigin[]> {
  const [policy, config] = await Promise.all([policyOrigins(), configOrigins(host)]);
  const listed: IssuerOrigin[] = [];
  const add = (origin: string, source: IssuerSource) => {
    if (!listed.some((entry) => entry.origin === origin)) listed.push({ origin, source });
  };
  for (const origin of DEFAULT_ISSUER_ORIGINS) add(origin, "default");
  for (const origin of policy) add(origin, "policy");
  for (const origin of config) add(origin, "config");
  return listed;
}

export async function isIssuerOrigin(host: NativeHostClient, origin: string): Promise<boolean> {
  if (!(await isAllowed(origin))) return false;
  return (await issuerOrigins(host)).some((entry) => entry.origin === origin);
}
