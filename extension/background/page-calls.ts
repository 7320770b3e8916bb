/**
 * What each `window.yzt` method does, for one validated call from an allowed origin. The origin comes from
 * the browser (the caller context), never from the page's parameters. PINs are asked for in extension
 * dialogs only when the host says this origin has no session on the token (LOGIN_REQUIRED).
 */
import browser from "webextension-polyfill";
import { YztError } from "../../protocol/errors.js";
import { tokenSerialOfCertificate } from "../../protocol/messages.js";
import type { LoginToken, TokenInfo, YztCertificate } from "../../protocol/types.js";
import type { PageMethod, PageParams } from "../shared/page-protocol.js";
import { rememberSyncPage, xtxEnabled } from "./allow-list.js";
import { prepareLargeData, SHA256, SM3, type ContentHash } from "../shared/large-data.js";
import { HASH_IN_EXTENSION_BYTES } from "../shared/limits.js";
import { base64ByteLength } from "../../protocol/validate.js";
import type { NativeHostClient } from "./native-host-client.js";
import { rememberChoice, rememberedChoice } from "./picker-memory.js";
import { openPrompt, type SubmitOutcome } from "./prompts.js";
import { selectable } from "../ui/picker-model.js";
import { createLifecycleHandlers } from "./lifecycle-calls.js";

export interface Caller {
  origin: string;
  tabId: number;
}

export interface PinPromptContext {
  origin: string;
  reason: "login" | "sign" | "decrypt";
  tokenSerial: string;
  tokenLabel: string;
  holderName: string;
  retriesLeft: number | null;
  locked: boolean;
  /** The PIN is still the initial one from the PIN card: the dialog says so, and change-PIN follows the login. */
  mustChange: boolean;
  error?: { code: string; message: string };
}

type PageHandlers = { [M in PageMethod]: (params: PageParams<M>, caller: Caller) => Promise<unknown> };

function issuerMatches(certificate: YztCertificate, wanted: string): boolean {
  const needle = wanted.toLowerCase();
  return Object.values(certificate.issuer).some((value) => value.toLowerCase().includes(needle));
}

/** The legacy calls take PINs from the page, so they exist only where the user allows XTXApp compatibility. */
function legacy<P>(run: (params: P, caller: Caller) => Promise<unknown>): (params: P, caller: Caller) => Promise<unknown> {
  return async (params, caller) => {
    if (!(await xtxEnabled(caller.origin))) throw new YztError("NOT_ALLOWED", "XTXApp compatibility is not enabled for this site");
    return run(params, caller);
  };
}

