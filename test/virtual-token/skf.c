/*
 * yzt-bridge virtual SKF key (libyzt-vskf.so): the project's virtual USB keys behind the interface of a vendor
 * SKF library (GM/T 0016-2012 智能密码钥匙密码应用接口), for the tests and the demo of the host's SKF backend.
 *
 * Why it sits on the shim: the virtual keys already live in libyzt-vtoken.so (shim.c), a PKCS#11 module over
 * SoftHSM2 that adds removal (state files), persistent PIN retry counters that lock after 10 wrong PINs,
 * per-operation latency and SM2 keys. This library holds no key, no PIN and no state of its own: at load it
 * finds its own directory (dladdr), dlopens libyzt-vtoken.so from there and translates every SKF call into
 * PKCS#11 calls on it. The same key pairs, certificates, removal, PIN counters and latency therefore behave the
 * same on both backends, and a test can pull a key out with state.ts whichever backend it drives. What the key
 * writes (containers, key pairs, certificates) it writes as token objects through the shim, so it persists across
 * processes and both faces see it.
 *
 * The model, and the choices GM/T 0016 leaves open:
 *   device       a present key; its name is the serial the shim reports (CK_TOKEN_INFO.serialNumber, trimmed).
 *                SKF_EnumDev lists present keys for bPresent TRUE and FALSE alike: a USB key that is pulled out is
 *                unknown to a real driver too. Empty lists are "\0\0".
 *   application  one, "BJCA-Application" (as on Beijing 一证通 keys). Closing it logs the user out.
 *   container    one per key-pair family: the signing certificate and the encryption certificate of the same
 *                algorithm (SM2 or RSA) form one container. Sign or encrypt is decided by the certificate's key
 *                usage (digitalSignature / nonRepudiation = signing), by CKA_ID 0202 = encryption when it has
 *                none. Name = "<SM2|RSA>-<CKA_ID of the signing certificate, lower-case hex>" (of the encryption
 *                certificate for a container without a signing one): the demo key holds "SM2-0101" (0101 signs,
 *                0202 encrypts), the mixed key "RSA-0101" and "SM2-0303". Keys on other curves (P-256) have no
 *                SKF form and are not shown. These containers are listed first, in CKA_ID order.
 *                A container made with SKF_CreateContainer is recorded as a CKO_DATA token object (public, so that
 *                the list needs no PIN): CKA_APPLICATION "yzt-vskf-container", CKA_LABEL = its name, CKA_VALUE = the
 *                CKA_ID of its signing pair followed by that of its encryption pair (same length). The n-th container
 *                (from 0, when it is made) gets pairs 2n+1 and 2n+2 written as one byte twice (0303 and 0404), the ids
 *                the host's skfKeyId gives the same pairs, or the next free numbers when an object has those ids.
 *                Such containers list after the provisioned ones, in the order of those ids; their certificates
 *                belong to them by CKA_ID (never to a provisioned container), their type is their signing key's
 *                (CKK_VTOKEN_SM2 -> 2, CKK_RSA -> 1, none yet -> 0) and every object they hold is labelled with their
 *                name. A provisioned container lacking a half gets that half's CKA_ID from the other's (0303 <-> 0404).
 *                A half's key pair is there when its public key object is; ExportPublicKey reads that object (the
 *                certificate only when there is none), so a new pair is exported before any certificate exists.
 *   PINs         USER_TYPE = the PKCS#11 user PIN, ADMIN_TYPE = the SO PIN, each with the shim's exact persistent
 *                retry counter (max 10, locks at 0; state files retries and so-retries): GetPINInfo reports it, a
 *                wrong PIN in VerifyPIN, ChangePIN or UnblockPIN answers SAR_PIN_INCORRECT with the tries left in
 *                *pulRetryCount, and a locked one SAR_PIN_LOCKED (0).
 *   session keys ImportSessionKey unwraps an SM4 key (SGD_SM4_ECB / SGD_SM4_CBC) with the container's
 *                encryption key; the key stays inside this library. DecryptInit/Decrypt/DecryptUpdate/
 *                DecryptFinal run SM4 with OpenSSL.
 *   removal      the shim's CKR_DEVICE_REMOVED / CKR_SESSION_HANDLE_INVALID / CKR_TOKEN_NOT_PRESENT become
 *                SAR_DEVICE_REMOVED; a device handle that saw its key pulled out stays dead after reinsertion,
 *                and so do the application, container and session-key handles under it.
 *   missing      certificate: SAR_CERTNOTFOUNTERR (0x0A00001C; the standard's spelling; some vendors answer
 *                SAR_FILE_NOT_EXIST 0x0A000031 instead). Missing key: SAR_KEYNOTFOUNTERR (0x0A00001B).
 *   events       SKF_WaitForDevEvent blocks, polling every 25 ms, until a key is inserted (event 1) or pulled out
 *                (event 2) compared with what the previous call reported (the first call: with the keys present
 *                when it started). SKF_CancelWaitForDevEvent makes the wait return SAR_NOT_EVENTERR (0x0A000022,
 *                *pulEvent = 0, *pulDevNameLen = 0) at once; a cancel issued while no wait runs is kept and ends
 *                the next wait, so a host that cancels while its waiting thread is between two calls still
 *                gets that thread back.
 *   life cycle   what a host needs to renew a certificate on the key. Every write first checks the key is in
 *                (SAR_DEVICE_REMOVED) and the user PIN verified (SAR_USER_NOT_LOGGED_IN), and re-reads the container.
 *                SKF_CreateContainer: a name of 1..63 bytes (SAR_NAMELENERR); a name the key holds already:
 *                  SAR_FILE_ALREADY_EXIST (0x0A00002F, the standard's code: GM/T 0016 has none for containers;
 *                  vendors answer it or their own SAR_CONTAINER_ALREADY_EXIST 0x0A000033); more than 32 containers:
 *                  SAR_REACH_MAX_CONTAINER_COUNT. The new container is empty (type 0) and open.
 *                SKF_DeleteContainer: certificates, then private keys, public keys and the record; SAR_CONTAINER_NOT_
 *                  EXIST for an unknown name. Open handles of it then answer SAR_CONTAINER_NOT_EXIST (and close).
 *                SKF_GenECCKeyPair (SGD_SM2_1 only, else SAR_NOTSUPPORTYETERR) and SKF_GenRSAKeyPair (1024 or 2048
 *                  bits, else SAR_MODULUSLENERR) make the signing pair (token objects, private key private and
 *                  sensitive) through the shim and return its public key. A container that has a signing pair or
 *                  certificate keeps it: SAR_FILE_ALREADY_EXIST (a real key refuses to overwrite the pair its
 *                  certificate names; make a new container to renew).
 *                SKF_ImportCertificate stores (or replaces) a half's certificate; the half's key pair must be there
 *                  (SAR_KEYNOTFOUNTERR), its match with the certificate is the host's to check; not one DER
 *                  certificate: SAR_INDATAERR.
 *                SKF_ImportECCKeyPair: the encryption pair from a CA's KMC (ENVELOPEDKEYBLOB, see skf-abi.h; the
 *                  private key placement is shim.c's sm2_open_envelope). ulSymmAlgID other than SGD_SM4_ECB:
 *                  SAR_NOTSUPPORTYETERR; CipherLen other than 16: SAR_INDATALENERR; no signing pair: SAR_KEYNOTFOUNTERR
 *                  (an RSA one: SAR_KEYUSAGEERR); an encryption pair already there: SAR_FILE_ALREADY_EXIST. The shim
 *                  decrypts it with the signing key (C_UnwrapKey, CKM_VTOKEN_SM2_ENVELOPED_KEY) and checks d x G is
 *                  PubKey: a forged or damaged blob is SAR_INDATAERR with nothing written. The pair then serves
 *                  ECCDecrypt and ImportSessionKey like a provisioned one.
 *                Removal: writes are ordered so that whatever prefix of them a pulled-out key keeps, no certificate
 *                  is without its key pair: pairs before certificates, certificates deleted first, and a private key
 *                  left alone by an interrupted import is replaced by the next import.
 *   extension    SKF_ECCDecrypt and SKF_ECCPrvKeyDecrypt (same signature, HCONTAINER, PECCCIPHERBLOB, BYTE *,
 *                ULONG *): SM2 decryption with the container's encryption key, as Longmai (mToken GM3000),
 *                Haitai and other vendor libraries export beside the standard set.
 *
 * Threads: a host waits for events on one thread while another calls everything else, so one global mutex
 * guards every call into the shim and every handle; the event wait sleeps outside it.
 *
 * Test variants, built from this file by build.ts:
 *   -DVSKF_MISSING_EXPORT   leaves out SKF_ECCSignData, like a vendor library lacking a function.
 *   -DVSKF_SM2_ONLY         an SM2-only key's library: no SKF_RSASignData, SKF_GenRSAKeyPair, session-key or decryption
 *                           functions (the parts GM/T 0016 has that such a key does not need).
 *   -DVSKF_LP64             ULONG is `unsigned long` (64 bits on Linux), as 飞天's Linux library declares it: every
 *                           ULONG argument, out-parameter and struct field is 8 bytes wide.
 * Failure variants, for the host's driver processes (a vendor library is code that crashes and hangs):
 *   -DVSKF_FAULT_CRASH_ENUM SKF_EnumDev (and the device scan inside SKF_WaitForDevEvent) dereferences NULL while
 *                           the file "fault.armed" sits beside the library (龙脉 GM3000 does so in libusb when it
 *                           cannot initialise), so a test arms it when it likes.
 *   -DVSKF_FAULT_CRASH_SIGN SKF_ECCSignData and SKF_RSASignData dereference NULL.
 *   -DVSKF_FAULT_HANG_SIGN  SKF_ECCSignData and SKF_RSASignData never return.
 *   -DVSKF_FAULT_HANG_ENUM  SKF_EnumDev never returns (C*Core's library left the host unanswering).
 *   -DVSKF_FAULT_HANG_WAIT  SKF_WaitForDevEvent never returns, and there is no SKF_CancelWaitForDevEvent.
 *   -DVSKF_NOISY            prints debug lines to stdout in SKF_EnumDev and the signing calls, as many vendor
 *                           libraries do (its driver must not take them for frames).
 *   -DVSKF_GARBAGE_LENGTHS  answers lengths that make no sense, never writing past the caller's buffer: name
 *                           lists (EnumDev, EnumApplication, EnumContainer) report 0xFFFFFFF0 to a size query and
 *                           come without their terminating NULs, the rest of the buffer filled with 'Z', their
 *                           length the buffer size + 256; ExportCertificate, RSASignData, Decrypt, ECCDecrypt and
 *                           WaitForDevEvent report the buffer size + 0x400 as the length written; ExportPublicKey
 *                           reports 3; Decrypt and ECCDecrypt answer size queries with 0xFFFFFFF0.
 *
 * ABI: ULONG and BOOL are 32 bits, handles void *, every structure packed to 1 byte, 256-bit numbers right-aligned
 * in 64-byte fields. Only the SKF_ functions are exported.
 */
#define _GNU_SOURCE
#ifdef VSKF_SM2_ONLY
/* The functions behind the left-out exports stay in the source. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>
#include "pkcs11-text.h"
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "skf-abi.h"

#define SKF_API __attribute__((visibility("default")))

/* ---------- what the shim provides ---------- */

#define SHIM_FILE "libyzt-vtoken.so"
#define APPLICATION_NAME "BJCA-Application"
#define MAX_PIN_TRIES 10
#define MAX_SLOTS 64
#define MAX_CERTS 32
#define MAX_NAME 64
#define POLL_MS 25
/* The shim's vendor values (see shim.c): the SM2 key type; SM2 signature of a precomputed e; SM2 decryption of
 * GM/T 0009 DER; SM2 key-pair generation; the import of an ENVELOPEDKEYBLOB with the signing key (C_UnwrapKey). */
#define CKK_VTOKEN_SM2 0x80005300UL
#define CKM_VTOKEN_SM2 0x80005301UL
#define CKM_VTOKEN_SM2_ENC 0x80005303UL
#define CKM_VTOKEN_SM2_KEY_PAIR_GEN 0x80005304UL
#define CKM_VTOKEN_SM2_ENVELOPED_KEY 0x80005305UL
/* CKA_APPLICATION of the data objects that record the containers SKF_CreateContainer made. */
#define RECORD_APPLICATION "yzt-vskf-container"
#define MAX_KEYS 64 /* public key objects looked at per key */

/* One lock for everything below: the shim, the slot table and the handle registry. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void *shim_lib;
static CK_FUNCTION_LIST_PTR p11;
/* yzt_vtoken_user_pin_retries and yzt_vtoken_so_pin_retries (shim.c): the exact counters, which PKCS#11 flags
 * only approximate. */
static CK_RV (*shim_pin_retries)(CK_SLOT_ID, CK_ULONG *);
static CK_RV (*shim_so_pin_retries)(CK_SLOT_ID, CK_ULONG *);

struct slot {
  CK_SLOT_ID id;
  char serial[33];   /* learnt the first time the key is seen present ("" before) */
  int known_present; /* presence last reported by SKF_WaitForDevEvent */
};
static struct slot slots[MAX_SLOTS];
static int slot_count;
static int events_baseline; /* SKF_WaitForDevEvent took its first look */

/* ---------- length reporting (honest, or nonsense in the garbage-lengths variant) ---------- */

#ifdef VSKF_GARBAGE_LENGTHS
#define GARBAGE 1
#else
#define GARBAGE 0
#endif
#define GARBAGE_QUERY 0xFFFFFFF0u
#define GARBAGE_EXTRA 0x400u

/* A length written into a buffer of `room` bytes: the truth, or more than the buffer holds. */
static ULONG written_length(ULONG actual, ULONG room) { return GARBAGE ? room + GARBAGE_EXTRA : actual; }

