/* A non-Python implementation of four genspec clauses, checked with genspec's golden vectors.
 *
 *   cc -std=c99 -O2 -o golden golden.c -lm            (add -DPLANTED_BUG to plant a convention slip in schedule.shift)
 *   ./golden GOLDEN_DIR RESULTS_DIR                    reads GOLDEN_DIR/<clause>/<dtype>/<variant>.txt,
 *                                                      writes RESULTS_DIR/<dtype>/<clause>.json
 *   genspec golden check GOLDEN_DIR RESULTS_DIR --dtype float32
 *
 * Each output is computed in double and rounded once to the run's dtype (float32, or bfloat16 by round-to-nearest-
 * even on the float32 bits), as an implementation that accumulates in double would. Results are written with
 * printf's %a (exact hex floats), which genspec reads back exactly.
 *
 * Clauses and the convention variant this implementation declares:
 *   cfg.combine       form=scale        v_cfg = v_null + s (v_y - v_null)
 *   rf.interpolation  time=data_at_0    x_t = (1 - t) x + t z, t one per row
 *   schedule.shift    (none)            t' = s t / ((1 - t) + s t)
 *   vae.kl            reduction=sum_last KL = -1/2 sum_last (1 + logvar - mu^2 - exp(logvar))
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAXARG 16
#define MAXDIM 8

typedef struct {
    char kind[8];   /* "in" or "out" */
    char name[64];
    char type;      /* f float, i integer, b 0/1, s string, n none, F field (its A and b follow as name.A, name.b) */
    int ndim;
    long dims[MAXDIM];
    long size;
    double *v;      /* values (integers too) */
    char str[64];
} Value;

typedef struct {
    char id[32];
    int n;
    Value a[MAXARG];
} Case;

static void die(const char *msg, const char *what) {
    fprintf(stderr, "golden_c: %s %s\n", msg, what ? what : "");
    exit(2);
}

/* ---- reading the flat text goldens -------------------------------------------------------------------------- */
static int read_value(FILE *f, Value *x) {
    if (fscanf(f, "%63s %c %d", x->name, &x->type, &x->ndim) != 3 || x->ndim > MAXDIM) die("bad value header", x->name);
    x->size = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (fscanf(f, "%ld", &x->dims[d]) != 1) die("bad shape of", x->name);
        x->size *= x->dims[d];
    }
    x->v = NULL;
    if (x->type == 's' || x->type == 'F') return fscanf(f, "%63s", x->str) == 1; /* a string; a field's kind */
    if (x->type == 'n') return 1;
    x->v = malloc(sizeof(double) * (size_t)(x->size ? x->size : 1));
    for (long k = 0; k < x->size; k++) {
        char tok[64];
        if (fscanf(f, "%63s", tok) != 1) die("missing values of", x->name);
        x->v[k] = strtod(tok, NULL); /* C99 strtod reads 0x1.8p+1, nan, inf */
    }
    return 1;
}

static int read_case(FILE *f, Case *c) {
    char tok[64];
    if (fscanf(f, "%63s", tok) != 1) return 0;
    if (strcmp(tok, "case") != 0 || fscanf(f, "%31s", c->id) != 1) die("expected 'case', got", tok);
    c->n = 0;
    while (fscanf(f, "%7s", tok) == 1 && strcmp(tok, "end") != 0) {
        if (c->n == MAXARG) die("too many values in case", c->id);
        strcpy(c->a[c->n].kind, tok);
        read_value(f, &c->a[c->n]);
        c->n++;
    }
    return 1;
}

static Value *arg(Case *c, const char *name) {
    for (int k = 0; k < c->n; k++)
        if (strcmp(c->a[k].kind, "in") == 0 && strcmp(c->a[k].name, name) == 0) return &c->a[k];
    die("missing argument", name);
    return NULL;
}

static void free_case(Case *c) {
    for (int k = 0; k < c->n; k++) free(c->a[k].v);
}

/* ---- the run's dtype ------------------------------------------------------------------------------------------ */
static double round_to(double x, const char *dtype) {
    if (strcmp(dtype, "float64") == 0) return x;
    float f = (float)x;
    if (strcmp(dtype, "float32") == 0 || isnan(f)) return f;
    uint32_t b;                                    /* bfloat16: keep the top 16 bits, round to nearest even */
    memcpy(&b, &f, 4);
    b = (b + 0x7FFFu + ((b >> 16) & 1u)) & 0xFFFF0000u;
    memcpy(&f, &b, 4);
    return f;
}

