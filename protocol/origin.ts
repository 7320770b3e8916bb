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