/* ---------- loading the shim ---------- */


/* Called with g_lock held by every entry point. The shim is the file next to this library, so that a copied
 * virtual-token home (and with it the shim's state directory) is self-contained. */
static ULONG load_locked(void) {
  if (p11) return SAR_OK;
  Dl_info info;
  char path[PATH_MAX];
  if (!dladdr((void *)&load_locked, &info) || !info.dli_fname) return SAR_FAIL;
  snprintf(path, sizeof path, "%s", info.dli_fname);
  char *slash = strrchr(path, '/');
  size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
  if (dir_len + sizeof SHIM_FILE > sizeof path) return SAR_FAIL;
  memcpy(path + dir_len, SHIM_FILE, sizeof SHIM_FILE);
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CK_C_GetFunctionList get = lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
  CK_FUNCTION_LIST_PTR list = NULL;
  if (!get || get(&list) != CKR_OK || !list) {
    if (lib) dlclose(lib);
    return SAR_FAIL;
  }
  CK_C_INITIALIZE_ARGS args;
  memset(&args, 0, sizeof args);
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = list->C_Initialize(&args);
  /* Already initialised: the host loaded the same shim as its PKCS#11 module in this process. */
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    dlclose(lib);
    return SAR_FAIL;
  }
  CK_SLOT_ID ids[MAX_SLOTS];
  CK_ULONG count = MAX_SLOTS;
  if (list->C_GetSlotList(CK_FALSE, ids, &count) != CKR_OK) count = 0;
  slot_count = 0;
  for (CK_ULONG i = 0; i < count && slot_count < MAX_SLOTS; i++) {
    memset(&slots[slot_count], 0, sizeof slots[slot_count]);
    slots[slot_count++].id = ids[i];
  }
  shim_lib = lib;
  shim_pin_retries = (CK_RV(*)(CK_SLOT_ID, CK_ULONG *))dlsym(lib, "yzt_vtoken_user_pin_retries");
  shim_so_pin_retries = (CK_RV(*)(CK_SLOT_ID, CK_ULONG *))dlsym(lib, "yzt_vtoken_so_pin_retries");
  p11 = list;
  return SAR_OK;
}

/* The serial of a present key, cached: a pulled-out key cannot be asked, and slots never change. */
static const char *slot_serial(struct slot *s) {
  if (!s->serial[0]) {
    CK_TOKEN_INFO info;
    if (p11->C_GetTokenInfo(s->id, &info) == CKR_OK) trimmed(info.serialNumber, sizeof info.serialNumber, s->serial, sizeof s->serial);
  }
  return s->serial;
}

/* present[i] for slots[i]; 0 when the shim cannot say. */
static void present_slots(int present[MAX_SLOTS]) {
  CK_SLOT_ID ids[MAX_SLOTS];
  CK_ULONG count = MAX_SLOTS;
  memset(present, 0, MAX_SLOTS * sizeof *present);
  if (p11->C_GetSlotList(CK_TRUE, ids, &count) != CKR_OK) return;
  for (int i = 0; i < slot_count; i++)
    for (CK_ULONG j = 0; j < count; j++)
      if (slots[i].id == ids[j]) present[i] = 1;
}

/* ---------- handles ---------- */

enum kind { K_DEV = 1, K_APP, K_CON, K_KEY };

/* One half of a container, its signing or its encryption pair: the pair's CKA_ID, whether the pair is there (its
 * public key object is) and its certificate, if one is stored. */
struct cert {
  int present;    /* the certificate */
  int keyed;      /* the key pair */
  CK_BYTE id[24]; /* CKA_ID; its hex names a provisioned container, within the 64 bytes SKF allows */
  CK_ULONG id_len;
  unsigned char *der;
  CK_ULONG der_len;
};

/* Every handle given out is a pointer to one of these, kept in a registry so that a stale or foreign handle is
 * recognised instead of dereferenced. Parent: app -> device, container -> app, session key -> device. */
struct object {
  enum kind kind;
  struct object *parent, *next;
  /* K_DEV */
  CK_SLOT_ID slot;
  CK_SESSION_HANDLE session;
  char serial[33];
  int dead; /* its key was pulled out: every handle under it answers SAR_DEVICE_REMOVED for good */
  /* K_CON */
  char name[MAX_NAME];
  ULONG type;
  struct cert sign, enc;
  int created;         /* made by SKF_CreateContainer (it has a record), not grouped from provisioned certificates */
  int deleted;         /* it is gone from the key: the handle answers SAR_CONTAINER_NOT_EXIST (and still closes) */
  unsigned generation; /* write_generation when it was read */
  /* K_KEY: an SM4 session key and its decryption */
  ULONG alg;
  BYTE key[16];
  int active;       /* DecryptInit done, not finished */
  BYTE iv[16];
  int padding;      /* PKCS#5 */
  EVP_CIPHER_CTX *stream; /* DecryptUpdate/DecryptFinal in progress */
};

static struct object *objects;
/* Bumped by every write (see write_access): a container handle read before it reads its container again. */
static unsigned write_generation;

static struct object *new_object(enum kind kind, struct object *parent) {
  struct object *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->kind = kind;
  o->parent = parent;
  o->next = objects;
  objects = o;
  return o;
}

static struct object *find_object(HANDLE h, enum kind kind) {
  for (struct object *o = objects; o; o = o->next)
    if (o == h && o->kind == kind) return o;
  return NULL;
}

static struct object *device_of(struct object *o) {
  while (o && o->kind != K_DEV) o = o->parent;
  return o;
}

static void free_cert(struct cert *c) {
  free(c->der);
  memset(c, 0, sizeof *c);
}

/* Releases a handle and every handle under it. */
static void destroy(struct object *o) {
  for (struct object *child = objects; child;) {
    if (child->parent == o) {
      destroy(child);
      child = objects; /* the list changed: start over */
    } else {
      child = child->next;
    }
  }
  for (struct object **link = &objects; *link; link = &(*link)->next) {
    if (*link == o) {
      *link = o->next;
      break;
    }
  }
  if (o->kind == K_DEV) p11->C_CloseSession(o->session); /* fails harmlessly for a pulled-out key */
  free_cert(&o->sign);
  free_cert(&o->enc);
  EVP_CIPHER_CTX_free(o->stream);
  OPENSSL_cleanse(o->key, sizeof o->key);
  free(o);
}

/* ---------- PKCS#11 results as SKF codes ---------- */

static int is_removal(CK_RV rv) {
  return rv == CKR_DEVICE_REMOVED || rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_SESSION_CLOSED;
}

/* Maps a shim result; a removal kills the device handle (and so everything under it) for good. */
static ULONG sar_of(struct object *dev, CK_RV rv) {
  if (is_removal(rv)) {
    if (dev) dev->dead = 1;
    return SAR_DEVICE_REMOVED;
  }
  switch (rv) {
  case CKR_OK: return SAR_OK;
  case CKR_PIN_INCORRECT: return SAR_PIN_INCORRECT;
  case CKR_PIN_LOCKED: return SAR_PIN_LOCKED;
  case CKR_PIN_LEN_RANGE: return SAR_PIN_LEN_RANGE;
  case CKR_PIN_INVALID: return SAR_PIN_INVALID;
  case CKR_USER_NOT_LOGGED_IN: return SAR_USER_NOT_LOGGED_IN;
  case CKR_USER_ALREADY_LOGGED_IN: return SAR_USER_ALREADY_LOGGED_IN;
  case CKR_USER_PIN_NOT_INITIALIZED: return SAR_USER_PIN_NOT_INITIALIZED;
  case CKR_BUFFER_TOO_SMALL: return SAR_BUFFER_TOO_SMALL;
  case CKR_DATA_LEN_RANGE: return SAR_INDATALENERR;
  case CKR_ENCRYPTED_DATA_INVALID:
  case CKR_ENCRYPTED_DATA_LEN_RANGE: return SAR_INDATAERR;
  case CKR_KEY_TYPE_INCONSISTENT:
  case CKR_KEY_FUNCTION_NOT_PERMITTED: return SAR_KEYUSAGEERR;
  case CKR_WRAPPED_KEY_INVALID:
  case CKR_WRAPPED_KEY_LEN_RANGE: return SAR_INDATAERR; /* a forged or damaged ENVELOPEDKEYBLOB */
  case CKR_HOST_MEMORY: return SAR_MEMORYERR;
  default: return SAR_FAIL;
  }
}

/* SAR_OK while the device handle's key is in; a pulled-out key is noticed here even between operations. */
static ULONG device_alive(struct object *dev) {
  if (!dev) return SAR_INVALIDHANDLEERR;
  if (dev->dead) return SAR_DEVICE_REMOVED;
  CK_SESSION_INFO info;
  return sar_of(dev, p11->C_GetSessionInfo(dev->session, &info));
}

/* Looks a handle up and checks its key is still in. */
static ULONG reload_container(struct object *dev, struct object *con);

static ULONG use_handle(HANDLE h, enum kind kind, struct object **out, struct object **dev) {
  struct object *o = find_object(h, kind);
  if (!o) return SAR_INVALIDHANDLEERR;
  *out = o;
  *dev = device_of(o);
  ULONG rv = device_alive(*dev);
  /* As on a real key, a container handle shows the container as it is now, also after a write through another. */
  if (rv == SAR_OK && o->kind == K_CON && !o->deleted && o->generation != write_generation) rv = reload_container(*dev, o);
  return rv == SAR_OK && o->deleted ? SAR_CONTAINER_NOT_EXIST : rv;
}

static int user_logged_in(struct object *dev, ULONG *rv) {
  CK_SESSION_INFO info;
  *rv = sar_of(dev, p11->C_GetSessionInfo(dev->session, &info));
  return *rv == SAR_OK && (info.state == CKS_RW_USER_FUNCTIONS || info.state == CKS_RO_USER_FUNCTIONS);
}

/* Up to max objects matching tmpl. */
static CK_RV find_all(struct object *dev, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count) {
  *count = 0;
  CK_RV rv = p11->C_FindObjectsInit(dev->session, tmpl, n);
  if (rv != CKR_OK) return rv;
  rv = p11->C_FindObjects(dev->session, out, max, count);
  CK_RV final = p11->C_FindObjectsFinal(dev->session);
  return rv != CKR_OK ? rv : final;
}

/* A variable-length attribute, malloc'd. */
static CK_RV read_attribute(struct object *dev, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, unsigned char **value, CK_ULONG *len) {
  CK_ATTRIBUTE attr = {type, NULL, 0};
  CK_RV rv = p11->C_GetAttributeValue(dev->session, obj, &attr, 1);
  if (rv != CKR_OK) return rv;
  if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) return CKR_ATTRIBUTE_TYPE_INVALID;
  if (!(attr.pValue = malloc(attr.ulValueLen ? attr.ulValueLen : 1))) return CKR_HOST_MEMORY;
  if ((rv = p11->C_GetAttributeValue(dev->session, obj, &attr, 1)) != CKR_OK) {
    free(attr.pValue);
    return rv;
  }
  *value = attr.pValue;
  *len = attr.ulValueLen;
  return CKR_OK;
}

/* The private key of a container half (same CKA_ID). Private keys are private objects: the user PIN must have
 * been verified, which SKF reports as SAR_USER_NOT_LOGGED_IN rather than as a missing key. */
static ULONG private_key_of(struct object *dev, const struct cert *c, CK_OBJECT_HANDLE *key) {
  if (!c->id_len || (!c->present && !c->keyed)) return SAR_KEYNOTFOUNTERR;
  ULONG rv;
  if (!user_logged_in(dev, &rv)) return rv != SAR_OK ? rv : SAR_USER_NOT_LOGGED_IN;
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, (void *)c->id, c->id_len}};
  CK_ULONG count;
  CK_RV crv = find_all(dev, tmpl, 2, key, 1, &count);
  if (crv != CKR_OK) return sar_of(dev, crv);
  return count == 1 ? SAR_OK : SAR_KEYNOTFOUNTERR;
}

/* ---------- certificates and containers ---------- */

static X509 *parse_cert(const struct cert *c) {
  const unsigned char *cursor = c->der;
  return c->present ? d2i_X509(NULL, &cursor, (long)c->der_len) : NULL;
}

/* CONTAINER_RSA, CONTAINER_ECC (SM2 only) or 0 for keys SKF cannot hold. */
static ULONG container_type_of(EVP_PKEY *key) {
  if (!key) return 0;
  if (EVP_PKEY_is_a(key, "RSA")) return CONTAINER_RSA;
  char group[32] = "";
  if (EVP_PKEY_is_a(key, "SM2")) return CONTAINER_ECC;
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_group_name(key, group, sizeof group, NULL) && strcmp(group, "SM2") == 0)
    return CONTAINER_ECC;
  return 0;
}

struct found_cert {
  struct cert cert;
  ULONG type;
  int signs;
};

static int same_id(const CK_BYTE *a, CK_ULONG a_len, const CK_BYTE *b, CK_ULONG b_len) {
  return a_len == b_len && a_len > 0 && memcmp(a, b, a_len) == 0;
}

static int id_compare(const CK_BYTE *a, CK_ULONG a_len, const CK_BYTE *b, CK_ULONG b_len) {
  int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
  return c ? c : (a_len > b_len) - (a_len < b_len);
}

static int id_order(const void *a, const void *b) {
  const struct found_cert *x = a, *y = b;
  return id_compare(x->cert.id, x->cert.id_len, y->cert.id, y->cert.id_len);
}

struct container_info {
  char name[MAX_NAME];
  ULONG type;
  struct cert sign, enc;
  int created;
};

static int sign_id_order(const void *a, const void *b) {
  const struct container_info *x = a, *y = b;
  return id_compare(x->sign.id, x->sign.id_len, y->sign.id, y->sign.id_len);
}

