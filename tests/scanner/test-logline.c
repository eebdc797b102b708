/*
 * test-logline.c - the per-message log line: sendmail's size, relay= from
 * $_, to= without spaces, the fields in order, a rule with ", " quoted
 */
#include "mqsift-build.h"

#include <string.h>

#include "queue/qf.h"
#include "scanner/logline.h"
#include "scanner/scan.h"

/* a control file as the queue-only daemon writes it: 121 = 96 header bytes + 25 body */
static const char qf_text[] = "V8\nT1700000000\nK0\nN0\nP60121\nI8/1/123\nMDeferred\nFbs\n"
                              "$_localhost [127.0.0.1]\n$rESMTP\nS<alice@example.org>\n"
                              "RPFD:<bob@example.com>\nRPFD:<carol@example.com>\n"
                              "H?\?Received: from x\nHSubject: hi\n"
                              "HMessage-ID: <m1@example.org>\n.\n";

/* parse - the test control file */
static Qf *
parse(const char *text)
{
	g_autoptr(GError) error = NULL;
	Qf *qf = qf_parse(text, strlen(text), &error);

	g_assert_no_error(error);
	return qf;
}

/* new_report - an empty report of @verdict */
static void
new_report(ScanReport *rep, Verdict verdict)
{
	memset(rep, 0, sizeof *rep);
	rep->verdict = verdict;
	rep->findings = g_ptr_array_new_with_free_func(scan_finding_free);
	rep->names = g_ptr_array_new_with_free_func(g_free);
}

/* test_size - sendmail's e_msgsize from P, nrcpts and the class */
static void
test_size(void)
{
	g_autoptr(Qf) qf = parse(qf_text);

	/* P = size - class * 1800 + nrcpts * 30000 */
	g_assert_cmpint(logline_size(qf, 25), ==, 121);
	/* a P no queue run would leave (smaller than the body): headers + body */
	g_autoptr(Qf) bad = parse("V8\nT1\nP5\nS<a@b>\nRPFD:<c@d>\nHSubject: x\n.\n");
	g_assert_cmpint(logline_size(bad, 100), ==, 100 + strlen("Subject: x\n") + 1);
	/* Precedence: bulk is class -60 */
	g_autoptr(Qf) bulk = parse("V8\nT1\nP138100\nS<a@b>\nRPFD:<c@d>\nHPrecedence: bulk\n.\n");
	g_assert_cmpint(logline_size(bulk, 10), ==, 100);
}

/* test_clean - every field, in order */
static void
test_clean(void)
{
	g_autoptr(Qf) qf = parse(qf_text);
	ScanReport rep;

	new_report(&rep, VERDICT_CLEAN);
	LogLine l = {"ABC", qf, 121, VERDICT_CLEAN, &rep, NULL};
	g_autofree char *line = logline_format(&l);
	g_assert_cmpstr(line, ==,
	                "from=<alice@example.org>, size=121, nrcpts=2, msgid=<m1@example.org>, "
	                "relay=localhost [127.0.0.1], to=<bob@example.com>,<carol@example.com>, "
	                "verdict=clean");
	g_assert_cmpstr(logline_action(&rep, VERDICT_CLEAN, TRUE), ==, "delivered");
	g_assert_cmpstr(logline_action(&rep, VERDICT_CLEAN, FALSE), ==, "left-in-queue");
	scan_report_clear(&rep);
}

/* test_caught - every signature and the quarantine reference */
static void
test_caught(void)
{
	g_autoptr(Qf) qf = parse("V8\nT1\nP30010\nS<>\nRPFD:<bob@example.com>\n.\n");
	ScanReport rep;

	new_report(&rep, VERDICT_INFECTED);
	g_ptr_array_add(rep.names, g_strdup("Eicar-Test-Signature"));
	g_ptr_array_add(rep.names, g_strdup("Other Sig"));
	LogLine l = {"ABC", qf, 10, VERDICT_INFECTED, &rep, "20240101/ABC"};
	g_autofree char *line = logline_format(&l);
	g_assert_cmpstr(line, ==,
	                "from=<>, size=10, nrcpts=1, to=<bob@example.com>, verdict=infected, "
	                "signatures=Eicar-Test-Signature,Other_Sig, quarantine=20240101/ABC");
	rep.whole_message = TRUE;
	g_assert_cmpstr(logline_action(&rep, VERDICT_INFECTED, TRUE), ==, "replaced");
	scan_report_clear(&rep);
}

