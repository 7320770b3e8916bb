/**
 * Toolbar badge: none (no key), present (key inserted, all fine) or warning (PIN low/locked, certificate
 * expiring or expired, host problem). The popup explains the warning; the badge only draws the eye.
 */
import browser from "webextension-polyfill";
import type { TokenInfo, YztCertificate } from "../../native-host/protocol.js";

export type BadgeState = "none" | "present" | "warning";

export function badgeStateFor(tokens: TokenInfo[], certificates: YztCertificate[], hostOk: boolean): BadgeState {
  if (!hostOk) return "warning";
  const present = tokens.filter((token) => token.present);
  if (present.length === 0) return "none";
  const pinTrouble = present.some((token) => token.pin.locked || token.pin.countLow || token.pin.finalTry);
  const certificateTrouble = certificates.some((cert) => cert.status !== "valid");
  return pinTrouble || certificateTrouble ? "warning" : "present";
}

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
