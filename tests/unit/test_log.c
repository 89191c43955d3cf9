/* Unit: log_escape() and the line sanitizer behind every log line. */
#include "pitchey-build.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "unit.h"

static const char *esc(const char *s)
{
    static char out[LOG_VALUE_MAX];
    return log_escape(out, sizeof out, s);
}

START_TEST(plain_values_stay_as_they_are)
{
    ck_assert_str_eq(esc("/api/pitches/42"), "/api/pitches/42");
    ck_assert_str_eq(esc("GET"), "GET");
}
END_TEST

START_TEST(quotes_backslashes_and_spaces_are_quoted)
{
    ck_assert_str_eq(esc(""), "\"\"");
    ck_assert_str_eq(esc(NULL), "\"\"");
    ck_assert_str_eq(esc("/a b"), "\"/a b\"");
    ck_assert_str_eq(esc("/a\"b"), "\"/a\\\"b\"");
    ck_assert_str_eq(esc("a\\b"), "\"a\\\\b\"");
    ck_assert_str_eq(esc("k=v"), "\"k=v\"");
    /* A value cannot forge another key: it stays inside its quotes. */
    ck_assert_str_eq(esc("x status=200"), "\"x status=200\"");
}
END_TEST

START_TEST(bytes_that_are_not_text_become_hex)
{
    ck_assert_str_eq(esc("/\xff\xfe"), "\"/\\xff\\xfe\"");
    ck_assert_str_eq(esc("a\nb\rc\td\x7f"), "\"a\\x0ab\\x0dc\\x09d\\x7f\"");
    ck_assert_str_eq(esc("\x1b[31m"), "\"\\x1b[31m\"");
    /* Valid UTF-8 stays readable; overlongs, surrogates, C1 controls and
     * truncated sequences do not. */
    ck_assert_str_eq(esc("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
    ck_assert_str_eq(esc("\xc0\xaf"), "\"\\xc0\\xaf\"");
    ck_assert_str_eq(esc("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");
    ck_assert_str_eq(esc("\xc2\x85"), "\"\\xc2\\x85\"");
    ck_assert_str_eq(esc("\xe2\x80\xa8"), "\"\\xe2\\x80\\xa8\"");
    ck_assert_str_eq(esc("\xe2\x82"), "\"\\xe2\\x82\"");
}
END_TEST

START_TEST(long_values_are_cut_inside_their_quotes)
{
    char in[3000];
    memset(in, '\xff', sizeof in - 1);
    in[sizeof in - 1] = '\0';
    char out[64];
    log_escape(out, sizeof out, in);
    size_t n = strlen(out);
    ck_assert_uint_lt(n, sizeof out);
    ck_assert_int_eq(out[0], '"');
    ck_assert_int_eq(out[n - 1], '"');
    ck_assert(strcmp(out + n - 4, "...\"") == 0);
    /* Never half an escape. */
    ck_assert(strstr(out, "\\x\"") == NULL && strstr(out, "\\xf.") == NULL);
    /* A multi-byte character is never split either. */
    char utf[200] = "";
    for (int i = 0; i < 60; i++)
        strcat(utf, "\xc3\xa9");
    log_escape(out, 20, utf);
    n = strlen(out);
    ck_assert(strcmp(out + n - 4, "...\"") == 0);
    ck_assert_uint_eq((n - 5) % 2, 0);
}
END_TEST

/* log_write() itself: a line stays one line of text whatever a caller
 * passes unescaped. */
START_TEST(lines_stay_single_text_lines)
{
    char path[] = "/tmp/pitchey-test-log.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    log_init("test");
    log_set_level(LOG_LEVEL_INFO);
    log_info("event=raw path=%s", "/x\n\xff\"y");
    char v[LOG_VALUE_MAX];
    log_info("event=escaped path=%s", log_escape(v, sizeof v, "/x\n\xff\"y"));
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    int lines = 0;
    for (ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        ck_assert_msg(c == '\n' || (c >= ' ' && c < 0x7f), "byte %02x in the log", c);
        lines += c == '\n';
    }
    ck_assert_int_eq(lines, 2);
    ck_assert_ptr_nonnull(strstr(buf, "event=raw path=/x\\x0a\\xff\"y\n"));
    ck_assert_ptr_nonnull(strstr(buf, "event=escaped path=\"/x\\x0a\\xff\\\"y\"\n"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, plain_values_stay_as_they_are);
    tcase_add_test(tc, quotes_backslashes_and_spaces_are_quoted);
    tcase_add_test(tc, bytes_that_are_not_text_become_hex);
    tcase_add_test(tc, long_values_are_cut_inside_their_quotes);
    tcase_add_test(tc, lines_stay_single_text_lines);
    suite_add_tcase(s, tc);
    return s;
}

UNIT_MAIN(suite)
