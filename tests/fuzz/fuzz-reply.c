/*
 * fuzz-reply.c - libFuzzer target: the master's decoder of a worker's report
 *
 * Property: whatever bytes a worker sends, protocol_decode_report either
 * refuses them or returns a report whose every field is within its bound,
 * and that report encodes and decodes again to the same thing.
 */
#include "mqsift-build.h"

#include <string.h>

#include "config/config.h"
#include "scanner/protocol.h"
#include "tests/fuzz/fuzz.h"

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static MqConfig *config;
	g_autoptr(GError) error = NULL;
	ScanReport r, again;

	if (config == NULL)
		config = config_defaults();
	ProtocolReportLimits l = protocol_report_limits(config, 64 * 1024);
	GBytes *b = g_bytes_new(data, size);
	if (!protocol_decode_report(b, &l, &r, &error)) {
		g_assert_nonnull(error);
		g_assert_null(r.names);
		g_bytes_unref(b);
		return 0;
	}
	g_assert_cmpint(r.verdict, >=, VERDICT_CLEAN);
	g_assert_cmpint(r.verdict, <=, VERDICT_ERROR);
	g_assert_cmpuint(r.names->len, <=, PROTOCOL_MAX_NAMES);
	g_assert_cmpuint(r.findings->len, <=, l.max_findings);
	for (guint i = 0; i < r.findings->len; i++) {
		const Finding *f = g_ptr_array_index(r.findings, i);
		g_assert_true(protocol_path_is_valid(f->path));
		g_assert_true(g_str_has_prefix(f->saved_name, "part-"));
	}
	if (r.new_content_type)
		for (const char *p = r.new_content_type; *p; p++)
			g_assert_cmpint((guchar)*p, >=, 0x20);
	GBytes *again_b = protocol_encode_report(&r);
	g_assert_true(protocol_decode_report(again_b, &l, &again, &error));
	g_assert_no_error(error);
	g_assert_cmpint(again.verdict, ==, r.verdict);
	g_assert_cmpuint(again.findings->len, ==, r.findings->len);
	scan_report_clear(&again);
	scan_report_clear(&r);
	g_bytes_unref(again_b);
	g_bytes_unref(b);
	return 0;
}
