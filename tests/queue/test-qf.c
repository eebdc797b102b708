/*
 * test-qf.c - the control file reader and writer, against what sendmail writes
 */
#include "mqsift-build.h"

#include <string.h>

#include "queue/qf.h"

/* a control file as the real Debian 12 queue-only daemon wrote it (doc/design.md, "Sendmail queue
 * files") */
static const char real_qf[] =
    "V8\nT1795343185\nK0\nN0\nP60430\nB8BITMIME\nF8bs\n$_localhost [127.0.0.1]\n$rESMTP\n"
    "$sclient.example.net\n${daemon_flags}\nS<sender@localhost>\nZenv-id-42\n"
    "rRFC822; root@vm\nRPFD:<root>\nQrfc822;alice@example.com\nrRFC822; alice@example.com\n"
    "RPNSF:<alice@example.com>\nH?P?Return-Path: <\x81g>\n"
    "H??Received: from client.example.net (localhost [127.0.0.1])\n"
    "\tby vm (8.17.1.9/8.17.1.9/Debian-2+deb12u2) with ESMTP id 6AMAQPxI013831;\n"
    "\tSun, 22 Nov 2026 10:26:25 GMT\n"
    "H??From: Sender Name <sender@example.org>\n"
    "H??To: alice@example.com, Bob <bob@example.com>, carol@example.com,\n"
    "        dave@example.com, eve@example.com\n"
    "H??Subject: Gr\xc3\xbc\xc3\xff\x9f"
    "e \xe2\xff\x82\xac test $x and \\ backslash\n"
    "H??X-Folded: first part\n\tsecond part\n    third part\n"
    "H??X-NoSpace:novalue-space\nH??Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
    "H??Message-ID: <test1@example.org>\n.\n";

/* parse_ok - parse or fail the test */
static Qf *
parse_ok(const char *text)
{
	GError *error = NULL;
	Qf *qf = qf_parse(text, strlen(text), &error);

	g_assert_no_error(error);
	g_assert_nonnull(qf);
	return qf;
}

/* test_round_trip - unchanged file, identical bytes */
static void
test_round_trip(void)
{
	Qf *qf = parse_ok(real_qf);
	GString *out = qf_serialize(qf);

	g_assert_cmpmem(out->str, out->len, real_qf, strlen(real_qf));
	g_string_free(out, TRUE);
	qf_free(&qf);
	g_assert_null(qf);
}

/* test_envelope - sender, recipients, macros, client IP */
static void
test_envelope(void)
{
	Qf *qf = parse_ok(real_qf);
	g_autoptr(GPtrArray) rcpts = qf_recipients(qf);
	g_autofree char *ip = qf_client_ip(qf);

	g_assert_cmpstr(qf_sender(qf), ==, "<sender@localhost>");
	g_assert_cmpuint(rcpts->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(rcpts, 0), ==, "<root>");
	g_assert_cmpstr(g_ptr_array_index(rcpts, 1), ==, "<alice@example.com>");
	g_assert_cmpstr(qf_macro(qf, "r"), ==, "ESMTP");
	g_assert_cmpstr(qf_macro(qf, "{daemon_flags}"), ==, "");
	g_assert_cmpstr(ip, ==, "127.0.0.1");
	qf_free(&qf);
}

/* test_headers - dequoting, unfolding, delivered text */
static void
test_headers(void)
{
	Qf *qf = parse_ok(real_qf);
	g_autofree char *subject = qf_header_get(qf, "subject");
	g_autofree char *folded = qf_header_get(qf, "X-Folded");
	g_autofree char *nospace = qf_header_get(qf, "X-NoSpace");
	GString *text = qf_headers_text(qf);

	g_assert_cmpstr(subject, ==,
	                "Gr\xc3\xbc\xc3\x9f"
	                "e \xe2\x82\xac test $x and \\ backslash");
	g_assert_cmpstr(folded, ==, "first part\tsecond part    third part");
	g_assert_cmpstr(nospace, ==, "novalue-space");
	g_assert_null(strstr(text->str, "Return-Path"));
	g_assert_nonnull(strstr(text->str, "X-NoSpace:novalue-space\n"));
	g_assert_nonnull(
	    strstr(text->str, "X-Folded: first part\n\tsecond part\n    third part\n"));
	g_assert_true(qf_has_8bit_headers(qf));
	g_string_free(text, TRUE);
	qf_free(&qf);
}

