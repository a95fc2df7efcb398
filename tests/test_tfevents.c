/* core/tfevents: CRC-32C against published vectors, events byte for byte as
 * TensorBoard's own protocol buffers encode them, and a torn or damaged tail
 * cut off on reopening so that what is appended after it reads back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/tfevents.h"
#include "tests/testutil.h"

static char path[256];

static void set_path(const char *tag)
{
    snprintf(path, sizeof path, "/tmp/dr_test_tfevents_%ld_%s", (long)getpid(), tag);
    remove(path);
}

static unsigned char *slurp(long *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    unsigned char *p = malloc((size_t)*n + 1);
    assert_int_equal(fread(p, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return p;
}

static uint64_t le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Records whose framing and both checksums hold, from the start; *end: the
 * offset after the last of them; data[k], size[k]: the k-th record's event. */
static int parse(const unsigned char *p, long n, long *end, const unsigned char **data, long *size, int cap)
{
    int k = 0;
    long at = 0;
    while (at + 12 <= n) {
        long len = (long)le(p + at, 8);
        if (le(p + at + 8, 4) != dr_crc32c_masked(p + at, 8) || at + 16 + len > n ||
            le(p + at + 12 + len, 4) != dr_crc32c_masked(p + at + 12, (size_t)len))
            break;
        if (k < cap) {
            data[k] = p + at + 12;
            size[k] = len;
        }
        k++;
        at += 16 + len;
    }
    *end = at;
    return k;
}

/* RFC 3720 (iSCSI), appendix B.4, and the usual check value of "123456789";
 * the masked form as TensorBoard's masked_crc32c computes it. */
static void test_crc32c(void **state)
{
    (void)state;
    unsigned char zeros[32] = {0}, ones[32], up[32];
    memset(ones, 0xFF, 32);
    for (int i = 0; i < 32; i++)
        up[i] = (unsigned char)i;
    assert_int_equal(dr_crc32c(zeros, 32), 0x8A9136AAu);
    assert_int_equal(dr_crc32c(ones, 32), 0x62A8AB43u);
    assert_int_equal(dr_crc32c(up, 32), 0x46DD794Eu);
    assert_int_equal(dr_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(dr_crc32c_masked("123456789", 9), 0xC78AB0E5u);
}

/* Event(step=3, summary {value {tag: "loss/train" simple_value: 0.25}}) and
 * Event(step=4, session_log {status: START}) serialised by the tensorboard
 * package's event_pb2, after our leading wall_time field (tag 0x09 + 8 bytes). */
static void test_encoding(void **state)
{
    (void)state;
    set_path("enc");
    dr_tfevents *w;
    int created = -1;
    assert_int_equal(dr_tfevents_open(&w, path, &created), DR_OK);
    assert_int_equal(created, 1);
    assert_int_equal(dr_tfevents_scalar(w, "loss/train", 3, 0.25), DR_OK);
    assert_int_equal(dr_tfevents_restart(w, 4), DR_OK);
    assert_int_equal(dr_tfevents_close(w), DR_OK);
    long n, end, size[4];
    const unsigned char *data[4];
    unsigned char *p = slurp(&n);
    assert_int_equal(parse(p, n, &end, data, size, 4), 3);
    assert_int_equal(end, n);
    static const char version[] = "\x1a\x0d" "brain.Event:2";
    static const unsigned char scalar[] = {0x10, 0x03, 0x2a, 0x13, 0x0a, 0x11, 0x0a, 0x0a, 'l', 'o', 's', 's', '/',
                                           't',  'r',  'a',  'i',  'n',  0x15, 0x00, 0x00, 0x80, 0x3e};
    static const unsigned char restart[] = {0x10, 0x04, 0x3a, 0x02, 0x08, 0x01};
    for (int k = 0; k < 3; k++)
        assert_int_equal(data[k][0], 0x09);
    assert_int_equal(size[0], 9 + (long)sizeof version - 1);
    assert_memory_equal(data[0] + 9, version, sizeof version - 1);
    assert_int_equal(size[1], 9 + (long)sizeof scalar);
    assert_memory_equal(data[1] + 9, scalar, sizeof scalar);
    assert_int_equal(size[2], 9 + (long)sizeof restart);
    assert_memory_equal(data[2] + 9, restart, sizeof restart);
    free(p);
    remove(path);
}

static void write_scalars(int from, int to)
{
    dr_tfevents *w;
    int created;
    assert_int_equal(dr_tfevents_open(&w, path, &created), DR_OK);
    for (int s = from; s < to; s++)
        assert_int_equal(dr_tfevents_scalar(w, "auc/val", s, 0.5 + 0.01 * s), DR_OK);
    assert_int_equal(dr_tfevents_close(w), DR_OK);
}

/* A crash mid-record leaves a partial one; a flipped byte damages one. Either
 * way the reopened file keeps the records before it and appends after them. */
static void test_torn_tail(void **state)
{
    (void)state;
    set_path("torn");
    write_scalars(1, 4); /* header + 3 */
    long n0;
    free(slurp(&n0));
    FILE *f = fopen(path, "ab");
    fwrite("\x2a\x00\x00\x00\x00\x00\x00", 1, 7, f); /* a length and no more */
    fclose(f);
    write_scalars(4, 6);
    long n, end, size[8];
    const unsigned char *data[8];
    unsigned char *p = slurp(&n);
    assert_int_equal(parse(p, n, &end, data, size, 8), 6);
    assert_int_equal(end, n);
    assert_true(n > n0);

    /* a flipped byte inside the fifth record: it and the one after are dropped */
    long fifth = data[4] - p;
    free(p);
    f = fopen(path, "r+b");
    fseek(f, fifth + 3, SEEK_SET);
    int c = fgetc(f);
    fseek(f, fifth + 3, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    write_scalars(6, 7);
    p = slurp(&n);
    assert_int_equal(parse(p, n, &end, data, size, 8), 5);
    assert_int_equal(end, n);
    assert_int_equal(data[4][9 + 1], 6); /* the step of the record appended last */
    free(p);
    remove(path);
}

/* Torn inside the header itself: the file begins again, header first. */
static void test_torn_header(void **state)
{
    (void)state;
    set_path("head");
    FILE *f = fopen(path, "wb");
    fwrite("\x18\x00\x00", 1, 3, f);
    fclose(f);
    dr_tfevents *w;
    int created = 0;
    assert_int_equal(dr_tfevents_open(&w, path, &created), DR_OK);
    assert_int_equal(created, 1);
    assert_int_equal(dr_tfevents_scalar(w, "lr", 1, 1e-3), DR_OK);
    assert_int_equal(dr_tfevents_close(w), DR_OK);
    long n, end, size[4];
    const unsigned char *data[4];
    unsigned char *p = slurp(&n);
    assert_int_equal(parse(p, n, &end, data, size, 4), 2);
    assert_int_equal(end, n);
    assert_int_equal(data[0][9], 0x1a); /* file_version */
    free(p);
    remove(path);
}

static void test_errors(void **state)
{
    (void)state;
    dr_tfevents *w;
    assert_int_equal(dr_tfevents_open(&w, "/nonexistent/dir/events", NULL), DR_ERR_IO);
    printf("  %s\n", dr_last_error());
    assert_null(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_torn_tail),
        cmocka_unit_test(test_torn_header),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