static void free_infos(struct container_info *infos, int count) {
  for (int i = 0; i < count; i++) {
    free_cert(&infos[i].sign);
    free_cert(&infos[i].enc);
  }
}

static void hex(const CK_BYTE *in, CK_ULONG len, char *out, size_t out_size) {
  size_t at = 0;
  for (CK_ULONG i = 0; i < len && at + 3 <= out_size; i++) at += (size_t)snprintf(out + at, out_size - at, "%02x", in[i]);
  if (out_size) out[at < out_size ? at : out_size - 1] = 0;
}

/* The key's certificates of an algorithm SKF knows (SM2, RSA), each with its CKA_ID, algorithm and use. */
static ULONG read_certs(struct object *dev, struct found_cert *found, int *found_count) {
  *found_count = 0;
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}};
  CK_OBJECT_HANDLE handles[MAX_CERTS];
  CK_ULONG n;
  CK_RV rv = find_all(dev, tmpl, 1, handles, MAX_CERTS, &n);
  if (rv != CKR_OK) return sar_of(dev, rv);
  for (CK_ULONG i = 0; i < n; i++) {
    struct found_cert f;
    memset(&f, 0, sizeof f);
    unsigned char *id = NULL;
    CK_ULONG id_len = 0;
    rv = read_attribute(dev, handles[i], CKA_ID, &id, &id_len);
    if (rv == CKR_OK && id_len <= sizeof f.cert.id) {
      memcpy(f.cert.id, id, id_len);
      f.cert.id_len = id_len;
      rv = read_attribute(dev, handles[i], CKA_VALUE, &f.cert.der, &f.cert.der_len);
    }
    free(id);
    if (is_removal(rv)) {
      for (int j = 0; j < *found_count; j++) free_cert(&found[j].cert);
      free_cert(&f.cert);
      *found_count = 0;
      return sar_of(dev, rv);
    }
    if (rv != CKR_OK || !f.cert.der) {
      free_cert(&f.cert);
      continue;
    }
    f.cert.present = 1;
    X509 *x = parse_cert(&f.cert);
    f.type = x ? container_type_of(X509_get0_pubkey(x)) : 0;
    if (x) {
      /* Key usage decides sign vs encrypt; without the extension, CKA_ID 0202 is the encryption pair. */
      uint32_t usage = X509_get_key_usage(x);
      if (usage == UINT32_MAX) f.signs = !(id_len == 2 && f.cert.id[0] == 0x02 && f.cert.id[1] == 0x02);
      else f.signs = (usage & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0 ||
                     (usage & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT | KU_KEY_AGREEMENT)) == 0;
    }
    X509_free(x);
    if (!f.type) {
      free_cert(&f.cert);
      continue;
    }
    found[(*found_count)++] = f;
  }
  qsort(found, (size_t)*found_count, sizeof *found, id_order);
  return SAR_OK;
}

/* The containers SKF_CreateContainer recorded, in CKA_ID order of their signing pairs: name and the two CKA_IDs. */
static ULONG read_records(struct object *dev, struct container_info *records, int max, int *count) {
  *count = 0;
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_APPLICATION, RECORD_APPLICATION, sizeof RECORD_APPLICATION - 1}};
  CK_OBJECT_HANDLE handles[MAX_CERTS];
  CK_ULONG n;
  CK_RV rv = find_all(dev, tmpl, 2, handles, MAX_CERTS, &n);
  for (CK_ULONG i = 0; rv == CKR_OK && i < n && *count < max; i++) {
    struct container_info *r = &records[*count];
    memset(r, 0, sizeof *r);
    CK_BYTE ids[2 * sizeof r->sign.id];
    CK_ATTRIBUTE attrs[] = {{CKA_LABEL, r->name, sizeof r->name - 1}, {CKA_VALUE, ids, sizeof ids}};
    CK_RV one = p11->C_GetAttributeValue(dev->session, handles[i], attrs, 2);
    if (is_removal(one)) rv = one;
    if (one != CKR_OK || attrs[1].ulValueLen == 0 || attrs[1].ulValueLen % 2) continue; /* not one of ours */
    r->name[attrs[0].ulValueLen] = 0;
    r->created = 1;
    r->sign.id_len = r->enc.id_len = attrs[1].ulValueLen / 2;
    memcpy(r->sign.id, ids, r->sign.id_len);
    memcpy(r->enc.id, ids + r->sign.id_len, r->enc.id_len);
    (*count)++;
  }
  qsort(records, (size_t)*count, sizeof *records, sign_id_order);
  return sar_of(dev, rv);
}

/* A public key object: its CKA_ID and type. A container's key pair is there when its public key is. */
struct public_key {
  CK_BYTE id[24];
  CK_ULONG id_len;
  CK_KEY_TYPE type;
};

static ULONG read_public_keys(struct object *dev, struct public_key *keys, int max, int *count) {
  *count = 0;
  CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}};
  CK_OBJECT_HANDLE handles[MAX_KEYS];
  CK_ULONG n;
  CK_RV rv = find_all(dev, tmpl, 1, handles, MAX_KEYS, &n);
  for (CK_ULONG i = 0; rv == CKR_OK && i < n && *count < max; i++) {
    struct public_key *k = &keys[*count];
    CK_ATTRIBUTE attrs[] = {{CKA_ID, k->id, sizeof k->id}, {CKA_KEY_TYPE, &k->type, sizeof k->type}};
    CK_RV one = p11->C_GetAttributeValue(dev->session, handles[i], attrs, 2);
    if (is_removal(one)) rv = one;
    if (one != CKR_OK) continue;
    k->id_len = attrs[0].ulValueLen;
    (*count)++;
  }
  return sar_of(dev, rv);
}

/* Signing certificates open containers; each encryption certificate joins the first container of its algorithm that
 * has none, or opens its own. Takes the certificates (ownership moves into infos). */
static void group_certs(struct found_cert *found, int found_count, struct container_info *infos, int max, int *count) {
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < found_count; i++) {
      struct found_cert *f = &found[i];
      if (!f->cert.present || f->signs != (pass == 0)) continue;
      struct container_info *target = NULL;
      if (!f->signs)
        for (int j = 0; j < *count && !target; j++)
          if (infos[j].type == f->type && !infos[j].enc.present) target = &infos[j];
      if (!target) {
        if (*count >= max) continue;
        target = &infos[(*count)++];
        memset(target, 0, sizeof *target);
        target->type = f->type;
        char id_hex[2 * sizeof f->cert.id + 1];
        hex(f->cert.id, f->cert.id_len, id_hex, sizeof id_hex);
        snprintf(target->name, sizeof target->name, "%s-%s", f->type == CONTAINER_RSA ? "RSA" : "SM2", id_hex);
      }
      if (f->signs) target->sign = f->cert;
      else target->enc = f->cert;
      memset(&f->cert, 0, sizeof f->cert); /* ownership moved */
    }
  }
}

/* The number n of a CKA_ID in the scheme of provisioning and the host's skfKeyId: n twice, as one byte (0303) or as
 * two (01000100); 0 for any other id. The n-th container (from 0) holds pairs 2n+1 (signing) and 2n+2 (encryption). */
static unsigned pair_number(const CK_BYTE *id, CK_ULONG len) {
  if (len == 2 && id[0] == id[1]) return id[0];
  if (len == 4 && id[0] == id[2] && id[1] == id[3]) return (unsigned)id[0] << 8 | id[1];
  return 0;
}

static void pair_id(unsigned n, CK_BYTE *id, CK_ULONG *len) {
  if (n < 0x100) {
    id[0] = id[1] = (CK_BYTE)n;
    *len = 2;
  } else {
    id[0] = id[2] = (CK_BYTE)(n >> 8);
    id[1] = id[3] = (CK_BYTE)n;
    *len = 4;
  }
}

/* A provisioned container lacking one half gets that half's CKA_ID from the other's (0303 <-> 0404), so that a pair
 * can be put there. */
static void complete_half(const struct cert *have, struct cert *missing, int missing_signs) {
  unsigned n = pair_number(have->id, have->id_len);
  if (missing->id_len || !n || (n % 2 == 1) != missing_signs) return;
  pair_id(missing_signs ? n - 1 : n + 1, missing->id, &missing->id_len);
}

static const struct public_key *key_with_id(const struct public_key *keys, int count, const struct cert *c) {
  for (int i = 0; i < count; i++)
    if (same_id(keys[i].id, keys[i].id_len, c->id, c->id_len)) return &keys[i];
  return NULL;
}

/*
 * The key's containers (see the header comment): first those grouped from provisioned certificates, in CKA_ID order,
 * then the ones SKF_CreateContainer made, whose certificates are theirs by CKA_ID and whose type is their signing
 * key's.
 */
static ULONG read_containers(struct object *dev, struct container_info *infos, int max, int *count) {
  *count = 0;
  struct found_cert found[MAX_CERTS];
  struct container_info created[MAX_CERTS];
  struct public_key keys[MAX_KEYS];
  int found_count = 0, created_count = 0, key_count = 0;
  ULONG rv = read_certs(dev, found, &found_count);
  if (rv == SAR_OK) rv = read_records(dev, created, MAX_CERTS, &created_count);
  if (rv == SAR_OK) rv = read_public_keys(dev, keys, MAX_KEYS, &key_count);
  for (int i = 0; rv == SAR_OK && i < found_count; i++) {
    for (int j = 0; j < created_count; j++) {
      struct cert *c = &found[i].cert, *half = same_id(c->id, c->id_len, created[j].sign.id, created[j].sign.id_len) ? &created[j].sign
                                              : same_id(c->id, c->id_len, created[j].enc.id, created[j].enc.id_len)  ? &created[j].enc
                                                                                                                     : NULL;
      if (!half || half->present || !c->present) continue;
      half->present = 1;
      half->der = c->der;
      half->der_len = c->der_len;
      memset(c, 0, sizeof *c); /* ownership moved */
    }
  }
  if (rv == SAR_OK) group_certs(found, found_count, infos, max, count);
  for (int j = 0; j < created_count; j++) {
    if (rv == SAR_OK && *count < max) infos[(*count)++] = created[j];
    else free_infos(&created[j], 1);
  }
  for (int i = 0; i < found_count; i++) free_cert(&found[i].cert);
  for (int i = 0; i < *count; i++) {
    struct container_info *info = &infos[i];
    if (!info->created) {
      complete_half(&info->sign, &info->enc, 0);
      complete_half(&info->enc, &info->sign, 1);
    }
    info->sign.keyed = key_with_id(keys, key_count, &info->sign) != NULL;
    info->enc.keyed = key_with_id(keys, key_count, &info->enc) != NULL;
    const struct public_key *signer = key_with_id(keys, key_count, &info->sign);
    if (info->created && signer)
      info->type = signer->type == CKK_RSA ? CONTAINER_RSA : signer->type == CKK_VTOKEN_SM2 || signer->type == CKK_EC ? CONTAINER_ECC : 0;
  }
  if (rv != SAR_OK) {
    free_infos(infos, *count);
    *count = 0;
  }
  return rv;
}

/* ---------- name lists ---------- */

/* Writes a list of names (each NUL-terminated, the list closed by one more NUL) with the SKF size protocol. */
static ULONG put_list(const char *list, ULONG len, LPSTR out, ULONG *size) {
  if (!size) return SAR_INVALIDPARAMERR;
  if (GARBAGE) {
    if (!out) {
      *size = GARBAGE_QUERY;
      return SAR_OK;
    }
    /* The names without the last NUL of the last name or of the list, then junk to the end of the buffer. */
    ULONG room = *size, body = len >= 2 ? len - 2 : 0;
    ULONG copy = body < room ? body : room;
    memcpy(out, list, copy);
    memset(out + copy, 'Z', room - copy);
    *size = room + 256;
    return SAR_OK;
  }
  if (!out) {
    *size = len;
    return SAR_OK;
  }
  if (*size < len) {
    *size = len;
    return SAR_BUFFER_TOO_SMALL;
  }
  memcpy(out, list, len);
  *size = len;
  return SAR_OK;
}

/* Appends name and its NUL to a list being built in buf (room for the closing NUL is kept). */
static int list_add(char *buf, size_t size, ULONG *len, const char *name) {
  size_t n = strlen(name) + 1;
  if (*len + n + 1 > size) return 0;
  memcpy(buf + *len, name, n);
  *len += (ULONG)n;
  return 1;
}

/* Closes a list: one more NUL, and an empty list is "\0\0". */
static void list_close(char *buf, ULONG *len) {
  if (*len == 0) buf[(*len)++] = 0;
  buf[(*len)++] = 0;
}

/* ---------- device management ---------- */

static ULONG enum_dev(LPSTR list, ULONG *size) {
  int present[MAX_SLOTS];
  present_slots(present);
  char buf[MAX_SLOTS * 34 + 2];
  ULONG len = 0;
  for (int i = 0; i < slot_count; i++)
    if (present[i] && *slot_serial(&slots[i])) list_add(buf, sizeof buf, &len, slots[i].serial);
  list_close(buf, &len);
  return put_list(buf, len, list, size);
}

/* The present slot of the key with this serial, or NULL. */
static struct slot *present_slot_named(const char *name) {
  int present[MAX_SLOTS];
  present_slots(present);
  for (int i = 0; i < slot_count; i++)
    if (present[i] && strcmp(slot_serial(&slots[i]), name) == 0) return &slots[i];
  return NULL;
}

