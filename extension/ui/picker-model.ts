/**
 * What the picker shows, without the DOM: certificates grouped by company (an office's hub holds keys of
 * many companies, sometimes several per company), filtered by what the user types — company name, credit
 * code, key label or serial — and which one starts selected (the last choice on this site, if present).
 *
 * Usable certificates come first, the last one chosen on the site before the rest; for a login or a
 * signature, an expired certificate (or one not valid yet) comes last and cannot be chosen: the host refuses
 * it, and the user who pressed 确定 on it would not know why. It stays listed, with the way to renew it. An
 * expired encryption certificate stays selectable: it still opens what was sealed to it.
 */
import type { YztCertificate } from "../../protocol/types.js";

export interface CompanyGroup {
  company: string;
  creditCode: string | null;
  certificates: YztCertificate[];
}

function normalise(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(/\s+/g, "");
}

export function matchesQuery(certificate: YztCertificate, query: string): boolean {
  const wanted = normalise(query);
  if (wanted === "") return true;
  return [certificate.holderName, certificate.creditCode ?? "", certificate.tokenLabel, certificate.tokenSerial].some((field) => normalise(field).includes(wanted));
}

export type PickerPurpose = "sign" | "encrypt";

/** Whether the picker lets the user choose this certificate: to sign, it must be in its validity period. */
export function selectable(certificate: YztCertificate, purpose: PickerPurpose = "sign"): boolean {
  return purpose === "encrypt" || certificate.status === "valid" || certificate.status === "expiring";
}

/** Usable (valid or expiring) first, then not yet valid, then expired. */
function rank(certificate: YztCertificate): number {
  return certificate.status === "expired" ? 2 : certificate.status === "notYetValid" ? 1 : 0;
}

/**
 * Groups with usable certificates first — the remembered certificate's group before the others — then by
 * company name (Chinese collation); inside a group, the remembered certificate, then by rank and key label.
 */
export function groupByCompany(certificates: YztCertificate[], remembered: string | null = null, purpose: PickerPurpose = "sign"): CompanyGroup[] {
  const groups = new Map<string, CompanyGroup>();
  for (const certificate of certificates) {
    const key = `${certificate.holderName}\u0000${certificate.creditCode ?? ""}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { company: certificate.holderName, creditCode: certificate.creditCode ?? null, certificates: [] }));
    group.certificates.push(certificate);
  }
  const collator = new Intl.Collator("zh-CN");
  const first = (certificate: YztCertificate) => (certificate.id === remembered && selectable(certificate, purpose) ? 0 : 1);
  for (const group of groups.values()) {
    group.certificates.sort((a, b) => first(a) - first(b) || rank(a) - rank(b) || collator.compare(`${a.tokenLabel}${a.id}`, `${b.tokenLabel}${b.id}`));
  }
  const lead = (group: CompanyGroup) => group.certificates[0]!;
  return [...groups.values()].sort((a, b) => first(lead(a)) - first(lead(b)) || rank(lead(a)) - rank(lead(b)) || collator.compare(a.company, b.company));
}

/** The certificate to select first: the remembered one when it is still offered and usable, else the first usable one shown. */
export function initialChoice(groups: CompanyGroup[], remembered: string | null, purpose: PickerPurpose = "sign"): string | null {
  const all = groups.flatMap((group) => group.certificates).filter((certificate) => selectable(certificate, purpose));
  return all.find((certificate) => certificate.id === remembered)?.id ?? all[0]?.id ?? null;
}

/** "剩余 N 天", or "已过期 N 天" for an expired certificate: never a negative count of days left. */
export function daysText(certificate: YztCertificate, t: (key: string, substitution: string) => string): string {
  return certificate.daysLeft < 0 ? t("expiredDays", String(-certificate.daysLeft)) : t("daysLeft", String(certificate.daysLeft));
}
