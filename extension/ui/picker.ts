/**
 * Certificate picker dialog: one `[data-certificate-id]` item per certificate (API.md section 3), grouped
 * by company, with a search box (company, credit code, key label, serial) and keyboard use: type to
 * filter, ↑/↓ to move, Enter to choose, Esc to cancel. The last choice on this site starts selected.
 * Expired certificates are listed last, `aria-disabled`, with how long ago they expired and 【证书更新】;
 * they cannot be chosen (picker-model.ts says why).
 */
import type { YztCertificate } from "../../protocol/types.js";
import { cancelOnEscape, element, errorText, formatDate, localize, markReady, promptCancel, promptContext, promptSubmit, t } from "./common.js";
import { HELP_LINKS } from "./links.js";
import { daysText, groupByCompany, initialChoice, matchesQuery, selectable, type PickerPurpose } from "./picker-model.js";

interface PickerContext {
  origin: string;
  certificates: YztCertificate[];
  /** What the choice is for: to sign (login, signatures: only certificates in their validity period) or encrypt. */
  purpose?: PickerPurpose;
  /** The certificate chosen last time on this origin, if any. */
  remembered?: string | null;
}

let selected: string | null = null;

/** The options shown that can be chosen. */
function options(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>("[data-certificate-id]")].filter((option) => !option.hidden && option.getAttribute("aria-disabled") !== "true");
}

function select(id: string | null, scroll = false): void {
  selected = id;
  for (const option of document.querySelectorAll<HTMLElement>("[data-certificate-id]")) {
    const isChosen = option.dataset.certificateId === id;
    option.setAttribute("aria-selected", String(isChosen));
    if (isChosen && scroll) option.scrollIntoView({ block: "nearest" });
  }
  (document.querySelector("button[type=submit]") as HTMLButtonElement).disabled = id === null;
}

function item(cert: YztCertificate, purpose: PickerPurpose): HTMLLIElement {
  const issuer = cert.issuer.CN ?? cert.issuer.O ?? "";
  const usable = selectable(cert, purpose);
  const li = element(
    "li",
    { attrs: { "data-certificate-id": cert.id, role: "option", tabindex: "-1", "aria-selected": "false", ...(usable ? {} : { "aria-disabled": "true" }) } },
    element("div", { className: "holder", text: `${cert.tokenLabel} · ${cert.tokenSerial}` }, element("span", { className: `badge ${cert.status}`, text: t(`status_${cert.status}`) })),
    element("div", { className: "muted", text: `${t(`purpose_${cert.purpose}`)}  ·  ${cert.keyAlgorithm}  ·  ${t("issuer")}: ${issuer}` }),
    element("div", { className: "muted", text: `${t("validity")}: ${formatDate(cert.notBefore)} ~ ${formatDate(cert.notAfter)} (${daysText(cert, t)})` }),
  );
  if (!usable) {
    li.append(element("div", { className: "notice" }, document.createTextNode(`${t(cert.status === "expired" ? "expiredCannotUse" : "notYetValidCannotUse")} `),
      element("a", { text: t("renewLink"), attrs: { href: HELP_LINKS.renew, target: "_blank", rel: "noopener", "data-action": "renew" } })));
    return li;
  }
  li.addEventListener("click", () => select(cert.id));
  li.addEventListener("dblclick", () => (document.getElementById("picker") as HTMLFormElement).requestSubmit());
  return li;
}

function render(context: PickerContext): void {
  const list = document.getElementById("list")!;
  const purpose = context.purpose ?? "sign";
  const groups = groupByCompany(context.certificates, context.remembered ?? null, purpose);
  for (const group of groups) {
    list.append(
      element("li", { className: "group", attrs: { role: "presentation", "data-company": group.company } },
        element("span", { className: "company", text: group.company }),
        element("span", { className: "muted", text: `${t("creditCode")}: ${group.creditCode ?? "-"}` })),
      ...group.certificates.map((certificate) => item(certificate, purpose)),
    );
  }
  select(initialChoice(groups, context.remembered ?? null, purpose), true);
}

/** Shows the options matching the query (and their company headings); keeps or moves the selection. */
function filter(context: PickerContext, query: string): void {
  const byId = new Map(context.certificates.map((certificate) => [certificate.id, certificate]));
  const shownCompanies = new Set<string>();
  for (const option of document.querySelectorAll<HTMLElement>("[data-certificate-id]")) {
    const certificate = byId.get(option.dataset.certificateId!)!;
    option.hidden = !matchesQuery(certificate, query);
    if (!option.hidden) shownCompanies.add(certificate.holderName);
  }
  for (const heading of document.querySelectorAll<HTMLElement>("li.group")) heading.hidden = !shownCompanies.has(heading.dataset.company!);
  document.getElementById("empty")!.hidden = shownCompanies.size > 0;
  const shown = options();
  if (!shown.some((option) => option.dataset.certificateId === selected)) select(shown[0]?.dataset.certificateId ?? null, true);
}

function move(step: number): void {
  const shown = options();
  if (shown.length === 0) return;
  const at = shown.findIndex((option) => option.dataset.certificateId === selected);
  const next = shown[Math.min(shown.length - 1, Math.max(0, at + step))]!;
  select(next.dataset.certificateId!, true);
}

async function init(): Promise<void> {
  localize();
  cancelOnEscape();
  const context = await promptContext<PickerContext>();
  if (!context) return window.close();
  document.getElementById("origin")!.textContent = t("requestedBy", context.origin);
  document.getElementById("count")!.textContent = t("pickerCount", String(context.certificates.length));
  render(context);
  const search = document.getElementById("search") as HTMLInputElement;
  search.addEventListener("input", () => filter(context, search.value));
  // Arrows work wherever the focus is in the dialog; Enter submits the form (the search box is in it).
  document.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
    }
  });
  document.querySelector("[data-action=cancel]")!.addEventListener("click", promptCancel);
  const form = document.getElementById("picker") as HTMLFormElement;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!selected) return;
    const reply = await promptSubmit({ certificateId: selected });
    if ("error" in reply) document.getElementById("error")!.textContent = errorText(reply.error);
  });
  markReady(form, selected !== null);
  search.focus();
}

void init();
