/*
 * yzt-bridge virtual token: a PKCS#11 module that forwards to SoftHSM2 and adds what a real USB key does
 * and SoftHSM cannot: being pulled out, locking the PIN after 10 wrong tries, and being slow.
 *
 * State lives in files so tests and the `vtoken` CLI can drive it from outside the process:
 *   $HOME/softhsm2.conf                 SoftHSM configuration used by this module
 *   $HOME/state/<serial>/removed        exists => the key is pulled out
 *   $HOME/state/<serial>/retries        user-PIN tries left (absent => 10)
 *   $HOME/state/<serial>/latency-ms     extra delay for each signature
 *   $HOME/serial-map                    "<SoftHSM serial> <serial to report>" lines: SoftHSM picks random
 *                                       serials, real keys have fixed printed ones
 * $HOME is $YZT_VTOKEN_HOME, else the directory holding this library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>

#define MAX_SLOTS 32
#define MAX_SESSIONS 1024
#define MAX_PIN_TRIES 10
#define MANUFACTURER "yzt-bridge virtual token"
#define MODEL "VTOKEN-1"

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

static void forget_sessions_of(CK_SLOT_ID id) {
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (sessions[i].used && sessions[i].slot == id) sessions[i].used = 0;
}

/* Reads the removal file; on a present -> removed transition the key's sessions die, as on real hardware. */
static int refresh(struct slot_state *s) {
  int present = !file_exists(s, "removed");
  if (s->present && !present) {
    s->generation++;
    real->C_CloseAllSessions(s->id);
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
      session->used = 0;
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

static void trimmed(const CK_UTF8CHAR *field, size_t size, char *out, size_t out_size) {
  size_t n = size;
  while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == 0)) n--;
  if (n >= out_size) n = out_size - 1;
  memcpy(out, field, n);
  out[n] = 0;
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

/* Slow-key simulation: waits in 10 ms slices and gives up as soon as the key is pulled out. */
static CK_RV simulate_latency(struct slot_state *s) {
  if (!s) return CKR_OK;
  pthread_mutex_lock(&lock);
  int remaining = read_int_file(s, "latency-ms", 0);
  pthread_mutex_unlock(&lock);
  while (remaining > 0) {
    int step = remaining < 10 ? remaining : 10;
    sleep_ms(step);
    remaining -= step;
    pthread_mutex_lock(&lock);
    int present = refresh(s);
    pthread_mutex_unlock(&lock);
    if (!present) return CKR_DEVICE_REMOVED;
  }
  return CKR_OK;
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
  memset(sessions, 0, sizeof sessions);
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
  memset(sessions, 0, sizeof sessions);
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
  int retries = read_int_file(s, "retries", MAX_PIN_TRIES);
  pthread_mutex_unlock(&lock);
  info->flags &= ~(CK_FLAGS)(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
  if (retries < MAX_PIN_TRIES) info->flags |= CKF_USER_PIN_COUNT_LOW;
  if (retries == 1) info->flags |= CKF_USER_PIN_FINAL_TRY;
  if (retries <= 0) info->flags |= CKF_USER_PIN_LOCKED;
  pad_copy(info->manufacturerID, sizeof info->manufacturerID, MANUFACTURER);
  pad_copy(info->model, sizeof info->model, MODEL);
  pad_copy(info->serialNumber, sizeof info->serialNumber, s->serial);
  return CKR_OK;
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

static CK_RV w_GetMechanismList(CK_SLOT_ID id, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
  CK_RV rv = check_slot(id, NULL);
  return rv != CKR_OK ? rv : real->C_GetMechanismList(id, list, count);
}

static CK_RV w_GetMechanismInfo(CK_SLOT_ID id, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
  CK_RV rv = check_slot(id, NULL);
  return rv != CKR_OK ? rv : real->C_GetMechanismInfo(id, type, info);
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
      sessions[i] = (struct session_state){*handle, id, s->generation, 1};
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
  if (session) session->used = 0;
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

static CK_RV count_pin_result(struct slot_state *s, CK_RV rv) {
  pthread_mutex_lock(&lock);
  if (rv == CKR_PIN_INCORRECT) {
    int retries = read_int_file(s, "retries", MAX_PIN_TRIES) - 1;
    write_int_file(s, "retries", retries < 0 ? 0 : retries);
    if (retries <= 0) rv = CKR_PIN_LOCKED;
  } else if (rv == CKR_OK) {
    write_int_file(s, "retries", MAX_PIN_TRIES);
  }
  pthread_mutex_unlock(&lock);
  return rv;
}

static int pin_locked(struct slot_state *s) {
  pthread_mutex_lock(&lock);
  int locked = read_int_file(s, "retries", MAX_PIN_TRIES) <= 0;
  pthread_mutex_unlock(&lock);
  return locked;
}

static CK_RV w_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  if (user != CKU_USER || !s) return real->C_Login(h, user, pin, len);
  if (pin_locked(s)) return CKR_PIN_LOCKED;
  return count_pin_result(s, real->C_Login(h, user, pin, len));
}

static CK_RV w_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  CK_SESSION_INFO info;
  int so = real->C_GetSessionInfo(h, &info) == CKR_OK && info.state == CKS_RW_SO_FUNCTIONS;
  if (so || !s) return real->C_SetPIN(h, old_pin, old_len, new_pin, new_len);
  if (pin_locked(s)) return CKR_PIN_LOCKED;
  return count_pin_result(s, real->C_SetPIN(h, old_pin, old_len, new_pin, new_len));
}

static CK_RV w_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  rv = real->C_InitPIN(h, pin, len);
  if (rv == CKR_OK && s) count_pin_result(s, CKR_OK); /* the unlock path: SO resets the user PIN */
  return rv;
}

/* ---------- signing with optional latency ---------- */

static CK_RV w_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  if (sig && (rv = simulate_latency(s)) != CKR_OK) return rv;
  return real->C_Sign(h, data, len, sig, sig_len);
}

