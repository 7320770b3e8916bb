/*
 * yzt-bridge virtual token: a PKCS#11 module that forwards to SoftHSM2 and adds what a real USB key does
 * and SoftHSM cannot: being pulled out, locking the PIN after 10 wrong tries, and being slow.
 *
 * State lives in files so tests and the `vtoken` CLI can drive it from outside the process:
 *   $HOME/softhsm2.conf                 SoftHSM configuration used by this module
 *   $HOME/state/<serial>/removed        exists => the key is pulled out
 *   $HOME/state/<serial>/retries        user-PIN tries left (absent => 10)
 *   $HOME/state/<serial>/so-retries     SO-PIN tries left (absent => 10), the same way (see PINs below)
 *   $HOME/state/<serial>/latency-ms     extra delay for each signature, decryption, key-pair generation and
 *                                       key unwrap (a real key is slow at all of them)
 *   $HOME/state/<serial>/busy           exists while an operation waits out that delay (written by the shim)
 *   $HOME/state/<serial>/sm2-vendor-keys
 *                                       public points (hex 04||x||y) of the SM2 keys created with the vendor
 *                                       key type, one a line: those report CKK_VTOKEN_SM2 (see SM2 below)
 *   $HOME/serial-map                    "<SoftHSM serial> <serial to report>" lines: SoftHSM picks random
 *                                       serials, real keys have fixed printed ones
 * $HOME is $YZT_VTOKEN_HOME, else the directory holding this library.
 *
 * SM2 (GM/T 0003, the Chinese national elliptic-curve signature) the way Chinese vendor PKCS#11 libraries
 * expose it: vendor key type CKK_VTOKEN_SM2, vendor mechanisms CKM_VTOKEN_SM2 (signs a precomputed
 * e = SM3(Z||M)) and CKM_VTOKEN_SM2_SM3 (hashes Z||M itself; parameter = signer ID), signatures as r||s,
 * and CKM_VTOKEN_SM2_ENC (decrypts a GM/T 0009 DER ciphertext with an encryption key).
 * SoftHSM2 has no SM2, so the shim signs with OpenSSL 3 libcrypto. SoftHSM only stores the key: as an
 * ordinary CKK_EC key on the SM2 curve (CKA_EC_PARAMS = OID 1.2.156.10197.1.301), private keys
 * CKA_PRIVATE=TRUE (invisible before C_Login) and internally non-sensitive and extractable so that the shim
 * can read the scalar back. Callers never see that: the shim reports such keys as sensitive and
 * unextractable, refuses to reveal CKA_VALUE or wrap them, and refuses ECDSA on them. Keys created with the
 * vendor key type are reported with it; keys created as CKK_EC on the SM2 curve stay CKK_EC (real vendor
 * libraries do both), and the SM2 mechanisms work on both.
 *
 * The certificate life cycle (renewal on the key, unlock at a service point):
 *   PINs         the user PIN and the SO PIN each have an exact persistent counter (max 10): a wrong PIN in
 *                C_Login (and a wrong old PIN in C_SetPIN) takes one try, the right one restores all ten, and at
 *                0 C_Login answers CKR_PIN_LOCKED even for the right PIN. C_InitPIN (the SO resetting the user
 *                PIN) restores the user's ten. C_GetTokenInfo reports each counter in its COUNT_LOW / FINAL_TRY /
 *                LOCKED flags; yzt_vtoken_user_pin_retries and yzt_vtoken_so_pin_retries give the exact numbers
 *                to the SKF face.
 *   generation   C_GenerateKeyPair with CKM_VTOKEN_SM2_KEY_PAIR_GEN (no parameter) makes an SM2 pair with
 *                OpenSSL and stores it as C_CreateObject stores SM2 keys, with the caller's two templates (their
 *                CKA_TOKEN, CKA_PRIVATE, CKA_ID, CKA_LABEL, CKA_SIGN, CKA_DECRYPT...). Key type CKK_VTOKEN_SM2 unless
 *                the templates ask for CKK_EC; CKM_EC_KEY_PAIR_GEN with the SM2 curve in the public template is
 *                the same with CKK_EC (SoftHSM would make a sensitive key the shim cannot sign with). The private
 *                key is created first, so that without a login nothing is written; a failure of the public one
 *                destroys it again. Every other mechanism (CKM_RSA_PKCS_KEY_PAIR_GEN...) is SoftHSM's.
 *   enveloped    C_UnwrapKey with CKM_VTOKEN_SM2_ENVELOPED_KEY (no parameter) imports the encryption key pair a
 *                CA's key-management centre sends (GM/T 0016 ENVELOPEDKEYBLOB, GM/T 0014's double certificates):
 *                unwrapping key = an SM2 private key that may sign or unwrap (the container's signing key), wrapped
 *                key = the blob with 32-bit little-endian ULONGs, packed (see sm2_open_envelope for the bytes),
 *                template = the new private key's attributes. The shim SM2-decrypts the SM4 key with the
 *                unwrapping key, SM4-ECB-decrypts the private scalar, and creates the key only if scalar x G is
 *                the blob's public key (else CKR_WRAPPED_KEY_INVALID, nothing created). It creates the private
 *                key only: the caller creates the public key object from the blob's point with C_CreateObject.
 *   removal      every session call, certificate creation (C_CreateObject) and C_DestroyObject included, answers
 *                CKR_DEVICE_REMOVED while the key is out; generation and unwrap wait out the latency before they
 *                write, so a key pulled out meanwhile gets nothing written.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>
#include "pkcs11-text.h"
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#define MAX_SLOTS 32
#define MAX_SESSIONS 1024
#define MAX_PIN_TRIES 10
#define MANUFACTURER "yzt-bridge virtual token"
#define MODEL "VTOKEN-1"

/*
 * SM2 identifiers. Vendor-defined values (PKCS#11 CKK_/CKM_VENDOR_DEFINED range, 0x80000000 and up) in the
 * style of Chinese token libraries. The host and the tests depend on these exact values: do not change them.
 *   CKK_VTOKEN_SM2      key type of SM2 private and public keys
 *   CKM_VTOKEN_SM2      signs a precomputed 32-byte e = SM3(Z||M); output r||s (2 x 32 bytes big-endian)
 *   CKM_VTOKEN_SM2_SM3  signs a message: computes Z (mechanism parameter = signer ID, NULL/0 = the default
 *                       ID "1234567812345678") and e itself; output r||s; single- and multi-part
 */
#define CKK_VTOKEN_SM2 0x80005300UL
#define CKM_VTOKEN_SM2 0x80005301UL
#define CKM_VTOKEN_SM2_SM3 0x80005302UL
/* CKM_VTOKEN_SM2_ENC: SM2 decryption (GM/T 0003.4) of a DER SM2Ciphertext (GM/T 0009: x, y, C3 hash, C2), as
 * Sansec/Koal-style libraries do with their CKM_SM2_CIPHER_DER. Only decryption: encrypting needs no key. */
#define CKM_VTOKEN_SM2_ENC 0x80005303UL
/* CKM_VTOKEN_SM2_KEY_PAIR_GEN: C_GenerateKeyPair of an SM2 pair. CKM_VTOKEN_SM2_ENVELOPED_KEY: C_UnwrapKey of a GM/T
 * 0016 ENVELOPEDKEYBLOB (the encryption key pair from a CA) with the signing key. See the life-cycle part above. */
#define CKM_VTOKEN_SM2_KEY_PAIR_GEN 0x80005304UL
#define CKM_VTOKEN_SM2_ENVELOPED_KEY 0x80005305UL
#define SGD_SM4_ECB 0x00000401 /* the only symmetric algorithm of an ENVELOPEDKEYBLOB the shim opens */
#define SM2_DEFAULT_ID "1234567812345678"
#define SM2_SIG_LEN 64   /* r||s */
#define SM2_POINT_LEN 65 /* 04||x||y */
/* The SM2 curve OID 1.2.156.10197.1.301 in DER: the CKA_EC_PARAMS of every SM2 key. */
static const CK_BYTE SM2_OID_DER[] = {0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D};

/* An SM2 signing operation the shim runs itself (SoftHSM knows nothing of it). mechanism 0 = none. */
struct sm2_sign {
  CK_MECHANISM_TYPE mechanism;
  CK_OBJECT_HANDLE key;
  EVP_MD_CTX *sm3; /* CKM_VTOKEN_SM2_SM3: SM3 over Z||M so far */
  int updated;     /* C_SignUpdate was called: only C_SignFinal may finish */
};

/* Which SM2 keys a C_FindObjects search may return (see w_FindObjectsInit). */
enum find_filter { FIND_ALL, FIND_VENDOR_SM2_ONLY, FIND_NOT_VENDOR_SM2 };

struct slot_state {
  CK_SLOT_ID id;
  char serial[17];
  unsigned generation;   /* bumped at every removal: sessions from an older generation are dead */
  int present;           /* last observed presence */
  int reported_present;  /* presence last reported by C_WaitForSlotEvent */
};

