/** Certificate picker dialog: one `[data-certificate-id]` item per certificate (API.md section 3). */
import type { YztCertificate } from "../../protocol/types.js";
import { cancelOnEscape, element, errorText, formatDate, localize, markReady, promptCancel, promptContext, promptSubmit, t } from "./common.js";

interface PickerContext {
  origin: string;
  certificates: YztCertificate[];
}

let selected: string | null = null;

function item(cert: YztCertificate): HTMLLIElement {
  const issuer = cert.issuer.CN ?? cert.issuer.O ?? "";
  const li = element(
    "li",
    { attrs: { "data-certificate-id": cert.id, role: "option", tabindex: "0", "aria-selected": "false" } },
    element("div", { className: "holder", text: cert.holderName }, element("span", { className: `badge ${cert.status}`, text: t(`status_${cert.status}`) })),
    element("div", { className: "muted", text: `${t("creditCode")}: ${cert.creditCode ?? "-"}  ·  ${t(`purpose_${cert.purpose}`)}  ·  ${cert.keyAlgorithm}` }),
    element("div", { className: "muted", text: `${t("issuer")}: ${issuer}` }),
    element("div", { className: "muted", text: `${t("validity")}: ${formatDate(cert.notBefore)} ~ ${formatDate(cert.notAfter)} (${t("daysLeft", String(cert.daysLeft))})` }),
    element("div", { className: "muted", text: `${t("token")}: ${cert.tokenLabel} (${cert.tokenSerial})` }),
  );
  const choose = () => {
    selected = cert.id;
    for (const other of document.querySelectorAll("[data-certificate-id]")) other.setAttribute("aria-selected", String(other === li));
  };
  li.addEventListener("click", choose);
  li.addEventListener("keydown", (event) => {
    if (event.key === " " || event.key === "Enter") choose();
  });
  return li;
}

async function init(): Promise<void> {
  localize();
  cancelOnEscape();
  const context = await promptContext<PickerContext>();
  if (!context) return window.close();
  document.getElementById("origin")!.textContent = t("requestedBy", context.origin);
  const list = document.getElementById("list")!;
  list.append(...context.certificates.map(item));
  if (context.certificates.length > 0) (list.firstElementChild as HTMLElement).click();
  document.querySelector("[data-action=cancel]")!.addEventListener("click", promptCancel);
  const form = document.getElementById("picker") as HTMLFormElement;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!selected) return;
    const reply = await promptSubmit({ certificateId: selected });
    if ("error" in reply) document.getElementById("error")!.textContent = errorText(reply.error);
  });
  markReady(form);
}

void init();
