/*
 * test-untrusted.c - strings from a message made safe: line breaks, terminal
 * escapes, bidi and zero-width characters, invalid UTF-8, cuts inside a
 * multibyte character, very long input, file names
 */
#include "mqsift-build.h"

#include <string.h>

#include "rules/untrusted.h"

/* assert_safe_line - valid UTF-8, no byte below 0x20, no DEL, within @max */
static void
assert_safe_line(const char *s, gsize max)
{
	g_assert_nonnull(s);
	g_assert_true(g_utf8_validate(s, -1, NULL));
	g_assert_cmpuint(strlen(s), <=, max);
	for (const char *p = s; *p; p++)
		g_assert_true((guchar)*p >= 0x20 && (guchar)*p != 0x7F);
	g_assert_false(untrusted_has_hidden(s));
}

/* line_is - untrusted_line(@in) == @want */
static void
line_is(const char *in, gssize len, const char *want)
{
	g_autofree char *got = untrusted_line(in, len, 0);

	g_assert_cmpstr(got, ==, want);
	assert_safe_line(got, 998);
}

/* test_line_controls - CR/LF, tab, ESC, NUL, DEL, C1, backslash */
static void
test_line_controls(void)
{
	line_is("plain text", -1, "plain text");
	line_is("", -1, "");
	line_is(NULL, -1, "");
	line_is("a\r\nFAKE LINE", -1, "a\\r\\nFAKE LINE");
	line_is("tab\there", -1, "tab\\there");
	line_is("\x1b]0;pwned\x07", -1, "\\x1b]0;pwned\\x07");
	line_is("\x1b[2J\x1b[31mred", -1, "\\x1b[2J\\x1b[31mred");
	line_is("del\x7f", -1, "del\\x7f");
	line_is("nul\0after", 9, "nul\\x00after");
	line_is("C1 \xc2\x9b"
	        "31m",
	        -1, "C1 \\x9b31m"); /* U+009B, the 8-bit CSI */
	line_is("C:\\temp\\x41", -1, "C:\\\\temp\\\\x41");
	line_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", -1,
	        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* UTF-8 passes */
}

/* test_line_hidden - bidi controls and invisible characters become <U+XXXX> */
static void
test_line_hidden(void)
{
	line_is("invoice\xe2\x80\xaegpj.exe", -1, "invoice<U+202E>gpj.exe");
	line_is("a\xe2\x80\x8b"
	        "b\xe2\x80\x8c"
	        "c\xe2\x80\x8d"
	        "d",
	        -1, "a<U+200B>b<U+200C>c<U+200D>d");
	line_is("\xef\xbb\xbf"
	        "bom",
	        -1, "<U+FEFF>bom");
	line_is("soft\xc2\xad"
	        "hyphen",
	        -1, "soft<U+00AD>hyphen");
	line_is("\xe2\x81\xa6x\xe2\x81\xa9", -1, "<U+2066>x<U+2069>");
	line_is("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", -1, "<U+200E><U+200F><U+061C>");
	line_is("\xe2\x81\xa0\xe2\x81\xa4", -1, "<U+2060><U+2064>");
	line_is("line\xe2\x80\xa8sep", -1, "line<U+2028>sep");
	line_is("tag\xf3\xa0\x80\x81", -1, "tag<U+E0001>"); /* Cf outside the named ones */
	g_assert_true(untrusted_has_hidden("a\xe2\x80\xae"));
	g_assert_true(untrusted_has_hidden("a\nb"));
	g_assert_true(untrusted_has_hidden("a\x1b"));
	g_assert_true(untrusted_has_hidden("a\xe2\x80\x8b"));
	g_assert_true(untrusted_has_hidden("bad \xff byte"));
	g_assert_false(untrusted_has_hidden("caf\xc3\xa9 C:\\x"));
	g_assert_false(untrusted_has_hidden(NULL));
}

/* test_line_invalid - bytes that are not UTF-8 become \xNN */
static void
test_line_invalid(void)
{
	line_is("\xff\xfe", -1, "\\xff\\xfe");
	line_is("Latin-1 caf\xe9", -1, "Latin-1 caf\\xe9");
	line_is("cut \xe2\x82", -1, "cut \\xe2\\x82");          /* truncated sequence */
	line_is("over \xc0\xaf", -1, "over \\xc0\\xaf");        /* overlong '/' */
	line_is("sur \xed\xa0\x80", -1, "sur \\xed\\xa0\\x80"); /* a UTF-16 surrogate */
}