static ULONG connect_dev(LPSTR name, DEVHANDLE *out) {
  if (!name || !out) return SAR_INVALIDPARAMERR;
  struct slot *s = present_slot_named(name);
  if (!s) return SAR_DEVICE_REMOVED; /* no such key plugged in */
  CK_SESSION_HANDLE session;
  CK_RV rv = p11->C_OpenSession(s->id, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
  if (rv != CKR_OK) return sar_of(NULL, rv);
  struct object *dev = new_object(K_DEV, NULL);
  if (!dev) {
    p11->C_CloseSession(session);
    return SAR_MEMORYERR;
  }
  dev->slot = s->id;
  dev->session = session;
  snprintf(dev->serial, sizeof dev->serial, "%s", s->serial);
  *out = dev;
  return SAR_OK;
}

static ULONG disconnect_dev(DEVHANDLE h) {
  struct object *dev = find_object(h, K_DEV);
  if (!dev) return SAR_INVALIDHANDLEERR;
  destroy(dev); /* also for a pulled-out key: the host must be able to let go of it */
  return SAR_OK;
}

static void copy_text(CHAR *field, size_t size, const char *text) {
  memset(field, 0, size);
  size_t n = strlen(text);
  memcpy(field, text, n < size ? n : size - 1);
}

static ULONG get_dev_info(DEVHANDLE h, DEVINFO *info) {
  struct object *dev, *o;
  ULONG rv = use_handle(h, K_DEV, &o, &dev);
  if (rv != SAR_OK) return rv;
  if (!info) return SAR_INVALIDPARAMERR;
  CK_TOKEN_INFO token;
  if ((rv = sar_of(dev, p11->C_GetTokenInfo(dev->slot, &token))) != SAR_OK) return rv;
  char label[33];
  trimmed(token.label, sizeof token.label, label, sizeof label);
  memset(info, 0, sizeof *info);
  info->Version = (VERSION){1, 0};
  copy_text(info->Manufacturer, sizeof info->Manufacturer, "yzt-bridge virtual token");
  copy_text(info->Issuer, sizeof info->Issuer, "yzt-bridge demo");
  copy_text(info->Label, sizeof info->Label, label);
  copy_text(info->SerialNumber, sizeof info->SerialNumber, dev->serial);
  info->HWVersion = (VERSION){token.hardwareVersion.major, token.hardwareVersion.minor};
  info->FirmwareVersion = (VERSION){token.firmwareVersion.major, token.firmwareVersion.minor};
  info->AlgSymCap = SGD_SM4_ECB | SGD_SM4_CBC;
  info->AlgAsymCap = SGD_RSA | SGD_SM2_1 | SGD_SM2_3;
  info->AlgHashCap = 0; /* the library hashes nothing: callers pass e = SM3(Z||M) or a DigestInfo */
  info->DevAuthAlgId = SGD_SM4_ECB;
  info->TotalSpace = 64 * 1024;
  info->FreeSpace = 32 * 1024;
  info->MaxECCBufferSize = 1024;
  info->MaxBufferSize = 4096;
  return SAR_OK;
}

static ULONG get_dev_state(LPSTR name, ULONG *state) {
  if (!name || !state) return SAR_INVALIDPARAMERR;
  *state = present_slot_named(name) ? DEV_PRESENT_STATE : DEV_ABSENT_STATE;
  return SAR_OK;
}

/* One look for an insertion or removal since the last one reported; *found = 1 when there is one to report. */
static ULONG poll_event(LPSTR name, ULONG *name_len, ULONG *event, int *found) {
  int present[MAX_SLOTS];
  present_slots(present);
  *found = 0;
  if (!events_baseline) {
    for (int i = 0; i < slot_count; i++) {
      slots[i].known_present = present[i];
      if (present[i]) slot_serial(&slots[i]);
    }
    events_baseline = 1;
    return SAR_OK;
  }
  for (int i = 0; i < slot_count; i++) {
    if (present[i] == slots[i].known_present) continue;
    const char *serial = slot_serial(&slots[i]);
    if (!*serial) continue; /* pulled out again before it could be asked: the next look decides */
    ULONG needed = (ULONG)strlen(serial) + 1;
    if (!name || *name_len < needed) {
      *name_len = needed; /* the event stays pending for a call with room for the name */
      return SAR_BUFFER_TOO_SMALL;
    }
    memcpy(name, serial, needed);
    *name_len = written_length(needed, *name_len);
    *event = present[i] ? EVENT_INSERTED : EVENT_REMOVED;
    slots[i].known_present = present[i];
    *found = 1;
    return SAR_OK;
  }
  return SAR_OK;
}

/* ---------- applications and PINs ---------- */

static ULONG enum_application(DEVHANDLE h, LPSTR list, ULONG *size) {
  struct object *dev, *o;
  ULONG rv = use_handle(h, K_DEV, &o, &dev);
  if (rv != SAR_OK) return rv;
  static const char names[] = APPLICATION_NAME "\0"; /* plus the literal's own NUL: the list's closing one */
  return put_list(names, sizeof names, list, size);
}

static ULONG open_application(DEVHANDLE h, LPSTR name, HAPPLICATION *out) {
  struct object *dev, *o;
  ULONG rv = use_handle(h, K_DEV, &o, &dev);
  if (rv != SAR_OK) return rv;
  if (!name || !out) return SAR_INVALIDPARAMERR;
  if (strcmp(name, APPLICATION_NAME) != 0) return SAR_APPLICATION_NOT_EXISTS;
  struct object *app = new_object(K_APP, dev);
  if (!app) return SAR_MEMORYERR;
  *out = app;
  return SAR_OK;
}

static ULONG close_application(HAPPLICATION h) {
  struct object *app = find_object(h, K_APP);
  if (!app) return SAR_INVALIDHANDLEERR;
  struct object *dev = device_of(app);
  /* The application's security state ends with it: the next one asks for the PIN again. */
  if (!dev->dead) p11->C_Logout(dev->session);
  destroy(app);
  return SAR_OK;
}

/* Tries left of the user PIN (USER_TYPE) or the SO PIN (ADMIN_TYPE): exact when the shim exports its counter, else
 * from the PKCS#11 flags. */
static ULONG tries_left(struct object *dev, ULONG type, ULONG *left) {
  int admin = type == ADMIN_TYPE;
  CK_RV (*exact)(CK_SLOT_ID, CK_ULONG *) = admin ? shim_so_pin_retries : shim_pin_retries;
  CK_ULONG retries;
  if (exact) {
    CK_RV rv = exact(dev->slot, &retries);
    if (rv == CKR_OK) {
      *left = (ULONG)retries;
      return SAR_OK;
    }
    return sar_of(dev, rv);
  }
  CK_TOKEN_INFO info;
  ULONG rv = sar_of(dev, p11->C_GetTokenInfo(dev->slot, &info));
  if (rv != SAR_OK) return rv;
  CK_FLAGS locked = admin ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED, final_try = admin ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY,
           low = admin ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW;
  *left = info.flags & locked ? 0 : info.flags & final_try ? 1 : info.flags & low ? MAX_PIN_TRIES - 1 : MAX_PIN_TRIES;
  return SAR_OK;
}

static ULONG get_pin_info(HAPPLICATION h, ULONG type, ULONG *max, ULONG *remain, BOOL *is_default) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  if (!max || !remain || !is_default) return SAR_INVALIDPARAMERR;
  if (type != USER_TYPE && type != ADMIN_TYPE) return SAR_USER_TYPE_INVALID;
  CK_TOKEN_INFO info;
  if ((rv = sar_of(dev, p11->C_GetTokenInfo(dev->slot, &info))) != SAR_OK) return rv;
  ULONG left;
  if ((rv = tries_left(dev, type, &left)) != SAR_OK) return rv;
  *max = MAX_PIN_TRIES;
  *remain = left;
  *is_default = (info.flags & (type == USER_TYPE ? CKF_USER_PIN_TO_BE_CHANGED : CKF_SO_PIN_TO_BE_CHANGED)) ? 1 : 0;
  return SAR_OK;
}

/* Sets *retry after a PIN check that failed with rv (a wrong or locked PIN), leaving other failures alone. */
static ULONG pin_failure(struct object *dev, ULONG type, ULONG rv, ULONG *retry) {
  if (rv == SAR_PIN_LOCKED) *retry = 0;
  else if (rv == SAR_PIN_INCORRECT) {
    ULONG left;
    if (tries_left(dev, type, &left) != SAR_OK) left = 0;
    *retry = left;
    if (left == 0) rv = SAR_PIN_LOCKED;
  }
  return rv;
}

static ULONG verify_pin(HAPPLICATION h, ULONG type, LPSTR pin, ULONG *retry) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  if (!pin || !retry) return SAR_INVALIDPARAMERR;
  if (type != USER_TYPE && type != ADMIN_TYPE) return SAR_USER_TYPE_INVALID;
  /* A verification always checks the PIN: PKCS#11 would answer "already logged in" without looking at it. */
  p11->C_Logout(dev->session);
  rv = sar_of(dev, p11->C_Login(dev->session, type == USER_TYPE ? CKU_USER : CKU_SO, (CK_UTF8CHAR_PTR)pin, strlen(pin)));
  if (rv == SAR_OK) *retry = MAX_PIN_TRIES;
  return pin_failure(dev, type, rv, retry);
}

/* Logs the SO in with admin_pin for an administrative step; the caller logs out again. */
static ULONG so_login(struct object *dev, LPSTR admin_pin, ULONG *retry) {
  p11->C_Logout(dev->session);
  ULONG rv = sar_of(dev, p11->C_Login(dev->session, CKU_SO, (CK_UTF8CHAR_PTR)admin_pin, strlen(admin_pin)));
  return pin_failure(dev, ADMIN_TYPE, rv, retry);
}

static ULONG change_pin(HAPPLICATION h, ULONG type, LPSTR old_pin, LPSTR new_pin, ULONG *retry) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  if (!old_pin || !new_pin || !retry) return SAR_INVALIDPARAMERR;
  if (type == ADMIN_TYPE) {
    if ((rv = so_login(dev, old_pin, retry)) != SAR_OK) return rv;
    rv = sar_of(dev, p11->C_SetPIN(dev->session, (CK_UTF8CHAR_PTR)old_pin, strlen(old_pin), (CK_UTF8CHAR_PTR)new_pin, strlen(new_pin)));
    p11->C_Logout(dev->session);
    return rv;
  }
  if (type != USER_TYPE) return SAR_USER_TYPE_INVALID;
  /* C_SetPIN changes the user PIN in a public or user session (the shim counts a wrong old PIN), the SO's in an
   * SO session. */
  CK_SESSION_INFO info;
  if ((rv = sar_of(dev, p11->C_GetSessionInfo(dev->session, &info))) != SAR_OK) return rv;
  if (info.state == CKS_RW_SO_FUNCTIONS) p11->C_Logout(dev->session);
  rv = sar_of(dev, p11->C_SetPIN(dev->session, (CK_UTF8CHAR_PTR)old_pin, strlen(old_pin), (CK_UTF8CHAR_PTR)new_pin, strlen(new_pin)));
  if (rv == SAR_OK) *retry = MAX_PIN_TRIES;
  return pin_failure(dev, USER_TYPE, rv, retry);
}

static ULONG unblock_pin(HAPPLICATION h, LPSTR admin_pin, LPSTR new_user_pin, ULONG *retry) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  if (!admin_pin || !new_user_pin || !retry) return SAR_INVALIDPARAMERR;
  if ((rv = so_login(dev, admin_pin, retry)) != SAR_OK) return rv;
  /* What a service point does: SO login + C_InitPIN, which also resets the shim's retry counter. */
  rv = sar_of(dev, p11->C_InitPIN(dev->session, (CK_UTF8CHAR_PTR)new_user_pin, strlen(new_user_pin)));
  p11->C_Logout(dev->session);
  return rv;
}

static ULONG clear_secure_state(HAPPLICATION h) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  CK_RV crv = p11->C_Logout(dev->session);
  return crv == CKR_USER_NOT_LOGGED_IN ? SAR_OK : sar_of(dev, crv);
}

/* ---------- containers ---------- */

static ULONG enum_container(HAPPLICATION h, LPSTR list, ULONG *size) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  struct container_info infos[MAX_CERTS];
  int count;
  if ((rv = read_containers(dev, infos, MAX_CERTS, &count)) != SAR_OK) return rv;
  char buf[MAX_CERTS * MAX_NAME + 2];
  ULONG len = 0;
  for (int i = 0; i < count; i++) list_add(buf, sizeof buf, &len, infos[i].name);
  list_close(buf, &len);
  free_infos(infos, count);
  return put_list(buf, len, list, size);
}

/* A container handle takes what was read of its container (ownership of the certificates moves to it). */
static void adopt(struct object *con, struct container_info *info) {
  free_cert(&con->sign);
  free_cert(&con->enc);
  con->type = info->type;
  con->created = info->created;
  con->generation = write_generation;
  con->sign = info->sign;
  con->enc = info->enc;
  memset(&info->sign, 0, sizeof info->sign);
  memset(&info->enc, 0, sizeof info->enc);
}

/* Reads an open container again (after a write): SAR_CONTAINER_NOT_EXIST, and the handle dead, once it is gone. */
static ULONG reload_container(struct object *dev, struct object *con) {
  struct container_info infos[MAX_CERTS];
  int count;
  ULONG rv = read_containers(dev, infos, MAX_CERTS, &count);
  if (rv != SAR_OK) return rv;
  rv = SAR_CONTAINER_NOT_EXIST;
  for (int i = 0; i < count && rv != SAR_OK; i++) {
    if (strcmp(infos[i].name, con->name) != 0) continue;
    adopt(con, &infos[i]);
    rv = SAR_OK;
  }
  if (rv != SAR_OK) con->deleted = 1;
  free_infos(infos, count);
  return rv;
}

/* A handle on the application's container of that name, its keys and certificates read from the token. */
static ULONG container_handle(struct object *dev, struct object *app, const char *name, HCONTAINER *out) {
  struct object *con = new_object(K_CON, app);
  if (!con) return SAR_MEMORYERR;
  snprintf(con->name, sizeof con->name, "%s", name);
  ULONG rv = reload_container(dev, con);
  if (rv != SAR_OK) {
    destroy(con);
    return rv;
  }
  *out = con;
  return SAR_OK;
}