struct session_state {
  CK_SESSION_HANDLE handle;
  CK_SLOT_ID slot;
  unsigned generation;
  int used;
  struct sm2_sign sm2;
  CK_OBJECT_HANDLE sm2_decrypt; /* key of an active CKM_VTOKEN_SM2_ENC decryption, 0 = none */
  enum find_filter find_filter;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *softhsm;
static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim;
static int shim_ready;
static volatile int initialized;
static char home[PATH_MAX];
static struct slot_state slots[MAX_SLOTS];
static int slot_count;
static struct session_state sessions[MAX_SESSIONS];

/* ---------- files ---------- */

static void state_path(const struct slot_state *s, const char *name, char *out, size_t size) {
  snprintf(out, size, "%s/state/%s/%s", home, s->serial, name);
}

static int read_int_file(const struct slot_state *s, const char *name, int fallback) {
  char path[PATH_MAX];
  state_path(s, name, path, sizeof path);
  FILE *f = fopen(path, "r");
  if (!f) return fallback;
  int value;
  int ok = fscanf(f, "%d", &value) == 1;
  fclose(f);
  return ok ? value : fallback;
}

static void write_int_file(const struct slot_state *s, const char *name, int value) {
  char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s/state", home);
  mkdir(dir, 0755);
  snprintf(dir, sizeof dir, "%s/state/%s", home, s->serial);
  mkdir(dir, 0755);
  state_path(s, name, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "%d\n", value);
  fclose(f);
  rename(tmp, path); /* atomic: a reader never sees a half-written counter */
}

static int file_exists(const struct slot_state *s, const char *name) {
  char path[PATH_MAX];
  state_path(s, name, path, sizeof path);
  return access(path, F_OK) == 0;
}

/* ---------- slots and sessions (call with lock held) ---------- */

static struct slot_state *find_slot(CK_SLOT_ID id) {
  for (int i = 0; i < slot_count; i++)
    if (slots[i].id == id) return &slots[i];
  return NULL;
}

static void sm2_sign_clear(struct sm2_sign *op) {
  EVP_MD_CTX_free(op->sm3);
  memset(op, 0, sizeof *op);
}

static void drop_session(struct session_state *session) {
  sm2_sign_clear(&session->sm2);
  session->sm2_decrypt = 0;
  session->find_filter = FIND_ALL;
  session->used = 0;
}

static void drop_all_sessions(void) {
  for (int i = 0; i < MAX_SESSIONS; i++) drop_session(&sessions[i]);
}

static void forget_sessions_of(CK_SLOT_ID id) {
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (sessions[i].used && sessions[i].slot == id) drop_session(&sessions[i]);
}

/* Reads the removal file; on a present -> removed transition the key's sessions die, as on real hardware. */
static int refresh(struct slot_state *s) {
  int present = !file_exists(s, "removed");
  if (s->present && !present) {
    s->generation++;
    real->C_CloseAllSessions(s->id);
    for (int i = 0; i < MAX_SESSIONS; i++) /* the dead sessions stay listed (to answer "invalid") but sign nothing */
      if (sessions[i].used && sessions[i].slot == s->id) sm2_sign_clear(&sessions[i].sm2);
  }
  s->present = present;
  return present;
}

static struct session_state *find_session(CK_SESSION_HANDLE h) {
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (sessions[i].used && sessions[i].handle == h) return &sessions[i];
  return NULL;
}

/* CKR_OK when the session may be used; otherwise what a pulled-out key answers. */
static CK_RV check_session(CK_SESSION_HANDLE h, struct slot_state **slot_out) {
  pthread_mutex_lock(&lock);
  CK_RV rv = CKR_OK;
  struct session_state *session = find_session(h);
  struct slot_state *s = session ? find_slot(session->slot) : NULL;
  if (session && s) {
    if (!refresh(s)) rv = CKR_DEVICE_REMOVED;
    else if (session->generation != s->generation) {
      drop_session(session);
      rv = CKR_SESSION_HANDLE_INVALID;
    }
  }
  if (slot_out) *slot_out = s;
  pthread_mutex_unlock(&lock);
  return rv;
}

static CK_RV check_slot(CK_SLOT_ID id, struct slot_state **slot_out) {
  pthread_mutex_lock(&lock);
  struct slot_state *s = find_slot(id);
  CK_RV rv = !s ? CKR_SLOT_ID_INVALID : refresh(s) ? CKR_OK : CKR_TOKEN_NOT_PRESENT;
  if (slot_out) *slot_out = s;
  pthread_mutex_unlock(&lock);
  return rv;
}

static void pad_copy(CK_UTF8CHAR *field, size_t size, const char *text) {
  memset(field, ' ', size);
  memcpy(field, text, strlen(text) < size ? strlen(text) : size);
}


/* Replaces SoftHSM's random serial with the one provisioning chose, if the map names it. */
static void map_serial(char *serial, size_t size) {
  char path[PATH_MAX], from[64], to[64];
  snprintf(path, sizeof path, "%s/serial-map", home);
  FILE *f = fopen(path, "r");
  if (!f) return;
  while (fscanf(f, "%63s %63s", from, to) == 2) {
    if (strcmp(from, serial) == 0) {
      snprintf(serial, size, "%s", to);
      break;
    }
  }
  fclose(f);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/*
 * Slow-key simulation: waits in 10 ms slices and gives up as soon as the key is pulled out. While it waits,
 * state/<serial>/busy exists, so a test can pull the key while an operation is really at the key.
 */
static CK_RV simulate_latency(struct slot_state *s) {
  if (!s) return CKR_OK;
  pthread_mutex_lock(&lock);
  int remaining = read_int_file(s, "latency-ms", 0);
  pthread_mutex_unlock(&lock);
  if (remaining <= 0) return CKR_OK;
  char busy[PATH_MAX];
  state_path(s, "busy", busy, sizeof busy);
  FILE *marker = fopen(busy, "w");
  if (marker) fclose(marker);
  CK_RV rv = CKR_OK;
  while (remaining > 0) {
    int step = remaining < 10 ? remaining : 10;
    sleep_ms(step);
    remaining -= step;
    pthread_mutex_lock(&lock);
    int present = refresh(s);
    pthread_mutex_unlock(&lock);
    if (!present) {
      rv = CKR_DEVICE_REMOVED;
      break;
    }
  }
  unlink(busy);
  return rv;
}

/* ---------- loading ---------- */

static void find_home(void) {
  const char *env = getenv("YZT_VTOKEN_HOME");
  if (env && *env) {
    snprintf(home, sizeof home, "%s", env);
    return;
  }
  Dl_info info;
  if (dladdr((void *)&find_home, &info) && info.dli_fname) {
    snprintf(home, sizeof home, "%s", info.dli_fname);
    char *slash = strrchr(home, '/');
    if (slash) *slash = 0;
    else snprintf(home, sizeof home, ".");
  }
}

static CK_RV load_softhsm(void) {
  if (real) return CKR_OK;
  find_home();
  const char *candidates[] = {getenv("YZT_VTOKEN_SOFTHSM"), "/usr/lib/softhsm/libsofthsm2.so",
                              "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"};
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !softhsm; i++)
    if (candidates[i] && *candidates[i]) softhsm = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
  if (!softhsm) return CKR_GENERAL_ERROR;
  CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(softhsm, "C_GetFunctionList");
  if (!get || get(&real) != CKR_OK) return CKR_GENERAL_ERROR;
  return CKR_OK;
}

/* ---------- SM2: the cryptography (OpenSSL 3 libcrypto; SoftHSM2 has no SM2) ---------- */

/* Q = d*G as 04||x||y. Fails unless 1 <= d < n-1, the range in which SM2 signing ((1+d)^-1) works. */
static int sm2_public_point(const CK_BYTE d[32], CK_BYTE q[SM2_POINT_LEN]) {
  EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
  BIGNUM *scalar = BN_secure_new(), *limit = BN_new();
  EC_POINT *point = group ? EC_POINT_new(group) : NULL;
  int ok = group && scalar && limit && point && BN_bin2bn(d, 32, scalar) && BN_copy(limit, EC_GROUP_get0_order(group)) &&
           BN_sub_word(limit, 1) && !BN_is_zero(scalar) && BN_cmp(scalar, limit) < 0 &&
           EC_POINT_mul(group, point, scalar, NULL, NULL, NULL) &&
           EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, q, SM2_POINT_LEN, NULL) == SM2_POINT_LEN;
  EC_POINT_free(point);
  BN_free(limit);
  BN_clear_free(scalar);
  EC_GROUP_free(group);
  return ok;
}

/* Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GM/T 0003.2 section 5.5): binds the signer's ID and
 * public key into what is signed. ENTL is the ID length in bits, 2 bytes big-endian. */
static int sm2_z(const CK_BYTE *id, size_t id_len, const CK_BYTE q[SM2_POINT_LEN], CK_BYTE z[32]) {
  EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_sm2);
  BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new(), *gx = BN_new(), *gy = BN_new();
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  CK_BYTE entl[2] = {(CK_BYTE)((id_len * 8) >> 8), (CK_BYTE)(id_len * 8)}, field[4][32];
  unsigned int z_len = 0;
  int ok = group && p && a && b && gx && gy && md && id_len <= 8191 && EC_GROUP_get_curve(group, p, a, b, NULL) &&
           EC_POINT_get_affine_coordinates(group, EC_GROUP_get0_generator(group), gx, gy, NULL) &&
           BN_bn2binpad(a, field[0], 32) == 32 && BN_bn2binpad(b, field[1], 32) == 32 &&
           BN_bn2binpad(gx, field[2], 32) == 32 && BN_bn2binpad(gy, field[3], 32) == 32 &&
           EVP_DigestInit_ex(md, EVP_sm3(), NULL) && EVP_DigestUpdate(md, entl, 2) &&
           (id_len == 0 || EVP_DigestUpdate(md, id, id_len)) && EVP_DigestUpdate(md, field, sizeof field) &&
           EVP_DigestUpdate(md, q + 1, SM2_POINT_LEN - 1) && EVP_DigestFinal_ex(md, z, &z_len) && z_len == 32;
  EVP_MD_CTX_free(md);
  BN_free(p); BN_free(a); BN_free(b); BN_free(gx); BN_free(gy);
  EC_GROUP_free(group);
  return ok;
}

/* An OpenSSL SM2 key pair from the private scalar (NULL when d is out of range). Freeing it clears d's copy. */
static EVP_PKEY *sm2_key_from_scalar(const CK_BYTE d[32]) {
  CK_BYTE q[SM2_POINT_LEN];
  if (!sm2_public_point(d, q)) return NULL;
  BIGNUM *scalar = BN_secure_new();
  OSSL_PARAM_BLD *build = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *key_ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
  EVP_PKEY *key = NULL;
  int ok = scalar && build && key_ctx && BN_bin2bn(d, 32, scalar) &&
           OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME, SN_sm2, 0) &&
           OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_PRIV_KEY, scalar) &&
           OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof q) &&
           (params = OSSL_PARAM_BLD_to_param(build)) && EVP_PKEY_fromdata_init(key_ctx) > 0 &&
           EVP_PKEY_fromdata(key_ctx, &key, EVP_PKEY_KEYPAIR, params) > 0;
  if (!ok) {
    EVP_PKEY_free(key);
    key = NULL;
  }
  EVP_PKEY_CTX_free(key_ctx);
  OSSL_PARAM_free(params); /* the scalar's copy sits in (secure, cleared-on-free) memory: scalar is a secure BN */
  OSSL_PARAM_BLD_free(build);
  BN_clear_free(scalar);
  return key;
}

/* Signs e with SM2 (GM/T 0003.2 section 6.1) and writes r||s. OpenSSL 3's EVP_PKEY_sign on an SM2 key treats
 * its input as e; it produces a DER ECDSA-Sig-Value, which vendor libraries turn into fixed-size r||s. */
static CK_RV sm2_sign_e(const CK_BYTE d[32], const CK_BYTE e[32], CK_BYTE out[SM2_SIG_LEN]) {
  CK_BYTE der[80];
  size_t der_len = sizeof der;
  EVP_PKEY *key = sm2_key_from_scalar(d);
  if (!key) return CKR_KEY_TYPE_INCONSISTENT;
  EVP_PKEY_CTX *sign_ctx = NULL;
  ECDSA_SIG *sig = NULL;
  int ok = (sign_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) && EVP_PKEY_sign_init(sign_ctx) > 0 &&
           EVP_PKEY_sign(sign_ctx, der, &der_len, e, 32) > 0;
  if (ok) {
    const unsigned char *cursor = der;
    const BIGNUM *r, *s;
    ok = (sig = d2i_ECDSA_SIG(NULL, &cursor, (long)der_len)) != NULL;
    if (ok) {
      ECDSA_SIG_get0(sig, &r, &s);
      ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
    }
  }
  ECDSA_SIG_free(sig);
  EVP_PKEY_CTX_free(sign_ctx);
  EVP_PKEY_free(key); /* OpenSSL clears the private scalar it holds */
  return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}

