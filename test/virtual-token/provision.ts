/**
 * Creates a complete virtual-token home: the shim and its SKF face, a SoftHSM2 store with four keys like
 * those a tax-hall user may own, the demo CA files and manifest.json. Only the "demo" key starts inserted;
 * the others wait "in the drawer" until a test or the user inserts them.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildShim, buildSkf } from "./build.js";
import {
  companySubject, createDemoCa, creditCodeWithCheck, DAY, generateKeyPair, generateSm2Key, issueCertificate, privateKeyPem,
  type DemoCa, type KeyUsageName,
} from "./demo-pki.js";
import type { VtokenAlias, VtokenCertificate, VtokenManifest, VtokenToken } from "./manifest.js";
import { importSm2KeyPair, sm2PrivateKeyPem } from "./sm2-import.js";
import { removeToken } from "./state.js";
import { createDemoTls } from "./tls-pki.js";

export const USER_PIN = "12345678";
export const SO_PIN = "87654321";
const DEMO_COMPANY = "北京演示科技有限公司";
const EXPIRED_COMPANY = "北京过期示例有限公司";

interface TokenPlan {
  alias: VtokenAlias;
  serial: string;
  label: string;
  company: string;
  creditCode: string;
  algorithm: "RSA" | "EC" | "SM2";
  notBefore: number;
  notAfter: number;
  withEncryption: boolean;
  /** Further key pairs on the same token (a key holding an SM2 pair beside its RSA one). */
  extraPairs?: KeyPairPlan[];
}

interface KeyPairPlan {
  purpose: "sign" | "encrypt";
  algorithm: "RSA" | "EC" | "SM2";
  ckaId: string;
}

/**
 * The container a pair belongs to, written as CKA_LABEL of its objects, as vendor middleware names its
 * containers: "<algorithm>-<CKA_ID of the family's signing pair>", the name the SKF face gives the same
 * container (skf.c), so both backends show one set of container names.
 */
function containerLabel(pair: KeyPairPlan): string {
  const signId = pair.purpose === "encrypt" && pair.ckaId === "0202" ? "0101" : pair.ckaId;
  return `${pair.algorithm}-${signId}`;
}

/** The SM2 demo CA's private scalar: the demo issuer site's CA signs renewed certificates with it. */
function sm2Scalar(key: DemoCa["intermediateKey"]): Buffer {
  if (!("algorithm" in key) || key.algorithm !== "SM2") throw new Error("the SM2 demo CA has no SM2 key");
  return key.material.d;
}

function pairsOf(plan: TokenPlan): KeyPairPlan[] {
  const main: KeyPairPlan[] = [{ purpose: "sign", algorithm: plan.algorithm, ckaId: "0101" }];
  if (plan.withEncryption) main.push({ purpose: "encrypt", algorithm: plan.algorithm, ckaId: "0202" });
  return [...main, ...(plan.extraPairs ?? [])];
}

function plans(now: number): TokenPlan[] {
  const demoCode = creditCodeWithCheck("91110108MA01DEMX0");
  return [
    // The default key is a current-style 一证通: SM2 signing + SM2 encryption pair under the SM2 demo CA.
    { alias: "demo", serial: "YZT0000000000001", label: "BJ-YZT DEMO", company: DEMO_COMPANY, creditCode: demoCode, algorithm: "SM2", notBefore: now - 30 * DAY, notAfter: now + 730 * DAY, withEncryption: true },
    { alias: "ec", serial: "YZT0000000000002", label: "BJ-YZT EC", company: DEMO_COMPANY, creditCode: demoCode, algorithm: "EC", notBefore: now - 30 * DAY, notAfter: now + 730 * DAY, withEncryption: true },
    { alias: "expired", serial: "YZT0000000000003", label: "BJ-YZT EXPIRED", company: EXPIRED_COMPANY, creditCode: creditCodeWithCheck("91110108MA01EXPD0"), algorithm: "RSA", notBefore: now - 400 * DAY, notAfter: now - 35 * DAY, withEncryption: false },
    // One hour past 10 days, so daysLeft = floor(...) is exactly 10 however long the run takes.
    // An older RSA 一证通 with an RSA signing + encryption pair.
    { alias: "rsa", serial: "YZT0000000000005", label: "BJ-YZT RSA", company: DEMO_COMPANY, creditCode: demoCode, algorithm: "RSA", notBefore: now - 30 * DAY, notAfter: now + 730 * DAY, withEncryption: true },
    // A key issued twice: an RSA signing pair and an SM2 one beside it, as some offices have during migration.
    { alias: "mixed", serial: "YZT0000000000006", label: "BJ-YZT MIXED", company: DEMO_COMPANY, creditCode: demoCode, algorithm: "RSA", notBefore: now - 30 * DAY, notAfter: now + 730 * DAY, withEncryption: false, extraPairs: [{ purpose: "sign", algorithm: "SM2", ckaId: "0303" }] },
    { alias: "expiring", serial: "YZT0000000000004", label: "BJ-YZT EXPIRING", company: DEMO_COMPANY, creditCode: demoCode, algorithm: "SM2", notBefore: now - 355 * DAY, notAfter: now + 10 * DAY + 3_600_000, withEncryption: true },
  ];
}

