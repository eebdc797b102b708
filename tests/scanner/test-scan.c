/*
 * test-scan.c - the scan of one message: raw scan, MIME walk, rewrite, verification
 *
 * Uses the real libclamav with the test signatures mqsift ships (tests/signatures).
 */
#include "mqsift-build.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gmime/gmime.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "rules/policy.h"
#include "scanner/engine.h"
#include "scanner/scan.h"
#include "scanner/tnef.h"

#define EICAR_B64                                                                        \
	"WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNU\n" \
	"LUZJTEUhJEgrSCo=\n"

static MqConfig *config;
static Engine *engine;
static Policy *policy;

/* scan - scan @text with the shared engine */
static void
scan(const char *text, ScanReport *rep)
{
	ScanSettings ctx_settings;
	scan_settings_from_config(config, &ctx_settings);
	ScanContext ctx = {&ctx_settings, engine, policy, "20261124/6AOTEST0000001"};

	scan_message(&ctx, text, strlen(text), rep);
}

/* body_text - the rewritten body as a NUL-terminated string (caller frees) */
static char *
body_text(const ScanReport *rep, gsize *len)
{
	g_assert_nonnull(rep->new_body);
	const char *data = g_bytes_get_data(rep->new_body, len);
	return g_strndup(data, *len);
}