/* Decrypts a DER SM2Ciphertext with d; *out_len in: room, out: plaintext length. OpenSSL's SM2 decryption
 * takes exactly this encoding and checks C3. A ciphertext that does not decrypt is CKR_ENCRYPTED_DATA_INVALID. */
static CK_RV sm2_decrypt_der(const CK_BYTE d[32], const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len) {
  EVP_PKEY *key = sm2_key_from_scalar(d);
  if (!key) return CKR_KEY_TYPE_INCONSISTENT;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
  size_t needed = 0;
  CK_RV rv = CKR_ENCRYPTED_DATA_INVALID;
  if (ctx && EVP_PKEY_decrypt_init(ctx) > 0 && EVP_PKEY_decrypt(ctx, NULL, &needed, in, in_len) > 0) {
    CK_BYTE *plain = OPENSSL_secure_malloc(needed ? needed : 1);
    size_t plain_len = needed;
    if (plain && EVP_PKEY_decrypt(ctx, plain, &plain_len, in, in_len) > 0) {
      if (*out_len < plain_len) rv = CKR_BUFFER_TOO_SMALL;
      else {
        memcpy(out, plain, plain_len);
        rv = CKR_OK;
      }
      *out_len = plain_len;
    }
    OPENSSL_secure_clear_free(plain, needed ? needed : 1);
  }
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  return rv;
}

/* ---------- SM2: keys as SoftHSM stores them ---------- */

enum sm2_kind { NOT_SM2, SM2_PUBLIC, SM2_PRIVATE };

static int is_sm2_oid(const CK_ATTRIBUTE *a) {
  return a->pValue && a->ulValueLen == sizeof SM2_OID_DER && memcmp(a->pValue, SM2_OID_DER, sizeof SM2_OID_DER) == 0;
}

/* Whether obj is a key on the SM2 curve (SoftHSM stores every SM2 key as CKK_EC). When SoftHSM refuses to
 * answer (not logged in, bad handle), *rv_out gets its answer; an object without a key type is no SM2 key. */
static enum sm2_kind sm2_kind_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_RV *rv_out) {
  CK_OBJECT_CLASS cls = 0;
  CK_KEY_TYPE type = 0;
  CK_BYTE params[32];
  CK_ATTRIBUTE attrs[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_KEY_TYPE, &type, sizeof type}};
  CK_RV rv = real->C_GetAttributeValue(h, obj, attrs, 2);
  if (rv_out) *rv_out = rv == CKR_ATTRIBUTE_TYPE_INVALID ? CKR_OK : rv;
  if (rv != CKR_OK || type != CKK_EC || (cls != CKO_PUBLIC_KEY && cls != CKO_PRIVATE_KEY)) return NOT_SM2;
  CK_ATTRIBUTE curve = {CKA_EC_PARAMS, params, sizeof params};
  if (real->C_GetAttributeValue(h, obj, &curve, 1) != CKR_OK || !is_sm2_oid(&curve)) return NOT_SM2;
  return cls == CKO_PRIVATE_KEY ? SM2_PRIVATE : SM2_PUBLIC;
}

/* Left-pads a big-endian scalar to 32 bytes (callers may strip leading zeros). */
static int sm2_scalar_from(const CK_BYTE *value, CK_ULONG len, CK_BYTE d[32]) {
  if (!value) return 0;
  while (len > 32 && *value == 0) value++, len--;
  if (len == 0 || len > 32) return 0;
  memset(d, 0, 32);
  memcpy(d + 32 - len, value, len);
  return 1;
}

/* Reads the private scalar back from SoftHSM (possible only because the shim stored it non-sensitive).
 * The caller must OPENSSL_cleanse d. */
static CK_RV sm2_read_scalar(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_BYTE d[32]) {
  CK_BYTE value[64];
  CK_ATTRIBUTE attr = {CKA_VALUE, value, sizeof value};
  CK_RV rv = real->C_GetAttributeValue(h, key, &attr, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE) rv = CKR_KEY_FUNCTION_NOT_PERMITTED; /* made sensitive behind our back */
  else if (rv == CKR_OK && !sm2_scalar_from(value, attr.ulValueLen, d)) rv = CKR_KEY_TYPE_INCONSISTENT;
  OPENSSL_cleanse(value, sizeof value);
  return rv;
}

/* The uncompressed public point of a CKA_EC_POINT value: a DER OCTET STRING around it, or the raw point. */
static int sm2_point_from(const CK_BYTE *value, CK_ULONG len, CK_BYTE q[SM2_POINT_LEN]) {
  if (value && len == SM2_POINT_LEN + 2 && value[0] == 0x04 && value[1] == SM2_POINT_LEN) value += 2, len -= 2;
  if (!value || len != SM2_POINT_LEN || value[0] != 0x04) return 0;
  memcpy(q, value, SM2_POINT_LEN);
  return 1;
}

/* The public point of an SM2 key: CKA_EC_POINT of a public key, d*G of a private one. */
static int sm2_point_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, enum sm2_kind kind, CK_BYTE q[SM2_POINT_LEN]) {
  if (kind == SM2_PRIVATE) {
    CK_BYTE d[32];
    int ok = sm2_read_scalar(h, obj, d) == CKR_OK && sm2_public_point(d, q);
    OPENSSL_cleanse(d, sizeof d);
    return ok;
  }
  CK_BYTE value[80];
  CK_ATTRIBUTE attr = {CKA_EC_POINT, value, sizeof value};
  return kind == SM2_PUBLIC && real->C_GetAttributeValue(h, obj, &attr, 1) == CKR_OK && sm2_point_from(value, attr.ulValueLen, q);
}

/*
 * Which SM2 keys were created with the vendor key type. SoftHSM refuses unknown (vendor) attributes, so the
 * shim keeps their public points in $HOME/state/<serial>/sm2-vendor-keys. A key pair shares one line, and a
 * copy of a key (C_CopyObject) is recognised too, which a list of CKA_IDs would not give.
 */
static void point_hex(const CK_BYTE q[SM2_POINT_LEN], char out[2 * SM2_POINT_LEN + 1]) {
  for (int i = 0; i < SM2_POINT_LEN; i++) sprintf(out + 2 * i, "%02x", q[i]);
}

static int vendor_point_listed(const struct slot_state *s, const CK_BYTE q[SM2_POINT_LEN]) {
  char wanted[2 * SM2_POINT_LEN + 1], line[2 * SM2_POINT_LEN + 16], path[PATH_MAX];
  point_hex(q, wanted);
  int found = 0;
  pthread_mutex_lock(&lock);
  state_path(s, "sm2-vendor-keys", path, sizeof path);
  FILE *f = fopen(path, "r");
  while (f && !found && fgets(line, sizeof line, f)) found = strncmp(line, wanted, 2 * SM2_POINT_LEN) == 0;
  if (f) fclose(f);
  pthread_mutex_unlock(&lock);
  return found;
}

static void list_vendor_point(const struct slot_state *s, const CK_BYTE q[SM2_POINT_LEN]) {
  if (vendor_point_listed(s, q)) return;
  char hex[2 * SM2_POINT_LEN + 1], dir[PATH_MAX], path[PATH_MAX];
  point_hex(q, hex);
  pthread_mutex_lock(&lock);
  snprintf(dir, sizeof dir, "%s/state", home);
  mkdir(dir, 0755);
  snprintf(dir, sizeof dir, "%s/state/%s", home, s->serial);
  mkdir(dir, 0755);
  state_path(s, "sm2-vendor-keys", path, sizeof path);
  FILE *f = fopen(path, "a");
  if (f) {
    fprintf(f, "%s\n", hex);
    fclose(f);
  }
  pthread_mutex_unlock(&lock);
}

static int sm2_is_vendor(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, enum sm2_kind kind, const struct slot_state *s) {
  CK_BYTE q[SM2_POINT_LEN];
  return s && kind != NOT_SM2 && sm2_point_of(h, obj, kind, q) && vendor_point_listed(s, q);
}

/* Attribute helpers for templates the shim rewrites. */
static CK_ATTRIBUTE *find_attr(CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type) {
  for (CK_ULONG i = 0; tmpl && i < n; i++)
    if (tmpl[i].type == type) return &tmpl[i];
  return NULL;
}

static int ulong_attr(CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_ULONG *out) {
  CK_ATTRIBUTE *a = find_attr(tmpl, n, type);
  if (!a || !a->pValue || a->ulValueLen != sizeof(CK_ULONG)) return 0;
  *out = *(CK_ULONG *)a->pValue;
  return 1;
}

static const CK_BBOOL ck_true = CK_TRUE, ck_false = CK_FALSE;
static const CK_KEY_TYPE ckk_ec = CKK_EC;

/* ---------- general ---------- */

static CK_RV w_Initialize(CK_VOID_PTR args) {
  CK_RV rv = load_softhsm();
  if (rv != CKR_OK) return rv;
  char conf[PATH_MAX];
  snprintf(conf, sizeof conf, "%s/softhsm2.conf", home);
  if (access(conf, R_OK) == 0) setenv("SOFTHSM2_CONF", conf, 1);
  rv = real->C_Initialize(args);
  if (rv != CKR_OK) return rv;
  pthread_mutex_lock(&lock);
  slot_count = 0;
  drop_all_sessions();
  CK_SLOT_ID ids[MAX_SLOTS];
  CK_ULONG count = MAX_SLOTS;
  if (real->C_GetSlotList(CK_FALSE, ids, &count) == CKR_OK) {
    for (CK_ULONG i = 0; i < count && slot_count < MAX_SLOTS; i++) {
      CK_TOKEN_INFO info;
      if (real->C_GetTokenInfo(ids[i], &info) != CKR_OK || !(info.flags & CKF_TOKEN_INITIALIZED)) continue;
      struct slot_state *s = &slots[slot_count++];
      memset(s, 0, sizeof *s);
      s->id = ids[i];
      trimmed(info.serialNumber, sizeof info.serialNumber, s->serial, sizeof s->serial);
      map_serial(s->serial, sizeof s->serial);
      s->present = !file_exists(s, "removed");
      s->reported_present = s->present;
    }
  }
  initialized = 1;
  pthread_mutex_unlock(&lock);
  return CKR_OK;
}

static CK_RV w_Finalize(CK_VOID_PTR reserved) {
  initialized = 0;
  pthread_mutex_lock(&lock);
  slot_count = 0;
  drop_all_sessions();
  pthread_mutex_unlock(&lock);
  return real ? real->C_Finalize(reserved) : CKR_CRYPTOKI_NOT_INITIALIZED;
}