export function createPageHandlers(host: NativeHostClient): PageHandlers {
  /** Which hash large data is digested with: the key's, looked up only when the data is large. */
  const hashForKey = async (params: { certificateId: string; data?: string }): Promise<ContentHash> => {
    if (params.data === undefined || base64ByteLength(params.data) < HASH_IN_EXTENSION_BYTES) return SHA256;
    const certificates = await host.request("listCertificates", {});
    return certificates.find((certificate) => certificate.id === params.certificateId)?.keyAlgorithm === "SM2" ? SM3 : SHA256;
  };

  async function tokenOf(serial: string): Promise<TokenInfo | undefined> {
    return (await host.request("listTokens", {})).find((token) => token.serial === serial);
  }

  async function pinContext(certificateId: string, caller: Caller, reason: PinPromptContext["reason"]): Promise<PinPromptContext> {
    const serial = tokenSerialOfCertificate(certificateId);
    const [token, certificates] = await Promise.all([tokenOf(serial), host.request("listCertificates", { tokenSerial: serial })]);
    if (!token || !token.present) throw new YztError("NO_TOKEN", "请插入证书 (insert the USB key)", { tokenSerial: serial });
    const certificate = certificates.find((cert) => cert.id === certificateId);
    if (!certificate) throw new YztError("NO_CERTIFICATE", `certificate ${certificateId} is not on the token`);
    return {
      origin: caller.origin, reason, tokenSerial: serial, tokenLabel: token.label, holderName: certificate.holderName,
      retriesLeft: token.pin.retriesLeft, locked: token.pin.locked, mustChange: token.pin.mustChange,
    };
  }

  /**
   * Runs a token operation that needs this origin to be logged in: first without a PIN (an existing
   * session), then through the PIN dialog, which stays open on a wrong PIN and shows the retries left.
   */
  async function withPin<T>(certificateId: string, caller: Caller, reason: PinPromptContext["reason"], operation: (pin?: string) => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof YztError) || error.code !== "LOGIN_REQUIRED") throw error;
    }
    const context = await pinContext(certificateId, caller, reason);
    if (context.locked) throw new YztError("PIN_LOCKED", "PIN 已锁定，请到一证通服务网点解锁 (the PIN is locked)", { retriesLeft: 0 });
    let current = context;
    const result = await openPrompt<T>({
      kind: "pin",
      context,
      tokenSerial: context.tokenSerial,
      async submit(value): Promise<SubmitOutcome<T>> {
        const pin = (value as { pin?: unknown } | null)?.pin;
        if (typeof pin !== "string" || pin.length === 0 || pin.length > 64) {
          return { done: false, error: { code: "PIN_INVALID", message: "请输入 PIN (enter the PIN)" } };
        }
        try {
          return { done: true, value: await operation(pin) };
        } catch (error) {
          const failure = YztError.from(error);
          if (failure.code === "PIN_INCORRECT" || failure.code === "PIN_INVALID" || failure.code === "PIN_LOCKED") {
            const retriesLeft = typeof failure.data?.retriesLeft === "number" ? failure.data.retriesLeft : current.retriesLeft;
            current = { ...current, retriesLeft, locked: failure.code === "PIN_LOCKED", error: { code: failure.code, message: failure.message } };
            return { done: false, error: failure.toJSON(), context: current, final: failure.code === "PIN_LOCKED" };
          }
          throw failure;
        }
      },
    });
    // Logged in with the initial PIN: lead straight on to changing it (the page's call has its answer already).
    if (context.mustChange) void offerInitialPinChange(context.tokenSerial, caller.origin);
    return result;
  }

  async function offerInitialPinChange(tokenSerial: string, origin: string): Promise<void> {
    const token = await tokenOf(tokenSerial).catch(() => null);
    if (token?.present && token.pin.mustChange) await changePinDialog(host, token, origin, { initial: true }).catch(() => undefined);
  }

  return {
    ...createLifecycleHandlers(host),

    async version() {
      const hello = await host.request("hello", { extension: browser.runtime.getManifest().version });
      return { extension: browser.runtime.getManifest().version, host: hello.host, protocol: hello.protocol };
    },

    async status() {
      try {
        await host.request("hello", {});
        return { host: "ok", tokens: await host.request("listTokens", {}) };
      } catch (error) {
        const failure = YztError.from(error);
        return { host: failure.code === "HOST_MISSING" ? "missing" : "error", tokens: [] };
      }
    },

    listCertificates: (params) => host.request("listCertificates", params),

    async selectCertificate(params, caller) {
      // Without a purpose the choice is for login or signing: only certificates whose key may sign belong there.
      const all = await host.request("listCertificates", { purpose: params.purpose ?? "sign" });
      const matching = params.issuer ? all.filter((cert) => issuerMatches(cert, params.issuer!)) : all;
      if (matching.length === 0) {
        const tokens = await host.request("listTokens", {});
        if (!tokens.some((token) => token.present)) throw new YztError("NO_TOKEN", "请插入证书 (insert the USB key)");
        throw new YztError("NO_CERTIFICATE", "没有符合条件的证书 (no matching certificate)");
      }
      const purpose = params.purpose ?? "sign";
      // One match is taken at once only when it can be used: an expired one is shown, with how to renew it.
      if (matching.length === 1 && selectable(matching[0]!, purpose)) return matching[0];
      const remembered = await rememberedChoice(caller.origin).catch(() => null);
      return openPrompt<YztCertificate>({
        kind: "picker",
        context: { origin: caller.origin, certificates: matching, remembered, purpose },
        async submit(value) {
          const chosen = matching.find((cert) => cert.id === (value as { certificateId?: unknown } | null)?.certificateId);
          if (!chosen) return { done: false, error: { code: "BAD_REQUEST", message: "请选择证书 (choose a certificate)" } };
          if (!selectable(chosen, purpose)) return { done: false, error: { code: "BAD_REQUEST", message: "证书不在有效期内，请先更新证书 (the certificate is not within its validity period: renew it first)" } };
          await rememberChoice(caller.origin, chosen.id).catch(() => undefined);
          return { done: true, value: chosen };
        },
      });
    },

    async login(params, caller): Promise<LoginToken> {
      const result = await withPin(params.certificateId, caller, "login", (pin) =>
        host.request("login", { certificateId: params.certificateId, origin: caller.origin, challenge: params.challenge, ...(pin ? { pin } : {}) }),
      );
      if (!result.loginToken) throw new YztError("INTERNAL", "the host returned no login token");
      return result.loginToken;
    },

    sign: async (rawParams, caller) => {
      const prepared = await prepareLargeData(rawParams, await hashForKey(rawParams));
      const params = prepared.request;
      const result = await withPin(params.certificateId, caller, "sign", (pin) =>
        host.request("sign", {
          certificateId: params.certificateId, origin: caller.origin, format: params.format,
          ...(params.data !== undefined ? { data: params.data } : {}),
          ...(params.digest !== undefined ? { digest: params.digest } : {}),
          ...(params.hashAlgorithm ? { hashAlgorithm: params.hashAlgorithm } : {}),
          ...(params.sm2Id ? { sm2Id: params.sm2Id } : {}),
          ...(params.cmsProfile ? { cmsProfile: params.cmsProfile } : {}),
          ...(pin ? { pin } : {}),
        }),
      );
      return prepared.finish(result);
    },

    async changePin(params, caller) {
      const token = await tokenOf(params.tokenSerial);
      if (!token || !token.present) throw new YztError("NO_TOKEN", "请插入证书 (insert the USB key)", { tokenSerial: params.tokenSerial });
      await changePinDialog(host, token, caller.origin);
      return undefined;
    },

    async logout(_params, caller) {
      await host.request("logout", { origin: caller.origin });
      return undefined;
    },

    // Submissions are tracked by the tab registry (index.ts); these only acknowledge.
    submissionBegin: async () => undefined,
    submissionEnd: async () => undefined,

    xtxEnabled: (_params, caller) => xtxEnabled(caller.origin),
    xtxLogin: legacy(async (params, caller) => {
      try {
        return await host.request("login", { certificateId: params.certificateId, origin: caller.origin, pin: params.pin, pinSource: "page" });
      } catch (error) {
        // Pages got 3 PINs wrong in a row: from now on the PIN is typed only into our dialog, which shows who asks.
        if (!(error instanceof YztError) || error.data?.reason !== "pagePinLimit") throw error;
        return withPin(params.certificateId, caller, "login", (pin) =>
          host.request("login", { certificateId: params.certificateId, origin: caller.origin, ...(pin ? { pin } : {}) }),
        );
      }
    }),
    xtxChangePin: legacy((params) => host.request("changePin", { ...params, pinSource: "page" })),
    xtxCertInfo: legacy((params) => host.request("certificateInfo", params)),
    xtxVerify: legacy((params) => host.request("verifyRaw", params)),
    xtxIsLogin: legacy((params, caller) => host.request("sessionStatus", { origin: caller.origin, tokenSerial: params.tokenSerial })),
    xtxLogout: legacy((params, caller) => host.request("logout", { origin: caller.origin, tokenSerial: params.tokenSerial })),
    xtxVerifyMessage: legacy((params) => host.request("verifyMessage", params)),
    xtxValidateCert: legacy((params) => host.request("validateCertificate", params)),
    xtxEncrypt: legacy((params) => host.request("encrypt", params)),
    xtxDecrypt: legacy((params, caller) =>
      withPin(params.certificateId, caller, "decrypt", (pin) => host.request("decrypt", { ...params, origin: caller.origin, ...(pin ? { pin } : {}) })),
    ),
    xtxSignXml: legacy((params, caller) =>
      withPin(params.certificateId, caller, "sign", (pin) => host.request("signXml", { ...params, origin: caller.origin, ...(pin ? { pin } : {}) })),
    ),
    xtxVerifyXml: legacy((params) => host.request("verifyXml", params)),
    xtxSyncDetected: async (_params, caller) => {
      await rememberSyncPage(caller.origin);
      return { message: browser.i18n.getMessage("xtxSyncBanner") };
    },
  };
}