/** Beijing districts and trades: twenty companies an accounting agency (代理记账) might file for. */
const OFFICE_PLACES = ["朝阳", "海淀", "东城", "西城", "丰台", "石景山", "通州", "顺义", "大兴", "昌平", "房山", "门头沟", "平谷", "怀柔", "密云", "延庆", "亦庄", "望京", "中关村", "国贸"];
const OFFICE_TRADES = ["科技", "商贸", "咨询", "建设", "餐饮"];
export const MAX_OFFICE_KEYS = 24;

/**
 * The keys of an office's hub: each its own company and credit code, SM2 and RSA alternating (both kinds
 * are in the field), signing pair only, all valid. Serials YZT10000000000NN, labels "OFFICE NN".
 */
export function officePlans(count: number, now: number): TokenPlan[] {
  if (!Number.isInteger(count) || count < 0 || count > MAX_OFFICE_KEYS) throw new Error(`--keys: 0..${MAX_OFFICE_KEYS}`);
  return Array.from({ length: count }, (_, index) => {
    const number = String(index + 1).padStart(2, "0");
    const place = OFFICE_PLACES[index % OFFICE_PLACES.length]!;
    const trade = OFFICE_TRADES[index % OFFICE_TRADES.length]!;
    return {
      alias: `office${number}` as const,
      serial: `YZT10000000000${number}`,
      label: `OFFICE ${number}`,
      company: `北京${place}${trade}示例有限公司${index >= OFFICE_PLACES.length ? number : ""}`,
      creditCode: creditCodeWithCheck(`91110105MA02K${String(index + 1).padStart(4, "0")}`),
      algorithm: index % 2 === 0 ? "SM2" : "RSA",
      notBefore: now - 30 * DAY,
      notAfter: now + 730 * DAY,
      withEncryption: false,
    } satisfies TokenPlan;
  });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync(command, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** SoftHSM assigns random serials; read them back so the shim can report the planned ones. */
function softhsmSerials(env: NodeJS.ProcessEnv): Map<string, string> {
  const output = run("softhsm2-util", ["--show-slots"], env);
  const serials = new Map<string, string>();
  for (const block of output.split(/\n(?=Slot )/)) {
    const label = /Label:\s*(.*?)\s*$/m.exec(block)?.[1];
    const serial = /Serial number:\s*(\S+)/m.exec(block)?.[1];
    if (label && serial) serials.set(label, serial);
  }
  return serials;
}

async function issueFor(plan: TokenPlan, cas: { rsa: DemoCa; sm2: DemoCa }, pair: KeyPairPlan) {
  const { purpose, algorithm } = pair;
  const key = algorithm === "SM2" ? generateSm2Key() : await generateKeyPair(algorithm);
  const ca = algorithm === "SM2" ? cas.sm2 : cas.rsa;
  const keyUsage: KeyUsageName[] =
    purpose === "sign" ? ["digitalSignature", "nonRepudiation"] : algorithm === "EC" ? ["keyAgreement", "dataEncipherment"] : ["keyEncipherment", "dataEncipherment"];
  const issued = await issueCertificate({
    subject: companySubject(plan.company, plan.creditCode),
    publicKey: key.algorithm === "SM2" ? key : key.publicKey,
    issuer: { certificate: ca.intermediate.certificate, privateKey: ca.intermediateKey },
    notBefore: new Date(plan.notBefore),
    notAfter: new Date(plan.notAfter),
    keyUsage,
    creditCode: plan.creditCode,
  });
  return { key, issued };
}

/**
 * The demo CAs and keys (demo inserted, the rest pulled out), plus `keys` office keys, all inserted: an
 * accounting agency's hub full of 一证通 keys.
 */
export async function provision(home: string, options: { now?: Date; keys?: number } = {}): Promise<VtokenManifest> {
  const now = (options.now ?? new Date()).getTime();
  const module = buildShim(home);
  const skfModule = buildSkf(home);
  for (const dir of ["tokens", "state", "pki"]) rmSync(join(home, dir), { recursive: true, force: true });
  rmSync(join(home, "serial-map"), { force: true });
  mkdirSync(join(home, "tokens"), { recursive: true });
  mkdirSync(join(home, "pki"), { recursive: true });
  const conf = join(home, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(home, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = true\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf, YZT_VTOKEN_HOME: home };

  const cas = { rsa: await createDemoCa(new Date(now)), sm2: await createDemoCa(new Date(now), "SM2") };
  const pkiFile = (name: string) => join(home, "pki", name);
  const pki = {
    root: pkiFile("root.pem"), intermediate: pkiFile("intermediate.pem"), chain: pkiFile("chain.pem"),
    sm2Root: pkiFile("sm2-root.pem"), sm2Intermediate: pkiFile("sm2-intermediate.pem"), sm2IntermediateKey: pkiFile("sm2-intermediate-key.hex"),
  };
  writeFileSync(pki.root, cas.rsa.root.pem);
  writeFileSync(pki.intermediate, cas.rsa.intermediate.pem);
  writeFileSync(pki.sm2Root, cas.sm2.root.pem);
  writeFileSync(pki.sm2Intermediate, cas.sm2.intermediate.pem);
  writeFileSync(pki.sm2IntermediateKey, sm2Scalar(cas.sm2.intermediateKey).toString("hex"), { mode: 0o600 });
  writeFileSync(pki.chain, cas.rsa.intermediate.pem + cas.rsa.root.pem + cas.sm2.intermediate.pem + cas.sm2.root.pem);

  const tokenPlans = [...plans(now), ...officePlans(options.keys ?? 0, now)];
  for (const plan of tokenPlans) {
    run("softhsm2-util", ["--init-token", "--free", "--label", plan.label, "--pin", USER_PIN, "--so-pin", SO_PIN], env);
  }
  const serials = softhsmSerials(env);
  writeFileSync(join(home, "serial-map"), tokenPlans.map((plan) => `${serials.get(plan.label)} ${plan.serial}\n`).join(""));

  const scratch = mkdtempSync(join(tmpdir(), "yzt-provision-"));
  const tokens: VtokenToken[] = [];
  const escrowKeys = new Map<string, string>();
  try {
    for (const plan of tokenPlans) {
      const certificates: VtokenCertificate[] = [];
      const pairs = pairsOf(plan);
      const issuedAll = await Promise.all(pairs.map((pair) => issueFor(plan, cas, pair)));
      for (const [index, pair] of pairs.entries()) {
        const { purpose, ckaId } = pair;
        const label = containerLabel(pair);
        const { key, issued } = issuedAll[index]!;
        const certFile = join(scratch, `${plan.alias}-${ckaId}.cer`);
        writeFileSync(certFile, issued.der);
        if (key.algorithm === "SM2") {
          // SoftHSM has no SM2: the shim holds SM2 keys, imported through it like a vendor tool would.
          importSm2KeyPair(module, home, plan.label, USER_PIN, { ckaId, label, key: key.material, vendorKeyType: true, purpose });
          if (purpose === "encrypt") {
            const escrow = pkiFile(`escrow-${plan.alias}-${ckaId}.key.pem`);
            writeFileSync(escrow, sm2PrivateKeyPem(key.material), { mode: 0o600 });
            escrowKeys.set(`${plan.alias}-${ckaId}`, escrow);
          }
        } else {
          const keyFile = purpose === "encrypt" ? pkiFile(`escrow-${plan.alias}-${ckaId}.key.pem`) : join(scratch, `${plan.alias}-${ckaId}.key.pem`);
          writeFileSync(keyFile, await privateKeyPem(key), { mode: 0o600 });
          if (purpose === "encrypt") escrowKeys.set(`${plan.alias}-${ckaId}`, keyFile);
          run("softhsm2-util", ["--import", keyFile, "--token", plan.label, "--label", label, "--id", ckaId, "--pin", USER_PIN], env);
        }
        run("pkcs11-tool", ["--module", module, "--token-label", plan.label, "--login", "--pin", USER_PIN, "--write-object", certFile, "--type", "cert", "--id", ckaId, "--label", label], env);
        certificates.push({
          purpose, ckaId, pem: issued.pem, keyAlgorithm: key.algorithm,
          notBefore: new Date(plan.notBefore).toISOString(), notAfter: new Date(plan.notAfter).toISOString(),
          ...(escrowKeys.has(`${plan.alias}-${ckaId}`) ? { escrowKey: escrowKeys.get(`${plan.alias}-${ckaId}`)! } : {}),
        });
      }
      tokens.push({ alias: plan.alias, serial: plan.serial, label: plan.label, company: plan.company, creditCode: plan.creditCode, certificates });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const tls = createDemoTls(home);
  const manifest: VtokenManifest = { home, module, skfModule, userPin: USER_PIN, soPin: SO_PIN, tokens, pki, tls };
  writeFileSync(join(home, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  for (const plan of tokenPlans) if (plan.alias !== "demo" && !plan.alias.startsWith("office")) removeToken(home, plan.alias);
  return manifest;
}
