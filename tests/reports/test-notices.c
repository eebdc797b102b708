/*
 * test-notices.c - every template in every language against golden files
 * (tests/golden/notices/<lang>-<name>.txt; MQSIFT_REGEN_GOLDEN=1 rewrites
 * them), the built-in English texts equal to the shipped files, and who may be
 * told: never an external, null, list or bulk sender, never about a worm.
 */
#include "mqsift-build.h"

#include <string.h>

#include "queue/qf.h"
#include "reports/notify.h"
#include "reports/template.h"
#include "config/config.h"

static const char *const names[] = {"removed-part",       "removed-message", "inline-warning",
                                    "postmaster-warning", "sender-notice",   "digest",
                                    "poison-message",     "set-aside"};
static const char *const langs[] = {"en", "fr"};

/* fixed_vars - the same values every time */
static GHashTable *
fixed_vars(void)
{
	GHashTable *v = g_hash_table_new(g_str_hash, g_str_equal);
	static const char *const kv[] = {"hostname",
	                                 "mx.example.org",
	                                 "postmaster",
	                                 "postmaster@example.org",
	                                 "org",
	                                 "Example Org",
	                                 "org_suffix",
	                                 " (Example Org)",
	                                 "filename",
	                                 "invoice.zip",
	                                 "report",
	                                 "Mqsift.Test.EICAR.NDB.UNOFFICIAL",
	                                 "quarantine_id",
	                                 "20261124/6AOQ0000000001",
	                                 "subject",
	                                 "Your invoice",
	                                 "sender",
	                                 "Mallory <mallory@example.net>",
	                                 "recipients",
	                                 "bob@example.org",
	                                 "count",
	                                 "2",
	                                 "since",
	                                 "2026-11-23 06:30",
	                                 "until",
	                                 "2026-11-24 06:30",
	                                 "caught",
	                                 "3",
	                                 "date",
	                                 "2026-11-24 10:00:00 +0000",
	                                 "advice",
	                                 "\nWindows programs are not accepted by e-mail.\n",
	                                 "queue_id",
	                                 "6AOQ0000000001",
	                                 "tries",
	                                 "3",
	                                 "size",
	                                 "4096",
	                                 "reason",
	                                 "qf6AOQ0000000001: not a control file (no V record)",
	                                 "queue",
	                                 "/var/spool/mqueue.in",
	                                 "age",
	                                 "3600",
	                                 "destination",
	                                 "/var/spool/mqsift/quarantine/broken/6AOQ0000000001",
	                                 NULL};
	for (int i = 0; kv[i]; i += 2)
		g_hash_table_insert(v, (gpointer)kv[i], (gpointer)kv[i + 1]);
	return v;
}

/* one template in one language */
typedef struct {
	const char *lang;
	const char *name;
} GoldenCase;

/* test_golden - the template renders as its golden file, every variable known */
static void
test_golden(gconstpointer data)
{
	const GoldenCase *g = data;
	const char *top = g_getenv("TOP_SRCDIR");
	g_autofree char *tdir = g_build_filename(top ? top : ".", "reports", "templates", NULL);
	g_autofree char *gdir =
	    g_build_filename(top ? top : ".", "tests", "golden", "notices", NULL);
	GHashTable *vars = fixed_vars();
	g_autofree char *subject = NULL;
	g_autofree char *body =
	    template_render_mail(tdir, g->lang, g->name, vars, "(none)", &subject);
	g_autofree char *got = g_strdup_printf("Subject: %s\n\n%s", subject, body);
	g_autofree char *file = g_strdup_printf("%s-%s.txt", g->lang, g->name);
	g_autofree char *path = g_build_filename(gdir, file, NULL);
	g_autofree char *want = NULL;

	g_hash_table_destroy(vars);
	g_assert_null(strstr(got, "$")); /* every variable known */
	g_assert_true(g_utf8_validate(got, -1, NULL));
	if (g_getenv("MQSIFT_REGEN_GOLDEN")) {
		g_assert_true(g_file_set_contents(path, got, -1, NULL));
		return;
	}
	g_assert_true(g_file_get_contents(path, &want, NULL, NULL));
	if (strcmp(got, want) != 0)
		g_error("%s differs from %s:\n%s", file, path, got);
}

/* add_golden_tests - one test case per template and language */
static void
add_golden_tests(void)
{
	for (gsize l = 0; l < G_N_ELEMENTS(langs); l++)
		for (gsize n = 0; n < G_N_ELEMENTS(names); n++) {
			GoldenCase *g = g_new0(GoldenCase, 1); /* lives as long as the tests */
			g->lang = langs[l];
			g->name = names[n];
			g_autofree char *path = g_strdup_printf(
			    "/notices/template-renders-as-its-golden-file/%s/%s", g->lang, g->name);
			g_test_add_data_func(path, g, test_golden);
		}
}

/* test_builtin - the built-in texts are the shipped English files */
static void
test_builtin(void)
{
	const char *top = g_getenv("TOP_SRCDIR");

	for (gsize n = 0; n < G_N_ELEMENTS(names); n++) {
		g_autofree char *file = g_strdup_printf("%s.txt", names[n]);
		g_autofree char *path =
		    g_build_filename(top ? top : ".", "reports", "templates", "en", file, NULL);
		g_autofree char *text = NULL;
		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		g_assert_cmpstr(template_builtin(names[n]), ==, text);
	}
}