/** The change-PIN dialog, shared by the page API and the popup. */
/** The change-PIN dialog; `initial`: right after a login with the PIN card's initial PIN, which it explains. */
export function changePinDialog(host: NativeHostClient, token: TokenInfo, origin: string | null, options: { initial?: boolean } = {}): Promise<void> {
  return openPrompt<void>({
    kind: "change-pin",
    context: { origin, tokenSerial: token.serial, tokenLabel: token.label, retriesLeft: token.pin.retriesLeft, locked: token.pin.locked, initial: options.initial === true },
    tokenSerial: token.serial,
    async submit(value) {
      const { oldPin, newPin, confirmPin } = (value ?? {}) as Record<string, unknown>;
      if (typeof oldPin !== "string" || typeof newPin !== "string" || typeof confirmPin !== "string") {
        return { done: false, error: { code: "PIN_INVALID", message: "请填写全部字段 (fill in every field)" } };
      }
      if (newPin !== confirmPin) return { done: false, error: { code: "PIN_INVALID", message: "两次输入的新 PIN 不一致 (the new PINs differ)" } };
      if (newPin === oldPin) return { done: false, error: { code: "PIN_INVALID", message: "新 PIN 不能与旧 PIN 相同 (the new PIN must differ)" } };
      try {
        await host.request("changePin", { tokenSerial: token.serial, oldPin, newPin });
        return { done: true, value: undefined };
      } catch (error) {
        const failure = YztError.from(error);
        if (failure.code === "PIN_INCORRECT" || failure.code === "PIN_INVALID") return { done: false, error: failure.toJSON() };
        if (failure.code === "PIN_LOCKED") return { done: false, error: failure.toJSON(), final: true };
        throw failure;
      }
    },
  });
}
