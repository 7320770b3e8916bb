/**
 * One page's XTXApp service: the function table (names and BJCA aliases), the settings a page may change
 * (sign and encrypt method) and the last error, shared by every socket the page opens, as BJCA's single
 * local service shares them. Every call gets exactly one answer: its value, or the failure value of its
 * kind with SOF_GetLastError / SOF_GetLastErrMsg saying why.
 */
import type { TokenInfo, YztCertificate } from "../../../protocol/types.js";
import type { PageBridge } from "../bridge.js";
import { YztError } from "../bridge.js";
import { FAILURE_VALUE, SGD_SM4_CBC, SOF_CODES, SOF_MESSAGES, SOF_NOT_SUPPORTED, SOF_UNKNOWN_ERROR, type ReturnKind } from "./codes.js";
import { tokenSerialOf, yztCertId } from "./cert-id.js";
import { REFUSED_FUNCTIONS } from "./refused.js";

export type XtxValue = string | boolean | number;

function signingCertificateIn(signing: YztCertificate[], xtxId: unknown): YztCertificate | undefined {
  const id = yztCertId(xtxId);
  const serial = tokenSerialOf(xtxId);
  return id ? signing.find((certificate) => certificate.id === id) : signing.find((certificate) => certificate.tokenSerial === serial);
}

/** What functions share: the bridge, certificate lookups and the page's settings. */
export class XtxContext {
  signMethod: number | null = null;
  encryptMethod = SGD_SM4_CBC;
  lastLoginCertId = "";
  lastSignCertId = "";

  constructor(readonly bridge: PageBridge) {}

  certificates(purpose?: "sign" | "encrypt"): Promise<YztCertificate[]> {
    return this.bridge.call<YztCertificate[]>("listCertificates", purpose ? { purpose } : {});
  }

  async presentTokens(): Promise<TokenInfo[]> {
    return (await this.bridge.call<{ tokens: TokenInfo[] }>("status")).tokens.filter((token) => token.present);
  }

  /** The inserted key an XTX certID, a yzt id or a device serial names. */
  async token(xtxId: unknown): Promise<TokenInfo> {
    const serial = tokenSerialOf(xtxId);
    const token = (await this.presentTokens()).find((candidate) => candidate.serial === serial);
    if (!token) throw new YztError("NO_TOKEN", `key ${serial} is not inserted`);
    return token;
  }

  /** The signing certificate an XTX certID names (a bare key serial: the key's first signing certificate). */
  async signCertificate(xtxId: unknown): Promise<YztCertificate> {
    const found = signingCertificateIn(await this.certificates("sign"), xtxId);
    if (!found) throw new YztError("NO_CERTIFICATE", `no certificate ${String(xtxId)}`);
    return found;
  }

  /** The encryption certificate paired with a signing one: same key, same algorithm where there is a choice. */
  async exchangeCertificate(xtxId: unknown): Promise<YztCertificate> {
    const serial = tokenSerialOf(xtxId);
    const all = await this.certificates();
    const sign = signingCertificateIn(all.filter((certificate) => certificate.purpose !== "encrypt"), xtxId);
    const candidates = all.filter((certificate) => certificate.tokenSerial === serial && certificate.purpose === "encrypt");
    const found = candidates.find((certificate) => certificate.keyAlgorithm === sign?.keyAlgorithm) ?? candidates[0];
    if (!found) throw new YztError("NO_CERTIFICATE", `the key ${serial} holds no encryption certificate`);
    return found;
  }
}

export interface XtxFunction {
  kind: ReturnKind;
  aliases?: string[];
  /**
   * Leaves the last error alone on success: SOF_GetLastError itself, heartbeats (SOF_GetVersion) and the
   * list refreshes libraries run on their own at every key change, which must not wipe the error of the
   * call the page is about to ask about.
   */
  keepsError?: boolean;
  run(context: XtxContext, ...params: unknown[]): Promise<XtxValue>;
}

/** A failure with BJCA's own explanation, for refusals that are not yzt errors. */
export class XtxFailure extends Error {
  constructor(readonly sofCode: number, message: string) {
    super(message);
  }
}

/** Kind of a function nobody told us about, guessed from BJCA's naming so the failure value fits. */
function guessKind(name: string): ReturnKind {
  if (/^(?:SOF_)?(?:Is|Verify|Set|Write|Import|Delete|Init|Change|Unlock|Enable)/.test(name) || /^SOF_Verify/.test(name)) return "bool";
  if (/Count$/.test(name)) return "number";
  return "string";
}

export class XtxService {
  private lastError = 0;
  private lastErrorMessage = "";
  private readonly table = new Map<string, XtxFunction>();
  readonly context: XtxContext;

  constructor(bridge: PageBridge, functions: Record<string, XtxFunction>) {
    this.context = new XtxContext(bridge);
    for (const [name, entry] of Object.entries(functions)) {
      this.table.set(name, entry);
      for (const alias of entry.aliases ?? []) this.table.set(alias, entry);
    }
  }

  get error(): { code: number; message: string } {
    return { code: this.lastError, message: this.lastErrorMessage };
  }

  async run(name: string, params: unknown[]): Promise<XtxValue> {
    const entry = this.table.get(name);
    if (!entry) return this.refuse(name);
    try {
      const value = await entry.run(this.context, ...params);
      if (!entry.keepsError) this.setError(0, "");
      return value;
    } catch (error) {
      if (error instanceof XtxFailure) this.setError(error.sofCode, error.message);
      else {
        const failure = error instanceof YztError ? error : new YztError("INTERNAL", String((error as Error)?.message ?? error));
        const retries = typeof failure.data?.retriesLeft === "number" ? `，还可以尝试 ${failure.data.retriesLeft} 次 (${failure.data.retriesLeft} tries left)` : "";
        this.setError(SOF_CODES[failure.code] ?? SOF_UNKNOWN_ERROR, `${SOF_MESSAGES[failure.code] ?? failure.message}${retries}`);
      }
      return FAILURE_VALUE[entry.kind];
    }
  }

  private refuse(name: string): XtxValue {
    const refused = Object.hasOwn(REFUSED_FUNCTIONS, name) ? REFUSED_FUNCTIONS[name] : undefined;
    if (refused) {
      this.setError(SOF_NOT_SUPPORTED, `${name}: ${refused.reason}`);
      return FAILURE_VALUE[refused.kind];
    }
    this.setError(SOF_NOT_SUPPORTED, `${name}: yzt-bridge 不提供此接口 (not provided by yzt-bridge)`);
    return FAILURE_VALUE[guessKind(name)];
  }

  private setError(code: number, message: string): void {
    this.lastError = code;
    this.lastErrorMessage = message;
  }
}
