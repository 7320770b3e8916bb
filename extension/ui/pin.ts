/**
 * PIN prompt: `<form>` with `input[type=password][name=pin]` (API.md section 3). It shows the retries left,
 * keeps the dialog open on a wrong PIN, and explains how to unlock when the PIN is locked.
 */
import type { PinPromptContext } from "../background/page-calls.js";
import { cancelOnEscape, errorText, localize, markReady, promptCancel, promptContext, promptSubmit, t } from "./common.js";
import { HELP_LINKS } from "./links.js";

const PROMPT_TITLES: Record<PinPromptContext["reason"], string> = { login: "pinForLogin", sign: "pinForSign", decrypt: "pinForDecrypt" };

function render(context: PinPromptContext): void {
  document.getElementById("origin")!.textContent = t(PROMPT_TITLES[context.reason], context.origin);
  document.getElementById("holder")!.textContent = context.holderName;
  document.getElementById("token")!.textContent = `${t("token")}: ${context.tokenLabel} (${context.tokenSerial})`;
  const retries = document.getElementById("retries")!;
  retries.textContent = context.retriesLeft === null ? "" : t("retriesLeft", String(context.retriesLeft));
  retries.className = context.retriesLeft !== null && context.retriesLeft <= 3 ? "error" : "muted";
  document.getElementById("error")!.textContent = context.error ? errorText(context.error) : "";
  document.getElementById("initial")!.hidden = !context.mustChange || context.locked;
  const locked = document.getElementById("locked")!;
  locked.hidden = !context.locked;
  (document.getElementById("unlock-link") as HTMLAnchorElement).href = HELP_LINKS.unlock;
  const form = document.getElementById("pin-form") as HTMLFormElement;
  for (const control of form.querySelectorAll<HTMLInputElement | HTMLButtonElement>("input, button[type=submit]")) control.disabled = context.locked;
}

async function init(): Promise<void> {
  localize();
  cancelOnEscape();
  const context = await promptContext<PinPromptContext>();
  if (!context) return window.close();
  render(context);
  const form = document.getElementById("pin-form") as HTMLFormElement;
  const input = form.elements.namedItem("pin") as HTMLInputElement;
  input.focus();
  document.querySelector("[data-action=cancel]")!.addEventListener("click", promptCancel);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    submit.disabled = true;
    const reply = await promptSubmit<PinPromptContext>({ pin: input.value });
    input.value = "";
    submit.disabled = false;
    if ("gone" in reply) return window.close();
    if (reply.done) return; // the background closes the window
    if (reply.context) render(reply.context);
    else document.getElementById("error")!.textContent = errorText(reply.error);
    input.focus();
  });
  markReady(form, !context.locked);
}

void init();