static CK_RV w_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  struct slot_state *s;
  CK_RV rv = check_session(h, &s);
  if (rv != CKR_OK) return rv;
  if (sig && (rv = simulate_latency(s)) != CKR_OK) return rv;
  return real->C_SignFinal(h, sig, sig_len);
}

/* ---------- every other session call: refuse once the key is gone ---------- */

#define GUARD(name, params, args)             \
  static CK_RV w_##name params {              \
    CK_RV rv = check_session(hSession, NULL); \
    return rv != CKR_OK ? rv : real->C_##name args; \
  }

GUARD(GetSessionInfo, (CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR a), (hSession, a))
GUARD(Logout, (CK_SESSION_HANDLE hSession), (hSession))
GUARD(CreateObject, (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR a, CK_ULONG b, CK_OBJECT_HANDLE_PTR c), (hSession, a, b, c))
GUARD(DestroyObject, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE a), (hSession, a))
GUARD(GetAttributeValue, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (hSession, a, b, c))
GUARD(SetAttributeValue, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE a, CK_ATTRIBUTE_PTR b, CK_ULONG c), (hSession, a, b, c))
GUARD(FindObjectsInit, (CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR a, CK_ULONG b), (hSession, a, b))
GUARD(FindObjects, (CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR a, CK_ULONG b, CK_ULONG_PTR c), (hSession, a, b, c))
GUARD(FindObjectsFinal, (CK_SESSION_HANDLE hSession), (hSession))
GUARD(SignInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR a, CK_OBJECT_HANDLE b), (hSession, a, b))
GUARD(SignUpdate, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR a, CK_ULONG b), (hSession, a, b))
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

static CK_RV w_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  CK_RV rv = check_session(hSession, NULL);
  if (rv != CKR_OK) return rv;
  if (unsupported_oaep(mechanism)) return CKR_MECHANISM_PARAM_INVALID;
  return real->C_DecryptInit(hSession, mechanism, key);
}

static CK_RV w_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  CK_RV rv = check_session(hSession, NULL);
  if (rv != CKR_OK) return rv;
  if (unsupported_oaep(mechanism)) return CKR_MECHANISM_PARAM_INVALID;
  return real->C_EncryptInit(hSession, mechanism, key);
}
GUARD(Decrypt, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c, CK_ULONG_PTR d), (hSession, a, b, c, d))
GUARD(DigestInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR a), (hSession, a))
GUARD(Digest, (CK_SESSION_HANDLE hSession, CK_BYTE_PTR a, CK_ULONG b, CK_BYTE_PTR c, CK_ULONG_PTR d), (hSession, a, b, c, d))
GUARD(GenerateKeyPair, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR a, CK_ATTRIBUTE_PTR b, CK_ULONG c, CK_ATTRIBUTE_PTR d, CK_ULONG e, CK_OBJECT_HANDLE_PTR f, CK_OBJECT_HANDLE_PTR g), (hSession, a, b, c, d, e, f, g))
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
    USE(CreateObject); USE(DestroyObject); USE(GetAttributeValue); USE(SetAttributeValue);
    USE(FindObjectsInit); USE(FindObjects); USE(FindObjectsFinal);
    USE(SignInit); USE(Sign); USE(SignUpdate); USE(SignFinal); USE(VerifyInit); USE(Verify);
    USE(EncryptInit); USE(Encrypt); USE(DecryptInit); USE(Decrypt); USE(DigestInit); USE(Digest);
    USE(GenerateKeyPair); USE(GenerateRandom);
#undef USE
    shim_ready = 1;
  }
  pthread_mutex_unlock(&lock);
  if (rv != CKR_OK) return rv;
  *list = &shim;
  return CKR_OK;
}