static CK_RV w_GetInfo(CK_INFO_PTR info) {
  CK_RV rv = real->C_GetInfo(info);
  if (rv == CKR_OK) {
    pad_copy(info->manufacturerID, sizeof info->manufacturerID, MANUFACTURER);
    pad_copy(info->libraryDescription, sizeof info->libraryDescription, "yzt-bridge virtual token over SoftHSM2");
  }
  return rv;
}

/* ---------- slots and tokens ---------- */

static CK_RV w_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
  if (!initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
  if (!count) return CKR_ARGUMENTS_BAD;
  pthread_mutex_lock(&lock);
  CK_SLOT_ID found[MAX_SLOTS];
  CK_ULONG n = 0;
  for (int i = 0; i < slot_count; i++)
    if (refresh(&slots[i]) || !token_present) found[n++] = slots[i].id;
  pthread_mutex_unlock(&lock);
  if (!list) {
    *count = n;
    return CKR_OK;
  }
  if (*count < n) {
    *count = n;
    return CKR_BUFFER_TOO_SMALL;
  }
  memcpy(list, found, n * sizeof *found);
  *count = n;
  return CKR_OK;
}

static CK_RV w_GetSlotInfo(CK_SLOT_ID id, CK_SLOT_INFO_PTR info) {
  struct slot_state *s;
  CK_RV rv = check_slot(id, &s);
  if (rv == CKR_SLOT_ID_INVALID) return rv;
  CK_RV real_rv = real->C_GetSlotInfo(id, info);
  if (real_rv != CKR_OK) return real_rv;
  info->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT | (rv == CKR_OK ? CKF_TOKEN_PRESENT : 0);
  pad_copy(info->slotDescription, sizeof info->slotDescription, "yzt-bridge virtual USB key reader");
  pad_copy(info->manufacturerID, sizeof info->manufacturerID, MANUFACTURER);
  return CKR_OK;
}

static CK_RV w_GetTokenInfo(CK_SLOT_ID id, CK_TOKEN_INFO_PTR info) {
  struct slot_state *s;
  CK_RV rv = check_slot(id, &s);
  if (rv != CKR_OK) return rv;
  rv = real->C_GetTokenInfo(id, info);
  if (rv != CKR_OK) return rv;
  pthread_mutex_lock(&lock);
  int retries = read_int_file(s, "retries", MAX_PIN_TRIES), so_retries = read_int_file(s, "so-retries", MAX_PIN_TRIES);
  pthread_mutex_unlock(&lock);
  info->flags &= ~(CK_FLAGS)(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED | CKF_SO_PIN_COUNT_LOW |
                             CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED);
  if (retries < MAX_PIN_TRIES) info->flags |= CKF_USER_PIN_COUNT_LOW;
  if (retries == 1) info->flags |= CKF_USER_PIN_FINAL_TRY;
  if (retries <= 0) info->flags |= CKF_USER_PIN_LOCKED;
  if (so_retries < MAX_PIN_TRIES) info->flags |= CKF_SO_PIN_COUNT_LOW;
  if (so_retries == 1) info->flags |= CKF_SO_PIN_FINAL_TRY;
  if (so_retries <= 0) info->flags |= CKF_SO_PIN_LOCKED;
  /* A key handed out with the initial PIN of its PIN card (密码信封): the user must change it first. */
  if (file_exists(s, "pin-to-be-changed")) info->flags |= CKF_USER_PIN_TO_BE_CHANGED;
  pad_copy(info->manufacturerID, sizeof info->manufacturerID, MANUFACTURER);
  pad_copy(info->model, sizeof info->model, MODEL);
  pad_copy(info->serialNumber, sizeof info->serialNumber, s->serial);
  return CKR_OK;
}

/* The exact number of tries left of a present key's PIN counter ("retries" or "so-retries"). */
static CK_RV pin_retries(CK_SLOT_ID id, const char *counter, CK_ULONG *retries) {
  if (!retries) return CKR_ARGUMENTS_BAD;
  if (!initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
  struct slot_state *s;
  CK_RV rv = check_slot(id, &s);
  if (rv != CKR_OK) return rv;
  pthread_mutex_lock(&lock);
  int left = read_int_file(s, counter, MAX_PIN_TRIES);
  pthread_mutex_unlock(&lock);
  *retries = left < 0 ? 0 : left > MAX_PIN_TRIES ? MAX_PIN_TRIES : (CK_ULONG)left;
  return CKR_OK;
}

/*
 * Not PKCS#11: the exact number of user-PIN and SO-PIN tries left, for the SKF face (skf.c), whose
 * SKF_GetPINInfo, SKF_VerifyPIN and SKF_UnblockPIN report it where PKCS#11 has only the COUNT_LOW / FINAL_TRY /
 * LOCKED flags.
 */
__attribute__((visibility("default"))) CK_RV yzt_vtoken_user_pin_retries(CK_SLOT_ID id, CK_ULONG *retries) {
  return pin_retries(id, "retries", retries);
}

__attribute__((visibility("default"))) CK_RV yzt_vtoken_so_pin_retries(CK_SLOT_ID id, CK_ULONG *retries) {
  return pin_retries(id, "so-retries", retries);
}

static CK_RV w_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved) {
  (void)reserved;
  for (;;) {
    if (!initialized) return CKR_CRYPTOKI_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < slot_count; i++) {
      int present = refresh(&slots[i]);
      if (present != slots[i].reported_present) {
        slots[i].reported_present = present;
        if (slot) *slot = slots[i].id;
        pthread_mutex_unlock(&lock);
        return CKR_OK;
      }
    }
    pthread_mutex_unlock(&lock);
    if (flags & CKF_DONT_BLOCK) return CKR_NO_EVENT;
    sleep_ms(25);
  }
}

/* SoftHSM's mechanisms plus the SM2 ones the shim implements itself. */
static const CK_MECHANISM_TYPE sm2_mechanisms[] = {CKM_VTOKEN_SM2, CKM_VTOKEN_SM2_SM3, CKM_VTOKEN_SM2_ENC, CKM_VTOKEN_SM2_KEY_PAIR_GEN,
                                                   CKM_VTOKEN_SM2_ENVELOPED_KEY};
#define SM2_MECHANISM_COUNT (sizeof sm2_mechanisms / sizeof *sm2_mechanisms)

static CK_RV w_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
  CK_RV rv = check_slot(id, NULL);
  if (rv != CKR_OK) return rv;
  if (!count) return CKR_ARGUMENTS_BAD;
  CK_ULONG n = 0;
  if ((rv = real->C_GetMechanismList(id, NULL, &n)) != CKR_OK) return rv;
  CK_ULONG total = n + SM2_MECHANISM_COUNT;
  if (!list) {
    *count = total;
    return CKR_OK;
  }
  if (*count < total) {
    *count = total;
    return CKR_BUFFER_TOO_SMALL;
  }
  if ((rv = real->C_GetMechanismList(id, list, &n)) != CKR_OK) return rv;
  memcpy(list + n, sm2_mechanisms, sizeof sm2_mechanisms);
  *count = n + SM2_MECHANISM_COUNT;
  return CKR_OK;
}

static CK_RV w_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
  CK_RV rv = check_slot(id, NULL);
  if (rv != CKR_OK) return rv;
  if (type == CKM_VTOKEN_SM2 || type == CKM_VTOKEN_SM2_SM3) {
    if (!info) return CKR_ARGUMENTS_BAD;
    *info = (CK_MECHANISM_INFO){256, 256, CKF_SIGN};
    return CKR_OK;
  }
  CK_FLAGS flags = type == CKM_VTOKEN_SM2_ENC ? CKF_DECRYPT : type == CKM_VTOKEN_SM2_KEY_PAIR_GEN ? CKF_GENERATE_KEY_PAIR
                   : type == CKM_VTOKEN_SM2_ENVELOPED_KEY ? CKF_UNWRAP : 0;
  if (flags) {
    if (!info) return CKR_ARGUMENTS_BAD;
    *info = (CK_MECHANISM_INFO){256, 256, flags};
    return CKR_OK;
  }
  return real->C_GetMechanismInfo(id, type, info);
}

static CK_RV w_InitToken(CK_SLOT_ID id, CK_UTF8CHAR_PTR pin, CK_ULONG len, CK_UTF8CHAR_PTR label) {
  CK_RV rv = check_slot(id, NULL);
  return rv != CKR_OK ? rv : real->C_InitToken(id, pin, len, label);
}

/* ---------- sessions ---------- */

static CK_RV w_OpenSession(CK_SLOT_ID id, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR handle) {
  struct slot_state *s;
  CK_RV rv = check_slot(id, &s);
  if (rv != CKR_OK) return rv;
  rv = real->C_OpenSession(id, flags, app, notify, handle);
  if (rv != CKR_OK) return rv;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_SESSIONS; i++) {
    if (!sessions[i].used) {
      drop_session(&sessions[i]);
      sessions[i].handle = *handle;
      sessions[i].slot = id;
      sessions[i].generation = s->generation;
      sessions[i].used = 1;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  return CKR_OK;
}

static CK_RV w_CloseSession(CK_SESSION_HANDLE h) {
  CK_RV rv = check_session(h, NULL);
  pthread_mutex_lock(&lock);
  struct session_state *session = find_session(h);
  if (session) drop_session(session);
  pthread_mutex_unlock(&lock);
  if (rv != CKR_OK) return rv;
  return real->C_CloseSession(h);
}

static CK_RV w_CloseAllSessions(CK_SLOT_ID id) {
  CK_RV rv = check_slot(id, NULL);
  pthread_mutex_lock(&lock);
  forget_sessions_of(id);
  pthread_mutex_unlock(&lock);
  if (rv != CKR_OK) return rv;
  return real->C_CloseAllSessions(id);
}

/* ---------- PIN handling with a persistent retry counter ---------- */

/* The counter a PIN check of this user type counts on; NULL for user types without one (context-specific). */
static const char *pin_counter(CK_USER_TYPE user) {
  return user == CKU_USER ? "retries" : user == CKU_SO ? "so-retries" : NULL;
}

static CK_RV count_pin_result(struct slot_state *s, const char *counter, CK_RV rv) {
  pthread_mutex_lock(&lock);
  if (rv == CKR_PIN_INCORRECT) {
    int retries = read_int_file(s, counter, MAX_PIN_TRIES) - 1;
    write_int_file(s, counter, retries < 0 ? 0 : retries);
    if (retries <= 0) rv = CKR_PIN_LOCKED;
  } else if (rv == CKR_OK) {
    write_int_file(s, counter, MAX_PIN_TRIES);
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

static int pin_locked(struct slot_state *s, const char *counter) {
  pthread_mutex_lock(&lock);
  int locked = read_int_file(s, counter, MAX_PIN_TRIES) <= 0;
  pthread_mutex_unlock(&lock);
  return locked;
}

static CK_RV w_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  const char *counter = pin_counter(user);
  if (!counter || !s) return real->C_Login(h, user, pin, len);
  if (pin_locked(s, counter)) return CKR_PIN_LOCKED;
  return count_pin_result(s, counter, real->C_Login(h, user, pin, len));
}

/* Changes the PIN of whoever is logged in (the SO in an SO session, else the user): a wrong old PIN costs a try. */
static CK_RV w_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  if (!s) return real->C_SetPIN(h, old_pin, old_len, new_pin, new_len);
  CK_SESSION_INFO info;
  int so = real->C_GetSessionInfo(h, &info) == CKR_OK && info.state == CKS_RW_SO_FUNCTIONS;
  const char *counter = pin_counter(so ? CKU_SO : CKU_USER);
  if (pin_locked(s, counter)) return CKR_PIN_LOCKED;
  rv = count_pin_result(s, counter, real->C_SetPIN(h, old_pin, old_len, new_pin, new_len));
  if (rv == CKR_OK && !so) {
    char path[PATH_MAX];
    state_path(s, "pin-to-be-changed", path, sizeof path);
    unlink(path); /* the initial PIN has been changed */
  }
  return rv;
}

static CK_RV w_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  rv = real->C_InitPIN(h, pin, len);
  if (rv == CKR_OK && s) count_pin_result(s, "retries", CKR_OK); /* the unlock path: SO resets the user PIN */
  return rv;
}