static ULONG open_container(HAPPLICATION h, LPSTR name, HCONTAINER *out) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  if (!name || !out) return SAR_INVALIDPARAMERR;
  return container_handle(dev, app, name, out);
}

static ULONG close_container(HCONTAINER h) {
  struct object *con = find_object(h, K_CON);
  if (!con) return SAR_INVALIDHANDLEERR;
  destroy(con);
  return SAR_OK;
}

static ULONG get_container_type(HCONTAINER h, ULONG *type) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!type) return SAR_INVALIDPARAMERR;
  *type = con->type;
  return SAR_OK;
}

static ULONG export_certificate(HCONTAINER h, BOOL sign, BYTE *out, ULONG *len) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!len) return SAR_INVALIDPARAMERR;
  const struct cert *c = sign ? &con->sign : &con->enc;
  if (!c->present) return SAR_CERTNOTFOUNTERR;
  ULONG actual = (ULONG)c->der_len;
  if (!out) {
    *len = actual;
    return SAR_OK;
  }
  if (*len < actual) {
    *len = actual;
    return SAR_BUFFER_TOO_SMALL;
  }
  memcpy(out, c->der, actual);
  *len = written_length(actual, *len);
  return SAR_OK;
}

/* Big-endian bn right-aligned in a field of size bytes. */
static int put_right_aligned(const BIGNUM *bn, BYTE *field, int size) {
  memset(field, 0, (size_t)size);
  return BN_num_bytes(bn) <= size && BN_bn2binpad(bn, field, size) == size;
}

static void ecc_blob_of_point(const unsigned char point[65], ECCPUBLICKEYBLOB *blob) {
  memset(blob, 0, sizeof *blob);
  blob->BitLen = 256;
  memcpy(blob->XCoordinate + ECC_FIELD - 32, point + 1, 32);
  memcpy(blob->YCoordinate + ECC_FIELD - 32, point + 33, 32);
}

static int rsa_blob_of(const BIGNUM *n, const BIGNUM *e, RSAPUBLICKEYBLOB *blob) {
  memset(blob, 0, sizeof *blob);
  blob->AlgID = SGD_RSA;
  blob->BitLen = (ULONG)BN_num_bits(n);
  return put_right_aligned(n, blob->Modulus, MAX_RSA_MODULUS_LEN) && put_right_aligned(e, blob->PublicExponent, MAX_RSA_EXPONENT_LEN);
}

/* The public key object of a container half. */
static ULONG public_key_of(struct object *dev, const struct cert *c, CK_OBJECT_HANDLE *key) {
  CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, (void *)c->id, c->id_len}};
  CK_ULONG count;
  CK_RV rv = find_all(dev, tmpl, 2, key, 1, &count);
  if (rv != CKR_OK) return sar_of(dev, rv);
  return count == 1 ? SAR_OK : SAR_KEYNOTFOUNTERR;
}

/* The public key blob of a half from its key object: what the key pair is, whatever certificate sits beside it. */
static ULONG blob_of_key(struct object *dev, ULONG type, const struct cert *c, BYTE *out) {
  CK_OBJECT_HANDLE key;
  ULONG rv = public_key_of(dev, c, &key);
  if (rv != SAR_OK) return rv;
  if (type == CONTAINER_RSA) {
    unsigned char *n_bytes = NULL, *e_bytes = NULL;
    CK_ULONG n_len = 0, e_len = 0;
    CK_RV crv = read_attribute(dev, key, CKA_MODULUS, &n_bytes, &n_len);
    if (crv == CKR_OK) crv = read_attribute(dev, key, CKA_PUBLIC_EXPONENT, &e_bytes, &e_len);
    BIGNUM *n = crv == CKR_OK ? BN_bin2bn(n_bytes, (int)n_len, NULL) : NULL, *e = crv == CKR_OK ? BN_bin2bn(e_bytes, (int)e_len, NULL) : NULL;
    RSAPUBLICKEYBLOB blob;
    rv = crv != CKR_OK ? sar_of(dev, crv) : n && e && rsa_blob_of(n, e, &blob) ? SAR_OK : SAR_FAIL;
    if (rv == SAR_OK) memcpy(out, &blob, sizeof blob);
    BN_free(n);
    BN_free(e);
    free(n_bytes);
    free(e_bytes);
    return rv;
  }
  unsigned char *value = NULL;
  CK_ULONG len = 0;
  CK_RV crv = read_attribute(dev, key, CKA_EC_POINT, &value, &len);
  if (crv != CKR_OK) return sar_of(dev, crv);
  /* CKA_EC_POINT is a DER OCTET STRING around 04 || x || y. */
  const unsigned char *point = len == 67 && value[0] == 0x04 && value[1] == 65 ? value + 2 : len == 65 ? value : NULL;
  int ok = point && point[0] == 0x04;
  if (ok) {
    ECCPUBLICKEYBLOB blob;
    ecc_blob_of_point(point, &blob);
    memcpy(out, &blob, sizeof blob);
  }
  free(value);
  return ok ? SAR_OK : SAR_FAIL;
}

/* The public key blob of a half from its certificate (a provisioned pair whose public key object is missing). */
static ULONG blob_of_cert(ULONG type, const struct cert *c, BYTE *out) {
  X509 *x = parse_cert(c);
  EVP_PKEY *key = x ? X509_get0_pubkey(x) : NULL;
  int ok = 0;
  if (key && type == CONTAINER_RSA) {
    BIGNUM *n = NULL, *e = NULL;
    RSAPUBLICKEYBLOB blob;
    ok = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) && rsa_blob_of(n, e, &blob);
    BN_free(n);
    BN_free(e);
    if (ok) memcpy(out, &blob, sizeof blob);
  } else if (key) {
    unsigned char point[65];
    size_t point_len = 0;
    ok = EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &point_len) && point_len == 65 &&
         point[0] == 0x04;
    if (ok) {
      ECCPUBLICKEYBLOB blob;
      ecc_blob_of_point(point, &blob);
      memcpy(out, &blob, sizeof blob);
    }
  }
  X509_free(x);
  return ok ? SAR_OK : SAR_FAIL;
}

static ULONG export_public_key(HCONTAINER h, BOOL sign, BYTE *out, ULONG *len) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!len) return SAR_INVALIDPARAMERR;
  const struct cert *c = sign ? &con->sign : &con->enc;
  if (!c->keyed && !c->present) return SAR_KEYNOTFOUNTERR;
  ULONG actual = con->type == CONTAINER_RSA ? sizeof(RSAPUBLICKEYBLOB) : sizeof(ECCPUBLICKEYBLOB);
  if (!out) {
    *len = actual;
    return SAR_OK;
  }
  if (*len < actual) {
    *len = actual;
    return SAR_BUFFER_TOO_SMALL;
  }
  if ((rv = c->keyed ? blob_of_key(dev, con->type, c, out) : blob_of_cert(con->type, c, out)) != SAR_OK) return rv;
  *len = GARBAGE ? 3 : actual;
  return SAR_OK;
}

/* ---------- signatures ---------- */

#ifndef VSKF_MISSING_EXPORT
static ULONG ecc_sign_data(HCONTAINER h, BYTE *data, ULONG data_len, ECCSIGNATUREBLOB *sig) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!data || !sig) return SAR_INVALIDPARAMERR;
  if (con->type != CONTAINER_ECC) return SAR_KEYUSAGEERR;
  if (data_len != 32) return SAR_INDATALENERR; /* e = SM3(Z||M): the caller hashes */
  CK_OBJECT_HANDLE key;
  if ((rv = private_key_of(dev, &con->sign, &key)) != SAR_OK) return rv;
  CK_MECHANISM mechanism = {CKM_VTOKEN_SM2, NULL, 0};
  CK_BYTE rs[64];
  CK_ULONG rs_len = sizeof rs;
  CK_RV crv = p11->C_SignInit(dev->session, &mechanism, key);
  if (crv == CKR_OK) crv = p11->C_Sign(dev->session, data, data_len, rs, &rs_len);
  if (crv != CKR_OK) return sar_of(dev, crv);
  if (rs_len != 64) return SAR_FAIL;
  memset(sig, 0, sizeof *sig);
  memcpy(sig->r + ECC_FIELD - 32, rs, 32);
  memcpy(sig->s + ECC_FIELD - 32, rs + 32, 32);
  return SAR_OK;
}
#endif

/* Modulus size in bytes of a half's RSA key (0 when unknown). */
static ULONG rsa_size(struct object *dev, const struct cert *c) {
  RSAPUBLICKEYBLOB blob;
  if ((c->keyed ? blob_of_key(dev, CONTAINER_RSA, c, (BYTE *)&blob) : blob_of_cert(CONTAINER_RSA, c, (BYTE *)&blob)) != SAR_OK) return 0;
  return (ULONG)((blob.BitLen + 7) / 8);
}

static ULONG rsa_sign_data(HCONTAINER h, BYTE *data, ULONG data_len, BYTE *sig, ULONG *sig_len) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!data || !sig_len) return SAR_INVALIDPARAMERR;
  if (con->type != CONTAINER_RSA) return SAR_KEYUSAGEERR;
  if (!con->sign.present && !con->sign.keyed) return SAR_KEYNOTFOUNTERR;
  ULONG size = rsa_size(dev, &con->sign);
  if (!size) return SAR_FAIL;
  if (data_len > size - 11) return SAR_INDATALENERR; /* PKCS#1 v1.5 padding needs 11 bytes */
  if (!sig) {
    *sig_len = size;
    return SAR_OK;
  }
  if (*sig_len < size) {
    *sig_len = size;
    return SAR_BUFFER_TOO_SMALL;
  }
  CK_OBJECT_HANDLE key;
  if ((rv = private_key_of(dev, &con->sign, &key)) != SAR_OK) return rv;
  CK_MECHANISM mechanism = {CKM_RSA_PKCS, NULL, 0};
  CK_ULONG out_len = *sig_len;
  CK_RV crv = p11->C_SignInit(dev->session, &mechanism, key);
  if (crv == CKR_OK) crv = p11->C_Sign(dev->session, data, data_len, sig, &out_len);
  if (crv != CKR_OK) return sar_of(dev, crv);
  *sig_len = written_length((ULONG)out_len, *sig_len);
  return SAR_OK;
}

/* ---------- SM2 decryption (session keys and the vendor extension) ---------- */

/*
 * ECCCIPHERBLOB (x, y right-aligned in 64-byte fields, C3 = HASH, C2 = Cipher) as the GM/T 0009 DER the shim's
 * CKM_VTOKEN_SM2_ENC takes. The coordinates must fit 256 bits: nothing but zeros left of them.
 */
static unsigned char *ecc_blob_to_der(const ECCCIPHERBLOB *blob, ULONG cipher_len, size_t *der_len) {
  for (int i = 0; i < ECC_FIELD - 32; i++)
    if (blob->XCoordinate[i] || blob->YCoordinate[i]) return NULL;
  return sm2_cipher_der(blob->XCoordinate + ECC_FIELD - 32, blob->YCoordinate + ECC_FIELD - 32, blob->HASH, blob->Cipher, cipher_len, der_len);
}

/* Decrypts with a private key through the shim: CKM_VTOKEN_SM2_ENC (DER in) or CKM_RSA_PKCS. */
static ULONG private_decrypt(struct object *dev, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE type, const unsigned char *in, size_t in_len,
                             unsigned char *out, CK_ULONG *out_len) {
  CK_MECHANISM mechanism = {type, NULL, 0};
  CK_RV rv = p11->C_DecryptInit(dev->session, &mechanism, key);
  if (rv == CKR_OK) rv = p11->C_Decrypt(dev->session, (CK_BYTE_PTR)in, (CK_ULONG)in_len, out, out_len);
  return sar_of(dev, rv);
}

/* The largest SM2 ciphertext accepted: a session key or a small secret, never bulk data. */
#define MAX_SM2_CIPHER (64 * 1024)

/* SM2-decrypts an ECCCIPHERBLOB with the container's encryption key into out (room: *out_len). */
static ULONG ecc_decrypt_blob(struct object *dev, struct object *con, const ECCCIPHERBLOB *blob, ULONG cipher_len, unsigned char *out,
                              CK_ULONG *out_len) {
  if (con->type != CONTAINER_ECC) return SAR_KEYUSAGEERR;
  if (cipher_len == 0 || cipher_len > MAX_SM2_CIPHER) return SAR_INDATALENERR;
  CK_OBJECT_HANDLE key;
  ULONG rv = private_key_of(dev, &con->enc, &key);
  if (rv != SAR_OK) return rv;
  size_t der_len;
  unsigned char *der = ecc_blob_to_der(blob, cipher_len, &der_len);
  if (!der) return SAR_INDATAERR;
  rv = private_decrypt(dev, key, CKM_VTOKEN_SM2_ENC, der, der_len, out, out_len);
  free(der);
  return rv;
}