/* test_add_header - new headers are quoted, denl'ed, and placed after the last H */
static void
test_add_header(void)
{
	Qf *qf = parse_ok(real_qf);

	qf_add_header(qf, "X-Test", "caf\xc3\xa9 \xc3\x9f\nbroken\n\tcontinued");
	const QfRecord *last = qf_record(qf, qf_n_records(qf) - 1);
	g_assert_cmpint(last->type, ==, 'H');
	g_assert_cmpstr(last->value, ==, "??X-Test: caf\xc3\xa9 \xc3\xff\x9f broken\n\tcontinued");
	g_autofree char *back = qf_header_get(qf, "X-Test");
	g_assert_cmpstr(back, ==, "caf\xc3\xa9 \xc3\x9f broken\tcontinued");
	GString *out = qf_serialize(qf);
	GError *error = NULL;
	Qf *again = qf_parse(out->str, out->len, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(qf_n_records(again), ==, qf_n_records(qf));
	qf_free(&again);
	g_string_free(out, TRUE);

	g_assert_cmpuint(qf_remove_header(qf, "x-test"), ==, 1);
	qf_set_header(qf, "Subject", "new");
	g_autofree char *subject = qf_header_get(qf, "Subject");
	g_assert_cmpstr(subject, ==, "new");
	qf_free(&qf);
}

/* test_flags_and_sanitize - F edits; I, d, q never go out */
static void
test_flags_and_sanitize(void)
{
	Qf *qf = parse_ok(
	    "V8\nT1\nK0\nN0\nP1\nI8/1/1234\nqreason\nS<a@b>\nRPFD:<c@d>\nHSubject: x\n.\n");

	qf_set_flag(qf, '8', TRUE);
	qf_sanitize_for_outbound(qf);
	GString *out = qf_serialize(qf);
	g_assert_cmpstr(out->str, ==,
	                "V8\nT1\nK0\nN0\nP1\nF8\nS<a@b>\nRPFD:<c@d>\nHSubject: x\n.\n");
	g_string_free(out, TRUE);
	qf_set_flag(qf, '8', FALSE);
	out = qf_serialize(qf);
	g_assert_cmpstr(out->str, ==,
	                "V8\nT1\nK0\nN0\nP1\nF\nS<a@b>\nRPFD:<c@d>\nHSubject: x\n.\n");
	g_string_free(out, TRUE);
	qf_free(&qf);
}

/* test_crlf - CRLF reads as LF, as in fgetfolded */
static void
test_crlf(void)
{
	Qf *qf = parse_ok("V8\r\nT1\r\nS<a@b>\r\nRPFD:<c@d>\r\nHX: a\r\n\tb\r\n.\r\n");
	g_autofree char *x = qf_header_get(qf, "X");

	g_assert_cmpstr(x, ==, "a\tb");
	qf_free(&qf);
}

/* a qf that readqf refuses, the code we refuse it with, and what the case shows */
typedef struct {
	const char *name;
	const char *text;
	gsize len; /* 0: strlen(text) */
	int code;
} BadCase;

static const BadCase bad_cases[] = {
    {"rejects-empty-file-as-incomplete", "", 0, QF_ERROR_INCOMPLETE},
    {"rejects-missing-end-marker-as-incomplete", "V8\nT1\nS<a@b>\nRPFD:<c@d>\n", 0,
     QF_ERROR_INCOMPLETE},
    {"rejects-half-written-last-line-as-incomplete", "V8\nT1\nS<a@b>\nRPFD:<c@d>\nHSubject: half",
     0, QF_ERROR_INCOMPLETE},
    {"rejects-unknown-version", "V9\nT1\nS<a@b>\n.\n", 0, QF_ERROR_VERSION},
    {"rejects-version-not-on-first-line", "T1\nV8\nS<a@b>\n.\n", 0, QF_ERROR_VERSION},
    {"rejects-empty-line", "V8\nT1\n\nS<a@b>\n.\n", 0, QF_ERROR_MALFORMED},
    {"rejects-unknown-record-letter", "V8\nT1\nXbogus\nS<a@b>\n.\n", 0, QF_ERROR_MALFORMED},
    {"rejects-bytes-after-end-marker", "V8\nT1\nS<a@b>\n.\nextra\n", 0, QF_ERROR_MALFORMED},
    {"rejects-binary-body-type", "V8\nT1\nBBINARY\nS<a@b>\n.\n", 0, QF_ERROR_MALFORMED},
    {"rejects-missing-sender", "V8\nT1\nRPFD:<c@d>\n.\n", 0, QF_ERROR_MALFORMED},
    {"rejects-continuation-before-first-record", "\tcontinued\nV8\nS<a@b>\n.\n", 0,
     QF_ERROR_MALFORMED},
    {"rejects-nul-byte", "V8\nS<a\0b>\n.\n", 11, QF_ERROR_MALFORMED},
};

/* test_rejects - what readqf refuses, we refuse with the right code */
static void
test_rejects(gconstpointer data)
{
	const BadCase *c = data;
	g_autoptr(GError) error = NULL;
	Qf *qf = qf_parse(c->text, c->len ? c->len : strlen(c->text), &error);

	g_assert_null(qf);
	g_assert_error(error, QF_ERROR, c->code);
}

/* test_body_type_case - BODY=8bitmime is legal in any case; sendmail stores it as sent */
static void
test_body_type_case(void)
{
	static const char *const ok[] = {"B8bitmime", "B7bit", "B8BitMime", "B8BITMIME"};

	for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_autofree char *text =
		    g_strdup_printf("V8\nT1\n%s\nS<a@b>\nRPFD:<c@d>\n.\n", ok[i]);
		Qf *qf = parse_ok(text);
		GString *out = qf_serialize(qf);

		g_assert_cmpstr(out->str, ==, text); /* kept as sendmail wrote it */
		g_string_free(out, TRUE);
		qf_free(&qf);
	}
}

