/** Provisions the virtual token once per test run into a template directory that test files clone. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { provision } from "../virtual-token/provision.js";
import { removeToken } from "../virtual-token/state.js";

/** Office keys in the template (one company each), pulled out: the tests that want a hub insert them. */
export const TEMPLATE_OFFICE_KEYS = 2;

declare module "vitest" {
  export interface ProvidedContext {
    vtokenTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const home = mkdtempSync(join(tmpdir(), "yzt-vtoken-template-"));
  const manifest = await provision(home, { keys: TEMPLATE_OFFICE_KEYS });
  for (const token of manifest.tokens) if (token.alias.startsWith("office")) removeToken(home, token.alias);
  project.provide("vtokenTemplate", home);
  return () => rmSync(home, { recursive: true, force: true });
}
