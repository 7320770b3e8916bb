/**
 * Extension-owned dialogs (certificate picker, PIN prompt, change PIN) as small popup windows. The page
 * never sees them: the dialog page fetches its context from here, and what the user types (the PIN) goes
 * straight back here and on to the native host. A closed window counts as cancel, except while a
 * submission is with the host: then the page gets that submission's outcome.
 */
import browser from "webextension-polyfill";
import { YztError, type ErrorBody } from "../../protocol/errors.js";

export type PromptKind = "picker" | "pin" | "change-pin" | "consent";

/** What a dialog submission leads to: done, or an error to show while the dialog stays open. */
export type SubmitOutcome<T> =
  | { done: true; value: T }
  | { done: false; error: ErrorBody; context?: unknown; final?: boolean };

interface OpenPrompt {
  kind: PromptKind;
  context: unknown;
  windowId: number | null;
  submit(value: unknown): Promise<SubmitOutcome<unknown>>;
  resolve(value: unknown): void;
  reject(error: YztError): void;
  /** Tokens this dialog is about: removing one cancels it with TOKEN_REMOVED. */
  tokenSerial?: string;
  /**
   * A submission is with the host (a PIN check, a key write): cancelling cannot undo it, so a cancel waits
   * and a closed window takes the submission's outcome instead of USER_CANCELLED.
   */
  submitting?: boolean;
  closedWhileSubmitting?: boolean;
}

const open = new Map<string, OpenPrompt>();
const SIZES: Record<PromptKind, { width: number; height: number }> = {
  picker: { width: 560, height: 520 },
  pin: { width: 440, height: 420 },
  "change-pin": { width: 440, height: 480 },
  consent: { width: 480, height: 600 },
};

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function openPrompt<T>(options: {
  kind: PromptKind;
  context: unknown;
  tokenSerial?: string;
  submit(value: unknown): Promise<SubmitOutcome<T>>;
}): Promise<T> {
  const id = randomId();
  return new Promise<T>((resolve, reject) => {
    const prompt: OpenPrompt = {
      kind: options.kind,
      context: options.context,
      windowId: null,
      submit: options.submit as OpenPrompt["submit"],
      resolve: resolve as (value: unknown) => void,
      reject,
      ...(options.tokenSerial ? { tokenSerial: options.tokenSerial } : {}),
    };
    open.set(id, prompt);
    const url = browser.runtime.getURL(`extension/ui/${options.kind}.html?prompt=${id}`);
    browser.windows
      .create({ url, type: "popup", focused: true, ...SIZES[options.kind] })
      .then((created) => {
        prompt.windowId = created.id ?? null;
        if (!open.has(id) && created.id !== undefined) void browser.windows.remove(created.id).catch(() => undefined);
      })
      .catch((error: unknown) => finish(id, new YztError("INTERNAL", `cannot open the ${options.kind} window: ${String(error)}`)));
  });
}

function finish(id: string, error: YztError | null, value?: unknown): void {
  const prompt = open.get(id);
  if (!prompt) return;
  open.delete(id);
  if (error) prompt.reject(error);
  else prompt.resolve(value);
  if (prompt.windowId !== null) void browser.windows.remove(prompt.windowId).catch(() => undefined);
}

/** Cancels every dialog about a token that was just pulled out. */
export function cancelPromptsForToken(tokenSerial: string): void {
  for (const [id, prompt] of open) {
    if (prompt.tokenSerial === tokenSerial) finish(id, new YztError("TOKEN_REMOVED", "证书已拔出 (the token was removed)", { tokenSerial }));
  }
}

browser.windows.onRemoved.addListener((windowId) => {
  for (const [id, prompt] of open) {
    if (prompt.windowId !== windowId) continue;
    if (prompt.submitting) {
      prompt.windowId = null;
      prompt.closedWhileSubmitting = true;
    } else finish(id, new YztError("USER_CANCELLED", "the dialog was closed"));
  }
});

/** Messages from dialog pages. Returns undefined for messages that are not dialog traffic. */
export async function handlePromptMessage(message: { type?: unknown; prompt?: unknown; value?: unknown }): Promise<unknown> {
  if (typeof message.prompt !== "string") return undefined;
  const prompt = open.get(message.prompt);
  if (!prompt) return { gone: true };
  switch (message.type) {
    case "prompt:context":
      return { kind: prompt.kind, context: prompt.context };
    case "prompt:cancel":
      // What was submitted is being done: the window waits for it (it shows the outcome) rather than lie.
      if (prompt.submitting) return { done: false, busy: true };
      finish(message.prompt, new YztError("USER_CANCELLED", "the user cancelled"));
      return { done: true };
    case "prompt:submit": {
      if (prompt.submitting) return { done: false, error: new YztError("BUSY", "正在处理上一次提交 (the previous submission is still being handled)").toJSON() };
      let outcome: SubmitOutcome<unknown>;
      prompt.submitting = true;
      try {
        outcome = await prompt.submit(message.value);
      } catch (error) {
        const failure = YztError.from(error);
        finish(message.prompt, failure);
        return { done: false, error: failure.toJSON(), final: true };
      } finally {
        prompt.submitting = false;
      }
      if (outcome.done) {
        finish(message.prompt, null, outcome.value);
        return { done: true };
      }
      // The window went while the host worked: the page learns what came of it, not a cancel.
      if (prompt.closedWhileSubmitting) {
        finish(message.prompt, YztError.fromBody(outcome.error));
        return outcome;
      }
      if (outcome.context !== undefined) prompt.context = outcome.context;
      if (outcome.final) {
        // e.g. PIN locked: the page learns at once; the dialog stays to explain what to do next.
        open.delete(message.prompt);
        prompt.reject(YztError.fromBody(outcome.error));
      }
      return outcome;
    }
    default:
      return undefined;
  }
}
