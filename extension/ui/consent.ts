/**
 * Key-writing consent (API.md section 3): before an issuer site generates a key pair, writes a certificate,
 * deletes a container or unlocks the PIN, this window names the site, the key and the company and says what
 * will be written. The user PIN is typed here when the site holds no session on the key; for an unlock
 * without a PIN from the site, the new PIN too. Cancel writes nothing.
 */
import type { ConsentContext } from "../background/consent.js";
import { cancelOnEscape, errorText, localize, markReady, newPinProblem, promptCancel, promptContext, promptSubmit, t } from "./common.js";

function field(form: HTMLFormElement, name: string): HTMLInputElement {
  return form.elements.namedItem(name) as HTMLInputElement;
}

/** What went wrong, in words: a wrong admin PIN says how many tries the admin PIN has left, as far as the key tells. */
function problemText(error: NonNullable<ConsentContext["error"]>): string {
  const data = error.data ?? {};
  if (data.pinType === "admin") {
    if (error.code === "PIN_LOCKED") return t("adminPinLocked");
    if (typeof data.retriesLeft === "number") return t("adminPinIncorrectLeft", String(data.retriesLeft));
    // A PKCS#11 key tells no count, only its flags: the last try, or few left.
    return t(data.finalTry === true ? "adminPinFinalTry" : data.countLow === true ? "adminPinCountLow" : "adminPinIncorrect");
  }
  return errorText(error);
}

function render(context: ConsentContext, form: HTMLFormElement): void {
  document.getElementById("title")!.textContent = t(`consentTitle_${context.action}`);
  document.getElementById("origin")!.textContent = t("consentSite", context.origin);
  document.getElementById("holder")!.textContent = context.holderName || t("consentUnknownHolder");
  document.getElementById("token")!.textContent = `${t("token")}: ${context.tokenLabel} (${context.tokenSerial})`;
  document.getElementById("what")!.textContent = t(`consentText_${context.action}`, [context.holderName || t("consentUnknownHolder"), context.container ?? ""]);
  const incoming = document.getElementById("new-certificate")!;
  incoming.hidden = !context.newCertificate;
  if (context.newCertificate) {
    const { holderName, creditCode, notAfter } = context.newCertificate;
    incoming.textContent = t("consentNewCertificate", [holderName || t("consentUnknownHolder"), creditCode || "-", notAfter.slice(0, 10)]);
  }
  document.getElementById("pin-field")!.hidden = !context.needsPin;
  field(form, "pin").required = context.needsPin;
  const retries = document.getElementById("retries")!;
  retries.textContent = context.retriesLeft === null ? "" : t("retriesLeft", String(context.retriesLeft));
  document.getElementById("new-pin-fields")!.hidden = !context.choosesNewPin;
  for (const name of ["newPin", "confirmPin"]) field(form, name).required = context.choosesNewPin;
  document.getElementById("site-pin")!.hidden = !context.newPinFromSite;
  document.getElementById("error")!.textContent = context.error ? problemText(context.error) : "";
  form.querySelector<HTMLButtonElement>("button[type=submit]")!.disabled = context.final === true;
}

function localCheck(context: ConsentContext, form: HTMLFormElement): string | null {
  if (context.needsPin && !field(form, "pin").value) return t("error_fillAll");
  return context.choosesNewPin ? newPinProblem(field(form, "newPin").value, field(form, "confirmPin").value) : null;
}

async function init(): Promise<void> {
  localize();
  cancelOnEscape();
  const initial = await promptContext<ConsentContext>();
  if (!initial) return window.close();
  let context: ConsentContext = initial;
  const form = document.getElementById("consent-form") as HTMLFormElement;
  render(context, form);
  document.querySelector("[data-action=cancel]")!.addEventListener("click", promptCancel);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const current = context;
    const problem = localCheck(current, form);
    if (problem) {
      document.getElementById("error")!.textContent = problem;
      return;
    }
    const submit = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    const cancel = form.querySelector<HTMLButtonElement>("[data-action=cancel]")!;
    // A write under way cannot be called back: cancel waits with it.
    submit.disabled = cancel.disabled = true;
    const value = {
      ...(current.needsPin ? { pin: field(form, "pin").value } : {}),
      ...(current.choosesNewPin ? { newPin: field(form, "newPin").value, confirmPin: field(form, "confirmPin").value } : {}),
    };
    const reply = await promptSubmit<ConsentContext>(value);
    for (const input of form.querySelectorAll("input")) input.value = "";
    submit.disabled = cancel.disabled = false;
    if ("gone" in reply) return window.close();
    if (reply.done) return; // the background closes the window
    context = reply.context ?? { ...current, error: reply.error, final: reply.final === true };
    render(context, form);
  });
  markReady(form);
  (context.needsPin ? field(form, "pin") : context.choosesNewPin ? field(form, "newPin") : form.querySelector<HTMLButtonElement>("button[type=submit]")!).focus();
}

void init();