/* test_set_recipients - a release to another address: RPFD, Q/r/C of the old ones gone */
static void
test_set_recipients(void)
{
	Qf *qf = parse_ok(real_qf);
	const char *const to[] = {"other@example.org", "<second@example.org>", NULL};

	qf_set_recipients(qf, to);
	GString *out = qf_serialize(qf);
	g_assert_nonnull(strstr(out->str, "\nZenv-id-42\nRPFD:<other@example.org>\n"
	                                  "RPFD:<second@example.org>\nH?P?Return-Path"));
	g_assert_null(strstr(out->str, "RPNSF:<alice@example.com>"));
	g_assert_null(strstr(out->str, "rRFC822; alice"));
	g_assert_null(strstr(out->str, "\nQ"));
	g_string_free(out, TRUE);
	g_autoptr(GPtrArray) rcpts = qf_recipients(qf);
	g_assert_cmpuint(rcpts->len, ==, 2);
	qf_free(&qf);
}

/* test_quote - METAQUOTE both ways */
static void
test_quote(void)
{
	const char raw[] = "\x80\x9f\xa0\xff"
	                   "a";
	g_autofree char *q = qf_quote(raw, 5);
	gsize n;
	g_autofree char *d = qf_dequote(q, strlen(q), &n);

	g_assert_cmpmem(q, strlen(q),
	                "\xff\x80\xff\x9f\xa0\xff\xff"
	                "a",
	                8);
	g_assert_cmpmem(d, n, raw, 5);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/qf/unchanged-file-serializes-to-identical-bytes", test_round_trip);
	g_test_add_func("/qf/reads-sender-recipients-macros-and-client-ip", test_envelope);
	g_test_add_func("/qf/headers-read-dequoted-and-unfolded", test_headers);
	g_test_add_func("/qf/added-header-is-quoted-and-goes-after-the-last-header",
	                test_add_header);
	g_test_add_func("/qf/outbound-keeps-flags-and-drops-queue-only-records",
	                test_flags_and_sanitize);
	g_test_add_func("/qf/crlf-reads-as-lf", test_crlf);
	for (gsize i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		g_autofree char *path = g_strconcat("/qf/", bad_cases[i].name, NULL);
		g_test_add_data_func(path, &bad_cases[i], test_rejects);
	}
	g_test_add_func("/qf/metaquote-round-trips", test_quote);
	g_test_add_func("/qf/body-type-is-kept-in-any-case", test_body_type_case);
	g_test_add_func("/qf/set-recipients-replaces-every-recipient-record", test_set_recipients);
	return g_test_run();
}