/* ---------- signing with optional latency; SM2 signing is done by the shim itself ---------- */

static int is_sm2_mechanism(CK_MECHANISM_TYPE m) { return m == CKM_VTOKEN_SM2 || m == CKM_VTOKEN_SM2_SM3; }

static int is_ecdsa_mechanism(CK_MECHANISM_TYPE m) {
  return m == CKM_ECDSA || m == CKM_ECDSA_SHA1 || m == CKM_ECDSA_SHA224 || m == CKM_ECDSA_SHA256 || m == CKM_ECDSA_SHA384 ||
         m == CKM_ECDSA_SHA512;
}

static int sm2_operation_active(CK_SESSION_HANDLE h) {
  pthread_mutex_lock(&lock);
  struct session_state *session = find_session(h);
  int active = session && session->sm2.mechanism;
  pthread_mutex_unlock(&lock);
  return active;
}

/* Checks the key and mechanism parameter and records the operation in the session. For the message mechanism
 * the hash starts with Z, which needs the public key: derived from the scalar, which is forgotten again. */
static CK_RV sm2_sign_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  const CK_BYTE *id = (const CK_BYTE *)SM2_DEFAULT_ID;
  size_t id_len = strlen(SM2_DEFAULT_ID);
  if (mechanism->mechanism == CKM_VTOKEN_SM2) {
    if (mechanism->pParameter || mechanism->ulParameterLen) return CKR_MECHANISM_PARAM_INVALID;
  } else if (mechanism->pParameter && mechanism->ulParameterLen) {
    if (mechanism->ulParameterLen > 8191) return CKR_MECHANISM_PARAM_INVALID; /* ENTL counts bits in 16 bits */
    id = mechanism->pParameter;
    id_len = mechanism->ulParameterLen;
  } else if (mechanism->ulParameterLen) {
    return CKR_MECHANISM_PARAM_INVALID;
  }

  CK_RV rv;
  enum sm2_kind kind = sm2_kind_of(h, key, &rv);
  if (rv != CKR_OK) return rv; /* e.g. CKR_USER_NOT_LOGGED_IN: SM2 private keys are private objects */
  if (kind != SM2_PRIVATE) return CKR_KEY_TYPE_INCONSISTENT;
  CK_BBOOL can_sign = CK_FALSE;
  CK_ATTRIBUTE sign_attr = {CKA_SIGN, &can_sign, sizeof can_sign};
  if ((rv = real->C_GetAttributeValue(h, key, &sign_attr, 1)) != CKR_OK) return rv;
  if (!can_sign) return CKR_KEY_FUNCTION_NOT_PERMITTED;

  struct sm2_sign op = {mechanism->mechanism, key, NULL, 0};
  if (op.mechanism == CKM_VTOKEN_SM2_SM3) {
    CK_BYTE d[32], q[SM2_POINT_LEN], z[32];
    rv = sm2_read_scalar(h, key, d);
    int ok = rv == CKR_OK && sm2_public_point(d, q) && sm2_z(id, id_len, q, z);
    OPENSSL_cleanse(d, sizeof d);
    if (rv != CKR_OK) return rv;
    if (!ok || !(op.sm3 = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(op.sm3, EVP_sm3(), NULL) || !EVP_DigestUpdate(op.sm3, z, sizeof z)) {
      EVP_MD_CTX_free(op.sm3);
      return CKR_FUNCTION_FAILED;
    }
  }
  pthread_mutex_lock(&lock);
  struct session_state *session = find_session(h);
  rv = !session ? CKR_SESSION_HANDLE_INVALID : session->sm2.mechanism ? CKR_OPERATION_ACTIVE : CKR_OK;
  if (rv == CKR_OK) session->sm2 = op;
  else sm2_sign_clear(&op);
  pthread_mutex_unlock(&lock);
  return rv;
}

static CK_RV w_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  CK_RV rv = check_session(h, NULL);
  if (rv != CKR_OK) return rv;
  if (!mechanism) return CKR_ARGUMENTS_BAD;
  if (sm2_operation_active(h)) return CKR_OPERATION_ACTIVE;
  if (is_sm2_mechanism(mechanism->mechanism)) return sm2_sign_init(h, mechanism, key);
  /* SoftHSM (OpenSSL) would happily run ECDSA on the SM2 curve; an SM2 token does not. */
  if (is_ecdsa_mechanism(mechanism->mechanism) && sm2_kind_of(h, key, NULL) != NOT_SM2) return CKR_KEY_TYPE_INCONSISTENT;
  return real->C_SignInit(h, mechanism, key);
}

enum sm2_step { SM2_SIGN, SM2_UPDATE, SM2_FINAL };

/*
 * One C_Sign / C_SignUpdate / C_SignFinal call of the session's SM2 operation; *mine = 0 when the session has
 * none (SoftHSM's operation then). PKCS#11 rules: a NULL signature buffer asks for the length and a too small
 * one gets CKR_BUFFER_TOO_SMALL, both leaving the operation active; any other end of C_Sign / C_SignFinal,
 * and any failing C_SignUpdate, ends it.
 */
static CK_RV sm2_sign_step(CK_SESSION_HANDLE h, struct slot_state *s, enum sm2_step step, CK_BYTE_PTR data, CK_ULONG len,
                           CK_BYTE_PTR sig, CK_ULONG_PTR sig_len, int *mine) {
  pthread_mutex_lock(&lock);
  struct session_state *session = find_session(h);
  struct sm2_sign *op = session && session->sm2.mechanism ? &session->sm2 : NULL;
  *mine = op != NULL;
  CK_RV rv = CKR_OK;
  if (!op) goto out;
  if (step == SM2_SIGN && op->updated) {
    rv = CKR_OPERATION_ACTIVE; /* a multi-part operation ends with C_SignFinal */
    goto out;
  }
  if (step != SM2_SIGN && op->mechanism == CKM_VTOKEN_SM2) rv = CKR_FUNCTION_NOT_SUPPORTED; /* e comes in one part */
  else if (step != SM2_FINAL && !data && len) rv = CKR_ARGUMENTS_BAD;
  else if (step == SM2_UPDATE) rv = EVP_DigestUpdate(op->sm3, data, len) ? (op->updated = 1, CKR_OK) : CKR_FUNCTION_FAILED;
  else if (!sig_len) rv = CKR_ARGUMENTS_BAD;
  else if (op->mechanism == CKM_VTOKEN_SM2 && len != 32) rv = CKR_DATA_LEN_RANGE;
  else if (!sig || *sig_len < SM2_SIG_LEN) {
    rv = sig ? CKR_BUFFER_TOO_SMALL : CKR_OK;
    *sig_len = SM2_SIG_LEN;
    goto out;
  }
  if (rv != CKR_OK) sm2_sign_clear(op);
  if (rv != CKR_OK || step == SM2_UPDATE) goto out;
  pthread_mutex_unlock(&lock);

  /* A slow key is slow here too, and may be pulled out meanwhile (which ends the operation). */
  if ((rv = simulate_latency(s)) != CKR_OK) return rv;

  pthread_mutex_lock(&lock);
  session = find_session(h);
  op = session && session->sm2.mechanism ? &session->sm2 : NULL;
  if (!op) {
    rv = CKR_OPERATION_NOT_INITIALIZED; /* closed meanwhile */
    goto out;
  }
  CK_BYTE e[32], d[32];
  unsigned int e_len = 0;
  if (op->mechanism == CKM_VTOKEN_SM2) memcpy(e, data, 32);
  else if ((step == SM2_SIGN && !EVP_DigestUpdate(op->sm3, data, len)) || !EVP_DigestFinal_ex(op->sm3, e, &e_len)) rv = CKR_FUNCTION_FAILED;
  if (rv == CKR_OK) rv = sm2_read_scalar(h, op->key, d); /* fails after C_Logout: the key is a private object */
  if (rv == CKR_OK) rv = sm2_sign_e(d, e, sig);
  OPENSSL_cleanse(d, sizeof d);
  if (rv == CKR_OK) *sig_len = SM2_SIG_LEN;
  sm2_sign_clear(op);
out:
  pthread_mutex_unlock(&lock);
  return rv;
}

static CK_RV w_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  int mine;
  rv = sm2_sign_step(h, s, SM2_SIGN, data, len, sig, sig_len, &mine);
  if (mine) return rv;
  if (sig && (rv = simulate_latency(s)) != CKR_OK) return rv;
  return real->C_Sign(h, data, len, sig, sig_len);
}

static CK_RV w_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  int mine;
  rv = sm2_sign_step(h, s, SM2_UPDATE, data, len, NULL, NULL, &mine);
  return mine ? rv : real->C_SignUpdate(h, data, len);
}

static CK_RV w_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  int mine;
  rv = sm2_sign_step(h, s, SM2_FINAL, NULL, 0, sig, sig_len, &mine);
  if (mine) return rv;
  if (sig && (rv = simulate_latency(s)) != CKR_OK) return rv;
  return real->C_SignFinal(h, sig, sig_len);
}

/* ---------- SM2 keys: what callers see of the objects SoftHSM stores ---------- */

/* Whether a template creates an SM2 key: the vendor key type (CKR_TEMPLATE_INCONSISTENT unless on a key of the SM2
 * curve), or CKK_EC with the SM2 curve. */
