/**
 * Origin rules shared by both ends (API.md section 4): what an origin looks like on the wire, and match
 * patterns as browsers apply them, for the allow-list. Pure, so it is unit-tested.
 */
import { string } from "./validate.js";

/** Origins as browsers report them: scheme://host[:port], no path. */
export const originSchema = string({
  min: 8, max: 300, pattern: /^(?:https?:\/\/[^\s/?#]+|chrome-extension:\/\/[a-p]{32}|moz-extension:\/\/[0-9a-f-]{36})$/,
  patternName: "an origin (scheme://host[:port])",
});


/** Does `origin` match a manifest-style pattern `scheme://host/*` (host may start with `*.`)? Ports are ignored, as browsers do. */
export function originMatchesPattern(origin: string, pattern: string): boolean {
  const match = /^(\*|https?):\/\/([^/]+)\/\*$/.exec(pattern);
  if (!match) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const [, scheme, host] = match as unknown as [string, string, string];
  const protocol = url.protocol.slice(0, -1);
  if (scheme === "*" ? protocol !== "http" && protocol !== "https" : protocol !== scheme) return false;
  if (host.startsWith("*.")) {
    const suffix = host.slice(2);
    return url.hostname === suffix || url.hostname.endsWith(`.${suffix}`);
  }
  return url.hostname === host;
}

/** API.md section 4: the sites that get the API without being added. https only. */
export const DEFAULT_SITE_PATTERNS = ["https://*.chinatax.gov.cn/*", "https://*.beijing.gov.cn/*"];

export type SiteRefusal = "notHttps" | "loopback" | "malformed";

function parsedOrigin(origin: string): URL | null {
  try {
    return new URL(origin);
  } catch {
    return null;
  }
}

/** 127.0.0.0/8, ::1 and localhost (with any subdomain): a web server any local process may have opened. */
export function isLoopbackOrigin(origin: string): boolean {
  const host = parsedOrigin(origin)?.hostname;
  if (host === undefined) return false;
  return /^127(?:\.\d{1,3}){3}$/.test(host) || host === "[::1]" || host === "localhost" || host.endsWith(".localhost");
}

/**
 * Why an origin may not get the API (or be added by the user), or null when it may. Only https pages are
 * secure contexts a network attacker cannot forge; loopback origins only with the developer setting on,
 * which no web page can switch on.
 */
export function siteRefusal(origin: string, developerLoopback: boolean): SiteRefusal | null {
  const url = parsedOrigin(origin);
  if (!url || url.origin !== origin) return "malformed";
  if (isLoopbackOrigin(origin)) return developerLoopback ? null : "loopback";
  return url.protocol === "https:" ? null : "notHttps";
}

/** The whole allow-list rule: a default https site, or a site the user added that is still acceptable. */
export function originAllowed(origin: string, userSites: readonly string[], developerLoopback: boolean): boolean {
  if (siteRefusal(origin, developerLoopback) !== null) return false;
  if (!isLoopbackOrigin(origin) && DEFAULT_SITE_PATTERNS.some((pattern) => originMatchesPattern(origin, pattern))) return true;
  return userSites.includes(origin);
}

/**
 * API.md section 4: the issuer sites that may renew and unlock keys (一证通服务平台). More come only from the
 * host's config file or enterprise policy, never from a page or the popup.
 */
export const DEFAULT_ISSUER_ORIGINS = ["https://yzt.beijing.gov.cn"];

/** An issuer origin from a config file or policy: an exact https origin that is not a loopback address. */
export function acceptableIssuerOrigin(origin: string): boolean {
  return siteRefusal(origin, false) === null && !isLoopbackOrigin(origin);
}