static ULONG import_session_key(HCONTAINER h, ULONG alg, BYTE *wrapped, ULONG wrapped_len, HANDLE *out) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!wrapped || !out) return SAR_INVALIDPARAMERR;
  if (alg != SGD_SM4_ECB && alg != SGD_SM4_CBC) return SAR_NOTSUPPORTYETERR;
  unsigned char plain[512];
  CK_ULONG plain_len = sizeof plain;
  if (con->type == CONTAINER_ECC) {
    if (wrapped_len < ECC_CIPHER_HEADER) return SAR_INDATALENERR;
    const ECCCIPHERBLOB *blob = (const ECCCIPHERBLOB *)wrapped;
    ULONG cipher_len = blob->CipherLen;
    if (cipher_len > wrapped_len - ECC_CIPHER_HEADER) return SAR_INDATALENERR;
    rv = ecc_decrypt_blob(dev, con, blob, cipher_len, plain, &plain_len);
  } else {
    CK_OBJECT_HANDLE key;
    if ((rv = private_key_of(dev, &con->enc, &key)) == SAR_OK) rv = private_decrypt(dev, key, CKM_RSA_PKCS, wrapped, wrapped_len, plain, &plain_len);
  }
  if (rv == SAR_OK && plain_len != 16) rv = SAR_INDATAERR; /* an SM4 key is 16 bytes */
  struct object *key = rv == SAR_OK ? new_object(K_KEY, dev) : NULL;
  if (rv == SAR_OK && !key) rv = SAR_MEMORYERR;
  if (key) {
    key->alg = alg;
    memcpy(key->key, plain, 16);
    *out = key;
  }
  OPENSSL_cleanse(plain, sizeof plain);
  return rv;
}

static ULONG ecc_decrypt(HCONTAINER h, ECCCIPHERBLOB *blob, BYTE *out, ULONG *out_len) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!blob || !out_len) return SAR_INVALIDPARAMERR;
  ULONG cipher_len = blob->CipherLen;
  if (cipher_len == 0 || cipher_len > MAX_SM2_CIPHER) return SAR_INDATALENERR;
  /* SM2 plaintext is exactly as long as C2. */
  if (!out) {
    *out_len = GARBAGE ? GARBAGE_QUERY : cipher_len;
    return SAR_OK;
  }
  if (*out_len < cipher_len) {
    *out_len = cipher_len;
    return SAR_BUFFER_TOO_SMALL;
  }
  CK_ULONG plain_len = *out_len;
  if ((rv = ecc_decrypt_blob(dev, con, blob, cipher_len, out, &plain_len)) != SAR_OK) return rv;
  *out_len = written_length((ULONG)plain_len, *out_len);
  return SAR_OK;
}

/* ---------- the certificate life cycle: containers, key pairs, certificates ---------- */

static const CK_BBOOL ck_yes = CK_TRUE, ck_no = CK_FALSE;

/* Every write: the key in (use_handle saw to that), the user PIN verified, and the container as the key holds it now.
 * Every open container handle is out of date from here on (the writer's too, until it reads the result). */
static ULONG write_access(struct object *dev, struct object *con) {
  ULONG rv;
  if (!user_logged_in(dev, &rv)) return rv != SAR_OK ? rv : SAR_USER_NOT_LOGGED_IN;
  rv = con ? reload_container(dev, con) : SAR_OK;
  write_generation++;
  return rv;
}

/* Destroys every object of class cls with this CKA_ID. */
static ULONG destroy_objects(struct object *dev, CK_OBJECT_CLASS cls, const struct cert *c) {
  if (!c->id_len) return SAR_OK;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, (void *)c->id, c->id_len}};
  CK_OBJECT_HANDLE handles[MAX_CERTS];
  CK_ULONG n;
  CK_RV rv = find_all(dev, tmpl, 2, handles, MAX_CERTS, &n);
  for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) rv = p11->C_DestroyObject(dev->session, handles[i]);
  return sar_of(dev, rv);
}

/* Whether an object on the key, or a container in infos, already has this CKA_ID. */
static ULONG id_taken(struct object *dev, const struct container_info *infos, int count, const CK_BYTE *id, CK_ULONG id_len, int *taken) {
  *taken = 0;
  for (int i = 0; i < count && !*taken; i++)
    *taken = same_id(infos[i].sign.id, infos[i].sign.id_len, id, id_len) || same_id(infos[i].enc.id, infos[i].enc.id_len, id, id_len);
  if (*taken) return SAR_OK;
  CK_ATTRIBUTE tmpl[] = {{CKA_ID, (void *)id, id_len}};
  CK_OBJECT_HANDLE any;
  CK_ULONG found;
  CK_RV rv = find_all(dev, tmpl, 1, &any, 1, &found);
  *taken = found > 0;
  return sar_of(dev, rv);
}

/* The CKA_IDs of a new container's pairs: pair numbers 2n+1 and 2n+2 for the n-th container (the ids the host's
 * skfKeyId gives it), or the next free ones. */
static ULONG allocate_ids(struct object *dev, const struct container_info *infos, int count, struct cert *sign, struct cert *enc) {
  for (unsigned n = 2 * (unsigned)count + 1; n < 0xFFFF; n += 2) {
    pair_id(n, sign->id, &sign->id_len);
    pair_id(n + 1, enc->id, &enc->id_len);
    if (sign->id_len != enc->id_len) continue; /* both halves one length: 00ff/00ff and 0100/0100 do not pair */
    int taken;
    ULONG rv = id_taken(dev, infos, count, sign->id, sign->id_len, &taken);
    if (rv == SAR_OK && !taken) rv = id_taken(dev, infos, count, enc->id, enc->id_len, &taken);
    if (rv != SAR_OK || !taken) return rv;
  }
  return SAR_REACH_MAX_CONTAINER_COUNT;
}

static ULONG create_container(HAPPLICATION h, LPSTR name, HCONTAINER *out) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  if (!name || !out) return SAR_INVALIDPARAMERR;
  size_t name_len = strlen(name);
  if (name_len == 0 || name_len >= MAX_NAME) return SAR_NAMELENERR;
  if ((rv = write_access(dev, NULL)) != SAR_OK) return rv;
  struct container_info infos[MAX_CERTS];
  int count;
  if ((rv = read_containers(dev, infos, MAX_CERTS, &count)) != SAR_OK) return rv;
  struct cert sign, enc;
  memset(&sign, 0, sizeof sign);
  memset(&enc, 0, sizeof enc);
  for (int i = 0; i < count && rv == SAR_OK; i++)
    if (strcmp(infos[i].name, name) == 0) rv = SAR_FILE_ALREADY_EXIST;
  if (rv == SAR_OK && count >= MAX_CERTS) rv = SAR_REACH_MAX_CONTAINER_COUNT;
  if (rv == SAR_OK) rv = allocate_ids(dev, infos, count, &sign, &enc);
  free_infos(infos, count);
  if (rv != SAR_OK) return rv;

  CK_BYTE ids[2 * sizeof sign.id];
  memcpy(ids, sign.id, sign.id_len);
  memcpy(ids + sign.id_len, enc.id, enc.id_len);
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_ATTRIBUTE record[] = {
      {CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, (void *)&ck_yes, sizeof ck_yes}, {CKA_PRIVATE, (void *)&ck_no, sizeof ck_no},
      {CKA_APPLICATION, RECORD_APPLICATION, sizeof RECORD_APPLICATION - 1}, {CKA_LABEL, name, name_len}, {CKA_VALUE, ids, sign.id_len + enc.id_len},
  };
  CK_OBJECT_HANDLE created;
  if ((rv = sar_of(dev, p11->C_CreateObject(dev->session, record, sizeof record / sizeof *record, &created))) != SAR_OK) return rv;
  return container_handle(dev, app, name, out);
}

/* Certificates first, then private keys, public keys and the record: whenever the key is pulled out, what is left
 * never holds a certificate without its key pair. */
static ULONG delete_container(HAPPLICATION h, LPSTR name) {
  struct object *dev, *app;
  ULONG rv = use_handle(h, K_APP, &app, &dev);
  if (rv != SAR_OK) return rv;
  if (!name) return SAR_INVALIDPARAMERR;
  if ((rv = write_access(dev, NULL)) != SAR_OK) return rv;
  struct object *con = new_object(K_CON, app); /* a handle of our own, to read the container with */
  if (!con) return SAR_MEMORYERR;
  snprintf(con->name, sizeof con->name, "%s", name);
  rv = reload_container(dev, con);
  static const CK_OBJECT_CLASS order[] = {CKO_CERTIFICATE, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};
  for (size_t i = 0; rv == SAR_OK && i < sizeof order / sizeof *order; i++) {
    rv = destroy_objects(dev, order[i], &con->sign);
    if (rv == SAR_OK) rv = destroy_objects(dev, order[i], &con->enc);
  }
  if (rv == SAR_OK && con->created) {
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_APPLICATION, RECORD_APPLICATION, sizeof RECORD_APPLICATION - 1}, {CKA_LABEL, name, strlen(name)}};
    CK_OBJECT_HANDLE records[MAX_CERTS];
    CK_ULONG n;
    CK_RV crv = find_all(dev, tmpl, 3, records, MAX_CERTS, &n);
    for (CK_ULONG i = 0; crv == CKR_OK && i < n; i++) crv = p11->C_DestroyObject(dev->session, records[i]);
    rv = sar_of(dev, crv);
  }
  destroy(con); /* the caller's handles of the container find it gone when next used (see use_handle) */
  return rv;
}

/* Generates the container's signing pair with mechanism; public_extra: attributes the mechanism needs beside ours.
 * A container that has a signing pair (or certificate) keeps it: SAR_FILE_ALREADY_EXIST. */
static ULONG generate_signing_pair(struct object *dev, struct object *con, CK_MECHANISM *mechanism, const CK_ATTRIBUTE *public_extra, int extra_count) {
  ULONG rv = write_access(dev, con);
  if (rv != SAR_OK) return rv;
  struct cert *c = &con->sign;
  if (!c->id_len) return SAR_NOTSUPPORTYETERR; /* a provisioned container whose ids follow no scheme */
  if (c->keyed || c->present) return SAR_FILE_ALREADY_EXIST;
  CK_ULONG label_len = strlen(con->name);
  CK_ATTRIBUTE pub[8] = {
      {CKA_TOKEN, (void *)&ck_yes, sizeof ck_yes}, {CKA_PRIVATE, (void *)&ck_no, sizeof ck_no}, {CKA_ID, c->id, c->id_len},
      {CKA_LABEL, con->name, label_len}, {CKA_VERIFY, (void *)&ck_yes, sizeof ck_yes}, {CKA_ENCRYPT, (void *)&ck_no, sizeof ck_no},
  };
  CK_ULONG pub_count = 6;
  for (int i = 0; i < extra_count && pub_count < sizeof pub / sizeof *pub; i++) pub[pub_count++] = public_extra[i];
  CK_ATTRIBUTE priv[] = {
      {CKA_TOKEN, (void *)&ck_yes, sizeof ck_yes}, {CKA_PRIVATE, (void *)&ck_yes, sizeof ck_yes}, {CKA_SENSITIVE, (void *)&ck_yes, sizeof ck_yes},
      {CKA_EXTRACTABLE, (void *)&ck_no, sizeof ck_no}, {CKA_ID, c->id, c->id_len}, {CKA_LABEL, con->name, label_len},
      {CKA_SIGN, (void *)&ck_yes, sizeof ck_yes}, {CKA_DECRYPT, (void *)&ck_no, sizeof ck_no},
  };
  CK_OBJECT_HANDLE pub_key, priv_key;
  rv = sar_of(dev, p11->C_GenerateKeyPair(dev->session, mechanism, pub, pub_count, priv, sizeof priv / sizeof *priv, &pub_key, &priv_key));
  return rv == SAR_OK ? reload_container(dev, con) : rv;
}

static ULONG gen_ecc_key_pair(HCONTAINER h, ULONG alg, ECCPUBLICKEYBLOB *blob) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!blob) return SAR_INVALIDPARAMERR;
  if (alg != SGD_SM2_1) return SAR_NOTSUPPORTYETERR;
  CK_MECHANISM mechanism = {CKM_VTOKEN_SM2_KEY_PAIR_GEN, NULL, 0};
  if ((rv = generate_signing_pair(dev, con, &mechanism, NULL, 0)) != SAR_OK) return rv;
  return blob_of_key(dev, CONTAINER_ECC, &con->sign, (BYTE *)blob);
}

static ULONG gen_rsa_key_pair(HCONTAINER h, ULONG bits, RSAPUBLICKEYBLOB *blob) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!blob) return SAR_INVALIDPARAMERR;
  if (bits != 1024 && bits != 2048) return SAR_MODULUSLENERR; /* what RSAPUBLICKEYBLOB holds */
  CK_ULONG modulus_bits = bits;
  static const CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  CK_ATTRIBUTE extra[] = {{CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits}, {CKA_PUBLIC_EXPONENT, (void *)exponent, sizeof exponent}};
  CK_MECHANISM mechanism = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
  if ((rv = generate_signing_pair(dev, con, &mechanism, extra, 2)) != SAR_OK) return rv;
  return blob_of_key(dev, CONTAINER_RSA, &con->sign, (BYTE *)blob);
}

/* Stores a certificate in a half that has its key pair: the old certificate goes first, so a key pulled out in between
 * leaves the pair without a certificate, never two certificates. */
static ULONG store_certificate(struct object *dev, const struct object *con, const struct cert *c, X509 *x, BYTE *der, ULONG der_len) {
  unsigned char *subject = NULL, *issuer = NULL, *serial = NULL; /* DER, allocated by OpenSSL */
  int subject_len = i2d_X509_NAME(X509_get_subject_name(x), &subject), issuer_len = i2d_X509_NAME(X509_get_issuer_name(x), &issuer),
      serial_len = i2d_ASN1_INTEGER((ASN1_INTEGER *)X509_get0_serialNumber(x), &serial);
  ULONG rv = subject_len > 0 && issuer_len > 0 && serial_len > 0 ? destroy_objects(dev, CKO_CERTIFICATE, c) : SAR_INDATAERR;
  if (rv == SAR_OK) {
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE type = CKC_X_509;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls}, {CKA_CERTIFICATE_TYPE, &type, sizeof type}, {CKA_TOKEN, (void *)&ck_yes, sizeof ck_yes},
        {CKA_PRIVATE, (void *)&ck_no, sizeof ck_no}, {CKA_ID, (void *)c->id, c->id_len}, {CKA_LABEL, (void *)con->name, strlen(con->name)},
        {CKA_SUBJECT, subject, (CK_ULONG)subject_len}, {CKA_ISSUER, issuer, (CK_ULONG)issuer_len},
        {CKA_SERIAL_NUMBER, serial, (CK_ULONG)serial_len}, {CKA_VALUE, der, der_len},
    };
    CK_OBJECT_HANDLE created;
    rv = sar_of(dev, p11->C_CreateObject(dev->session, tmpl, sizeof tmpl / sizeof *tmpl, &created));
  }
  OPENSSL_free(subject);
  OPENSSL_free(issuer);
  OPENSSL_free(serial);
  return rv;
}

