/** The `yzt` command line against the virtual token, as a user with a USB key would run it. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scripts/host-process.js";
import { rsToDer } from "../../crypto/sm2.js";
import { verifyCmsSignature } from "../../server/index.js";
import { independentlyVerifiesCms, opensslVerifiesSm2 } from "../support/independent-verify.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken, removeToken } from "../virtual-token/state.js";

let vtoken: VirtualToken;
let work: string;

function yzt(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, "bin", "yzt.js"), ...args], {
    env: {
      ...process.env, ...vtoken.hostEnv, YZT_CONFIG_DIR: work,
      YZT_DATA_DIR: join(work, "data"), YZT_INSTALL_HOME: join(work, "home"),
    },
    input: input ?? "",
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  work = mkdtempSync(join(tmpdir(), "yzt-cli-"));
});

afterAll(() => {
  vtoken?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("yzt CLI", () => {
  it("yzt certs prints both demo certificates with holder name, credit code and days left", () => {
    const { code, stdout } = yzt(["certs"]);
    expect(code).toBe(0);
    const rows = stdout.split("\n").filter((line) => line.includes("北京演示科技有限公司"));
    expect(rows).toHaveLength(2);
    const creditCode = vtoken.manifest.tokens[0]!.creditCode;
    for (const row of rows) {
      expect(row).toContain(creditCode);
      expect(row).toMatch(/\s7[0-9]{2}\s/);
    }
    expect(rows[0]).toContain("sign");
    expect(rows[1]).toContain("encrypt");
  });

  it("yzt tokens shows the key and its PIN retries; --json is machine-readable", () => {
    expect(yzt(["tokens"]).stdout).toMatch(/YZT0000000000001\s+BJ-YZT DEMO\s+yes\s+ok\s+10/);
    const tokens = JSON.parse(yzt(["tokens", "--json"]).stdout) as Array<{ serial: string; present: boolean }>;
    expect(tokens.filter((t) => t.present).map((t) => t.serial)).toEqual(["YZT0000000000001"]);
  });

  it("yzt sign writes a detached SM2 CMS (SM3, SM2-with-SM3) with the demo key, checked independently", () => {
    const input = join(work, "declaration.xml");
    const output = join(work, "declaration.p7s");
    writeFileSync(input, "<申报>增值税</申报>");
    const { code, stdout } = yzt(["sign", "--cert", vtoken.certificateId("YZT0000000000001", "0101"), "--in", input, "--out", output, "--pin-stdin"], "12345678\n");
    expect(code).toBe(0);
    expect(stdout).toContain("pkcs7-detached, SM3withSM2");
    expect(independentlyVerifiesCms(readFileSync(output), readFileSync(input), vtoken.manifest.pki.chain)).toBe(true);
    expect(independentlyVerifiesCms(readFileSync(output), Buffer.from("<申报>篡改</申报>"), vtoken.manifest.pki.chain)).toBe(false);
  });

  it("yzt sign --format raw gives an SM2 r‖s signature that OpenSSL verifies", () => {
    const input = join(work, "raw.txt");
    const output = join(work, "raw.sig");
    writeFileSync(input, "raw data");
    expect(yzt(["sign", "--cert", vtoken.certificateId("YZT0000000000001", "0101"), "--in", input, "--out", output, "--format", "raw", "--pin-stdin"], "12345678\n").code).toBe(0);
    const certificatePem = vtoken.manifest.tokens.find((t) => t.alias === "demo")!.certificates[0]!.pem;
    expect(opensslVerifiesSm2(certificatePem, readFileSync(input), rsToDer(readFileSync(output)))).toBe(true);
    expect(opensslVerifiesSm2(certificatePem, Buffer.from("other data"), rsToDer(readFileSync(output)))).toBe(false);
  });

  it("yzt sign --format raw with an RSA key gives a PKCS#1 signature openssl dgst verifies", () => {
    insertToken(vtoken.home, "rsa");
    const input = join(work, "raw-rsa.txt");
    const output = join(work, "raw-rsa.sig");
    writeFileSync(input, "raw data");
    expect(yzt(["sign", "--cert", vtoken.certificateId("YZT0000000000005", "0101"), "--in", input, "--out", output, "--format", "raw", "--pin-stdin"], "12345678\n").code).toBe(0);
    const certificate = join(work, "cert.pem");
    writeFileSync(certificate, vtoken.manifest.tokens.find((t) => t.alias === "rsa")!.certificates[0]!.pem);
    const pub = join(work, "pub.pem");
    writeFileSync(pub, execFileSync("openssl", ["x509", "-in", certificate, "-pubkey", "-noout"]));
    expect(execFileSync("openssl", ["dgst", "-sha256", "-verify", pub, "-signature", output, input], { encoding: "utf8" })).toContain("Verified OK");
    removeToken(vtoken.home, "rsa");
  });

  it("yzt sign streams a file over 2 GiB (more than Node can read at once) into a detached CMS OpenSSL verifies", () => {
    insertToken(vtoken.home, "rsa"); // RSA, so that OpenSSL itself can check the whole 2 GiB signature
    const input = join(work, "huge.bin");
    const output = join(work, "huge.p7s");
    // Sparse: costs no disk, but every byte is hashed. readFileSync refuses files over 2 GiB, so only a stream works.
    writeFileSync(input, "");
    truncateSync(input, 2 ** 31 + 1);
    const { code, stdout, stderr } = yzt(["sign", "--cert", vtoken.certificateId("YZT0000000000005", "0101"), "--in", input, "--out", output, "--pin-stdin"], "12345678\n");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`signed ${2 ** 31 + 1} bytes`);
    execFileSync("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", output, "-content", input, "-CAfile", vtoken.manifest.pki.chain, "-purpose", "any", "-out", "/dev/null"], { stdio: "pipe" });
    rmSync(input);
    removeToken(vtoken.home, "rsa");
  }, 120_000);

  it("yzt sign --format pkcs7-attached embeds the file; the SM2 signature and the embedded content check out", async () => {
    const input = join(work, "attached.xml");
    const output = join(work, "attached.p7s");
    writeFileSync(input, "<申报>附件</申报>".repeat(50_000));
    expect(yzt(["sign", "--cert", vtoken.certificateId("YZT0000000000001", "0101"), "--in", input, "--out", output, "--format", "pkcs7-attached", "--pin-stdin"], "12345678\n").code).toBe(0);
    expect(independentlyVerifiesCms(readFileSync(output), readFileSync(input), vtoken.manifest.pki.chain)).toBe(true);
    const verified = await verifyCmsSignature(readFileSync(output), { trustedRoots: [readFileSync(vtoken.manifest.pki.chain, "utf8")] });
    expect(Buffer.from(verified.content).equals(readFileSync(input))).toBe(true);
  });

  it("reports a wrong PIN with the retries left and a non-zero exit", () => {
    const input = join(work, "x.txt");
    writeFileSync(input, "x");
    const { code, stderr } = yzt(["sign", "--cert", vtoken.certificateId("YZT0000000000001", "0101"), "--in", input, "--out", join(work, "x.sig"), "--pin-stdin"], "00000000\n");
    expect(code).toBe(1);
    expect(stderr).toContain("PIN_INCORRECT");
    expect(stderr).toContain("9");
  });

  it("yzt change-pin changes the PIN with old/new/confirm from stdin and rejects a mismatch", () => {
    expect(yzt(["change-pin", "--token", "YZT0000000000001", "--pin-stdin"], "12345678\n11223344\n11223355\n").stderr).toContain("PIN_INVALID");
    expect(yzt(["change-pin", "--token", "YZT0000000000001", "--pin-stdin"], "12345678\n11223344\n11223344\n").code).toBe(0);
    expect(yzt(["change-pin", "--token", "YZT0000000000001", "--pin-stdin"], "11223344\n12345678\n12345678\n").code).toBe(0);
  });

  it("yzt doctor checks module, key, PIN, validity and chain", () => {
    expect(yzt(["install"]).code).toBe(0);
    const { code, stdout } = yzt(["doctor"]);
    expect(code).toBe(0);
    for (const id of ["module", "token", "pin", "certificate", "chain"]) expect(stdout).toContain(`[${id}]`);
    expect(stdout).not.toContain("✘");
  });

  it("yzt doctor fails clearly when no key is inserted", () => {
    removeToken(vtoken.home, "demo");
    const { code, stdout } = yzt(["doctor"]);
    insertToken(vtoken.home, "demo");
    expect(code).toBe(1);
    expect(stdout).toMatch(/✘ \[token\] no token inserted/);
  });

  it("yzt doctor --certs reports each certificate's validity, chain, key usage and identity, with what to do", () => {
    const healthy = yzt(["doctor", "--certs"]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toContain("证书检测报告");
    expect(healthy.stdout).toContain(`[1] 北京演示科技有限公司 · ${vtoken.certificateId("YZT0000000000001", "0101")}`);
    for (const item of ["有效期 validity", "证书链 chain", "密钥用法 key usage", "企业标识 identity"]) expect(healthy.stdout).toContain(`✔ ${item}`);
    expect(healthy.stdout).toMatch(/企业标识 identity: .*credit code 91110108MA01DEMX0\w, unique id SF91110108MA01DEMX0\w/);
    expect(healthy.stdout).toContain("全部正常");

    insertToken(vtoken.home, "expired");
    try {
      const report = yzt(["doctor", "--certs"]);
      expect(report.code).toBe(1);
      expect(report.stdout).toMatch(/✘ 有效期 validity: 北京过期示例有限公司 \(sign\): expired/);
      expect(report.stdout).toContain("【证书更新】");
      expect(report.stdout).toMatch(/结论 verdict: \d+ 个问题/);
    } finally {
      removeToken(vtoken.home, "expired");
    }
  });

  it("refuses unknown commands and missing options", () => {
    expect(yzt(["frobnicate"]).code).toBe(64);
    const missing = yzt(["sign", "--in", "x"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("--cert is required");
  });

  it("yzt unlock --token SERIAL sets a new PIN with the admin (SO) PIN after the key locked, and refuses a wrong admin PIN", () => {
    const serial = vtoken.manifest.tokens.find((t) => t.alias === "demo")!.serial;
    writeFileSync(join(work, "unlock-in.txt"), "解锁后签名");
    for (let i = 0; i < 10; i++) yzt(["sign", "--cert", vtoken.certificateId(serial, "0101"), "--in", join(work, "unlock-in.txt"), "--out", join(work, "x"), "--pin-stdin"], "00000000\n");
    expect(yzt(["tokens", "--json"]).stdout).toContain('"locked": true');
    const wrong = yzt(["unlock", "--token", serial, "--pin-stdin"], "00000000\n24681357\n24681357\n");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("administrator (SO) PIN is incorrect");
    const mismatch = yzt(["unlock", "--token", serial, "--pin-stdin"], `${vtoken.manifest.soPin}\n24681357\n13572468\n`);
    expect(mismatch.code).toBe(1);
    const done = yzt(["unlock", "--token", serial, "--pin-stdin"], `${vtoken.manifest.soPin}\n24681357\n24681357\n`);
    expect(done.stdout + done.stderr).toContain("unlocked");
    expect(done.code).toBe(0);
    const tokens = JSON.parse(yzt(["tokens", "--json"]).stdout) as Array<{ serial: string; pin: { locked: boolean; retriesLeft: number } }>;
    expect(tokens.find((t) => t.serial === serial)!.pin).toMatchObject({ locked: false, retriesLeft: 10 });
    const signed = yzt(["sign", "--cert", vtoken.certificateId(serial, "0101"), "--in", join(work, "unlock-in.txt"), "--out", join(work, "unlock.p7s"), "--pin-stdin"], "24681357\n");
    expect(signed.code).toBe(0);
  });
});