/* test_line_truncate - at most max bytes, cut on a boundary, "..." when cut */
static void
test_line_truncate(void)
{
	g_autofree char *a = untrusted_line("abcdefghij", -1, 8);
	g_assert_cmpstr(a, ==, "abcde...");
	g_autofree char *exact = untrusted_line("abcdefgh", -1, 8);
	g_assert_cmpstr(exact, ==, "abcdefgh");
	/* "\xe2\x82\xac" is 3 bytes: a cut at 7 must not split the third euro sign */
	g_autofree char *e =
	    untrusted_line("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", -1, 7);
	g_assert_cmpstr(e, ==, "\xe2\x82\xac...");
	assert_safe_line(e, 7);
	/* an escape is never cut in half */
	g_autofree char *x = untrusted_line("ab\x1b\x1b\x1b", -1, 9);
	g_assert_cmpstr(x, ==, "ab\\x1b...");
	g_autofree char *tiny = untrusted_line("abcdef", -1, 2);
	g_assert_cmpstr(tiny, ==, "ab");
	/* very long input: bounded, default 998 */
	gsize big = 10 * 1024 * 1024;
	char *huge = g_malloc(big + 1);
	for (gsize i = 0; i < big; i++)
		huge[i] = "\xe2\x80\xae\n\x1b"[i % 5];
	huge[big] = '\0';
	g_autofree char *h = untrusted_line(huge, -1, 0);
	assert_safe_line(h, 998);
	g_assert_true(g_str_has_suffix(h, "..."));
	g_autofree char *ht = untrusted_text(huge, (gssize)big, 4096, UNTRUSTED_KEEP_NEWLINES);
	g_assert_cmpuint(strlen(ht), <=, 4096);
	g_assert_true(g_utf8_validate(ht, -1, NULL));
	g_free(huge);
}

/* test_text - no double escaping; newlines kept only when asked */
static void
test_text(void)
{
	const char *nasty = "C:\\x \x1b]0;t\x07 \xe2\x80\xae \xff\nnext\r\nline\tcol";
	g_autofree char *once = untrusted_line(nasty, -1, 0);
	g_autofree char *again = untrusted_text(once, -1, 0, 0);
	g_assert_cmpstr(again, ==, once); /* what untrusted_line wrote passes unchanged */
	g_autofree char *multi = untrusted_text(nasty, -1, 0, UNTRUSTED_KEEP_NEWLINES);
	g_assert_cmpstr(multi, ==, "C:\\x \\x1b]0;t\\x07 <U+202E> \\xff\nnext\r\nline\tcol");
	g_autofree char *lone_cr = untrusted_text("a\rb", -1, 0, UNTRUSTED_KEEP_NEWLINES);
	g_assert_cmpstr(lone_cr, ==, "a\\rb");
	g_autofree char *one = untrusted_text("a\nb", -1, 0, 0);
	g_assert_cmpstr(one, ==, "a\\nb");
	g_autofree char *null = untrusted_text(NULL, -1, 0, 0);
	g_assert_cmpstr(null, ==, "");
}

/* name_is - untrusted_filename(@in, @max) == @want */
static void
name_is(const char *in, gsize max, const char *want)
{
	g_autofree char *got = untrusted_filename(in, max);

	g_assert_cmpstr(got, ==, want);
	g_assert_true(g_utf8_validate(got, -1, NULL));
	g_assert_cmpuint(strlen(got), <=, max ? max : 255);
	g_assert_false(untrusted_has_hidden(got));
	g_assert_null(strpbrk(got, "/\\\""));
}

/* test_filename - no path syntax, nothing hidden, the extension survives a cut */
static void
test_filename(void)
{
	name_is("report.pdf", 0, "report.pdf");
	name_is(NULL, 0, "");
	name_is("../../etc/passwd", 0, ".._.._etc_passwd");
	name_is("..", 0, "__");
	name_is(".", 0, "_");
	name_is(".htaccess", 0, ".htaccess");
	name_is("a\\b/c\"d", 0, "a_b_c_d");
	name_is("evil\nX-Header: 1.txt", 0, "evil_X-Header: 1.txt");
	name_is("invoice\xe2\x80\xaegpj.exe", 0, "invoice_gpj.exe");
	name_is("zero\xe2\x80\x8bwidth.exe", 0, "zero_width.exe");
	name_is("\x1b[31mred.txt", 0, "_[31mred.txt");
	name_is("bad\xff.bin", 0, "bad_.bin");
	name_is("  spaced.exe  ", 0, "__spaced.exe__");
	name_is("caf\xc3\xa9.doc", 0, "caf\xc3\xa9.doc");
	/* too long: the stem is cut on a character boundary, the extension kept */
	name_is("abcdefghijklmnop.exe", 12, "abcde....exe");
	name_is("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9.exe", 11, "\xc3\xa9\xc3\xa9....exe");
	name_is("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9.exe", 10, "\xc3\xa9....exe"); /* no half */
	name_is("abcdefghij", 6, "abc...");
	GString *longname = g_string_new(NULL);
	for (int i = 0; i < 100000; i++)
		g_string_append(longname, "\xe2\x80\xae"
		                          "a/");
	g_string_append(longname, ".scr");
	g_autofree char *ln = untrusted_filename(longname->str, 0);
	g_assert_cmpuint(strlen(ln), <=, 255);
	g_assert_true(g_str_has_suffix(ln, "....scr"));
	g_assert_false(untrusted_has_hidden(ln));
	g_string_free(longname, TRUE);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/untrusted/line-escapes-control-characters", test_line_controls);
	g_test_add_func("/untrusted/line-shows-bidi-and-invisible-characters", test_line_hidden);
	g_test_add_func("/untrusted/line-shows-invalid-utf8-as-hex", test_line_invalid);
	g_test_add_func("/untrusted/line-cuts-on-a-character-boundary", test_line_truncate);
	g_test_add_func("/untrusted/text-escapes-once-and-keeps-newlines-only-when-asked",
	                test_text);
	g_test_add_func("/untrusted/filename-has-no-path-and-keeps-its-extension", test_filename);
	return g_test_run();
}