/* test_clean - nothing found, nothing rewritten */
static void
test_clean(void)
{
	ScanReport rep;

	scan("From: a@b\nSubject: hi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
	     "boundary=\"x\"\n\n--x\nContent-Type: text/plain\n\nhello\n--x\n"
	     "Content-Type: application/pdf\nContent-Disposition: attachment; filename=r.pdf\n"
	     "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--x--\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_CLEAN);
	g_assert_null(rep.new_body);
	g_assert_cmpuint(rep.findings->len, ==, 0);
	g_assert_cmpuint(rep.parts, ==, 2);
	/* well-formed: libclamav's reading and GMime's agree, one scan pays for both */
	g_assert_cmpuint(rep.scans, ==, 1);
	g_assert_null(rep.ambiguous);
	g_autofree char *st = scan_status_header(&rep);
	g_assert_cmpstr(st, ==, "Clean");
	scan_report_clear(&rep);
}

/* test_eicar_attachment - the part is replaced, the rest kept byte for byte */
static void
test_eicar_attachment(void)
{
	ScanReport rep;
	gsize len;

	scan("From: a@b\nSubject: hi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
	     "boundary=\"x\"\n\npreamble\n--x\nContent-Type: text/plain\n\nhello  \n--x\n"
	     "Content-Type: application/octet-stream\n"
	     "Content-Disposition: attachment; filename=\"eicar.com\"\n"
	     "Content-Transfer-Encoding: base64\n\n" EICAR_B64 "--x--\nepilogue\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	g_assert_false(rep.whole_message);
	g_assert_cmpuint(rep.findings->len, ==, 1);
	const Finding *f = g_ptr_array_index(rep.findings, 0);
	g_assert_cmpstr(f->filename, ==, "eicar.com");
	g_assert_cmpstr(f->path, ==, "2");
	g_assert_nonnull(strstr(f->what, "Mqsift.Test.EICAR"));
	g_assert_cmpuint(g_bytes_get_size(f->content), ==, 68);
	g_autofree char *body = body_text(&rep, &len);
	/* the sender's boundary is gone (a name could have forged it), the rest is kept */
	g_assert_nonnull(rep.new_content_type);
	const char *b = strstr(rep.new_content_type, "boundary=\"");
	g_assert_nonnull(b);
	g_autofree char *boundary = g_strndup(b + 10, strcspn(b + 10, "\""));
	g_assert_cmpstr(boundary, !=, "x");
	g_assert_cmpuint(strlen(boundary), >=, 20);
	g_assert_null(strstr(body, "\n--x\n"));
	g_autofree char *kept = g_strdup_printf(
	    "preamble\n--%s\nContent-Type: text/plain\n\nhello  \n--%s\n", boundary, boundary);
	g_assert_nonnull(strstr(body, kept));
	g_autofree char *end = g_strdup_printf("--%s--\nepilogue", boundary);
	g_assert_nonnull(strstr(body, end));
	g_assert_null(strstr(body, "WDVPIVAlQEFQ"));
	g_assert_nonnull(strstr(body, "eicar.com"));
	g_assert_nonnull(strstr(body, "20261124/6AOTEST0000001"));
	g_assert_nonnull(strstr(body, "Mqsift.Test.EICAR"));
	g_autofree char *st = scan_status_header(&rep);
	g_assert_true(g_str_has_prefix(st, "Infected (Mqsift.Test.EICAR"));
	scan_report_clear(&rep);
}

/* test_nested - EICAR in a forwarded message (the trap of g_mime_message_foreach) */
static void
test_nested(void)
{
	ScanReport rep;
	gsize len;

	scan("From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"o\"\n\n"
	     "--o\nContent-Type: text/plain\n\nsee attached\n--o\nContent-Type: message/rfc822\n\n"
	     "From: c@d\nSubject: inner\nMIME-Version: 1.0\n"
	     "Content-Type: multipart/mixed; boundary=\"i\"\n\n--i\nContent-Type: text/plain\n\n"
	     "inner text\n--i\nContent-Type: application/octet-stream; name=\"inner.bin\"\n"
	     "Content-Transfer-Encoding: base64\n\n" EICAR_B64 "--i--\n--o--\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	g_assert_false(rep.whole_message);
	const Finding *f = g_ptr_array_index(rep.findings, 0);
	g_assert_cmpstr(f->path, ==, "2.2");
	g_assert_cmpstr(f->filename, ==, "inner.bin");
	g_autofree char *body = body_text(&rep, &len);
	g_assert_nonnull(strstr(body, "inner text"));
	g_assert_null(strstr(body, "WDVPIVAlQEFQ"));
	scan_report_clear(&rep);
}

/* test_no_boundary - a multipart without boundary hides its parts: whole message */
static void
test_no_boundary(void)
{
	ScanReport rep;
	gsize len;

	scan("From: a@b\nSubject: sneaky\nMIME-Version: 1.0\nContent-Type: multipart/mixed\n\n"
	     "--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: "
	     "base64\n\n" EICAR_B64 "--zz--\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	g_assert_true(rep.whole_message);
	g_assert_cmpstr(rep.new_content_type, ==, "text/plain; charset=utf-8");
	g_autofree char *body = body_text(&rep, &len);
	g_assert_null(strstr(body, "WDVPIVAlQEFQ"));
	g_assert_nonnull(strstr(body, "sneaky"));
	scan_report_clear(&rep);
}

/* test_single_part - the virus is the body itself: whole message */
static void
test_single_part(void)
{
	ScanReport rep;

	scan("From: a@b\nSubject: x\nMIME-Version: 1.0\nContent-Type: application/octet-stream\n"
	     "Content-Transfer-Encoding: base64\n\n" EICAR_B64,
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	g_assert_true(rep.whole_message);
	scan_report_clear(&rep);
}

/* test_uuencode_in_text - a uuencoded EICAR pasted in text/plain: caught by the raw scan */
static void
test_uuencode_in_text(void)
{
	ScanReport rep;

	scan("From: a@b\nSubject: uu\n\nhere it is\n\nbegin 644 eicar.com\n"
	     "M6#5/(5`E0$%06S1<4%I8-30H4%XI-T-#*3=])$5)0T%2+5-404Y$05)$+4%.\n"
	     "75$E625)54RU415-4+49)3$4A)$@K2\"H`\n`\nend\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	g_assert_true(rep.whole_message);
	scan_report_clear(&rep);
}

/* test_banned_name - a clean file with a banned name is blocked, replaced */
static void
test_banned_name(void)
{
	ScanReport rep;
	gsize len;

	scan("From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"x\"\n\n"
	     "--x\nContent-Type: text/plain\n\nhi\n--x\nContent-Type: application/octet-stream\n"
	     "Content-Disposition: attachment; filename*=UTF-8''invoice.pdf%20.exe\n"
	     "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--x--\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_BLOCKED);
	g_assert_false(rep.whole_message);
	g_assert_cmpstr(rep.blocked, ==, "banned file name invoice.pdf .exe (Executable file)");
	g_autofree char *body = body_text(&rep, &len);
	g_assert_null(strstr(body, "TVqQAAMAAAAEAAAA"));
	g_autofree char *st = scan_status_header(&rep);
	g_assert_cmpstr(st, ==, "Blocked (banned file name invoice.pdf .exe (Executable file))");
	scan_report_clear(&rep);
}

/* test_limits - a message over max_message_size gets the limits verdict, by policy */
static void
test_limits(void)
{
	ScanReport rep;
	guint64 saved = config->scanner_max_message_size;

	config->scanner_max_message_size = 10;
	g_free(config->scanner_on_limits);
	config->scanner_on_limits = g_strdup("deliver");
	scan("From: a@b\n\nmore than ten bytes\n", &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_CLEAN);
	g_assert_true(rep.limits);
	scan_report_clear(&rep);
	g_free(config->scanner_on_limits);
	config->scanner_on_limits = g_strdup("block");
	scan("From: a@b\n\nmore than ten bytes\n", &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_BLOCKED);
	g_assert_true(rep.whole_message);
	scan_report_clear(&rep);
	config->scanner_max_message_size = saved;
}

/*
 * test_clamav_testfiles - every file of Debian's clamav-testfiles that the
 * engine detects on its own is still detected attached to a mail, and the
 * rewrite removes it without replacing the whole message
 */
static void
test_clamav_testfiles(void)
{
	const char *dir = "/usr/share/clamav-testfiles";
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	guint tested = 0, skipped = 0;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_autofree char *data = NULL;
		gsize len;
		ScanReport rep;
		EngineResult raw;

		if (!g_file_get_contents(path, &data, &len, NULL) || len == 0)
			continue;
		engine_result_init(&raw);
		engine_scan_buffer(engine, data, len, name, &raw);
		gboolean detected = raw.names->len > 0 && !raw.limits;
		engine_result_clear(&raw);
		if (!detected) {
			skipped++; /* needs a signature or unpacker the test database lacks */
			continue;
		}
		g_autofree char *b64 = g_base64_encode((const guchar *)data, len);
		g_autofree char *msg =
		    g_strdup_printf("From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
		                    "boundary=\"x\"\n\n"
		                    "--x\nContent-Type: text/plain\n\nsee\n--x\nContent-Type: "
		                    "application/octet-stream\n"
		                    "Content-Disposition: attachment; filename=\"%s.bin\"\n"
		                    "Content-Transfer-Encoding: base64\n\n%s\n--x--\n",
		                    name, b64);
		scan(msg, &rep);
		if (rep.verdict != VERDICT_INFECTED)
			g_error("%s: detected alone, but not attached to a mail (%s)", name,
			        scan_verdict_name(rep.verdict));
		if (rep.whole_message)
			g_error("%s: the part could not be removed on its own", name);
		scan_report_clear(&rep);
		tested++;
	}
	g_dir_close(d);
	g_test_message("%u containers detected in mail, %u not detected alone", tested, skipped);
	g_assert_cmpuint(tested, >=, 30);
}

/* limits_message - @zip_b64 as an attachment of a mail */
static char *
limits_message(const char *zip_b64)
{
	return g_strdup_printf(
	    "From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"x\"\n\n"
	    "--x\nContent-Type: text/plain\n\nsee\n--x\nContent-Type: application/zip; "
	    "name=\"e.zip\"\nContent-Transfer-Encoding: base64\n\n%s\n--x--\n",
	    zip_b64);
}

/* shallow_engine - an engine whose archive recursion stops at @depth */
static Engine *
shallow_engine(MqConfig **c, guint depth)
{
	const char *top = g_getenv("TOP_SRCDIR");
	GError *error = NULL;

	*c = config_defaults();
	g_free((*c)->scanner_signatures);
	(*c)->scanner_signatures = g_build_filename(top ? top : ".", "tests", "signatures", NULL);
	(*c)->scanner_max_recursion = depth;
	g_free((*c)->reports_templates);
	(*c)->reports_templates = g_strdup(config->reports_templates);
	Engine *e = engine_new(*c, &error);
	g_assert_no_error(error);
	return e;
}

/*
 * test_limits_rescan_parts - the mail's own layers use up libclamav's
 * recursion budget: EICAR in a zip in a mail with max_recursion 1 is not
 * found by the raw scan, but each part is then scanned on its own (before:
 * "Clean (partly scanned)")
 */
static void
test_limits_rescan_parts(void)
{
	MqConfig *c;
	Engine *shallow = shallow_engine(&c, 1);
	static const char zip_b64[] =
	    "UEsDBBQAAAAAAAAAIVw8z1FoRAAAAEQAAAAJAAAAZWljYXIudHh0WDVPIVAlQEFQWzRcUFpYNTQo"
	    "UF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCpQSwECFAMU"
	    "AAAAAAAAACFcPM9RaEQAAABEAAAACQAAAAAAAAAAAAAAgAEAAAAAZWljYXIudHh0UEsFBgAAAAAB"
	    "AAEANwAAAGsAAAAAAA==";
	g_autofree char *msg = limits_message(zip_b64);
	ScanSettings ctx_settings;
	scan_settings_from_config(c, &ctx_settings);
	ScanContext ctx = {&ctx_settings, shallow, policy, "20261124/LIMITS"};
	ScanReport rep;

	scan_message(&ctx, msg, strlen(msg), &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	g_assert_cmpuint(rep.scans, >, 1);
	scan_report_clear(&rep);
	engine_free(&shallow);
	config_free(&c);
}

/*
 * test_engine_limits - a file beyond libclamav's limits even on its own is not
 * silently clean: a deflated zip in a zip holding EICAR, max_recursion 1,
 * gets the limits verdict (deliver with the partial status, or block)
 */
static void
test_engine_limits(void)
{
	MqConfig *c;
	Engine *shallow = shallow_engine(&c, 1);
	static const char zip_b64[] =
	    "UEsDBBQAAAAIAAAAIVzP+I1riQAAALoAAAAJAAAAaW5uZXIuemlwC/BmZhFhYGDgAGLFGJvzgRlu"
	    "QJYLEHMCcWpmcmKRXklFSbfB13CegNICng6zTs6OLgPTixwdl03Ky66ZrA8t/FpSxnOJl6/wS3Eh"
	    "T9HF0i/cH3k+83DxXuMt5OW7WPr5S2FoyMcL3y4wMQR4MzKJMOO2DgYaGBmQLQ/wZmUDCTACoTmQ"
	    "zgUrAgBQSwECFAMUAAAACAAAACFcz/iNa4kAAAC6AAAACQAAAAAAAAAAAAAAgAEAAAAAaW5uZXIu"
	    "emlwUEsFBgAAAAABAAEANwAAALAAAAAAAA==";
	g_autofree char *msg = limits_message(zip_b64);
	ScanSettings ctx_settings;
	scan_settings_from_config(c, &ctx_settings);
	ScanContext ctx = {&ctx_settings, shallow, policy, "20261124/LIMITS"};
	ScanReport rep;

	scan_message(&ctx, msg, strlen(msg), &rep);
	g_assert_true(rep.limits);
	g_assert_cmpint(rep.verdict, ==, VERDICT_BLOCKED); /* on_limits: block (the default) */
	scan_report_clear(&rep);
	g_free(c->scanner_on_limits);
	c->scanner_on_limits = g_strdup("deliver");
	scan_settings_from_config(c, &ctx_settings); /* the settings are a snapshot */
	scan_message(&ctx, msg, strlen(msg), &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_CLEAN);
	g_autofree char *st = scan_status_header(&rep);
	g_assert_cmpstr(st, ==, "Clean (partly scanned: a scan limit was exceeded)");
	scan_report_clear(&rep);
	g_free(c->scanner_on_limits);
	c->scanner_on_limits = g_strdup("block");
	scan_settings_from_config(c, &ctx_settings);
	scan_message(&ctx, msg, strlen(msg), &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_BLOCKED);
	scan_report_clear(&rep);
	/* the same message with the normal limits: found */
	ScanSettings full_settings;
	scan_settings_from_config(config, &full_settings);
	ScanContext full = {&full_settings, engine, policy, "20261124/LIMITS"};
	scan_message(&full, msg, strlen(msg), &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	scan_report_clear(&rep);
	engine_free(&shallow);
	config_free(&c);
}

/* leaf_names - the file names of the leaves of @body parsed as a message of type @ctype */
static GPtrArray *
leaf_names(const char *ctype, GBytes *body)
{
	gsize blen;
	const char *b = g_bytes_get_data(body, &blen);
	GString *msg = g_string_new("From: a@b\nMIME-Version: 1.0\nContent-Type: ");
	g_string_append(msg, ctype);
	g_string_append(msg, "\n\n");
	g_string_append_len(msg, b, (gssize)blen);
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(msg->str, msg->len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	GMimePartIter *it = g_mime_part_iter_new(GMIME_OBJECT(m));

	do {
		GMimeObject *cur = g_mime_part_iter_get_current(it);
		if (cur != NULL && GMIME_IS_PART(cur)) {
			const char *n = g_mime_part_get_filename(GMIME_PART(cur));
			g_ptr_array_add(names, g_strdup(n ? n : ""));
		}
	} while (g_mime_part_iter_next(it));
	g_mime_part_iter_free(it);
	g_object_unref(m);
	g_object_unref(parser);
	g_object_unref(stream);
	g_string_free(msg, TRUE);
	return names;
}

/*
 * test_name_injection - a banned attachment whose RFC 2231 name decodes to
 * CR/LF, the sender's boundary and a new part header: the "cleaned" message
 * must hold the text and the replacement, nothing else (before: the name went
 * out with the sender's boundary and "x.bat" became an attachment)
 */
static void
test_name_injection(void)
{
	ScanReport rep;
	static const char inj[] =
	    "x%0D%0A--B%0D%0AContent-Type%3A%20application%2Foctet-stream%3B%20name%2A0%3Dx%3B"
	    "%20name%2A1%3D.bat%0D%0AContent-Transfer-Encoding%3A%20base64%0D%0A%0D%0A"
	    "TVqQAAMAAAAEAAAA%0D%0A--B--%0D%0A.exe";
	g_autofree char *msg = g_strdup_printf(
	    "From: a@b\nSubject: inj\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
	    "boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nhello\n--B\n"
	    "Content-Type: application/octet-stream\n"
	    "Content-Disposition: attachment; filename*=utf-8''%s\n"
	    "Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--B--\n",
	    inj);

	scan(msg, &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_BLOCKED);
	g_assert_false(rep.whole_message);
	g_assert_nonnull(rep.new_content_type);
	g_autoptr(GPtrArray) names = leaf_names(rep.new_content_type, rep.new_body);
	g_assert_cmpuint(names->len, ==, 2);
	for (guint i = 0; i < names->len; i++) {
		const char *n = g_ptr_array_index(names, i);
		g_assert_false(g_str_has_suffix(n, ".bat"));
		g_assert_null(strchr(n, '\n'));
		g_assert_null(strchr(n, '\r'));
	}
	scan_report_clear(&rep);
}

/*
 * test_parsers_disagree - a boundary given twice: libclamav and GMime take the
 * first, a client taking the last sees an EICAR attachment neither decodes:
 * the message is blocked as ambiguous (before: Clean), or delivered with the
 * finding when mime.on_ambiguous is deliver
 */
static void
test_parsers_disagree(void)
{
	ScanReport rep;

	scan("From: a@b\nSubject: hi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
	     "boundary=\"one\"; boundary=\"two\"\n\n--one\nContent-Type: text/plain\n\nA\n"
	     "--two\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: "
	     "base64\n\n" EICAR_B64 "--two--\n--one--\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_BLOCKED);
	g_assert_nonnull(strstr(rep.blocked, "ambiguous MIME"));
	g_assert_nonnull(strstr(rep.blocked, "boundary"));
	g_assert_true(rep.whole_message);
	scan_report_clear(&rep);
	scan("From: a@b\nSubject: hi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
	     "boundary=\"one\"; boundary=\"two\"\n\n--one\nContent-Type: text/plain\n\nA\n"
	     "--two\nContent-Type: text/plain\n\nB\n--two--\n--one--\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_BLOCKED);
	g_assert_nonnull(strstr(rep.blocked, "ambiguous MIME"));
	g_assert_true(rep.whole_message);
	scan_report_clear(&rep);
	g_free(config->mime_on_ambiguous);
	config->mime_on_ambiguous = g_strdup("deliver");
	scan("From: a@b\nSubject: hi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
	     "boundary=\"one\"; boundary=\"two\"\n\n--one\nContent-Type: text/plain\n\nA\n"
	     "--two\nContent-Type: text/plain\n\nB\n--two--\n--one--\n",
	     &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_CLEAN);
	g_assert_nonnull(rep.ambiguous);
	scan_report_clear(&rep);
	g_free(config->mime_on_ambiguous);
	config->mime_on_ambiguous = g_strdup("block");
}

/*
 * test_member_cut_at_max_file_size - libclamav cuts an archive member at
 * max_file_size without a word: that is a limit (before: plain Clean)
 */
static void
test_member_cut_at_max_file_size(void)
{
	MqConfig *c = config_defaults();
	const char *top = g_getenv("TOP_SRCDIR");
	GError *error = NULL;

	g_free(c->scanner_signatures);
	c->scanner_signatures = g_build_filename(top ? top : ".", "tests", "signatures", NULL);
	c->scanner_max_file_size = 64 * 1024;
	g_free(c->scanner_on_limits);
	c->scanner_on_limits = g_strdup("block");
	g_free(c->reports_templates);
	c->reports_templates = g_strdup(config->reports_templates);
	Engine *small = engine_new(c, &error);
	g_assert_no_error(error);
	/* a deflated zip with a 200 kB member of zeros */
	GByteArray *zeros = g_byte_array_new();
	g_byte_array_set_size(zeros, 200 * 1024);
	memset(zeros->data, 'A', zeros->len);
	g_autoptr(GBytes) zip = NULL;
	{
		/* stored, one member: small enough to write by hand */
		GByteArray *z = g_byte_array_new();
		guint32 crc = 0, size = zeros->len;
		crc = (guint32)0; /* libclamav does not check the CRC of a stored member */
		guint8 lfh[30] = {'P', 'K', 3, 4, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0};
		memcpy(lfh + 14, &crc, 4);
		memcpy(lfh + 18, &size, 4);
		memcpy(lfh + 22, &size, 4);
		lfh[26] = 5;
		g_byte_array_append(z, lfh, 30);
		g_byte_array_append(z, (const guint8 *)"a.txt", 5);
		g_byte_array_append(z, zeros->data, zeros->len);
		guint8 cdh[46] = {'P', 'K', 1, 2, 20, 0, 10, 0};
		memcpy(cdh + 16, &crc, 4);
		memcpy(cdh + 20, &size, 4);
		memcpy(cdh + 24, &size, 4);
		cdh[28] = 5;
		guint32 cd_at = z->len;
		g_byte_array_append(z, cdh, 46);
		g_byte_array_append(z, (const guint8 *)"a.txt", 5);
		guint8 eocd[22] = {'P', 'K', 5, 6, 0, 0, 0, 0, 1, 0, 1, 0};
		guint32 cd_len = 51;
		memcpy(eocd + 12, &cd_len, 4);
		memcpy(eocd + 16, &cd_at, 4);
		g_byte_array_append(z, eocd, 22);
		zip = g_byte_array_free_to_bytes(z);
	}
	g_byte_array_unref(zeros);
	g_autofree char *b64 = g_base64_encode(g_bytes_get_data(zip, NULL), g_bytes_get_size(zip));
	g_autofree char *msg = limits_message(b64);
	ScanSettings ctx_settings;
	scan_settings_from_config(c, &ctx_settings);
	ScanContext ctx = {&ctx_settings, small, policy, "20261124/LIMITS"};
	ScanReport rep;

	scan_message(&ctx, msg, strlen(msg), &rep);
	g_assert_true(rep.limits);
	g_assert_cmpint(rep.verdict, ==, VERDICT_BLOCKED);
	scan_report_clear(&rep);
	engine_free(&small);
	config_free(&c);
}

/* tnef_attr - one level-2 TNEF attribute (id, then its body and checksum) */
static void
tnef_attr(GByteArray *b, guint32 attr, const void *body, guint32 len)
{
	guint8 level = 2;
	guint16 sum = 0;

	for (guint32 i = 0; i < len; i++)
		sum = (guint16)(sum + ((const guint8 *)body)[i]);
	g_byte_array_append(b, &level, 1);
	g_byte_array_append(b, (const guint8 *)&attr, 4);
	g_byte_array_append(b, (const guint8 *)&len, 4);
	g_byte_array_append(b, body, len);
	g_byte_array_append(b, (const guint8 *)&sum, 2);
}

/* mapi_value - a PT_STRING8 or PT_BINARY property value: count, length, bytes, padding */
static void
mapi_value(GByteArray *b, guint16 type, guint16 id, const void *v, guint32 len)
{
	guint32 one = 1;
	static const guint8 pad[4];

	g_byte_array_append(b, (const guint8 *)&type, 2);
	g_byte_array_append(b, (const guint8 *)&id, 2);
	g_byte_array_append(b, (const guint8 *)&one, 4);
	g_byte_array_append(b, (const guint8 *)&len, 4);
	g_byte_array_append(b, v, len);
	g_byte_array_append(b, pad, (4 - len % 4) % 4);
}

/*
 * test_tnef_every_name - a TNEF attachment titled "invoice.exe" whose MAPI
 * long file name says "invoice.txt", its bytes only in PR_ATTACH_DATA_BIN:
 * the title is still checked (before: the long name replaced it) and the
 * bytes are scanned as a file of their own
 */
static void
test_tnef_every_name(void)
{
	static const char eicar[] =
	    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
	GByteArray *b = g_byte_array_new();
	guint32 sig = 0x223e9f78u;
	guint16 key = 0;
	guint8 rend[14] = {0};

	g_byte_array_append(b, (const guint8 *)&sig, 4);
	g_byte_array_append(b, (const guint8 *)&key, 2);
	tnef_attr(b, 0x00069002u, rend, sizeof rend);
	tnef_attr(b, 0x00018010u, "invoice.exe", 12);
	GByteArray *props = g_byte_array_new();
	guint32 count = 2;
	g_byte_array_append(props, (const guint8 *)&count, 4);
	mapi_value(props, 0x001E, 0x3707, "invoice.txt", 12);
	mapi_value(props, 0x0102, 0x3701, eicar, (guint32)strlen(eicar));
	tnef_attr(b, 0x00069005u, props->data, props->len);
	g_byte_array_unref(props);

	GPtrArray *files = tnef_extract(b->data, b->len, 10);
	g_assert_nonnull(files);
	g_assert_cmpuint(files->len, ==, 1);
	TnefFile *f = g_ptr_array_index(files, 0);
	g_assert_cmpstr(f->name, ==, "invoice.txt");
	g_assert_true(g_ptr_array_find_with_equal_func(f->names, "invoice.exe", g_str_equal, NULL));
	g_assert_nonnull(f->data_prop);
	g_ptr_array_unref(files);

	g_autofree char *b64 = g_base64_encode(b->data, b->len);
	g_autofree char *msg = g_strdup_printf(
	    "From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"x\"\n\n"
	    "--x\nContent-Type: text/plain\n\nsee\n--x\nContent-Type: application/ms-tnef; "
	    "name=\"winmail.dat\"\nContent-Transfer-Encoding: base64\n\n%s\n--x--\n",
	    b64);
	ScanReport rep;
	scan(msg, &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	/* the hash signature matches only the exact file: PR_ATTACH_DATA_BIN was scanned */
	gboolean hdb = FALSE;
	for (guint i = 0; i < rep.names->len; i++)
		hdb |= strstr(g_ptr_array_index(rep.names, i), "HDB") != NULL;
	g_assert_true(hdb);
	scan_report_clear(&rep);
	g_byte_array_unref(b);
}

/* body_fd - @len bytes of @body in an unlinked temporary file, for reading */
static int
body_fd(const char *body, gsize len)
{
	g_autofree char *path = NULL;
	GError *error = NULL;
	int fd = g_file_open_tmp("mqsift-test-body-XXXXXX", &path, &error);

	g_assert_no_error(error);
	for (gsize done = 0; done < len;) {
		gssize n = write(fd, body + done, len - done);
		g_assert_cmpint(n, >, 0);
		done += (gsize)n;
	}
	g_unlink(path);
	return fd;
}

#define BODY_FD_HEADERS                                                              \
	"From: a@b\nSubject: hi\nMIME-Version: 1.0\nContent-Type: multipart/mixed; " \
	"boundary=\"x\"\n\n"
#define BODY_FD_BODY                                                \
	"--x\nContent-Type: text/plain\n\nhello\n--x\n"             \
	"Content-Type: application/octet-stream\n"                  \
	"Content-Disposition: attachment; filename=\"eicar.com\"\n" \
	"Content-Transfer-Encoding: base64\n\n" EICAR_B64 "--x--\n"

/*
 * test_body_fd_mapped - the worker's way: the df mapped after the headers,
 * the raw scan reading the body by descriptor; found and rewritten as from
 * a copy in memory
 */
static void
test_body_fd_mapped(void)
{
	ScanSettings settings;
	scan_settings_from_config(config, &settings);
	ScanContext ctx = {&settings, engine, policy, "20261124/6AOTEST0000001"};
	int fd = body_fd(BODY_FD_BODY, strlen(BODY_FD_BODY));
	ScanMessageMap map;
	ScanReport rep;
	GError *error = NULL;
	gsize len;

	g_assert_true(scan_message_map(BODY_FD_HEADERS, fd, 1 << 20, &map, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(map.len, ==, strlen(BODY_FD_HEADERS BODY_FD_BODY));
	g_assert_cmpmem(map.msg, map.len, BODY_FD_HEADERS BODY_FD_BODY,
	                strlen(BODY_FD_HEADERS BODY_FD_BODY));
	scan_message_body_fd(&ctx, map.msg, map.len, fd, map.len - map.body_len, &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_INFECTED);
	g_assert_cmpuint(rep.findings->len, ==, 1);
	g_autofree char *body = body_text(&rep, &len);
	g_assert_nonnull(strstr(body, "hello"));
	g_assert_null(strstr(body, "WDVPIVAlQEFQ"));
	scan_report_clear(&rep);
	scan_message_map_clear(&map);
	/* a df larger than scanner.max_message_size is refused, not mapped */
	g_assert_false(scan_message_map(BODY_FD_HEADERS, fd, 16, &map, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
	g_clear_error(&error);
	close(fd);
}

/*
 * test_body_fd_short_read_is_an_error - a body descriptor that holds less
 * than the message says: libclamav would see a cut message, so the verdict
 * is an error, never clean
 */
static void
test_body_fd_short_read_is_an_error(void)
{
	ScanSettings settings;
	scan_settings_from_config(config, &settings);
	ScanContext ctx = {&settings, engine, policy, "20261124/6AOTEST0000001"};
	static const char whole[] = BODY_FD_HEADERS BODY_FD_BODY;
	int fd = body_fd(BODY_FD_BODY, 20);
	ScanReport rep;

	scan_message_body_fd(&ctx, whole, strlen(whole), fd, strlen(BODY_FD_HEADERS), &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_ERROR);
	scan_report_clear(&rep);
	close(fd);

	/* a message large enough for libclamav to read it from the descriptor */
	GString *big = g_string_new(BODY_FD_HEADERS "--x\nContent-Type: text/plain\n\n");
	while (big->len < 2 * 1024 * 1024)
		g_string_append(big, "a line of text that makes the message larger\n");
	g_string_append(big, "--x--\n");
	gsize hlen = strlen(BODY_FD_HEADERS);
	fd = body_fd(big->str + hlen, (big->len - hlen) / 2);
	scan_message_body_fd(&ctx, big->str, big->len, fd, hlen, &rep);
	g_assert_cmpint(rep.verdict, ==, VERDICT_ERROR);
	scan_report_clear(&rep);
	close(fd);
	g_string_free(big, TRUE);
}

/* max_rss_kb - this process's peak resident set so far */
static glong
max_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/*
 * rss_growth_of_scan - in a fresh child, how much a scan of the message
 * (@headers, then @fd) raises the peak resident set (KB): @mapped as the
 * worker does it, else from a whole copy in memory; -1 if it was not clean
 */
static glong
rss_growth_of_scan(const char *headers, int fd, gboolean mapped)
{
	int p[2];
	glong growth = -1;

	g_assert_cmpint(pipe(p), ==, 0);
	pid_t pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		ScanSettings settings;
		scan_settings_from_config(config, &settings);
		ScanContext ctx = {&settings, engine, policy, "20261124/6AOTEST0000001"};
		ScanMessageMap map;
		ScanReport rep;
		glong before = max_rss_kb();

		if (!scan_message_map(headers, fd, G_MAXSIZE, &map, NULL))
			_exit(1);
		if (mapped) {
			scan_message_body_fd(&ctx, map.msg, map.len, fd, map.len - map.body_len,
			                     &rep);
		} else {
			char *copy = g_memdup2(map.msg, map.len);
			scan_message(&ctx, copy, map.len, &rep);
			g_free(copy);
		}
		if (rep.verdict == VERDICT_CLEAN)
			growth = max_rss_kb() - before;
		if (write(p[1], &growth, sizeof growth) != sizeof growth)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	g_assert_cmpint(read(p[0], &growth, sizeof growth), ==, sizeof growth);
	close(p[0]);
	waitpid(pid, NULL, 0);
	return growth;
}

/*
 * test_large_message_not_held_during_raw_scan - issue #17: a large message
 * must not sit in memory whole while libclamav's mail parser holds its own
 * reading of it.  Scanned the worker's way (mapped, raw scan by
 * descriptor), a 16 MB message costs at least half its size less peak
 * memory than scanned from a copy.
 */
static void
test_large_message_not_held_during_raw_scan(void)
{
#if defined(__SANITIZE_ADDRESS__)
	g_test_skip("peak memory means nothing under AddressSanitizer");
	return;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	g_test_skip("peak memory means nothing under AddressSanitizer");
	return;
#endif
#endif
	gsize raw_len = 12 * 1024 * 1024;
	g_autofree guchar *raw = g_malloc(raw_len);
	for (gsize i = 0; i < raw_len; i += 4)
		*(guint32 *)(raw + i) = g_random_int();
	/* base64 in lines, as mail carries it */
	GString *body = g_string_new("--b\nContent-Type: text/plain\n\nbig\n--b\n"
	                             "Content-Type: application/octet-stream; name=\"big.bin\"\n"
	                             "Content-Transfer-Encoding: base64\n\n");
	gsize start = body->len;
	gint state = 0, save = 0;
	g_string_set_size(body, start + raw_len * 4 / 3 + raw_len / 36 + 16);
	gsize n = g_base64_encode_step(raw, raw_len, TRUE, body->str + start, &state, &save);
	n += g_base64_encode_close(TRUE, body->str + start + n, &state, &save);
	g_string_set_size(body, start + n);
	g_string_append(body, "--b--\n");
	int fd = body_fd(body->str, body->len);
	gsize size = body->len;
	g_string_free(body, TRUE);
	static const char headers[] = "From: a@b\nSubject: big\nMIME-Version: 1.0\n"
	                              "Content-Type: multipart/mixed; boundary=\"b\"\n\n";

	glong copied = rss_growth_of_scan(headers, fd, FALSE);
	glong mapped = rss_growth_of_scan(headers, fd, TRUE);
	g_test_message("%zu KB message: peak RSS +%ld KB from a copy, +%ld KB mapped", size / 1024,
	               copied, mapped);
	g_assert_cmpint(copied, >, 0);
	g_assert_cmpint(mapped, >, 0);
	g_assert_cmpint(mapped + (glong)(size / 1024 / 2), <=, copied);
	close(fd);
}

/* main - set up one engine for all tests */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_mime_init();
	const char *top = g_getenv("TOP_SRCDIR");
	GError *error = NULL;

	config = config_defaults();
	g_free(config->scanner_signatures);
	config->scanner_signatures = g_build_filename(top ? top : ".", "tests", "signatures", NULL);
	g_free(config->reports_templates);
	config->reports_templates = g_build_filename(top ? top : ".", "reports", "templates", NULL);
	policy = policy_new(config, &error);
	g_assert_no_error(error);
	engine = engine_new(config, &error);
	g_assert_no_error(error);
	g_assert_false(engine_is_test_db(engine)); /* loaded from the configured directory */

	g_test_add_func("/scan/clean-message-passes-unchanged", test_clean);
	g_test_add_func("/scan/infected-attachment-is-replaced-rest-kept", test_eicar_attachment);
	g_test_add_func("/scan/virus-in-forwarded-message-is-caught", test_nested);
	g_test_add_func("/scan/multipart-without-boundary-is-scanned-whole", test_no_boundary);
	g_test_add_func("/scan/virus-as-the-body-replaces-the-whole-message", test_single_part);
	g_test_add_func("/scan/uuencoded-virus-in-text-is-caught", test_uuencode_in_text);
	g_test_add_func("/scan/clean-file-with-banned-name-is-blocked", test_banned_name);
	g_test_add_func("/scan/message-over-max-size-gets-the-limits-verdict", test_limits);
	g_test_add_func("/scan/file-beyond-engine-limits-is-never-silently-clean",
	                test_engine_limits);
	g_test_add_func("/scan/exhausted-recursion-budget-rescans-each-part",
	                test_limits_rescan_parts);
	g_test_add_func("/scan/member-cut-at-max-file-size-is-a-limit",
	                test_member_cut_at_max_file_size);
	g_test_add_func("/scan/hostile-name-cannot-inject-a-part", test_name_injection);
	g_test_add_func("/scan/duplicate-boundary-is-blocked-as-ambiguous", test_parsers_disagree);
	g_test_add_func("/scan/every-tnef-name-is-checked", test_tnef_every_name);
	g_test_add_func("/scan/clamav-testfiles-are-caught-attached", test_clamav_testfiles);
	g_test_add_func("/scan/mapped-df-scanned-by-descriptor-is-caught-and-rewritten",
	                test_body_fd_mapped);
	g_test_add_func("/scan/body-descriptor-short-read-is-an-error-never-clean",
	                test_body_fd_short_read_is_an_error);
	g_test_add_func("/scan/large-message-not-held-whole-during-raw-scan",
	                test_large_message_not_held_during_raw_scan);
	int status = g_test_run();
	engine_free(&engine);
	policy_free(&policy);
	config_free(&config);
	return status;
}
