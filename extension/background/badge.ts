/**
 * Toolbar badge: none (no key), present (key inserted, all fine) or warning (PIN low/locked, certificate
 * expiring or expired, host problem). The popup explains the warning; the badge only draws the eye.
 */
import browser from "webextension-polyfill";
import type { BadgeState } from "./badge-state.js";


const LOOK: Record<BadgeState, { text: string; color: string; titleKey: string }> = {
  none: { text: "", color: "#888888", titleKey: "badgeNoToken" },
  present: { text: "✓", color: "#2e7d32", titleKey: "badgePresent" },
  warning: { text: "!", color: "#e65100", titleKey: "badgeWarning" },
};

export async function showBadge(state: BadgeState): Promise<void> {
  const look = LOOK[state];
  await browser.action.setBadgeText({ text: look.text });
  await browser.action.setBadgeBackgroundColor({ color: look.color });
  const title = browser.i18n.getMessage(look.titleKey);
  if (title) await browser.action.setTitle({ title });
}
