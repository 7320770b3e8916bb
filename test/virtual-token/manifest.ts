/** What provisioning created: written to <home>/manifest.json and read by tests, the demo and the CLI. */
/** The six demo keys, and `office01`… for the keys of an office's hub (`provision --keys N`). */
export type VtokenAlias = "demo" | "ec" | "expired" | "expiring" | "rsa" | "mixed" | `office${string}`;

export interface VtokenCertificate {
  purpose: "sign" | "encrypt";
  ckaId: string;
  pem: string;
  keyAlgorithm: "RSA" | "EC" | "SM2";
  notBefore: string;
  notAfter: string;
  /**
   * Encryption keys only: the private key (PKCS#8 PEM) as the issuing CA's key escrow (KMC) keeps it, so
   * tests can check envelopes and ciphertexts with OpenSSL independently of the token.
   */
  escrowKey?: string;
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
  /**
   * The same keys as a vendor SKF library (GM/T 0016; skf.c): libyzt-vskf.so next to the shim, which it loads
   * from its own directory. Absolute path.
   */
  skfModule: string;
  userPin: string;
  soPin: string;
  tokens: VtokenToken[];
  /** chain.pem holds both demo chains (RSA and SM2), as a site trusting the demo CA would. */
  pki: {
    root: string; intermediate: string; chain: string; sm2Root: string; sm2Intermediate: string;
    /** The SM2 sub CA's private scalar (hex), for the demo issuer site's CA that renews certificates. */
    sm2IntermediateKey: string;
  };
  /** The demo TLS CA and the https server certificate for the demo host names (tls-pki.ts); test-only. */
  tls: { ca: string; cert: string; key: string; hosts: string[] };
}
