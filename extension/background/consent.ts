/**
 * The consent window before every write to a key from an issuer site (API.md section 3): it names the site,
 * the key and the company and says what will be written. It asks for the user PIN when the site holds no
 * session on the key, and for a new PIN when an unlock came without one. The write runs when the user
 * agrees; a wrong user PIN keeps the window open with the tries left, a wrong admin PIN (the site's) ends it
 * with the admin counter shown. Cancelling or closing it writes nothing.
 */
import { YztError, type ErrorBody } from "../../protocol/errors.js";
import { checkPinRules } from "../../protocol/messages.js";
import type { NativeHostClient } from "./native-host-client.js";
import type { Caller } from "./page-calls.js";
import { openPrompt, type SubmitOutcome } from "./prompts.js";

export type ConsentAction = "generateKeyPair" | "certificateRequest" | "importSignCertificate" | "importEncryptCertificate" | "deleteContainer" | "unlock";

export interface ConsentContext {
  origin: string;
  action: ConsentAction;
  tokenSerial: string;
  tokenLabel: string;
  /** The company (or person) the key's certificates name; empty when it holds none that can be read. */
  holderName: string;
  container?: string;
  needsPin: boolean;
  choosesNewPin: boolean;
  newPinFromSite: boolean;
  retriesLeft: number | null;
  error?: { code: string; message: string; data?: Record<string, unknown> };
  /** The outcome is final (a wrong admin PIN): the window stays only to say so. */
  final?: boolean;
  /** An import: whom the certificate to be written names, and until when, so the user sees what goes in. */
  newCertificate?: { holderName: string; creditCode: string; notAfter: string };
}

export interface ConsentRequest {
  action: ConsentAction;
  tokenSerial: string;
  container?: string;
  /** Unlock: the new PIN the site sent; without one the user chooses it here. */
  newPinFromSite?: string;
  /** An import: the certificate (base64 DER) the site wants written. */
  certificate?: string;
}

/** What the user typed, handed to the write. */
export interface ConsentInput {
  pin?: string;
  newPin?: string;
}

async function contextFor(host: NativeHostClient, caller: Caller, request: ConsentRequest): Promise<ConsentContext> {
  const [tokens, certificates, session, incoming] = await Promise.all([
    host.request("listTokens", {}),
    host.request("listCertificates", { tokenSerial: request.tokenSerial }),
    request.action === "unlock" ? Promise.resolve({ active: true }) : host.request("sessionStatus", { origin: caller.origin, tokenSerial: request.tokenSerial }),
    // A certificate that cannot be read is refused here, before any window: nothing would be written anyway.
    request.certificate === undefined ? Promise.resolve(null) : host.request("certificateInfo", { certificate: request.certificate }),
  ]);
  const token = tokens.find((candidate) => candidate.serial === request.tokenSerial && candidate.present);
  if (!token) throw new YztError("NO_TOKEN", "请插入证书 (insert the USB key)", { tokenSerial: request.tokenSerial });
  const holder = certificates.find((certificate) => certificate.purpose !== "encrypt") ?? certificates[0];
  return {
    origin: caller.origin, action: request.action, tokenSerial: token.serial, tokenLabel: token.label, holderName: holder?.holderName ?? "",
    ...(request.container !== undefined ? { container: request.container } : {}),
    needsPin: !session.active,
    choosesNewPin: request.action === "unlock" && request.newPinFromSite === undefined,
    newPinFromSite: request.newPinFromSite !== undefined,
    retriesLeft: request.action === "unlock" ? null : token.pin.retriesLeft,
    ...(incoming ? { newCertificate: { holderName: incoming.holderName, creditCode: incoming.creditCode ?? "", notAfter: incoming.notAfter } } : {}),
  };
}

function typedInput(context: ConsentContext, value: unknown): ConsentInput | ErrorBody {
  const { pin, newPin, confirmPin } = (value ?? {}) as Record<string, unknown>;
  if (context.needsPin && (typeof pin !== "string" || pin.length === 0 || pin.length > 64)) return { code: "PIN_INVALID", message: "请输入 PIN (enter the PIN)" };
  if (!context.choosesNewPin) return context.needsPin ? { pin: pin as string } : {};
  if (typeof newPin !== "string" || newPin !== confirmPin) return { code: "PIN_INVALID", message: "两次输入的新 PIN 不一致 (the new PINs differ)" };
  try {
    checkPinRules(newPin, "newPin");
  } catch (error) {
    return YztError.from(error).toJSON();
  }
  return { ...(context.needsPin ? { pin: pin as string } : {}), newPin };
}

export async function withConsent<T>(host: NativeHostClient, caller: Caller, request: ConsentRequest, write: (input: ConsentInput) => Promise<T>): Promise<T> {
  let context = await contextFor(host, caller, request);
  return openPrompt<T>({
    kind: "consent",
    context,
    tokenSerial: request.tokenSerial,
    async submit(value): Promise<SubmitOutcome<T>> {
      const input = typedInput(context, value);
      if ("code" in input) return { done: false, error: input };
      try {
        return { done: true, value: await write(input) };
      } catch (error) {
        const failure = YztError.from(error);
        const adminPin = failure.data?.pinType === "admin";
        const userPin = !adminPin && (failure.code === "PIN_INCORRECT" || failure.code === "PIN_INVALID");
        // The site's session ended meanwhile: the PIN is asked for now.
        if (failure.code === "LOGIN_REQUIRED") context = { ...context, needsPin: true, error: failure.toJSON() };
        else if (userPin) {
          const retriesLeft = typeof failure.data?.retriesLeft === "number" ? failure.data.retriesLeft : context.retriesLeft;
          context = { ...context, retriesLeft, error: failure.toJSON() };
        } else if (adminPin || failure.code === "PIN_LOCKED") {
          context = { ...context, error: failure.toJSON(), final: true };
          return { done: false, error: failure.toJSON(), context, final: true };
        } else throw failure;
        return { done: false, error: failure.toJSON(), context };
      }
    },
  });
}