/* test_missing_template_falls_back - a missing file: the built-in text, and a warning */
static void
test_missing_template_falls_back(void)
{
	GHashTable *vars = fixed_vars();
	g_test_expect_message("mqsift", G_LOG_LEVEL_WARNING, "*using the built-in English text*");
	g_autofree char *t = template_render("/nonexistent", "en", "removed-part", vars);
	g_test_assert_expected_messages();
	g_assert_nonnull(strstr(t, "invoice.zip"));
	g_hash_table_destroy(vars);
}

typedef struct {
	const char *name;
	const char *sender;
	const char *extra_header; /* or NULL */
	const char *virus;        /* or NULL */
	gboolean allowed;
} SenderCase;

static const SenderCase sender_cases[] = {
    {"local-sender-is-told", "<alice@example.org>", NULL, NULL, TRUE},
    {"sender-in-a-local-subdomain-is-told", "<alice@sub.example.org>", NULL, NULL, TRUE},
    {"external-sender-is-not-told", "<mallory@example.net>", NULL, NULL, FALSE},
    {"lookalike-domain-is-not-a-subdomain", "<alice@badexample.org>", NULL, NULL, FALSE},
    {"null-sender-is-not-told", "<>", NULL, NULL, FALSE},
    {"bulk-mail-is-not-answered", "<alice@example.org>", "Precedence: bulk", NULL, FALSE},
    {"list-mail-is-not-answered", "<alice@example.org>", "Precedence: list", NULL, FALSE},
    {"list-id-is-not-answered", "<alice@example.org>", "List-Id: <x.example.org>", NULL, FALSE},
    {"auto-reply-is-not-answered", "<alice@example.org>", "Auto-Submitted: auto-replied", NULL,
     FALSE},
    {"auto-submitted-no-is-answered", "<alice@example.org>", "Auto-Submitted: no", NULL, TRUE},
    {"sender-forging-worm-is-not-answered", "<alice@example.org>", NULL, "Win.Worm.Mydoom-1",
     FALSE},
    {"sender-forging-virus-is-not-answered", "<alice@example.org>", NULL, "W32/Klez-G", FALSE},
    {"other-signature-is-answered", "<alice@example.org>", NULL, "Mqsift.Test.EICAR.NDB.UNOFFICIAL",
     TRUE},
};

/* test_sender_rule - who may be told */
static void
test_sender_rule(gconstpointer data)
{
	const SenderCase *sc = data;
	MqConfig *c = config_defaults();

	c->notify_sender = TRUE;
	g_strfreev(c->notify_local_domains);
	c->notify_local_domains = g_strsplit("example.org", ",", -1);
	g_autofree char *text =
	    g_strdup_printf("V8\nT1\n$_localhost [127.0.0.1]\nS%s\nRPFD:<b@example.com>\n"
	                    "HSubject: x\n%s%s%s.\n",
	                    sc->sender, sc->extra_header ? "H" : "",
	                    sc->extra_header ? sc->extra_header : "", sc->extra_header ? "\n" : "");
	Qf *qf = qf_parse(text, strlen(text), NULL);
	g_assert_nonnull(qf);
	GPtrArray *names_found = g_ptr_array_new();
	if (sc->virus)
		g_ptr_array_add(names_found, (gpointer)sc->virus);
	const char *why = NULL;
	gboolean ok = notify_sender_allowed(c, qf, names_found, &why);
	if (ok != sc->allowed)
		g_error("%s (%s, %s, %s): expected %s (%s)", sc->name, sc->sender,
		        sc->extra_header ? sc->extra_header : "-", sc->virus ? sc->virus : "-",
		        sc->allowed ? "allowed" : "refused", why ? why : "");
	g_ptr_array_unref(names_found);
	qf_free(&qf);
	config_free(&c);
}

/* test_sender_off - notify.sender off: nobody is told, and that is the reason given */
static void
test_sender_off(void)
{
	MqConfig *c = config_defaults();

	c->notify_sender = FALSE;
	Qf *qf = qf_parse("V8\nS<alice@example.org>\n.\n", 25, NULL);
	const char *why;
	g_assert_false(notify_sender_allowed(c, qf, NULL, &why));
	g_assert_cmpstr(why, ==, "notify.sender is off");
	qf_free(&qf);
	config_free(&c);
}

/* main - GTest */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	add_golden_tests();
	g_test_add_func("/notices/builtin-texts-are-the-shipped-english-files", test_builtin);
	g_test_add_func("/notices/missing-template-falls-back-to-the-builtin-text",
	                test_missing_template_falls_back);
	for (gsize i = 0; i < G_N_ELEMENTS(sender_cases); i++) {
		g_autofree char *path =
		    g_strconcat("/notices/sender-rules/", sender_cases[i].name, NULL);
		g_test_add_data_func(path, &sender_cases[i], test_sender_rule);
	}
	g_test_add_func("/notices/sender-rules/nobody-is-told-when-notify-sender-is-off",
	                test_sender_off);
	return g_test_run();
}
