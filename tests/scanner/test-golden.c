/*
 * test-golden.c - message in, expected result out: tests/golden/NAME.eml is
 * scanned and the outcome (verdict, status header, findings, rewritten body)
 * compared with tests/golden/NAME.out.  MQSIFT_REGEN_GOLDEN=1 rewrites the
 * .out files (review the diff before committing them).
 *
 * Per-file settings from the name: "inline" turns on policy.inline_warning,
 * ".fr." selects the French templates.
 */
#include "mqsift-build.h"

#include <gmime/gmime.h>
#include <string.h>

#include "config/config.h"
#include "rules/policy.h"
#include "scanner/engine.h"
#include "scanner/scan.h"

static MqConfig *config;
static Engine *engine;
static Policy *policy;
static char *golden_dir;

/* describe - the text compared with the .out file */
static GString *
describe(const ScanReport *rep)
{
	GString *out = g_string_new(NULL);
	g_autofree char *st = scan_status_header(rep);

	g_string_append_printf(out, "verdict: %s\nstatus: %s\nwhole message replaced: %s\n",
	                       scan_verdict_name(rep->verdict), st,
	                       rep->whole_message ? "yes" : "no");
	for (guint i = 0; i < rep->findings->len; i++) {
		const Finding *f = g_ptr_array_index(rep->findings, i);
		g_string_append_printf(out, "finding: %s | %s | %s | %s\n", f->path,
		                       f->filename ? f->filename : "-", f->content_type, f->what);
	}
	if (rep->ambiguous)
		g_string_append_printf(out, "ambiguous: %s\n", rep->ambiguous);
	if (rep->new_content_type)
		g_string_append_printf(out, "new content type: %s\n", rep->new_content_type);
	if (rep->new_body) {
		gsize len;
		const char *b = g_bytes_get_data(rep->new_body, &len);
		g_string_append(out, "---- new body\n");
		g_string_append_len(out, b, (gssize)len);
	} else {
		g_string_append(out, "---- body unchanged\n");
	}
	/* every rewritten multipart gets a fresh random boundary (GMime's "=-"
	 * and 20 base64 characters): the same placeholder for all of them */
	g_autoptr(GRegex) boundary = g_regex_new("=-[A-Za-z0-9+/]{20,}", 0, 0, NULL);
	g_autofree char *fixed =
	    g_regex_replace_literal(boundary, out->str, -1, 0, "=-BOUNDARY", 0, NULL);
	g_string_assign(out, fixed);
	return out;
}

/* test_one - scan one golden input, compare */
static void
test_one(gconstpointer data)
{
	const char *name = data;
	g_autofree char *in = g_build_filename(golden_dir, name, NULL);
	g_autofree char *base = g_strndup(name, strlen(name) - 4);
	g_autofree char *outname = g_strconcat(base, ".out", NULL);
	g_autofree char *outp = g_build_filename(golden_dir, outname, NULL);
	g_autofree char *msg = NULL, *expected = NULL;
	gsize len;
	ScanReport rep;

	g_assert_true(g_file_get_contents(in, &msg, &len, NULL));
	config->policy_inline_warning = strstr(name, "inline") != NULL;
	g_free(config->reports_language);
	config->reports_language = g_strdup(strstr(name, ".fr.") ? "fr" : "en");
	ScanSettings ctx_settings;
	scan_settings_from_config(config, &ctx_settings);
	ScanContext ctx = {&ctx_settings, engine, policy, "20261124/6AOGOLDEN000001"};
	scan_message(&ctx, msg, len, &rep);
	GString *got = describe(&rep);
	if (g_getenv("MQSIFT_REGEN_GOLDEN")) {
		g_assert_true(g_file_set_contents(outp, got->str, (gssize)got->len, NULL));
	} else {
		g_assert_true(g_file_get_contents(outp, &expected, NULL, NULL));
		if (strcmp(got->str, expected) != 0) {
			g_autofree char *gotp = g_strconcat(outp, ".got", NULL);
			g_file_set_contents(gotp, got->str, (gssize)got->len, NULL);
			g_error("%s: result differs from %s (see %s)", name, outp, gotp);
		}
	}
	/* whatever goes out is clean: scan the rewritten body as a message again */
	if (rep.new_body) {
		gsize blen;
		const char *b = g_bytes_get_data(rep.new_body, &blen);
		GString *again = g_string_new("From: a@b\nContent-Type: ");
		g_string_append(again,
		                rep.new_content_type ? rep.new_content_type : "multipart/mixed");
		g_string_append(again, "\n\n");
		g_string_append_len(again, b, (gssize)blen);
		EngineResult res;
		engine_result_init(&res);
		engine_scan_buffer(engine, again->str, again->len, "again", &res);
		g_assert_cmpuint(res.names->len, ==, 0);
		engine_result_clear(&res);
		g_string_free(again, TRUE);
	}
	g_string_free(got, TRUE);
	scan_report_clear(&rep);
}

/* main - one test per .eml */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	const char *top = g_getenv("TOP_SRCDIR");
	GError *error = NULL;

	golden_dir = g_build_filename(top ? top : ".", "tests", "golden", NULL);
	config = config_defaults();
	g_free(config->scanner_signatures);
	config->scanner_signatures = g_build_filename(top ? top : ".", "tests", "signatures", NULL);
	g_free(config->reports_templates);
	config->reports_templates = g_build_filename(top ? top : ".", "reports", "templates", NULL);
	g_free(config->scanner_hostname);
	config->scanner_hostname = g_strdup("mx.golden.test");
	policy = policy_new(config, &error);
	g_assert_no_error(error);
	engine = engine_new(config, &error);
	g_assert_no_error(error);

	GDir *d = g_dir_open(golden_dir, 0, &error);
	g_assert_no_error(error);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	const char *n;
	while ((n = g_dir_read_name(d)) != NULL)
		if (g_str_has_suffix(n, ".eml"))
			g_ptr_array_add(names, g_strdup(n));
	g_dir_close(d);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *base = g_strdup(g_ptr_array_index(names, i));
		*strrchr(base, '.') = '\0'; /* the .eml suffix: a path names a case, not a file */
		g_autofree char *path =
		    g_strdup_printf("/golden/message-comes-out-as-its-golden-file/%s", base);
		g_test_add_data_func(path, g_ptr_array_index(names, i), test_one);
	}
	int status = g_test_run();
	g_ptr_array_unref(names);
	engine_free(&engine);
	policy_free(&policy);
	config_free(&config);
	g_free(golden_dir);
	return status;
}
