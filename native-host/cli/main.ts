/**
 * `yzt`: the command line of yzt-bridge, using the same token service as the native host in-process.
 *   yzt tokens | certs | sign --cert ID --in FILE --out FILE [--format F] | change-pin --token SERIAL
 *       | unlock --token SERIAL | doctor
 * Common flags: --module PATH (repeatable via YZT_PKCS11_MODULE), --skf-module PATH (YZT_SKF_MODULE),
 * --pin-stdin, --json.
 *
 * Layer cli/: the `yzt` command on top of token/, crypto/ and install/; nothing imports cli/.
 */
import { statSync } from "node:fs";
import { loadAuthorities, SYSTEM_CA_BUNDLES } from "../../crypto/chain.js";
import { diagnose } from "../token/diagnostics.js";
import { YztError } from "../../protocol/errors.js";
import { signFormatSchema } from "../../protocol/messages.js";
import { repairConfig } from "../support/config.js";
import { bindingChecks, setupService, type ServiceSetup } from "../token/setup.js";
import { keyLibraryLoading } from "../driver/loader.js";
import { createLogger } from "../support/log.js";
import { registrationChecks, runInstall, runPackage, runPolicies, runUninstall, setupContext } from "./setup-commands.js";
import { parseArgs, requiredOption, stringOption, type ParsedArgs } from "./args.js";
import { signFile } from "./sign-file.js";
import { readPins } from "./pin-input.js";
import { printChecks, printCertificates, printTokens } from "./output.js";
import { adviceFor, certificateReport, unrepairable } from "../../protocol/diagnostic-report.js";

const CLI_ORIGIN = "yzt-cli://local";
const USAGE = `用法 Usage:
  yzt tokens                         列出证书介质 (USB keys) and PIN state
  yzt certs                          列出证书 certificates: holder, credit code, days left
  yzt sign --cert ID --in FILE --out FILE [--format pkcs7-detached|pkcs7-attached|raw]
  yzt change-pin --token SERIAL      修改 PIN (old, new, confirm)
  yzt unlock --token SERIAL          解锁 PIN：管理员 PIN (SO PIN) 设置新 PIN / unlock with the admin PIN
  yzt doctor [--fix] [--certs] [--retry]
                                     环境检测 environment check; --fix 全部修复 repairs what it can;
                                     --retry 重试已停用的证书驱动 tries quarantined key libraries again;
                                     --certs 证书检测 certificate report to copy to the help desk
  yzt install [--system] [--browser chrome,firefox|all] [--module PATH] [--skf-module PATH]
                                     注册本地服务 register the native host with the browsers
  yzt uninstall [--system]           卸载 remove the registration
  yzt package [--out DIR]            扩展安装包 extension .zip (Chrome/Edge) and .xpi (Firefox)
  yzt policies [--out DIR] [--update-url URL] [--xpi-url URL]
                                     企业策略 Chrome/Edge/Firefox enterprise policy files
Options: --module PATH   PKCS#11 library (else YZT_PKCS11_MODULE, config, p11-kit, known vendors)
         --skf-module PATH  SKF (GM/T 0016) library of a 国密 key (else YZT_SKF_MODULE, config skfModules,
                         the drivers of known key models)
         --pin-stdin     read PIN(s) from stdin lines instead of a hidden prompt
         --json          machine-readable output`;

const BOOLEAN_FLAGS = new Set(["pin-stdin", "json", "help", "fix", "system", "certs", "retry"]);
/** How long the command line waits for a key library's driver to answer: the enumeration limit. */
const DRIVER_ANSWER_WAIT_MS = 15_000;
/** Commands that never touch a token, so no key library is loaded for them. */
const SETUP_COMMANDS: Record<string, (args: ParsedArgs) => void> = {
  install: (args) => runInstall(setupContext(args)),
  uninstall: (args) => runUninstall(setupContext(args)),
  package: runPackage,
  policies: runPolicies,
};