/* Stores (or replaces) a half's certificate. The key does not check that it certifies the pair (the host does), but
 * the pair must be there: SAR_KEYNOTFOUNTERR otherwise. */
static ULONG import_certificate(HCONTAINER h, BOOL sign, BYTE *der, ULONG der_len) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!der || der_len == 0 || der_len > INT_MAX) return SAR_INVALIDPARAMERR;
  const unsigned char *cursor = der;
  X509 *x = d2i_X509(NULL, &cursor, (long)der_len);
  if (!x || cursor != der + der_len) rv = SAR_INDATAERR; /* not one DER certificate */
  if (rv == SAR_OK) rv = write_access(dev, con);
  const struct cert *c = sign ? &con->sign : &con->enc;
  if (rv == SAR_OK && !c->keyed) rv = SAR_KEYNOTFOUNTERR;
  if (rv == SAR_OK) rv = store_certificate(dev, con, c, x, der, der_len);
  X509_free(x);
  return rv == SAR_OK ? reload_container(dev, con) : rv;
}

/* The blob as the shim's CKM_VTOKEN_SM2_ENVELOPED_KEY takes it, whatever this library's ULONG: 32-bit little-endian
 * ULONGs, packed, with the 16 bytes of the SM4 key's ciphertext. */
#define ENVELOPE_WIRE_LEN (372 + 16)

static BYTE *put_le32(BYTE *at, ULONG value) {
  for (int i = 0; i < 4; i++) at[i] = (BYTE)(value >> (8 * i));
  return at + 4;
}

static BYTE *put_bytes(BYTE *at, const BYTE *bytes, size_t len) {
  memcpy(at, bytes, len);
  return at + len;
}

static void envelope_wire(const ENVELOPEDKEYBLOB *blob, BYTE wire[ENVELOPE_WIRE_LEN]) {
  const ECCCIPHERBLOB *cipher = &blob->ECCCipherBlob;
  BYTE *at = put_le32(wire, blob->Version);
  at = put_le32(at, blob->ulSymmAlgID);
  at = put_le32(at, blob->ulBits);
  at = put_bytes(at, blob->cbEncryptedPriKey, sizeof blob->cbEncryptedPriKey);
  at = put_le32(at, blob->PubKey.BitLen);
  at = put_bytes(at, blob->PubKey.XCoordinate, ECC_FIELD);
  at = put_bytes(at, blob->PubKey.YCoordinate, ECC_FIELD);
  at = put_bytes(at, cipher->XCoordinate, ECC_FIELD);
  at = put_bytes(at, cipher->YCoordinate, ECC_FIELD);
  at = put_bytes(at, cipher->HASH, sizeof cipher->HASH);
  at = put_le32(at, cipher->CipherLen);
  put_bytes(at, cipher->Cipher, 16);
}

/*
 * Imports the container's encryption pair from a CA (see the header comment): the shim opens the envelope with the
 * signing key and creates the private key, or refuses a forged one having written nothing; then the public key.
 */
static ULONG import_ecc_key_pair(HCONTAINER h, ENVELOPEDKEYBLOB *blob) {
  struct object *dev, *con;
  ULONG rv = use_handle(h, K_CON, &con, &dev);
  if (rv != SAR_OK) return rv;
  if (!blob) return SAR_INVALIDPARAMERR;
  if (blob->ulSymmAlgID != SGD_SM4_ECB) return SAR_NOTSUPPORTYETERR; /* SM1 and SSF33 are not in OpenSSL */
  if (blob->ECCCipherBlob.CipherLen != 16) return SAR_INDATALENERR;  /* an SM4 key */
  if ((rv = write_access(dev, con)) != SAR_OK) return rv;
  const struct cert *enc = &con->enc;
  CK_OBJECT_HANDLE signer, key, pub_key;
  if (con->type != CONTAINER_ECC) return con->sign.keyed ? SAR_KEYUSAGEERR : SAR_KEYNOTFOUNTERR;
  if (!enc->id_len) return SAR_NOTSUPPORTYETERR;
  if (enc->keyed || enc->present) return SAR_FILE_ALREADY_EXIST;
  if ((rv = private_key_of(dev, &con->sign, &signer)) != SAR_OK) return rv;
  /* A private key alone is what an import cut short by the key's removal left: the new one takes its place. */
  if ((rv = destroy_objects(dev, CKO_PRIVATE_KEY, enc)) != SAR_OK) return rv;

  BYTE wire[ENVELOPE_WIRE_LEN];
  envelope_wire(blob, wire);
  CK_OBJECT_CLASS private_class = CKO_PRIVATE_KEY, public_class = CKO_PUBLIC_KEY;
  CK_KEY_TYPE type = CKK_VTOKEN_SM2;
  CK_ULONG label_len = strlen(con->name);
  CK_ATTRIBUTE priv[] = {
      {CKA_CLASS, &private_class, sizeof private_class}, {CKA_KEY_TYPE, &type, sizeof type}, {CKA_TOKEN, (void *)&ck_yes, sizeof ck_yes},
      {CKA_PRIVATE, (void *)&ck_yes, sizeof ck_yes}, {CKA_ID, (void *)enc->id, enc->id_len}, {CKA_LABEL, con->name, label_len},
      {CKA_DECRYPT, (void *)&ck_yes, sizeof ck_yes}, {CKA_SIGN, (void *)&ck_no, sizeof ck_no},
  };
  CK_MECHANISM mechanism = {CKM_VTOKEN_SM2_ENVELOPED_KEY, NULL, 0};
  CK_RV crv = p11->C_UnwrapKey(dev->session, &mechanism, signer, wire, sizeof wire, priv, sizeof priv / sizeof *priv, &key);
  OPENSSL_cleanse(wire, sizeof wire);
  if (crv != CKR_OK) return sar_of(dev, crv);

  BYTE point[2 + 65] = {0x04, 65, 0x04}; /* CKA_EC_POINT: a DER OCTET STRING around 04 || x || y */
  memcpy(point + 3, blob->PubKey.XCoordinate + ECC_FIELD - 32, 32);
  memcpy(point + 35, blob->PubKey.YCoordinate + ECC_FIELD - 32, 32);
  CK_ATTRIBUTE pub[] = {
      {CKA_CLASS, &public_class, sizeof public_class}, {CKA_KEY_TYPE, &type, sizeof type}, {CKA_TOKEN, (void *)&ck_yes, sizeof ck_yes},
      {CKA_PRIVATE, (void *)&ck_no, sizeof ck_no}, {CKA_ID, (void *)enc->id, enc->id_len}, {CKA_LABEL, con->name, label_len},
      {CKA_ENCRYPT, (void *)&ck_yes, sizeof ck_yes}, {CKA_VERIFY, (void *)&ck_no, sizeof ck_no}, {CKA_EC_POINT, point, sizeof point},
  };
  crv = p11->C_CreateObject(dev->session, pub, sizeof pub / sizeof *pub, &pub_key);
  if (crv != CKR_OK && !is_removal(crv)) p11->C_DestroyObject(dev->session, key); /* no private key alone */
  return crv == CKR_OK ? reload_container(dev, con) : sar_of(dev, crv);
}

/* ---------- SM4 with the session key ---------- */

static ULONG decrypt_init(HANDLE h, BLOCKCIPHERPARAM param) {
  struct object *dev, *key;
  ULONG rv = use_handle(h, K_KEY, &key, &dev);
  if (rv != SAR_OK) return rv;
  if (param.PaddingType > 1) return SAR_INVALIDPARAMERR;
  if (key->alg == SGD_SM4_CBC && param.IVLen != 16) return SAR_INVALIDPARAMERR;
  EVP_CIPHER_CTX_free(key->stream);
  key->stream = NULL;
  memset(key->iv, 0, sizeof key->iv);
  if (key->alg == SGD_SM4_CBC) memcpy(key->iv, param.IV, 16);
  key->padding = param.PaddingType == 1;
  key->active = 1;
  return SAR_OK;
}

static EVP_CIPHER_CTX *new_sm4_context(const struct object *key) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  const EVP_CIPHER *cipher = key->alg == SGD_SM4_CBC ? EVP_sm4_cbc() : EVP_sm4_ecb();
  if (!ctx || !EVP_DecryptInit_ex(ctx, cipher, NULL, key->key, key->alg == SGD_SM4_CBC ? key->iv : NULL) ||
      !EVP_CIPHER_CTX_set_padding(ctx, key->padding)) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static void end_decryption(struct object *key) {
  EVP_CIPHER_CTX_free(key->stream);
  key->stream = NULL;
  key->active = 0;
}

/*
 * One step of a decryption, run on a copy of the cipher state so that a size query or a too small buffer leaves
 * the operation where it was (the PKCS#11 convention, which SKF callers expect too). final: EVP final step.
 */
static ULONG sm4_step(struct object *key, int final, const BYTE *in, ULONG in_len, BYTE *out, ULONG *out_len, int *done) {
  *done = 0;
  EVP_CIPHER_CTX *trial = EVP_CIPHER_CTX_new();
  unsigned char *buf = malloc((size_t)in_len + 32);
  int len = 0, ok = trial && buf && EVP_CIPHER_CTX_copy(trial, key->stream);
  ULONG rv = SAR_OK;
  if (!ok) rv = SAR_MEMORYERR;
  else if (final ? !EVP_DecryptFinal_ex(trial, buf, &len) : !EVP_DecryptUpdate(trial, buf, &len, in, (int)in_len))
    rv = final && key->padding ? SAR_DECRYPTPADERR : SAR_INDATALENERR;
  if (rv == SAR_OK && !out) {
    *out_len = (ULONG)len; /* size query */
  } else if (rv == SAR_OK && *out_len < (ULONG)len) {
    *out_len = (ULONG)len;
    rv = SAR_BUFFER_TOO_SMALL;
  } else if (rv == SAR_OK) {
    memcpy(out, buf, (size_t)len);
    *out_len = (ULONG)len;
    EVP_CIPHER_CTX_free(key->stream); /* commit */
    key->stream = trial;
    trial = NULL;
    *done = 1;
  }
  if (buf) OPENSSL_cleanse(buf, (size_t)in_len + 32);
  free(buf);
  EVP_CIPHER_CTX_free(trial);
  return rv;
}

static ULONG decrypt(HANDLE h, BYTE *in, ULONG in_len, BYTE *out, ULONG *out_len) {
  struct object *dev, *key;
  ULONG rv = use_handle(h, K_KEY, &key, &dev);
  if (rv != SAR_OK) return rv;
  if (!key->active || key->stream) return SAR_NOTINITIALIZEERR; /* no DecryptInit, or a multi-part one running */
  if (!in || !out_len || in_len > INT_MAX - 32) return SAR_INVALIDPARAMERR;
  if (!out) {
    *out_len = GARBAGE ? GARBAGE_QUERY : in_len; /* the plaintext is at most as long */
    return SAR_OK;
  }
  if (!key->padding && in_len % 16) {
    end_decryption(key);
    return SAR_INDATALENERR;
  }
  /* Single part: the whole input through a fresh context, committed only if it fits the caller's buffer. */
  if (!(key->stream = new_sm4_context(key))) return SAR_MEMORYERR;
  ULONG room = *out_len, first = in_len + 32, last = 32;
  int done;
  unsigned char *plain = malloc((size_t)in_len + 32);
  if (!plain) {
    EVP_CIPHER_CTX_free(key->stream);
    key->stream = NULL;
    return SAR_MEMORYERR;
  }
  rv = sm4_step(key, 0, in, in_len, plain, &first, &done);
  if (rv == SAR_OK) rv = sm4_step(key, 1, NULL, 0, plain + first, &last, &done);
  if (rv == SAR_OK && first + last > room) {
    /* Too small: the operation stays initialised for a call with more room. */
    EVP_CIPHER_CTX_free(key->stream);
    key->stream = NULL;
    *out_len = first + last;
    rv = SAR_BUFFER_TOO_SMALL;
  } else {
    if (rv == SAR_OK) {
      memcpy(out, plain, first + last);
      *out_len = written_length(first + last, room);
    }
    end_decryption(key);
  }
  OPENSSL_cleanse(plain, (size_t)in_len + 32);
  free(plain);
  return rv;
}

static ULONG decrypt_update(HANDLE h, BYTE *in, ULONG in_len, BYTE *out, ULONG *out_len) {
  struct object *dev, *key;
  ULONG rv = use_handle(h, K_KEY, &key, &dev);
  if (rv != SAR_OK) return rv;
  if (!key->active) return SAR_NOTINITIALIZEERR;
  if ((!in && in_len) || !out_len || in_len > INT_MAX - 32) return SAR_INVALIDPARAMERR;
  if (!key->stream && !(key->stream = new_sm4_context(key))) return SAR_MEMORYERR;
  int done;
  ULONG room = *out_len;
  rv = sm4_step(key, 0, in ? in : (BYTE *)"", in_len, out, out_len, &done);
  if (done) *out_len = written_length(*out_len, room);
  if (rv != SAR_OK && rv != SAR_BUFFER_TOO_SMALL) end_decryption(key);
  return rv;
}

