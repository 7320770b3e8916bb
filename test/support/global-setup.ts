/** Provisions the virtual token once per test run into a template directory that test files clone. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { provision } from "../virtual-token/provision.js";

declare module "vitest" {
  export interface ProvidedContext {
    vtokenTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const home = mkdtempSync(join(tmpdir(), "yzt-vtoken-template-"));
  await provision(home);
  project.provide("vtokenTemplate", home);
  return () => rmSync(home, { recursive: true, force: true });
}
