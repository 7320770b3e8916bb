/**
 * Prototype-pollution guard for page data: member names that change prototypes when an object is copied on.
 * Checked in the page script (where the page's own members are visible as they are) and again in the
 * content script; the background's schemas refuse objects whose prototype is not Object.prototype.
 */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** True when any member, at any depth up to 8, is named __proto__, constructor or prototype. */
export function hasForbiddenKeys(value: unknown, depth = 0): boolean {
  if (typeof value !== "object" || value === null || depth > 8) return false;
  return Object.keys(value).some((key) => FORBIDDEN_KEYS.has(key) || hasForbiddenKeys((value as Record<string, unknown>)[key], depth + 1));
}

export const FORBIDDEN_KEYS_MESSAGE = "the call's arguments may not have members named __proto__, constructor or prototype";