static CK_RV sm2_key_template(CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, int *sm2) {
  CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
  CK_KEY_TYPE type = CK_UNAVAILABLE_INFORMATION;
  ulong_attr(tmpl, n, CKA_CLASS, &cls);
  ulong_attr(tmpl, n, CKA_KEY_TYPE, &type);
  CK_ATTRIBUTE *curve = find_attr(tmpl, n, CKA_EC_PARAMS);
  int vendor = type == CKK_VTOKEN_SM2, is_key = cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY;
  if (vendor && (!is_key || (curve && !is_sm2_oid(curve)))) return CKR_TEMPLATE_INCONSISTENT;
  *sm2 = vendor || (is_key && type == CKK_EC && curve && is_sm2_oid(curve));
  return CKR_OK;
}

/*
 * Creating an SM2 key. CKK_VTOKEN_SM2 becomes CKK_EC on the SM2 curve (SoftHSM knows no vendor key types), and
 * a private key is stored private (usable only after C_Login) but non-sensitive and extractable, so that the
 * shim can read the scalar back to sign; callers are told otherwise (w_GetAttributeValue). Whatever the
 * caller asked for, SM2 private keys are sensitive. The vendor type is remembered by public point.
 */
static CK_RV sm2_create(CK_SESSION_HANDLE h, struct slot_state *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR object) {
  CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
  CK_KEY_TYPE type = CK_UNAVAILABLE_INFORMATION;
  ulong_attr(tmpl, n, CKA_CLASS, &cls);
  ulong_attr(tmpl, n, CKA_KEY_TYPE, &type);
  int vendor = type == CKK_VTOKEN_SM2;

  /* The public point: checks a private scalar now, and names a vendor-typed key later. */
  CK_BYTE q[SM2_POINT_LEN];
  CK_ATTRIBUTE *material = find_attr(tmpl, n, cls == CKO_PRIVATE_KEY ? CKA_VALUE : CKA_EC_POINT);
  if (!material) return CKR_TEMPLATE_INCOMPLETE;
  if (cls == CKO_PRIVATE_KEY) {
    CK_BYTE d[32];
    int ok = sm2_scalar_from(material->pValue, material->ulValueLen, d) && sm2_public_point(d, q);
    OPENSSL_cleanse(d, sizeof d);
    if (!ok) return CKR_ATTRIBUTE_VALUE_INVALID;
  } else if (!sm2_point_from(material->pValue, material->ulValueLen, q)) {
    return CKR_ATTRIBUTE_VALUE_INVALID;
  }

  CK_ATTRIBUTE *copy = calloc(n + 4, sizeof *copy);
  if (!copy) return CKR_HOST_MEMORY;
  CK_ULONG m = 0;
  for (CK_ULONG i = 0; i < n; i++) {
    CK_ATTRIBUTE_TYPE t = tmpl[i].type;
    if (cls == CKO_PRIVATE_KEY && (t == CKA_PRIVATE || t == CKA_SENSITIVE || t == CKA_EXTRACTABLE)) continue; /* set below */
    copy[m++] = t == CKA_KEY_TYPE ? (CK_ATTRIBUTE){CKA_KEY_TYPE, (void *)&ckk_ec, sizeof ckk_ec} : tmpl[i];
  }
  if (!find_attr(tmpl, n, CKA_EC_PARAMS)) copy[m++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)SM2_OID_DER, sizeof SM2_OID_DER};
  if (cls == CKO_PRIVATE_KEY) {
    copy[m++] = (CK_ATTRIBUTE){CKA_PRIVATE, (void *)&ck_true, sizeof ck_true};
    copy[m++] = (CK_ATTRIBUTE){CKA_SENSITIVE, (void *)&ck_false, sizeof ck_false};
    copy[m++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, (void *)&ck_true, sizeof ck_true};
  }
  CK_RV rv = real->C_CreateObject(h, copy, m, object);
  free(copy);
  if (rv == CKR_OK && vendor && s) list_vendor_point(s, q);
  return rv;
}

static CK_RV w_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR object) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  int sm2;
  if ((rv = sm2_key_template(tmpl, n, &sm2)) != CKR_OK) return rv;
  return sm2 ? sm2_create(h, s, tmpl, n, object) : real->C_CreateObject(h, tmpl, n, object);
}

/* ---------- SM2 keys the shim makes: generated pairs and unwrapped encryption keys ---------- */

/*
 * Checks a caller's template for an SM2 key of class cls that the shim makes (so without key material). A key type
 * it names (CKK_VTOKEN_SM2 or CKK_EC) becomes *type; *named says a template named one, which the other must match.
 */
static CK_RV sm2_check_template(CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_CLASS cls, CK_KEY_TYPE *type, int *named) {
  CK_ULONG value;
  CK_ATTRIBUTE *curve = find_attr(tmpl, n, CKA_EC_PARAMS);
  if (ulong_attr(tmpl, n, CKA_CLASS, &value) && value != cls) return CKR_TEMPLATE_INCONSISTENT;
  if ((curve && !is_sm2_oid(curve)) || find_attr(tmpl, n, CKA_VALUE) || find_attr(tmpl, n, CKA_EC_POINT)) return CKR_TEMPLATE_INCONSISTENT;
  if (!ulong_attr(tmpl, n, CKA_KEY_TYPE, &value)) return CKR_OK;
  if ((value != CKK_VTOKEN_SM2 && value != CKK_EC) || (*named && value != *type)) return CKR_TEMPLATE_INCONSISTENT;
  *type = value;
  *named = 1;
  return CKR_OK;
}

/* Creates an SM2 key the shim made: the caller's template, then class, key type, curve and the key material
 * (CKA_VALUE = d of a private key, CKA_EC_POINT = DER of the point of a public one). */
static CK_RV sm2_create_made(CK_SESSION_HANDLE h, struct slot_state *s, CK_OBJECT_CLASS cls, CK_KEY_TYPE type, CK_ATTRIBUTE_PTR tmpl,
                             CK_ULONG n, const CK_BYTE *material, CK_ULONG material_len, CK_OBJECT_HANDLE_PTR object) {
  CK_ATTRIBUTE *copy = calloc(n + 4, sizeof *copy);
  if (!copy) return CKR_HOST_MEMORY;
  CK_ULONG m = 0;
  for (CK_ULONG i = 0; i < n; i++)
    if (tmpl[i].type != CKA_CLASS && tmpl[i].type != CKA_KEY_TYPE && tmpl[i].type != CKA_EC_PARAMS) copy[m++] = tmpl[i];
  copy[m++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
  copy[m++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &type, sizeof type};
  copy[m++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)SM2_OID_DER, sizeof SM2_OID_DER};
  copy[m++] = (CK_ATTRIBUTE){cls == CKO_PRIVATE_KEY ? CKA_VALUE : CKA_EC_POINT, (void *)material, material_len};
  CK_RV rv = sm2_create(h, s, copy, m, object);
  free(copy);
  return rv;
}

/* A fresh private scalar d (1 <= d < n-1) and its point. */
static int sm2_new_scalar(CK_BYTE d[32], CK_BYTE q[SM2_POINT_LEN]) {
  for (int tries = 0; tries < 16; tries++)
    if (RAND_priv_bytes(d, 32) == 1 && sm2_public_point(d, q)) return 1;
  return 0;
}

/* An SM2 key pair of the given type from the caller's templates; private key first (see the header comment). */
static CK_RV sm2_generate(CK_SESSION_HANDLE h, struct slot_state *s, CK_KEY_TYPE type, CK_ATTRIBUTE_PTR pub, CK_ULONG pub_n,
                          CK_ATTRIBUTE_PTR priv, CK_ULONG priv_n, CK_OBJECT_HANDLE_PTR pub_out, CK_OBJECT_HANDLE_PTR priv_out) {
  int named = 0;
  CK_RV rv = sm2_check_template(pub, pub_n, CKO_PUBLIC_KEY, &type, &named);
  if (rv == CKR_OK) rv = sm2_check_template(priv, priv_n, CKO_PRIVATE_KEY, &type, &named);
  if (rv != CKR_OK || (rv = simulate_latency(s)) != CKR_OK) return rv;
  CK_BYTE d[32], q[SM2_POINT_LEN], point[2 + SM2_POINT_LEN] = {0x04, SM2_POINT_LEN}; /* CKA_EC_POINT: a DER OCTET STRING */
  if (!sm2_new_scalar(d, q)) return CKR_FUNCTION_FAILED;
  rv = sm2_create_made(h, s, CKO_PRIVATE_KEY, type, priv, priv_n, d, sizeof d, priv_out);
  OPENSSL_cleanse(d, sizeof d);
  if (rv != CKR_OK) return rv;
  memcpy(point + 2, q, SM2_POINT_LEN);
  rv = sm2_create_made(h, s, CKO_PUBLIC_KEY, type, pub, pub_n, point, sizeof point, pub_out);
  if (rv != CKR_OK) real->C_DestroyObject(h, *priv_out); /* never half a pair */
  return rv;
}

static CK_RV w_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mechanism, CK_ATTRIBUTE_PTR pub, CK_ULONG pub_n, CK_ATTRIBUTE_PTR priv,
                               CK_ULONG priv_n, CK_OBJECT_HANDLE_PTR pub_out, CK_OBJECT_HANDLE_PTR priv_out) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  if (!mechanism || !pub_out || !priv_out) return CKR_ARGUMENTS_BAD;
  CK_ATTRIBUTE *curve = find_attr(pub, pub_n, CKA_EC_PARAMS);
  if (mechanism->mechanism == CKM_VTOKEN_SM2_KEY_PAIR_GEN) {
    if (mechanism->pParameter || mechanism->ulParameterLen) return CKR_MECHANISM_PARAM_INVALID;
    return sm2_generate(h, s, CKK_VTOKEN_SM2, pub, pub_n, priv, priv_n, pub_out, priv_out);
  }
  if (mechanism->mechanism == CKM_EC_KEY_PAIR_GEN && curve && is_sm2_oid(curve)) return sm2_generate(h, s, CKK_EC, pub, pub_n, priv, priv_n, pub_out, priv_out);
  if ((rv = simulate_latency(s)) != CKR_OK) return rv;
  return real->C_GenerateKeyPair(h, mechanism, pub, pub_n, priv, priv_n, pub_out, priv_out);
}

/*
 * Byte offsets in an ENVELOPEDKEYBLOB with 32-bit little-endian ULONGs, packed (GM/T 0016-2012): Version, ulSymmAlgID,
 * ulBits, cbEncryptedPriKey[64], PubKey {BitLen, X[64], Y[64]}, ECCCipherBlob {X[64], Y[64], HASH[32], CipherLen,
 * Cipher[CipherLen]}; 256-bit numbers right-aligned in their 64-byte fields.
 */
enum {
  ENV_VERSION = 0, ENV_SYMM_ALG = 4, ENV_BITS = 8, ENV_PRIVATE = 12, ENV_PUB_BITS = 76, ENV_PUB_X = 80, ENV_PUB_Y = 144,
  ENV_C1_X = 208, ENV_C1_Y = 272, ENV_C3 = 336, ENV_C2_LEN = 368, ENV_C2 = 372,
};
#define ENV_SM4_KEY_LEN 16

