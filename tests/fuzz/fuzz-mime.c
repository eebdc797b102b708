/*
 * fuzz-mime.c - libFuzzer target: the MIME walk, the rewrite, the verification
 *
 * Runs scan_message() with the real libclamav and the shipped test
 * signatures.  Property: no crash, no leak, and when a message is rewritten
 * the result contains no EICAR.
 */
#include "mqsift-build.h"

#include <gmime/gmime.h>
#include <string.h>

#include "config/config.h"
#include "rules/policy.h"
#include "scanner/engine.h"
#include "scanner/scan.h"
#include "tests/fuzz/fuzz.h"

static MqConfig *config;
static Engine *engine;
static Policy *policy;

/* setup - one engine for the whole run */
static void
setup(void)
{
	const char *top = g_getenv("TOP_SRCDIR");
	GError *error = NULL;

	g_mime_init();
	config = config_defaults();
	g_free(config->scanner_signatures);
	config->scanner_signatures = g_build_filename(top ? top : ".", "tests", "signatures", NULL);
	g_free(config->reports_templates);
	config->reports_templates = g_build_filename(top ? top : ".", "reports", "templates", NULL);
	config->scanner_max_mime_parts = 200;
	policy = policy_new(config, &error);
	g_assert_no_error(error);
	engine = engine_new(config, &error);
	g_assert_no_error(error);
}

/* LLVMFuzzerTestOneInput - one message */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ScanReport rep;
	ScanSettings settings;
	ScanContext ctx;

	if (engine == NULL)
		setup();
	scan_settings_from_config(config, &settings);
	ctx = (ScanContext){&settings, engine, policy, "20261124/FUZZ"};
	scan_message(&ctx, (const char *)data, size, &rep);
	if (rep.new_body != NULL) {
		gsize len;
		const char *b = g_bytes_get_data(rep.new_body, &len);
		g_assert_null(g_strstr_len(b, (gssize)len, "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"));
	}
	g_autofree char *st = scan_status_header(&rep);
	g_assert_nonnull(st);
	scan_report_clear(&rep);
	return 0;
}