static ULONG decrypt_final(HANDLE h, BYTE *out, ULONG *out_len) {
  struct object *dev, *key;
  ULONG rv = use_handle(h, K_KEY, &key, &dev);
  if (rv != SAR_OK) return rv;
  if (!key->active) return SAR_NOTINITIALIZEERR;
  if (!out_len) return SAR_INVALIDPARAMERR;
  if (!key->stream && !(key->stream = new_sm4_context(key))) return SAR_MEMORYERR;
  int done;
  ULONG room = *out_len;
  rv = sm4_step(key, 1, NULL, 0, out, out_len, &done);
  if (done) *out_len = written_length(*out_len, room);
  if (done || (rv != SAR_OK && rv != SAR_BUFFER_TOO_SMALL)) end_decryption(key);
  return rv;
}

static ULONG close_handle(HANDLE h) {
  struct object *key = find_object(h, K_KEY);
  if (!key) return SAR_INVALIDHANDLEERR;
  destroy(key);
  return SAR_OK;
}

/* ---------- exports ---------- */

/* Every entry point: the global lock, the shim loaded, then the work. */
#define LOCKED(call)                          \
  do {                                        \
    pthread_mutex_lock(&g_lock);              \
    ULONG rv_ = load_locked();                \
    if (rv_ == SAR_OK) rv_ = (call);          \
    pthread_mutex_unlock(&g_lock);            \
    return rv_;                               \
  } while (0)

/* ---------- failure variants ---------- */

#ifdef VSKF_FAULT_CRASH_ENUM
/* "fault.armed" in the library's own directory. */
static int fault_armed(void) {
  Dl_info info;
  char path[PATH_MAX];
  if (!dladdr((void *)&fault_armed, &info) || !info.dli_fname) return 0;
  snprintf(path, sizeof path, "%s", info.dli_fname);
  char *slash = strrchr(path, '/');
  if (!slash || (size_t)(slash - path) + sizeof "/fault.armed" > sizeof path) return 0;
  memcpy(slash, "/fault.armed", sizeof "/fault.armed");
  return access(path, F_OK) == 0;
}
#endif

#if defined(VSKF_FAULT_CRASH_ENUM) || defined(VSKF_FAULT_CRASH_SIGN)
/* What a vendor library's bug does: a write through a NULL pointer (SIGSEGV), not a polite abort. */
static void crash(void) {
  volatile int *nowhere = NULL;
  *nowhere = 1;
}
#endif

#if defined(VSKF_FAULT_HANG_ENUM) || defined(VSKF_FAULT_HANG_SIGN) || defined(VSKF_FAULT_HANG_WAIT)
/* A call that never returns, whatever is cancelled around it. */
static void hang_forever(void) {
  for (;;) pause();
}
#endif

#ifdef VSKF_NOISY
#define NOISE(what) (printf("[vskf debug] %s\n", what), fflush(stdout))
#else
#define NOISE(what) ((void)0)
#endif

SKF_API ULONG SKF_EnumDev(BOOL bPresent, LPSTR szNameList, ULONG *pulSize) {
  NOISE("SKF_EnumDev");
#ifdef VSKF_FAULT_CRASH_ENUM
  if (fault_armed()) crash();
#endif
#ifdef VSKF_FAULT_HANG_ENUM
  hang_forever();
#endif
  (void)bPresent; /* a pulled-out USB key is unknown to the driver: both lists are the present keys */
  LOCKED(enum_dev(szNameList, pulSize));
}

SKF_API ULONG SKF_ConnectDev(LPSTR szName, DEVHANDLE *phDev) { LOCKED(connect_dev(szName, phDev)); }
SKF_API ULONG SKF_DisConnectDev(DEVHANDLE hDev) { LOCKED(disconnect_dev(hDev)); }
SKF_API ULONG SKF_GetDevInfo(DEVHANDLE hDev, DEVINFO *pDevInfo) { LOCKED(get_dev_info(hDev, pDevInfo)); }
SKF_API ULONG SKF_GetDevState(LPSTR szDevName, ULONG *pulDevState) { LOCKED(get_dev_state(szDevName, pulDevState)); }

/* Cancellation: its own lock and condition, so that a cancel never waits for a slow call into the shim. */
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond = PTHREAD_COND_INITIALIZER;
static int cancel_pending;

static int take_cancel(void) {
  pthread_mutex_lock(&wait_lock);
  int cancelled = cancel_pending;
  cancel_pending = 0;
  pthread_mutex_unlock(&wait_lock);
  return cancelled;
}

SKF_API ULONG SKF_WaitForDevEvent(LPSTR szDevName, ULONG *pulDevNameLen, ULONG *pulEvent) {
#ifdef VSKF_FAULT_HANG_WAIT
  hang_forever();
#endif
  if (!pulDevNameLen || !pulEvent) return SAR_INVALIDPARAMERR;
  for (;;) {
    if (take_cancel()) {
      *pulEvent = 0;
      *pulDevNameLen = 0;
      return SAR_NOT_EVENTERR;
    }
#ifdef VSKF_FAULT_CRASH_ENUM
    if (fault_armed()) crash(); /* its device watch enumerates too */
#endif
    pthread_mutex_lock(&g_lock);
    int found = 0;
    ULONG rv = load_locked();
    if (rv == SAR_OK) rv = poll_event(szDevName, pulDevNameLen, pulEvent, &found);
    pthread_mutex_unlock(&g_lock);
    if (rv != SAR_OK || found) return rv;
    /* Sleep outside g_lock, so the other threads' calls go on; a cancel cuts the sleep short. */
    pthread_mutex_lock(&wait_lock);
    if (!cancel_pending) {
      struct timespec deadline;
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_nsec += POLL_MS * 1000000L;
      if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&wait_cond, &wait_lock, &deadline);
    }
    pthread_mutex_unlock(&wait_lock);
  }
}

#ifndef VSKF_FAULT_HANG_WAIT
SKF_API ULONG SKF_CancelWaitForDevEvent(void) {
  pthread_mutex_lock(&wait_lock);
  cancel_pending = 1;
  pthread_cond_broadcast(&wait_cond);
  pthread_mutex_unlock(&wait_lock);
  return SAR_OK;
}
#endif

SKF_API ULONG SKF_EnumApplication(DEVHANDLE hDev, LPSTR szAppName, ULONG *pulSize) { LOCKED(enum_application(hDev, szAppName, pulSize)); }
SKF_API ULONG SKF_OpenApplication(DEVHANDLE hDev, LPSTR szAppName, HAPPLICATION *phApplication) {
  LOCKED(open_application(hDev, szAppName, phApplication));
}
SKF_API ULONG SKF_CloseApplication(HAPPLICATION hApplication) { LOCKED(close_application(hApplication)); }

SKF_API ULONG SKF_GetPINInfo(HAPPLICATION hApplication, ULONG ulPINType, ULONG *pulMaxRetryCount, ULONG *pulRemainRetryCount, BOOL *pbDefaultPin) {
  LOCKED(get_pin_info(hApplication, ulPINType, pulMaxRetryCount, pulRemainRetryCount, pbDefaultPin));
}
SKF_API ULONG SKF_VerifyPIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szPIN, ULONG *pulRetryCount) {
  LOCKED(verify_pin(hApplication, ulPINType, szPIN, pulRetryCount));
}
SKF_API ULONG SKF_ChangePIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szOldPin, LPSTR szNewPin, ULONG *pulRetryCount) {
  LOCKED(change_pin(hApplication, ulPINType, szOldPin, szNewPin, pulRetryCount));
}
SKF_API ULONG SKF_UnblockPIN(HAPPLICATION hApplication, LPSTR szAdminPIN, LPSTR szNewUserPIN, ULONG *pulRetryCount) {
  LOCKED(unblock_pin(hApplication, szAdminPIN, szNewUserPIN, pulRetryCount));
}
SKF_API ULONG SKF_ClearSecureState(HAPPLICATION hApplication) { LOCKED(clear_secure_state(hApplication)); }

SKF_API ULONG SKF_EnumContainer(HAPPLICATION hApplication, LPSTR szContainerName, ULONG *pulSize) {
  LOCKED(enum_container(hApplication, szContainerName, pulSize));
}
SKF_API ULONG SKF_OpenContainer(HAPPLICATION hApplication, LPSTR szContainerName, HCONTAINER *phContainer) {
  LOCKED(open_container(hApplication, szContainerName, phContainer));
}
SKF_API ULONG SKF_CloseContainer(HCONTAINER hContainer) { LOCKED(close_container(hContainer)); }
SKF_API ULONG SKF_GetContainerType(HCONTAINER hContainer, ULONG *pulContainerType) { LOCKED(get_container_type(hContainer, pulContainerType)); }
SKF_API ULONG SKF_ExportCertificate(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbCert, ULONG *pulCertLen) {
  LOCKED(export_certificate(hContainer, bSignFlag, pbCert, pulCertLen));
}
SKF_API ULONG SKF_ExportPublicKey(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbBlob, ULONG *pulBlobLen) {
  LOCKED(export_public_key(hContainer, bSignFlag, pbBlob, pulBlobLen));
}

/* The certificate life cycle: what a host needs to renew a certificate on the key. */
SKF_API ULONG SKF_CreateContainer(HAPPLICATION hApplication, LPSTR szContainerName, HCONTAINER *phContainer) {
  LOCKED(create_container(hApplication, szContainerName, phContainer));
}
SKF_API ULONG SKF_DeleteContainer(HAPPLICATION hApplication, LPSTR szContainerName) { LOCKED(delete_container(hApplication, szContainerName)); }
SKF_API ULONG SKF_GenECCKeyPair(HCONTAINER hContainer, ULONG ulAlgId, ECCPUBLICKEYBLOB *pBlob) { LOCKED(gen_ecc_key_pair(hContainer, ulAlgId, pBlob)); }
#ifndef VSKF_SM2_ONLY
SKF_API ULONG SKF_GenRSAKeyPair(HCONTAINER hContainer, ULONG ulBitsLen, RSAPUBLICKEYBLOB *pBlob) { LOCKED(gen_rsa_key_pair(hContainer, ulBitsLen, pBlob)); }
#endif
SKF_API ULONG SKF_ImportCertificate(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbCert, ULONG ulCertLen) {
  LOCKED(import_certificate(hContainer, bSignFlag, pbCert, ulCertLen));
}
SKF_API ULONG SKF_ImportECCKeyPair(HCONTAINER hContainer, ENVELOPEDKEYBLOB *pEnvelopedKeyBlob) { LOCKED(import_ecc_key_pair(hContainer, pEnvelopedKeyBlob)); }

/* The sign variants fail on the calling thread (the host's worker) before touching the lock. */
static void sign_fault(void) {
  NOISE("signing");
#ifdef VSKF_FAULT_CRASH_SIGN
  crash();
#endif
#ifdef VSKF_FAULT_HANG_SIGN
  hang_forever();
#endif
}

#ifndef VSKF_MISSING_EXPORT
SKF_API ULONG SKF_ECCSignData(HCONTAINER hContainer, BYTE *pbData, ULONG ulDataLen, ECCSIGNATUREBLOB *pSignature) {
  sign_fault();
  LOCKED(ecc_sign_data(hContainer, pbData, ulDataLen, pSignature));
}
#endif
#ifndef VSKF_SM2_ONLY
SKF_API ULONG SKF_RSASignData(HCONTAINER hContainer, BYTE *pbData, ULONG ulDataLen, BYTE *pbSignature, ULONG *pulSignLen) {
  sign_fault();
  LOCKED(rsa_sign_data(hContainer, pbData, ulDataLen, pbSignature, pulSignLen));
}

SKF_API ULONG SKF_ImportSessionKey(HCONTAINER hContainer, ULONG ulAlgId, BYTE *pbWrapedData, ULONG ulWrapedLen, HANDLE *phKey) {
  LOCKED(import_session_key(hContainer, ulAlgId, pbWrapedData, ulWrapedLen, phKey));
}
SKF_API ULONG SKF_DecryptInit(HANDLE hKey, BLOCKCIPHERPARAM DecryptParam) { LOCKED(decrypt_init(hKey, DecryptParam)); }
SKF_API ULONG SKF_Decrypt(HANDLE hKey, BYTE *pbEncryptedData, ULONG ulEncryptedLen, BYTE *pbData, ULONG *pulDataLen) {
  LOCKED(decrypt(hKey, pbEncryptedData, ulEncryptedLen, pbData, pulDataLen));
}
SKF_API ULONG SKF_DecryptUpdate(HANDLE hKey, BYTE *pbEncryptedData, ULONG ulEncryptedLen, BYTE *pbData, ULONG *pulDataLen) {
  LOCKED(decrypt_update(hKey, pbEncryptedData, ulEncryptedLen, pbData, pulDataLen));
}
SKF_API ULONG SKF_DecryptFinal(HANDLE hKey, BYTE *pbDecryptedData, ULONG *pulDecryptedDataLen) {
  LOCKED(decrypt_final(hKey, pbDecryptedData, pulDecryptedDataLen));
}
SKF_API ULONG SKF_CloseHandle(HANDLE hHandle) { LOCKED(close_handle(hHandle)); }
#endif /* VSKF_SM2_ONLY */

/* Vendor extensions: SM2 decryption of an ECCCIPHERBLOB with the container's encryption key. */
SKF_API ULONG SKF_ECCDecrypt(HCONTAINER hContainer, ECCCIPHERBLOB *pCipherText, BYTE *pbPlainText, ULONG *pulPlainTextLen) {
  LOCKED(ecc_decrypt(hContainer, pCipherText, pbPlainText, pulPlainTextLen));
}
SKF_API ULONG SKF_ECCPrvKeyDecrypt(HCONTAINER hContainer, ECCCIPHERBLOB *pCipherText, BYTE *pbPlainText, ULONG *pulPlainTextLen) {
  LOCKED(ecc_decrypt(hContainer, pCipherText, pbPlainText, pulPlainTextLen));
}
