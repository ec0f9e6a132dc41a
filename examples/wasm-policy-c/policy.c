/*
 * Example WASM policy in C, implementing policy ABI v1 (sdk/ABI.md) by hand: no libc, no
 * SDK, no binding generator. Built by sdk/build-wasm.sh with
 *   clang-14 --target=wasm32-unknown-unknown -nostdlib -O2 ... -o wasm-policy-c.wasm policy.c
 *
 * WASM002: image metadata must configure a non-root user.
 *   An image whose config has no User, an empty User, `root` or UID 0 (with or without a
 *   group) runs its containers as root unless every deployment overrides it. The finding
 *   points at `/user` (or at the document when the field is absent).
 *
 * Memory ownership follows the ABI: policy_alloc hands out buffers from a bump allocator,
 * replies are allocated the same way and stay valid until the instance is dropped, and
 * policy_dealloc is a no-op (the host uses a fresh instance per evaluation).
 */

typedef unsigned int u32;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(name)))

/* ---- allocation ------------------------------------------------------------------ */

extern unsigned char __heap_base;
static u32 heap_next;

static void *alloc_bytes(u32 len) {
    if (heap_next == 0) heap_next = (u32)&__heap_base;
    u32 start = (heap_next + 7u) & ~7u;
    u32 end = start + len;
    if (end < start) return 0;
    u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
    if (end > have) {
        u32 pages = (end - have + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (unsigned long)-1) return 0;
    }
    heap_next = end;
    return (void *)start;
}

EXPORT("policy_alloc") int policy_alloc(int len) {
    if (len <= 0) return 0;
    return (int)(u32)alloc_bytes((u32)len);
}

EXPORT("policy_dealloc") void policy_dealloc(int ptr, int len) {
    (void)ptr;
    (void)len;
}

EXPORT("policy_abi_version") int policy_abi_version(void) { return 1; }

/* ---- replies --------------------------------------------------------------------- */

static u32 str_len(const char *s) {
    u32 n = 0;
    while (s[n]) n++;
    return n;
}

static long long pack(const char *ptr, u32 len) {
    return (long long)(((u64)(u32)ptr << 32) | (u64)len);
}

typedef struct {
    char *buf;
    u32 len, cap;
} Out;

static void put(Out *o, const char *s, u32 n) {
    for (u32 i = 0; i < n && o->len < o->cap; i++) o->buf[o->len++] = s[i];
}

static void puts_(Out *o, const char *s) { put(o, s, str_len(s)); }

/* Appends `s` as the inside of a JSON string (quotes, backslashes and controls escaped). */
static void put_escaped(Out *o, const char *s, u32 n) {
    static const char hex[] = "0123456789abcdef";
    for (u32 i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(o, e, 6);
        } else {
            put(o, (const char *)&s[i], 1);
        }
    }
}

static const char METADATA[] =
    "{\"name\":\"wasm-policy-c\",\"rules\":[{"
    "\"id\":\"WASM002\","
    "\"title\":\"Image must configure a non-root user\","
    "\"description\":\"An image whose config has no User, an empty User, root or UID 0 runs its "
    "containers as root unless every deployment overrides it.\","
    "\"severity\":\"high\","
    "\"kinds\":[\"image\"],"
    "\"remediation\":\"Rebuild the image with `USER <non-root user>` (e.g. `USER 10001`) at the end "
    "of its final stage.\","
    "\"references\":[\"https://docs.docker.com/reference/dockerfile/#user\"]}]}";

EXPORT("policy_metadata") long long policy_metadata(void) {
    return pack(METADATA, sizeof(METADATA) - 1);
}

static long long reply_const(const char *s) { return pack(s, str_len(s)); }

/* ---- a minimal JSON reader: enough to find keys of the top-level objects ---------- */

typedef struct {
    const char *p, *end;
} Cur;

static void skip_ws(Cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

/* Skips a string starting at the opening quote; 0 on malformed input. */
static int skip_string(Cur *c) {
    if (c->p >= c->end || *c->p != '"') return 0;
    c->p++;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '\\') {
            if (c->p >= c->end) return 0;
            c->p++;
        } else if (ch == '"') {
            return 1;
        }
    }
    return 0;
}

static int skip_value(Cur *c, int depth) {
    skip_ws(c);
    if (c->p >= c->end || depth > 128) return 0;
    char ch = *c->p;
    if (ch == '"') return skip_string(c);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return 1;
        }
        for (;;) {
            if (ch == '{') {
                skip_ws(c);
                if (!skip_string(c)) return 0;
                skip_ws(c);
                if (c->p >= c->end || *c->p != ':') return 0;
                c->p++;
            }
            if (!skip_value(c, depth + 1)) return 0;
            skip_ws(c);
            if (c->p >= c->end) return 0;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p == close) {
                c->p++;
                return 1;
            }
            return 0;
        }
    }
    /* number, true, false, null */
    const char *start = c->p;
    while (c->p < c->end && *c->p != ',' && *c->p != '}' && *c->p != ']' && *c->p != ' ' &&
           *c->p != '\n' && *c->p != '\r' && *c->p != '\t')
        c->p++;
    return c->p > start;
}

