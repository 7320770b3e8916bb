/**
 * "证书助手" popup: tokens with PIN retries, certificates with expiry warnings and renewal link, change PIN,
 * environment check with "全部修复", and the allowed-sites list.
 */
import { siteRefusal } from "../../protocol/origin.js";
import { developerLoopbackEnabled } from "../shared/developer-setting.js";
import browser from "webextension-polyfill";
import type { TokenInfo, YztCertificate } from "../../protocol/types.js";
import type { DiagnoseResult } from "../../protocol/messages.js";
import { adviceFor, certificateReport, unrepairable } from "../../protocol/diagnostic-report.js";
import type { PopupState } from "../background/popup-api.js";
import { element, errorText, formatDate, localize, t, type ErrorBody } from "./common.js";
import { HELP_LINKS } from "./links.js";
import { daysText } from "./picker-model.js";
import { idleTimeoutMinutes, SETTINGS_KEY } from "../background/settings.js";

type Reply<T> = { ok: true; value: T } | { ok: false; error: ErrorBody };

async function ask<T>(message: Record<string, unknown>): Promise<T> {
  const reply = (await browser.runtime.sendMessage(message)) as Reply<T>;
  if (!reply.ok) throw reply.error;
  return reply.value;
}

function showError(error: unknown): void {
  document.getElementById("error")!.textContent = typeof error === "object" && error && "code" in error ? errorText(error as ErrorBody) : String(error);
}

function tokenRow(token: TokenInfo): HTMLElement {
  const pin = token.pin.locked
    ? t("pinLockedShort")
    : token.pin.mustChange
      ? t("initialPinShort")
      : token.pin.retriesLeft === null
      ? t("pinRetriesUnknown")
      : t("retriesLeft", String(token.pin.retriesLeft));
  const change = element("button", { text: t("changePin"), attrs: { type: "button", "data-action": "change-pin" } });
  change.disabled = !token.present || token.pin.locked;
  change.addEventListener("click", () => void ask({ type: "popup:changePin", tokenSerial: token.serial }).catch(showError));
  const row = element("div", { className: token.pin.locked ? "locked" : token.pin.countLow || token.pin.mustChange ? "notice" : "", attrs: { "data-token": token.serial } },
    element("div", { className: "holder", text: `${token.label} (${token.serial})` }),
    element("div", { className: "muted", text: `${token.present ? t("present") : t("absent")} · PIN: ${pin}` }),
    change);
  // A locked key: how to get it unlocked, online or at a service point (FAQ).
  if (token.pin.locked) {
    row.append(
      element("p", { className: "unlock-help", text: t("pinLockedHelp") }),
      element("p", { className: "contacts", text: t("serviceContacts") }),
      element("a", { text: t("unlockLink"), attrs: { href: HELP_LINKS.unlock, target: "_blank", rel: "noopener" } }),
    );
  }
  return row;
}

function certificateRow(cert: YztCertificate): HTMLElement {
  const li = element("li", { attrs: { "data-certificate-id": cert.id } },
    element("div", { className: "holder", text: cert.holderName }, element("span", { className: `badge ${cert.status}`, text: t(`status_${cert.status}`) })),
    element("div", { className: "muted", text: `${t("creditCode")}: ${cert.creditCode ?? "-"} · ${t(`purpose_${cert.purpose}`)} · ${cert.keyAlgorithm}` }),
    element("div", { className: "muted", text: `${t("validity")}: ${formatDate(cert.notBefore)} ~ ${formatDate(cert.notAfter)} (${daysText(cert, t)})` }));
  if (cert.status === "expiring" || cert.status === "expired") {
    li.append(element("div", { className: "notice" }, document.createTextNode(`${t(cert.status === "expired" ? "expiredWarning" : "expiringWarning", String(Math.abs(cert.daysLeft)))} `),
      element("a", { text: t("renewLink"), attrs: { href: HELP_LINKS.renew, target: "_blank", rel: "noopener" } })));
  }
  return li;
}

function siteRow(origin: string, removable: boolean, xtxOn: boolean): HTMLElement {
  const li = element("li", { text: origin + " " });
  const xtx = element("input", { attrs: { type: "checkbox", "data-xtx": origin, title: t("xtxCompatibility") } });
  xtx.checked = xtxOn;
  // Default sites always have compatibility; only added sites can switch it.
  xtx.disabled = !removable;
  xtx.addEventListener("change", () => void ask<string[]>({ type: "popup:setXtx", origin, enabled: xtx.checked }).catch(showError));
  li.append(element("label", { text: ` ${t("xtxShort")} ` }, xtx));
  if (removable) {
    const remove = element("button", { text: t("removeSite"), attrs: { type: "button" } });
    remove.addEventListener("click", () => void ask<string[]>({ type: "popup:removeSite", origin }).then(render).catch(showError));
    li.append(remove);
  }
  return li;
}