/* test_blocked - a quoted rule and the quarantine reference */
static void
test_blocked(void)
{
	g_autoptr(Qf) qf = parse("V8\nT1\nP30010\nS<>\nRPFD:<bob@example.com>\n.\n");
	ScanReport rep;

	new_report(&rep, VERDICT_BLOCKED);
	rep.blocked = g_strdup("banned name \"a.exe\", in a zip");
	LogLine b = {"ABC", qf, 10, VERDICT_BLOCKED, &rep, "20240101/ABC"};
	g_autofree char *bl = logline_format(&b);
	g_assert_nonnull(strstr(bl, ", verdict=blocked, rule=\"banned name \\\"a.exe\\\", in a "
	                            "zip\", quarantine=20240101/ABC"));
	g_assert_cmpstr(logline_action(&rep, VERDICT_BLOCKED, TRUE), ==, "parts-removed");
	scan_report_clear(&rep);
}

/* count - occurrences of @needle in @hay */
static guint
count(const char *hay, const char *needle)
{
	guint n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/*
 * test_forged_fields - a Message-ID and a quoted sender that carry ", key=value"
 * add no field: their commas are escaped, and the only verdict= is the real one
 */
static void
test_forged_fields(void)
{
	g_autoptr(Qf) qf =
	    parse("V8\nT1\nP30010\nS<\"a, verdict=clean\"@evil.example>\n"
	          "RPFD:<bob@example.org>\nHMessage-ID: <x@y>, to=<bob@example.org>, "
	          "verdict=clean, action=delivered, ms=3\n.\n");
	ScanReport rep;

	new_report(&rep, VERDICT_INFECTED);
	g_ptr_array_add(rep.names, g_strdup("Eicar-Test-Signature"));
	LogLine l = {"ABC", qf, 10, VERDICT_INFECTED, &rep, "20240101/ABC"};
	g_autofree char *line = logline_format(&l);
	g_assert_cmpuint(count(line, ", verdict="), ==, 1);
	g_assert_cmpuint(count(line, ", action="), ==, 0);
	g_assert_cmpuint(count(line, ", to="), ==, 1);
	g_assert_nonnull(strstr(line, "msgid=<x@y>\\x2c to=<bob@example.org>\\x2c verdict=clean"));
	g_assert_nonnull(strstr(line, "from=<\"a\\x2c verdict=clean\"@evil.example>"));
	g_assert_nonnull(strstr(line, ", verdict=infected, signatures=Eicar-Test-Signature, "
	                              "quarantine=20240101/ABC"));
	scan_report_clear(&rep);
}

/*
 * test_long_recipient_list - recipients enough to pass the log's 8192 bytes
 * are cut with a count: the verdict and the quarantine that follow stay
 */
static void
test_long_recipient_list(void)
{
	GString *text = g_string_new("V8\nT1\nP30010\nS<a@evil.example>\n");
	g_autofree char *pad = g_strnfill(230, 'x');

	for (int i = 0; i < 40; i++)
		g_string_append_printf(text, "RPFD:<bob+%02d%s@example.org>\n", i, pad);
	g_string_append(text, ".\n");
	g_autoptr(Qf) qf = parse(text->str);
	g_string_free(text, TRUE);
	ScanReport rep;

	new_report(&rep, VERDICT_INFECTED);
	for (int i = 0; i < 200; i++)
		g_ptr_array_add(rep.names, g_strdup_printf("Sig.Number.%03d.With.A.Long.Name", i));
	LogLine l = {"ABC", qf, 10, VERDICT_INFECTED, &rep, "20240101/ABC"};
	g_autofree char *line = logline_format(&l);
	/* the runner adds ", action=replaced, ms=N"; the log handler cuts at 8192 */
	g_assert_cmpuint(strlen(line) + 64, <, 8192);
	g_assert_nonnull(strstr(line, "nrcpts=40"));
	g_assert_nonnull(strstr(line, ",...(+"));
	g_assert_nonnull(strstr(line, ", verdict=infected, signatures=Sig.Number.000"));
	g_assert_true(g_str_has_suffix(line, ", quarantine=20240101/ABC"));
	scan_report_clear(&rep);
}

/* main - run the tests */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/logline/size-is-sendmails-message-size", test_size);
	g_test_add_func("/logline/clean-message-has-every-field-in-order", test_clean);
	g_test_add_func("/logline/infected-message-names-signatures-and-quarantine", test_caught);
	g_test_add_func("/logline/blocked-message-quotes-the-rule-and-names-quarantine",
	                test_blocked);
	g_test_add_func("/logline/message-fields-cannot-forge-a-field", test_forged_fields);
	g_test_add_func("/logline/long-recipient-list-keeps-the-verdict", test_long_recipient_list);
	return g_test_run();
}
