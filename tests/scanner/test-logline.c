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
	return g_test_run();
}
