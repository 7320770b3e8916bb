/**
 * Change-PIN dialog: `oldPin`, `newPin`, `confirmPin` (API.md section 3); rules are checked again by the host.
 * After a login with a new key's initial PIN it opens by itself and explains why (`#initial`).
 */
import { cancelOnEscape, errorText, localize, markReady, newPinProblem, promptCancel, promptContext, promptSubmit, t } from "./common.js";

interface ChangePinContext {
  tokenSerial: string;
  tokenLabel: string;
  retriesLeft: number | null;
  /** Right after a login with the initial PIN from the PIN card (密码信封). */
  initial: boolean;
}

function localCheck(oldPin: string, newPin: string, confirmPin: string): string | null {
  return oldPin ? newPinProblem(newPin, confirmPin) : t("error_fillAll");
}

async function init(): Promise<void> {
  localize();
  cancelOnEscape();
  const context = await promptContext<ChangePinContext>();
  if (!context) return window.close();
  const retries = context.retriesLeft === null ? "" : ` · ${t("retriesLeft", String(context.retriesLeft))}`;
  document.getElementById("token")!.textContent = `${t("token")}: ${context.tokenLabel} (${context.tokenSerial})${retries}`;
  if (context.initial) {
    document.querySelector("h1")!.textContent = t("initialPinTitle");
    document.getElementById("initial")!.hidden = false;
  }
  document.querySelector("[data-action=cancel]")!.addEventListener("click", promptCancel);
  const form = document.getElementById("change-pin-form") as HTMLFormElement;
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
  const error = document.getElementById("error")!;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problem = localCheck(value("oldPin"), value("newPin"), value("confirmPin"));
    if (problem) {
      error.textContent = problem;
      return;
    }
    const reply = await promptSubmit({ oldPin: value("oldPin"), newPin: value("newPin"), confirmPin: value("confirmPin") });
    if ("gone" in reply) return window.close();
    if (reply.done) return;
    const retriesLeft = reply.error.data?.retriesLeft;
    error.textContent = errorText(reply.error) + (typeof retriesLeft === "number" ? ` ${t("retriesLeft", String(retriesLeft))}` : "");
    for (const input of form.querySelectorAll("input")) input.value = "";
  });
  markReady(form);
}

void init();