async function run(args: ParsedArgs, setup: ServiceSetup): Promise<number> {
  const { service } = setup;
  const json = args.options.has("json");
  const fromStdin = args.options.has("pin-stdin");
  switch (args.command) {
    case "tokens": {
      const tokens = await service.listTokens();
      if (json) console.log(JSON.stringify(tokens, null, 2));
      else printTokens(tokens);
      return tokens.some((t) => t.present) ? 0 : 2;
    }
    case "certs": {
      const certificates = await service.listCertificates();
      if (json) console.log(JSON.stringify(certificates, null, 2));
      else printCertificates(certificates);
      return certificates.length > 0 ? 0 : 2;
    }
    case "sign": {
      const certificateId = requiredOption(args, "cert");
      const format = signFormatSchema.parse(stringOption(args, "format") ?? "pkcs7-detached", "--format");
      const inPath = requiredOption(args, "in");
      const outPath = requiredOption(args, "out");
      const [pin] = await readPins(["PIN: "], fromStdin);
      const result = await signFile(service, { certificateId, format, inPath, outPath, origin: CLI_ORIGIN, pin: pin! });
      console.log(`已签名 signed ${statSync(inPath).size} bytes → ${outPath} (${format}, ${result.algorithm})`);
      return 0;
    }
    case "unlock": {
      const tokenSerial = requiredOption(args, "token");
      const [soPin, newPin, confirm] = await readPins(["管理员 PIN Admin (SO) PIN: ", "新 PIN New PIN: ", "确认 Confirm: "], fromStdin);
      if (newPin !== confirm) throw new YztError("PIN_INVALID", "the new PIN and its confirmation differ");
      await service.unlock({ tokenSerial, soPin: soPin!, newPin: newPin! });
      console.log("PIN 已解锁并设置为新 PIN (unlocked; the new PIN is set)");
      return 0;
    }
    case "change-pin": {
      const tokenSerial = requiredOption(args, "token");
      const [oldPin, newPin, confirm] = await readPins(["旧 PIN Old PIN: ", "新 PIN New PIN: ", "确认 Confirm: "], fromStdin);
      if (newPin !== confirm) throw new YztError("PIN_INVALID", "the new PIN and its confirmation differ");
      await service.changePin({ tokenSerial, oldPin: oldPin!, newPin: newPin! });
      console.log("PIN 已修改 PIN changed");
      return 0;
    }
    case "doctor": {
      const fix = args.options.has("fix");
      const actions = fix ? repairConfig() : [];
      // --retry (and --fix, as 全部修复 does) tries quarantined key libraries again.
      if (fix || args.options.has("retry")) for (const path of setup.liftQuarantine?.() ?? []) actions.push(`重试已停用的证书驱动 retried the quarantined key library ${path}`);
      if (actions.length > 0) await service.reload(setup.discover());
      await service.librariesAnswered(DRIVER_ANSWER_WAIT_MS);
      const registration = registrationChecks(setupContext(args), fix);
      actions.push(...registration.actions);
      const result = await diagnose({
        service,
        authorities: () => loadAuthorities([...setup.caPaths, ...SYSTEM_CA_BUNDLES]),
        ...(setup.configProblem && !fix ? { configProblem: setup.configProblem } : {}),
      });
      const checks = [...registration.checks, ...(await bindingChecks()), ...result.checks];
      if (args.options.has("certs")) {
        // 证书检测: the certificates only, as a report to copy to the help desk.
        if (json) console.log(JSON.stringify({ ...result, checks: result.checks.filter((c) => typeof c.detail?.certificateId === "string") }, null, 2));
        else process.stdout.write(certificateReport(result, new Date()));
        return result.checks.some((c) => c.status === "error" && typeof c.detail?.certificateId === "string") ? 1 : 0;
      }
      if (json) console.log(JSON.stringify({ ...result, checks, actions }, null, 2));
      else {
        for (const action of actions) console.log(`🔧 ${action}`);
        printChecks(checks);
        const left = unrepairable(checks);
        if (fix && left.length > 0) {
          console.log("无法自动修复 / cannot be repaired here:");
          for (const check of left) console.log(`  ✘ [${check.id}] ${adviceFor(check)}`);
        }
      }
      return checks.some((c) => c.status === "error") ? 1 : 0;
    }
    default:
      console.log(USAGE);
      return args.command === undefined || args.options.has("help") ? 0 : 64;
  }
}

export async function main(argv: string[]): Promise<number> {
  let setup: ServiceSetup | undefined;
  try {
    const args = parseArgs(argv, BOOLEAN_FLAGS);
    if (args.command === undefined || args.options.has("help")) {
      console.log(USAGE);
      return 0;
    }
    const setupCommand = SETUP_COMMANDS[args.command];
    if (setupCommand) {
      setupCommand(args);
      return 0;
    }
    const module = stringOption(args, "module");
    const skfModule = stringOption(args, "skf-module");
    // Quiet unless asked: the command's own output is what the user reads; a failing driver still says so.
    const logger = createLogger({ ...process.env, YZT_LOG_LEVEL: process.env.YZT_LOG_LEVEL ?? "warn" });
    setup = await setupService({ cliModules: module ? [module] : [], cliSkfModules: skfModule ? [skfModule] : [], logger, ...keyLibraryLoading(process.env, logger) });
    setup.service.start(false);
    // The command line has time: it waits for every driver's first answer, up to the enumeration limit.
    await setup.service.librariesAnswered(DRIVER_ANSWER_WAIT_MS);
    return await run(args, setup);
  } catch (error) {
    const failure = YztError.from(error);
    const retries = failure.data?.retriesLeft;
    console.error(`错误 error ${failure.code}: ${failure.message}${typeof retries === "number" ? ` (还可尝试 ${retries} 次 retries left)` : ""}`);
    return 1;
  } finally {
    await setup?.service.close();
  }
}
