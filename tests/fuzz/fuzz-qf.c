/*
 * fuzz-qf.c - libFuzzer target: the qf parser and writer
 *
 * Property: anything qf_parse accepts serializes to bytes that parse again to
 * the same records (and, without CRLF, to the input itself); header access
 * and edits never crash.
 */
#include "mqsift-build.h"

#include <string.h>

#include "queue/qf.h"
#include "tests/fuzz/fuzz.h"

/* LLVMFuzzerTestOneInput - one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	Qf *qf = qf_parse((const char *)data, size, &error);

	if (qf == NULL)
		return 0;
	GString *out = qf_serialize(qf);
	if (memchr(data, '\r', size) == NULL && size > 0 && data[size - 1] == '\n')
		g_assert_cmpmem(out->str, out->len, data, size);
	Qf *again = qf_parse(out->str, out->len, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(qf_n_records(again), ==, qf_n_records(qf));
	g_autoptr(GPtrArray) rcpts = qf_recipients(qf);
	g_autofree char *ip = qf_client_ip(qf);
	g_autofree char *subject = qf_header_get(qf, "Subject");
	GString *headers = qf_headers_text(qf);
	qf_add_header(again, "X-Fuzz", subject ? subject : "\xff\x80 new\nline");
	qf_set_flag(again, '8', qf_has_8bit_headers(again));
	qf_set_body_type(again, TRUE);
	qf_sanitize_for_outbound(again);
	GString *out2 = qf_serialize(again);
	Qf *third = qf_parse(out2->str, out2->len, &error);
	g_assert_no_error(error);
	qf_free(&third);
	g_string_free(out2, TRUE);
	g_string_free(headers, TRUE);
	g_string_free(out, TRUE);
	qf_free(&again);
	qf_free(&qf);
	return 0;
}
