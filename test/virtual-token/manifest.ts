/** What provisioning created: written to <home>/manifest.json and read by tests, the demo and the CLI. */
export type VtokenAlias = "demo" | "ec" | "expired" | "expiring";

export interface VtokenCertificate {
  purpose: "sign" | "encrypt";
  ckaId: string;
  pem: string;
  keyAlgorithm: "RSA" | "EC";
  notBefore: string;
  notAfter: string;
}

export interface VtokenToken {
  alias: VtokenAlias;
  serial: string;
  label: string;
  company: string;
  creditCode: string;
  certificates: VtokenCertificate[];
}

export interface VtokenManifest {
  home: string;
  /** The shim: the PKCS#11 module to load. */
  module: string;
  userPin: string;
  soPin: string;
  tokens: VtokenToken[];
  pki: { root: string; intermediate: string; chain: string };
}