static uint32_t le32(const CK_BYTE *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Whether a 64-byte field holds a 256-bit number right-aligned: 32 zero bytes first. */
static int right_aligned(const CK_BYTE *field) {
  for (int i = 0; i < 32; i++)
    if (field[i]) return 0;
  return 1;
}

/*
 * Opens an ENVELOPEDKEYBLOB with the SM2 private key `unwrapping` into d, the encryption private key.
 * ECCCipherBlob is the SM4 key (SGD_SM4_ECB, 16 bytes) SM2-encrypted to the unwrapping key. cbEncryptedPriKey holds
 * SM4-ECB(d) without padding, 32 bytes, right-aligned after 32 zero bytes like every 256-bit number of GM/T 0016 (an
 * ECCPRIVATEKEYBLOB's d included). Accepted too, as some vendors' KMC tools write it: the whole right-aligned field
 * 0^32 || d encrypted, 64 bytes (ECB encrypts each block alone, so the second half decrypts to d either way). Then
 * d x G must be the blob's public key: a forged or damaged blob is CKR_WRAPPED_KEY_INVALID.
 */
static CK_RV sm2_open_envelope(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE unwrapping, const CK_BYTE *blob, CK_ULONG len, CK_BYTE d[32]) {
  if (len < ENV_C2 || le32(blob + ENV_C2_LEN) != ENV_SM4_KEY_LEN || len != ENV_C2 + ENV_SM4_KEY_LEN) return CKR_WRAPPED_KEY_LEN_RANGE;
  if (le32(blob + ENV_VERSION) != 1 || le32(blob + ENV_SYMM_ALG) != SGD_SM4_ECB || le32(blob + ENV_BITS) != 256 || le32(blob + ENV_PUB_BITS) != 256 ||
      !right_aligned(blob + ENV_PUB_X) || !right_aligned(blob + ENV_PUB_Y) || !right_aligned(blob + ENV_C1_X) || !right_aligned(blob + ENV_C1_Y))
    return CKR_WRAPPED_KEY_INVALID;

  CK_BYTE scalar[32], sm4[ENV_SM4_KEY_LEN + 16];
  CK_ULONG sm4_len = sizeof sm4;
  size_t der_len;
  unsigned char *der = sm2_cipher_der(blob + ENV_C1_X + 32, blob + ENV_C1_Y + 32, blob + ENV_C3, blob + ENV_C2, ENV_SM4_KEY_LEN, &der_len);
  if (!der) return CKR_HOST_MEMORY;
  CK_RV rv = sm2_read_scalar(h, unwrapping, scalar);
  if (rv == CKR_OK) rv = sm2_decrypt_der(scalar, der, der_len, sm4, &sm4_len);
  OPENSSL_cleanse(scalar, sizeof scalar);
  free(der);
  if (rv == CKR_ENCRYPTED_DATA_INVALID || (rv == CKR_OK && sm4_len != ENV_SM4_KEY_LEN)) rv = CKR_WRAPPED_KEY_INVALID;

  CK_BYTE plain[64];
  int part = 0, last = 0, ok = 0;
  if (rv == CKR_OK) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    ok = ctx && EVP_DecryptInit_ex(ctx, EVP_sm4_ecb(), NULL, sm4, NULL) && EVP_CIPHER_CTX_set_padding(ctx, 0) &&
         EVP_DecryptUpdate(ctx, plain, &part, blob + ENV_PRIVATE, 64) && EVP_DecryptFinal_ex(ctx, plain + part, &last) && part + last == 64;
    EVP_CIPHER_CTX_free(ctx);
    ok = ok && (right_aligned(plain) || right_aligned(blob + ENV_PRIVATE));
    if (ok) memcpy(d, plain + 32, 32);
    OPENSSL_cleanse(plain, sizeof plain);
  }
  OPENSSL_cleanse(sm4, sizeof sm4);
  if (rv != CKR_OK) return rv;
  CK_BYTE q[SM2_POINT_LEN];
  ok = ok && sm2_public_point(d, q) && memcmp(q + 1, blob + ENV_PUB_X + 32, 32) == 0 && memcmp(q + 33, blob + ENV_PUB_Y + 32, 32) == 0;
  if (!ok) OPENSSL_cleanse(d, 32);
  return ok ? CKR_OK : CKR_WRAPPED_KEY_INVALID;
}

/* CKM_VTOKEN_SM2_ENVELOPED_KEY (see the header comment); any other mechanism is SoftHSM's. */
static CK_RV w_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE unwrapping, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                         CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR key) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  if (!mechanism || mechanism->mechanism != CKM_VTOKEN_SM2_ENVELOPED_KEY) return real->C_UnwrapKey(h, mechanism, unwrapping, wrapped, wrapped_len, tmpl, n, key);
  if (mechanism->pParameter || mechanism->ulParameterLen) return CKR_MECHANISM_PARAM_INVALID;
  if (!wrapped || !key) return CKR_ARGUMENTS_BAD;
  CK_KEY_TYPE type = CKK_VTOKEN_SM2;
  int named = 0;
  if ((rv = sm2_check_template(tmpl, n, CKO_PRIVATE_KEY, &type, &named)) != CKR_OK) return rv;
  if (sm2_kind_of(h, unwrapping, &rv) != SM2_PRIVATE) {
    if (rv == CKR_OBJECT_HANDLE_INVALID) return CKR_UNWRAPPING_KEY_HANDLE_INVALID;
    return rv != CKR_OK ? rv : CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
  }
  /* GM/T 0016 protects a container's encryption pair with its signing pair, whose keys carry CKA_SIGN only. */
  CK_BBOOL can_sign = CK_FALSE, can_unwrap = CK_FALSE;
  CK_ATTRIBUTE usage[] = {{CKA_SIGN, &can_sign, sizeof can_sign}, {CKA_UNWRAP, &can_unwrap, sizeof can_unwrap}};
  if ((rv = real->C_GetAttributeValue(h, unwrapping, usage, 2)) != CKR_OK) return rv;
  if (!can_sign && !can_unwrap) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if ((rv = simulate_latency(s)) != CKR_OK) return rv;
  CK_BYTE d[32];
  if ((rv = sm2_open_envelope(h, unwrapping, wrapped, wrapped_len, d)) != CKR_OK) return rv;
  rv = sm2_create_made(h, s, CKO_PRIVATE_KEY, type, tmpl, n, d, sizeof d, key);
  OPENSSL_cleanse(d, sizeof d);
  return rv;
}

/*
 * Reading an SM2 key: vendor-typed keys report CKK_VTOKEN_SM2; private keys report themselves sensitive and
 * never extractable and refuse CKA_VALUE, as on a real token. The caller's CKA_VALUE buffer is never handed to
 * SoftHSM, which would copy the scalar into it.
 */
static CK_RV w_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  enum sm2_kind kind = tmpl ? sm2_kind_of(h, obj, NULL) : NOT_SM2;
  if (kind == NOT_SM2) return real->C_GetAttributeValue(h, obj, tmpl, n);
  CK_ATTRIBUTE *copy = calloc(n ? n : 1, sizeof *copy);
  if (!copy) return CKR_HOST_MEMORY;
  memcpy(copy, tmpl, n * sizeof *copy);
  for (CK_ULONG i = 0; i < n; i++)
    if (kind == SM2_PRIVATE && copy[i].type == CKA_VALUE) copy[i] = (CK_ATTRIBUTE){CKA_CLASS, NULL, 0}; /* harmless stand-in */
  rv = real->C_GetAttributeValue(h, obj, copy, n);
  int vendor = find_attr(tmpl, n, CKA_KEY_TYPE) && sm2_is_vendor(h, obj, kind, s);
  int refused = 0;
  for (CK_ULONG i = 0; i < n; i++) {
    CK_ATTRIBUTE *a = &tmpl[i];
    a->ulValueLen = copy[i].ulValueLen;
    int bool_out = a->pValue && a->ulValueLen == sizeof(CK_BBOOL);
    if (a->type == CKA_KEY_TYPE && vendor && a->pValue && a->ulValueLen == sizeof(CK_KEY_TYPE)) *(CK_KEY_TYPE *)a->pValue = CKK_VTOKEN_SM2;
    if (kind != SM2_PRIVATE) continue;
    if (a->type == CKA_VALUE) {
      a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
      refused = 1;
    } else if (bool_out && (a->type == CKA_SENSITIVE || a->type == CKA_ALWAYS_SENSITIVE || a->type == CKA_NEVER_EXTRACTABLE)) {
      *(CK_BBOOL *)a->pValue = CK_TRUE;
    } else if (bool_out && a->type == CKA_EXTRACTABLE) {
      *(CK_BBOOL *)a->pValue = CK_FALSE;
    }
  }
  free(copy);
  return rv == CKR_OK && refused ? CKR_ATTRIBUTE_SENSITIVE : rv;
}

/* An SM2 private key must stay non-sensitive inside SoftHSM (or the shim could not sign) and is reported
 * sensitive and unextractable: requests for exactly that are accepted as no-ops, the opposite is read-only. */
static CK_RV sm2_protect_template(const CK_ATTRIBUTE *in, CK_ULONG n, CK_ATTRIBUTE *out, CK_ULONG *m) {
  *m = 0;
  for (CK_ULONG i = 0; in && i < n; i++) {
    if (in[i].type != CKA_SENSITIVE && in[i].type != CKA_EXTRACTABLE) {
      out[(*m)++] = in[i];
      continue;
    }
    if (!in[i].pValue || in[i].ulValueLen != sizeof(CK_BBOOL)) return CKR_ATTRIBUTE_VALUE_INVALID;
    if ((*(CK_BBOOL *)in[i].pValue != CK_FALSE) != (in[i].type == CKA_SENSITIVE)) return CKR_ATTRIBUTE_READ_ONLY;
  }
  return CKR_OK;
}

static CK_RV w_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
  CK_RV rv = check_session(h, NULL);
  if (rv != CKR_OK) return rv;
  if (!tmpl || sm2_kind_of(h, obj, NULL) != SM2_PRIVATE) return real->C_SetAttributeValue(h, obj, tmpl, n);
  CK_ATTRIBUTE *copy = calloc(n ? n : 1, sizeof *copy);
  if (!copy) return CKR_HOST_MEMORY;
  CK_ULONG m;
  rv = sm2_protect_template(tmpl, n, copy, &m);
  if (rv == CKR_OK && m > 0) rv = real->C_SetAttributeValue(h, obj, copy, m);
  free(copy);
  return rv;
}