/* Decodes the string at the cursor into buf (ASCII escapes only); -1 on error/overflow. */
static int read_string(Cur *c, char *buf, u32 cap) {
    if (c->p >= c->end || *c->p != '"') return -1;
    c->p++;
    u32 n = 0;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"') return (int)n;
        if (ch == '\\') {
            if (c->p >= c->end) return -1;
            char e = *c->p++;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u': {
                u32 v = 0;
                for (int i = 0; i < 4; i++) {
                    if (c->p >= c->end) return -1;
                    char h = *c->p++;
                    v = v * 16 + (u32)(h >= '0' && h <= '9' ? h - '0'
                                       : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                       : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
                }
                ch = v < 0x80 ? (char)v : '?';
                break;
            }
            default: ch = e;
            }
        }
        if (n >= cap) return -1;
        buf[n++] = ch;
    }
    return -1;
}

/* Positions the cursor at the value of `key` in the object at the cursor; 0 if absent. */
static int find_key(Cur obj, const char *key, Cur *value) {
    skip_ws(&obj);
    if (obj.p >= obj.end || *obj.p != '{') return 0;
    obj.p++;
    u32 klen = str_len(key);
    for (;;) {
        skip_ws(&obj);
        if (obj.p >= obj.end || *obj.p == '}') return 0;
        char name[64];
        int n = read_string(&obj, name, sizeof name);
        skip_ws(&obj);
        if (obj.p >= obj.end || *obj.p != ':') return 0;
        obj.p++;
        skip_ws(&obj);
        int same = n == (int)klen;
        for (int i = 0; same && i < n; i++) same = name[i] == key[i];
        if (same) {
            *value = obj;
            return 1;
        }
        if (!skip_value(&obj, 0)) return 0;
        skip_ws(&obj);
        if (obj.p < obj.end && *obj.p == ',') obj.p++;
    }
}

static int is_root(const char *user, int n) {
    int end = 0;
    while (end < n && user[end] != ':') end++;
    if (end == 4 && user[0] == 'r' && user[1] == 'o' && user[2] == 'o' && user[3] == 't') return 1;
    if (end == 0) return 0;
    for (int i = 0; i < end; i++)
        if (user[i] != '0') return 0;
    return 1;
}

/* ---- the rule -------------------------------------------------------------------- */

EXPORT("policy_evaluate") long long policy_evaluate(int ptr, int len) {
    Cur req = {(const char *)(u32)ptr, (const char *)(u32)ptr + (u32)len};
    Cur v;
    char kind[32];
    if (!find_key(req, "kind", &v) || read_string(&v, kind, sizeof kind) != 5 ||
        kind[0] != 'i' || kind[1] != 'm' || kind[2] != 'a' || kind[3] != 'g' || kind[4] != 'e')
        return reply_const("{\"findings\":[]}");
    Cur doc;
    if (!find_key(req, "document", &doc) || *doc.p != '{')
        return reply_const("{\"error\":\"the image document is not a JSON object\"}");

    Out o = {0, 0, 1024};
    o.buf = alloc_bytes(o.cap);
    if (!o.buf) return reply_const("{\"error\":\"out of memory\"}");

    Cur user;
    if (!find_key(doc, "user", &user) || *user.p == 'n') {
        puts_(&o, "{\"findings\":[{\"rule\":\"WASM002\",\"path\":[],\"msg\":\"The image config sets no "
                  "USER, so its containers run as root. Rebuild it with `USER <non-root user>` (e.g. "
                  "`USER 10001`) at the end of the final stage.\"}]}");
        return pack(o.buf, o.len);
    }
    char name[128];
    int n = read_string(&user, name, sizeof name);
    if (n < 0) return reply_const("{\"error\":\"image `user` is not a string (or longer than 128 bytes)\"}");
    if (n > 0 && !is_root(name, n)) return reply_const("{\"findings\":[]}");

    puts_(&o, "{\"findings\":[{\"rule\":\"WASM002\",\"path\":[\"user\"],\"msg\":\"");
    if (n == 0) {
        puts_(&o, "The image config sets an empty USER, so its containers run as root.");
    } else {
        puts_(&o, "The image config sets USER `");
        put_escaped(&o, name, (u32)n);
        puts_(&o, "`, which is root.");
    }
    puts_(&o, " Rebuild it with `USER <non-root user>` (e.g. `USER 10001`) at the end of the final "
              "stage.\"}]}");
    return pack(o.buf, o.len);
}
