/** Shared bits of the extension pages: i18n, talking to the background, small DOM helpers. */
import browser from "webextension-polyfill";
import { pinFollowsRules } from "../../protocol/messages.js";

export function t(key: string, substitutions?: string | string[]): string {
  return browser.i18n.getMessage(key, substitutions) || key;
}

/** Fills every `[data-i18n]` element's text (and `[data-i18n-placeholder]` placeholders) from _locales. */
export function localize(root: ParentNode = document): void {
  document.documentElement.lang = browser.i18n.getUILanguage();
  for (const element of root.querySelectorAll<HTMLElement>("[data-i18n]")) element.textContent = t(element.dataset.i18n!);
  for (const element of root.querySelectorAll<HTMLInputElement>("[data-i18n-placeholder]")) element.placeholder = t(element.dataset.i18nPlaceholder!);
}

export function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: { text?: string; className?: string; attrs?: Record<string, string> } = {}, ...children: Node[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.text !== undefined) node.textContent = props.text;
  if (props.className) node.className = props.className;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export interface ErrorBody {
  code: string;
  message: string;
  data?: Record<string, unknown>;
}

/** Dialog pages: the prompt id from the URL and the messages to the background about it. */
export function promptId(): string {
  return new URLSearchParams(location.search).get("prompt") ?? "";
}

export async function promptContext<T>(): Promise<T | null> {
  const reply = (await browser.runtime.sendMessage({ type: "prompt:context", prompt: promptId() })) as { context?: T; gone?: boolean };
  return reply.gone ? null : (reply.context ?? null);
}

export type SubmitReply<C> = { done: true } | { done: false; error: ErrorBody; context?: C; final?: boolean } | { gone: true };

export function promptSubmit<C>(value: unknown): Promise<SubmitReply<C>> {
  return browser.runtime.sendMessage({ type: "prompt:submit", prompt: promptId(), value }) as Promise<SubmitReply<C>>;
}

/** Cancels and closes, unless the background says a submission is under way: then the window stays for its outcome. */
export function promptCancel(): void {
  void browser.runtime.sendMessage({ type: "prompt:cancel", prompt: promptId() }).then(
    (reply) => {
      if ((reply as { busy?: boolean } | undefined)?.busy !== true) window.close();
    },
    () => window.close(),
  );
}

/** Localised text for an error code, falling back to the message the host gave. */
export function errorText(error: ErrorBody): string {
  const key = `error_${error.code}`;
  const localized = browser.i18n.getMessage(key);
  return localized || error.message;
}

export function formatDate(iso: string): string {
  return iso.slice(0, 10);
}

/** Cancel on Escape, like a native dialog. */
export function cancelOnEscape(): void {
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") promptCancel();
  });
}

/**
 * Dialog forms start with their submit button disabled (and method="dialog", so nothing can ever be sent
 * as a URL): a PIN typed before the script is ready must not go anywhere. This turns them on.
 */
export function markReady(form: HTMLFormElement, enable = true): void {
  for (const button of form.querySelectorAll<HTMLButtonElement>("button[type=submit]")) button.disabled = !enable;
  form.dataset.ready = "true";
}

/** What is wrong with a new PIN and its confirmation as typed, or null; the host checks the rules again. */
export function newPinProblem(newPin: string, confirmPin: string): string | null {
  if (!newPin || !confirmPin) return t("error_fillAll");
  if (!pinFollowsRules(newPin)) return t("pinRules");
  if (newPin !== confirmPin) return t("error_pinMismatch");
  return null;
}