/** Each check with, for a problem, what to do about it; after 全部修复, what it could not repair. */
function renderChecks(result: DiagnoseResult, repaired: boolean): void {
  lastResult = result;
  const box = document.getElementById("checks")!;
  const rows = result.checks.map((check) => {
    const row = element("div", { className: `check ${check.status}`, text: `${t(`check_${check.id}`)}: ${check.message}`, attrs: { "data-check": check.id, "data-status": check.status } });
    const advice = adviceFor(check);
    if (advice) row.append(element("div", { className: "advice", text: `→ ${advice}` }));
    return row;
  });
  const left = unrepairable(result.checks);
  if (repaired && left.length > 0) rows.unshift(element("p", { className: "notice", text: t("notRepairable", String(left.length)), attrs: { "data-not-repairable": String(left.length) } }));
  box.replaceChildren(...rows);
  (document.getElementById("copy-report") as HTMLButtonElement).disabled = false;
}

let lastResult: DiagnoseResult | null = null;

/** 证书检测 report for the help desk: shown (selectable) and copied to the clipboard. */
async function copyReport(): Promise<void> {
  if (!lastResult) return;
  const report = certificateReport(lastResult, new Date());
  const pre = document.getElementById("report")!;
  pre.textContent = report;
  pre.hidden = false;
  await navigator.clipboard.writeText(report).catch(() => undefined); // shown anyway if the clipboard refuses
}

async function render(): Promise<void> {
  const state = await ask<PopupState>({ type: "popup:state" });
  document.getElementById("host-status")!.textContent =
    state.host === "ok" ? t("hostOk", state.hostVersion ?? "") : state.host === "missing" ? t("hostMissing") : `${t("hostError")} ${state.problem ?? ""}`;
  const tokens = document.getElementById("tokens")!;
  tokens.replaceChildren(...(state.tokens.length > 0 ? state.tokens.map(tokenRow) : [element("p", { className: "muted", text: t("noToken") })]));
  document.getElementById("certificates")!.replaceChildren(...state.certificates.map(certificateRow));
  document.getElementById("sites")!.replaceChildren(
    ...state.defaultSites.map((pattern) => siteRow(pattern, false, true)),
    ...state.userSites.map((origin) => siteRow(origin, true, state.xtxSites.includes(origin))),
  );
  // Read-only: issuer sites come from policy or the config file, never from here.
  document.getElementById("issuer-sites")!.replaceChildren(
    ...state.issuerSites.map(({ origin, source }) => element("li", { text: `${origin} (${t(`issuerSource_${source}`)})`, attrs: { "data-issuer-origin": origin } })),
  );
  document.getElementById("sync-pages")!.hidden = state.syncPages.length === 0;
  document.getElementById("sync-page-list")!.replaceChildren(...state.syncPages.map((origin) => element("li", { text: origin })));
}

async function initSettings(): Promise<void> {
  const form = document.getElementById("settings") as HTMLFormElement;
  const input = form.elements.namedItem("idleTimeoutMinutes") as HTMLInputElement;
  input.value = String(await idleTimeoutMinutes());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const minutes = Number(input.value);
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) return showError({ code: "BAD_REQUEST", message: t("error_idleRange") });
    // The background pushes the new value to the native host when storage changes.
    void browser.storage.local.set({ [SETTINGS_KEY]: minutes });
  });
}

const REFUSAL_MESSAGES = { notHttps: "error_httpSite", loopback: "error_loopbackSite", malformed: "error_badSite" } as const;
let developerLoopback = false;

function init(): void {
  localize();
  void developerLoopbackEnabled().then((on) => {
    developerLoopback = on;
  });
  void initSettings();
  document.getElementById("run-check")!.addEventListener("click", () => void ask<DiagnoseResult>({ type: "popup:diagnose" }).then((r) => renderChecks(r, false)).catch(showError));
  document.getElementById("repair-all")!.addEventListener("click", () =>
    void ask<DiagnoseResult>({ type: "popup:repair" }).then((r) => { renderChecks(r, true); return render(); }).catch(showError));
  document.getElementById("copy-report")!.addEventListener("click", () => void copyReport());
  document.getElementById("add-site")!.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = (event.target as HTMLFormElement).elements.namedItem("origin") as HTMLInputElement;
    let origin: string;
    try {
      const url = new URL(input.value.includes("://") ? input.value : `https://${input.value}`);
      origin = url.origin;
    } catch {
      showError({ code: "BAD_REQUEST", message: t("error_badSite") });
      return;
    }
    // Refused here with the reason (the background refuses again): http pages can be forged on the way.
    const refusal = siteRefusal(origin, developerLoopback);
    if (refusal) {
      showError({ code: "NOT_ALLOWED", message: t(REFUSAL_MESSAGES[refusal]) });
      return;
    }
    // The permission prompt must come straight from the click, so it is asked here and not in the background.
    void browser.permissions
      .request({ origins: [`${origin}/*`] })
      .then((granted) => (granted ? ask<string[]>({ type: "popup:addSite", origin }) : Promise.reject({ code: "USER_CANCELLED", message: t("error_USER_CANCELLED") })))
      .then(() => { input.value = ""; return render(); })
      .catch(showError);
  });
  void render().catch(showError);
}

init();
