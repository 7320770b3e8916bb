/**
 * What the picker shows, without the DOM: certificates grouped by company (an office's hub holds keys of
 * many companies, sometimes several per company), filtered by what the user types — company name, credit
 * code, key label or serial — and which one starts selected (the last choice on this site, if present).
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

/** Groups in order of company name (Chinese collation), certificates inside by key label. */
export function groupByCompany(certificates: YztCertificate[]): CompanyGroup[] {
  const groups = new Map<string, CompanyGroup>();
  for (const certificate of certificates) {
    const key = `${certificate.holderName}\u0000${certificate.creditCode ?? ""}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { company: certificate.holderName, creditCode: certificate.creditCode ?? null, certificates: [] }));
    group.certificates.push(certificate);
  }
  const collator = new Intl.Collator("zh-CN");
  const sorted = [...groups.values()].sort((a, b) => collator.compare(a.company, b.company));
  for (const group of sorted) group.certificates.sort((a, b) => collator.compare(`${a.tokenLabel}${a.id}`, `${b.tokenLabel}${b.id}`));
  return sorted;
}

/** The certificate to select first: the remembered one when it is still offered, else the first shown. */
export function initialChoice(groups: CompanyGroup[], remembered: string | null): string | null {
  const all = groups.flatMap((group) => group.certificates);
  return all.find((certificate) => certificate.id === remembered)?.id ?? all[0]?.id ?? null;
}