static CK_RV w_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR new_obj) {
  CK_RV rv = check_session(h, NULL);
  if (rv != CKR_OK) return rv;
  if (!tmpl || sm2_kind_of(h, obj, NULL) != SM2_PRIVATE) return real->C_CopyObject(h, obj, tmpl, n, new_obj);
  CK_ATTRIBUTE *copy = calloc(n ? n : 1, sizeof *copy);
  if (!copy) return CKR_HOST_MEMORY;
  CK_ULONG m;
  rv = sm2_protect_template(tmpl, n, copy, &m);
  if (rv == CKR_OK) rv = real->C_CopyObject(h, obj, copy, m, new_obj);
  free(copy);
  return rv;
}

/* SoftHSM would wrap an SM2 private key (it is extractable inside); a token never lets it out. */
static CK_RV w_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  CK_RV rv = check_session(h, NULL);
  if (rv != CKR_OK) return rv;
  if (sm2_kind_of(h, key, NULL) == SM2_PRIVATE) return CKR_KEY_UNEXTRACTABLE;
  return real->C_WrapKey(h, mechanism, wrapping_key, key, out, out_len);
}

/*
 * Searching by key type: CKK_VTOKEN_SM2 becomes "CKK_EC on the SM2 curve" for SoftHSM and the results are
 * narrowed to vendor-typed keys; a CKK_EC search leaves those out (they do not report CKK_EC).
 */
static CK_RV w_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
  CK_RV rv = check_session(h, NULL);
  if (rv != CKR_OK) return rv;
  CK_KEY_TYPE type;
  enum find_filter filter = FIND_ALL;
  if (ulong_attr(tmpl, n, CKA_KEY_TYPE, &type)) filter = type == CKK_VTOKEN_SM2 ? FIND_VENDOR_SM2_ONLY : type == CKK_EC ? FIND_NOT_VENDOR_SM2 : FIND_ALL;
  CK_ATTRIBUTE *copy = NULL;
  CK_ULONG m = n;
  if (filter == FIND_VENDOR_SM2_ONLY) {
    if (!(copy = calloc(n + 1, sizeof *copy))) return CKR_HOST_MEMORY;
    for (CK_ULONG i = 0; i < n; i++)
      copy[i] = tmpl[i].type == CKA_KEY_TYPE ? (CK_ATTRIBUTE){CKA_KEY_TYPE, (void *)&ckk_ec, sizeof ckk_ec} : tmpl[i];
    if (!find_attr(tmpl, n, CKA_EC_PARAMS)) copy[m++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)SM2_OID_DER, sizeof SM2_OID_DER};
  }
  rv = real->C_FindObjectsInit(h, copy ? copy : tmpl, m);
  free(copy);
  if (rv == CKR_OK) {
    pthread_mutex_lock(&lock);
    struct session_state *session = find_session(h);
    if (session) session->find_filter = filter;
    pthread_mutex_unlock(&lock);
  }
  return rv;
}

static CK_RV w_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  pthread_mutex_lock(&lock);
  struct session_state *session = find_session(h);
  enum find_filter filter = session ? session->find_filter : FIND_ALL;
  pthread_mutex_unlock(&lock);
  if (filter == FIND_ALL) return real->C_FindObjects(h, out, max, count);
  if (!out || !count) return CKR_ARGUMENTS_BAD;
  CK_ULONG found = 0;
  while (found < max) {
    CK_OBJECT_HANDLE batch[16];
    CK_ULONG want = max - found < 16 ? max - found : 16, got = 0;
    if ((rv = real->C_FindObjects(h, batch, want, &got)) != CKR_OK) return rv;
    if (got == 0) break;
    for (CK_ULONG i = 0; i < got; i++)
      if (sm2_is_vendor(h, batch[i], sm2_kind_of(h, batch[i], NULL), s) == (filter == FIND_VENDOR_SM2_ONLY)) out[found++] = batch[i];
  }
  *count = found;
  return CKR_OK;
}

static CK_RV w_FindObjectsFinal(CK_SESSION_HANDLE h) {
  CK_RV rv = check_session(h, NULL);
  if (rv != CKR_OK) return rv;
  pthread_mutex_lock(&lock);
  struct session_state *session = find_session(h);
  if (session) session->find_filter = FIND_ALL;
  pthread_mutex_unlock(&lock);
  return real->C_FindObjectsFinal(h);
}

/* ---------- every other session call: refuse once the key is gone ---------- */

#define GUARD(name, params, args)             \
  static CK_RV w_##name params {              \
    CK_RV rv = check_session(hSession, NULL); \
    return rv != CKR_OK ? rv : real->C_##name args; \
  }

GUARD(GetSessionInfo, (CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR a), (hSession, a))
GUARD(Logout, (CK_SESSION_HANDLE hSession), (hSession))
GUARD(DestroyObject, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE a), (hSession, a))
GUARD(VerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR a, CK_OBJECT_HANDLE b), (hSession, a, b))
GUARD(Verify, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c, CK_ULONG d), (hSession, a, b, c, d))
GUARD(Encrypt, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c, CK_ULONG_PTR d), (hSession, a, b, c, d))

/*
 * SoftHSM2 2.6 supports RSA-OAEP only with SHA-1 and no label, and answers CKR_ARGUMENTS_BAD otherwise.
 * A real key reports an unsupported parameter instead, which is what callers (pkcs11-tool --test) expect.
 */
static int unsupported_oaep(CK_MECHANISM_PTR mechanism) {
  if (!mechanism || mechanism->mechanism != CKM_RSA_PKCS_OAEP || !mechanism->pParameter) return 0;
  if (mechanism->ulParameterLen < sizeof(CK_RSA_PKCS_OAEP_PARAMS)) return 0;
  const CK_RSA_PKCS_OAEP_PARAMS *p = mechanism->pParameter;
  return p->hashAlg != CKM_SHA_1 || p->mgf != CKG_MGF1_SHA1 || p->ulSourceDataLen > 0;
}

/* CKM_VTOKEN_SM2_ENC on an SM2 private key that may decrypt: remembered in the session until C_Decrypt. */
static CK_RV sm2_decrypt_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  if (mechanism->pParameter || mechanism->ulParameterLen) return CKR_MECHANISM_PARAM_INVALID;
  CK_RV rv;
  if (sm2_kind_of(h, key, &rv) != SM2_PRIVATE) return rv != CKR_OK ? rv : CKR_KEY_TYPE_INCONSISTENT;
  CK_BBOOL can_decrypt = CK_FALSE;
  CK_ATTRIBUTE attr = {CKA_DECRYPT, &can_decrypt, sizeof can_decrypt};
  if ((rv = real->C_GetAttributeValue(h, key, &attr, 1)) != CKR_OK) return rv;
  if (!can_decrypt) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  pthread_mutex_lock(&lock);
  struct session_state *session = find_session(h);
  rv = !session ? CKR_SESSION_HANDLE_INVALID : session->sm2_decrypt ? CKR_OPERATION_ACTIVE : CKR_OK;
  if (rv == CKR_OK) session->sm2_decrypt = key;
  pthread_mutex_unlock(&lock);
  return rv;
}

static CK_RV w_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  CK_RV rv = check_session(hSession, NULL);
  if (rv != CKR_OK) return rv;
  if (unsupported_oaep(mechanism)) return CKR_MECHANISM_PARAM_INVALID;
  if (mechanism && mechanism->mechanism == CKM_VTOKEN_SM2_ENC) return sm2_decrypt_init(hSession, mechanism, key);
  return real->C_DecryptInit(hSession, mechanism, key);
}

/* C_Decrypt of the session's SM2 decryption, else SoftHSM's. Same length rules as signing (see sm2_sign_step). */
static CK_RV w_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  pthread_mutex_lock(&lock);
  struct session_state *session = find_session(h);
  CK_OBJECT_HANDLE key = session ? session->sm2_decrypt : 0;
  pthread_mutex_unlock(&lock);
  if (!key) {
    if (out && (rv = simulate_latency(s)) != CKR_OK) return rv;
    return real->C_Decrypt(h, in, in_len, out, out_len);
  }
  if (!in || !out_len) rv = CKR_ARGUMENTS_BAD;
  else if (!out) {
    *out_len = in_len; /* the plaintext is shorter than its ciphertext */
    return CKR_OK;
  } else if ((rv = simulate_latency(s)) == CKR_OK) {
    CK_BYTE d[32];
    rv = sm2_read_scalar(h, key, d); /* fails after C_Logout: the key is a private object */
    if (rv == CKR_OK) rv = sm2_decrypt_der(d, in, in_len, out, out_len);
    OPENSSL_cleanse(d, sizeof d);
    if (rv == CKR_BUFFER_TOO_SMALL) return rv; /* the operation stays active */
  }
  pthread_mutex_lock(&lock);
  if ((session = find_session(h))) session->sm2_decrypt = 0;
  pthread_mutex_unlock(&lock);
  return rv;
}

static CK_RV w_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  CK_RV rv = check_session(hSession, NULL);
  if (rv != CKR_OK) return rv;
  if (unsupported_oaep(mechanism)) return CKR_MECHANISM_PARAM_INVALID;
  return real->C_EncryptInit(hSession, mechanism, key);
}
GUARD(DigestInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR a), (hSession, a))
GUARD(Digest, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c, CK_ULONG_PTR d), (hSession, a, b, c, d))
GUARD(GenerateRandom, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR a, CK_ULONG b), (hSession, a, b))

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (!list) return CKR_ARGUMENTS_BAD;
  pthread_mutex_lock(&lock);
  CK_RV rv = load_softhsm();
  if (rv == CKR_OK && !shim_ready) {
    shim = *real; /* everything not overridden below goes straight to SoftHSM */
    shim.version.major = 2;
    shim.version.minor = 40;
#define USE(name) shim.C_##name = w_##name
    USE(Initialize); USE(Finalize); USE(GetInfo); USE(GetSlotList); USE(GetSlotInfo); USE(GetTokenInfo);
    USE(WaitForSlotEvent); USE(GetMechanismList); USE(GetMechanismInfo); USE(InitToken);
    USE(OpenSession); USE(CloseSession); USE(CloseAllSessions); USE(GetSessionInfo);
    USE(Login); USE(Logout); USE(SetPIN); USE(InitPIN);
    USE(CreateObject); USE(CopyObject); USE(DestroyObject); USE(GetAttributeValue); USE(SetAttributeValue);
    USE(FindObjectsInit); USE(FindObjects); USE(FindObjectsFinal);
    USE(SignInit); USE(Sign); USE(SignUpdate); USE(SignFinal); USE(VerifyInit); USE(Verify);
    USE(EncryptInit); USE(Encrypt); USE(DecryptInit); USE(Decrypt); USE(DigestInit); USE(Digest);
    USE(GenerateKeyPair); USE(GenerateRandom); USE(WrapKey); USE(UnwrapKey);
#undef USE
    shim_ready = 1;
  }
  pthread_mutex_unlock(&lock);
  if (rv != CKR_OK) return rv;
  *list = &shim;
  return CKR_OK;
}
