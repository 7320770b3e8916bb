/** Which badge the toolbar shows for a set of tokens and certificates (pure, so it is unit-tested). */
import type { TokenInfo, YztCertificate } from "../../protocol/types.js";

export type BadgeState = "none" | "present" | "warning";

export function badgeStateFor(tokens: TokenInfo[], certificates: YztCertificate[], hostOk: boolean): BadgeState {
  if (!hostOk) return "warning";
  const present = tokens.filter((token) => token.present);
  if (present.length === 0) return "none";
  const pinTrouble = present.some((token) => token.pin.locked || token.pin.countLow || token.pin.finalTry || token.pin.mustChange);
  const certificateTrouble = certificates.some((cert) => cert.status !== "valid");
  return pinTrouble || certificateTrouble ? "warning" : "present";
}