/* ---- the clauses: each fills out[] and returns its length ------------------------------------------------------ */
static long cfg_combine(Case *c, double *out) {            /* form=scale: v_null + s (v_y - v_null) */
    Value *vy = arg(c, "v_y"), *vn = arg(c, "v_null"), *s = arg(c, "w");
    for (long k = 0; k < vy->size; k++) out[k] = vn->v[k] + s->v[0] * (vy->v[k] - vn->v[k]);
    return vy->size;
}

static long rf_interpolation(Case *c, double *out) {       /* time=data_at_0: (1 - t) x + t z */
    Value *x = arg(c, "x"), *z = arg(c, "z"), *t = arg(c, "t");
    long row = x->size / x->dims[0];
    for (long k = 0; k < x->size; k++) {
        double tk = t->v[k / row];
        out[k] = (1.0 - tk) * x->v[k] + tk * z->v[k];
    }
    return x->size;
}

static long schedule_shift(Case *c, double *out) {         /* s t / ((1 - t) + s t) */
    Value *t = arg(c, "t"), *s = arg(c, "s");
    for (long k = 0; k < t->size; k++) {
        double tk = t->v[k], sv = s->v[0];
#ifdef PLANTED_BUG
        out[k] = tk / (tk + sv * (1.0 - tk));               /* the inverse shift: s read as 1/s */
#else
        out[k] = sv * tk / ((1.0 - tk) + sv * tk);
#endif
    }
    return t->size;
}

static long vae_kl(Case *c, double *out) {                 /* reduction=sum_last */
    Value *mu = arg(c, "mu"), *lv = arg(c, "logvar");
    long d = mu->ndim ? mu->dims[mu->ndim - 1] : 1, n = mu->size / d;
    for (long i = 0; i < n; i++) {
        double acc = 0.0;
        for (long j = 0; j < d; j++) {
            double m = mu->v[i * d + j], l = lv->v[i * d + j];
            acc += 1.0 + l - m * m - exp(l);
        }
        out[i] = -0.5 * acc;
    }
    return n;
}

typedef struct {
    const char *clause, *variant, *conventions_json;
    long (*fn)(Case *, double *);
} Impl;

static const Impl IMPLS[] = {
    {"cfg.combine", "form=scale", "{\"form\": \"scale\"}", cfg_combine},
    {"rf.interpolation", "time=data_at_0", "{\"time\": \"data_at_0\"}", rf_interpolation},
    {"schedule.shift", "default", "{}", schedule_shift},
    {"vae.kl", "reduction=sum_last", "{\"reduction\": \"sum_last\"}", vae_kl},
};
static const char *DTYPES[] = {"float64", "float32", "bfloat16"};

static void mkdir_p(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die("cannot create", path);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s GOLDEN_DIR RESULTS_DIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    mkdir_p(argv[2]);
    for (size_t d = 0; d < sizeof DTYPES / sizeof *DTYPES; d++) {
        snprintf(path, sizeof path, "%s/%s", argv[2], DTYPES[d]);
        mkdir_p(path);
        for (size_t k = 0; k < sizeof IMPLS / sizeof *IMPLS; k++) {
            const Impl *im = &IMPLS[k];
            snprintf(path, sizeof path, "%s/%s/%s/%s.txt", argv[1], im->clause, DTYPES[d], im->variant);
            FILE *in = fopen(path, "r");
            if (!in) continue;                          /* not exported for this dtype: reported not implemented */
            char tok[64];
            long n_cases = 0;
            while (fscanf(in, "%63s", tok) == 1 && strcmp(tok, "cases") != 0) {}
            if (fscanf(in, "%ld", &n_cases) != 1) die("no case count in", path);
            snprintf(path, sizeof path, "%s/%s/%s.json", argv[2], DTYPES[d], im->clause);
            FILE *out = fopen(path, "w");
            if (!out) die("cannot write", path);
            fprintf(out, "{\"conventions\": %s, \"outputs\": {", im->conventions_json);
            Case c;
            for (long i = 0; i < n_cases && read_case(in, &c); i++) {
                long cap = 1;
                for (int a = 0; a < c.n; a++) cap = c.a[a].size > cap ? c.a[a].size : cap;
                double *res = malloc(sizeof(double) * (size_t)cap);
                long m = im->fn(&c, res);
                fprintf(out, "%s\n \"%s\": [", i ? "," : "", c.id);
                for (long j = 0; j < m; j++) fprintf(out, "%s\"%a\"", j ? ", " : "", round_to(res[j], DTYPES[d]));
                fprintf(out, "]");
                free(res);
                free_case(&c);
            }
            fprintf(out, "\n}}\n");
            fclose(out);
            fclose(in);
        }
    }
    return 0;
}
