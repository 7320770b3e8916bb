/** Match patterns as browsers apply them to origins, for the allow-list (pure, so it is unit-tested). */

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
