/*
 * scan.c - raw scan, MIME walk, part scans, rewrite, verification
 *
 * DESCRIPTION
 *	See scan.h for the steps.  GMime traps (shared/docs/libclamav-gmime.md):
 *	g_mime_message_foreach skips nested messages, so the walk uses
 *	GMimePartIter; a multipart without a boundary hides its parts in the
 *	prologue, so the raw scan and the final rescan are what guarantee that
 *	nothing infected is passed on.
 */
#include "mqsift-build.h"

#include "scanner/scan.h"

#include <gmime/gmime.h>
#include <string.h>

#include "reports/template.h"
#include "scanner/tnef.h"

/* verdict_name - lower-case name of a verdict, as stored */
const char *
verdict_name(Verdict verdict)
{
	switch (verdict) {
	case VERDICT_CLEAN: return "clean";
	case VERDICT_INFECTED: return "infected";
	case VERDICT_BLOCKED: return "blocked";
	case VERDICT_ERROR: return "error";
	}
	return "error";
}

/* scan_finding_free - GPtrArray free func */
void
scan_finding_free(gpointer p)
{
	Finding *f = p;

	g_free(f->path);
	g_free(f->filename);
	g_free(f->content_type);
	g_free(f->what);
	g_free(f->saved_name);
	g_free(f->advice);
	if (f->content)
		g_bytes_unref(f->content);
	g_free(f);
}

/* scan_report_clear - free contents */
void
scan_report_clear(ScanReport *report)
{
	if (report->findings)
		g_ptr_array_unref(report->findings);
	if (report->names)
		g_ptr_array_unref(report->names);
	if (report->new_body)
		g_bytes_unref(report->new_body);
	g_free(report->blocked);
	g_free(report->new_content_type);
	g_free(report->detail);
	memset(report, 0, sizeof *report);
}

/* add_names - union of signature names */
static void
add_names(GPtrArray *into, GPtrArray *names)
{
	for (guint i = 0; i < names->len; i++) {
		const char *n = g_ptr_array_index(names, i);
		gboolean have = FALSE;

		for (guint j = 0; j < into->len && !have; j++)
			have = strcmp(g_ptr_array_index(into, j), n) == 0;
		if (!have)
			g_ptr_array_add(into, g_strdup(n));
	}
}

/* scan_join_names - "A, B" */
char *
scan_join_names(GPtrArray *names)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < names->len; i++) {
		if (i)
			g_string_append(s, ", ");
		g_string_append(s, g_ptr_array_index(names, i));
	}
	return g_string_free(s, FALSE);
}

/* scan_status_header - X-Virus-Status value */
char *
scan_status_header(const ScanReport *report)
{
	switch (report->verdict) {
	case VERDICT_INFECTED: {
		g_autofree char *names = scan_join_names(report->names);
		return g_strdup_printf("Infected (%s)", names);
	}
	case VERDICT_BLOCKED:
		return g_strdup_printf("Blocked (%s)",
		                       report->blocked ? report->blocked : "policy");
	case VERDICT_ERROR:
		return g_strdup_printf("Unscanned (%s)", report->detail ? report->detail : "error");
	case VERDICT_CLEAN:
		if (report->unscanned)
			return g_strdup("Unscanned (scanning is off for this message)");
		if (report->limits)
			return g_strdup("Clean (partly scanned: a scan limit was exceeded)");
		return g_strdup("Clean");
	}
	return g_strdup("Unscanned");
}

/*
 * parse_message - GMime parse of the message in place: @view points at the
 * caller's buffer (no copy; GMime only reads it), and the parts GMime keeps
 * are ranges of it, so @view and the buffer must outlive the message.
 */
static GMimeMessage *
parse_message(GByteArray *view)
{
	GMimeStream *stream = g_mime_stream_mem_new();
	g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(stream), view); /* frees its own */
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);

	/* structural damage (no boundary, nesting overflow) needs no flag here: what
	 * the walk cannot isolate is caught by the raw scan and the final rescan */
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

/* decode_part - the decoded content of a leaf part */
static GBytes *
decode_part(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GByteArray *ba = g_byte_array_new();

	if (content != NULL) {
		GMimeStream *out = g_mime_stream_mem_new_with_byte_array(ba);
		g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
		g_mime_data_wrapper_write_to_stream(content, out);
		g_object_unref(out);
	}
	return g_byte_array_free_to_bytes(ba);
}

/* template_vars - the variables replacement texts use */
static GHashTable *
template_vars(const ScanContext *ctx, GMimeMessage *msg)
{
	GHashTable *vars = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	const char *host = ctx->config->scanner_hostname;

	g_hash_table_insert(vars, "hostname", g_strdup(host && *host ? host : g_get_host_name()));
	g_hash_table_insert(vars, "postmaster", g_strdup(ctx->config->notify_postmaster));
	g_hash_table_insert(vars, "quarantine_id",
	                    g_strdup(ctx->quarantine_ref ? ctx->quarantine_ref : "(none)"));
	g_hash_table_insert(vars, "org", g_strdup(ctx->config->reports_org));
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_hash_table_insert(vars, "date", g_date_time_format(now, "%Y-%m-%d %H:%M:%S %z"));
	const char *subject = msg ? g_mime_message_get_subject(msg) : NULL;
	g_hash_table_insert(vars, "subject", g_strdup(subject ? subject : ""));
	InternetAddressList *from = msg ? g_mime_message_get_from(msg) : NULL;
	g_hash_table_insert(vars, "sender",
	                    from ? internet_address_list_to_string(from, NULL, FALSE)
	                         : g_strdup("(unknown)"));
	return vars;
}

/* replacement_part - the text/plain part that stands where a bad part was */
static GMimeObject *
replacement_part(const ScanContext *ctx, GMimeMessage *msg, const Finding *f)
{
	GHashTable *vars = template_vars(ctx, msg);

	g_hash_table_insert(vars, "filename", g_strdup(f->filename ? f->filename : "(no name)"));
	g_hash_table_insert(vars, "report", g_strdup(f->what));
	g_hash_table_insert(vars, "advice",
	                    f->advice ? g_strdup_printf("\n%s\n", f->advice) : g_strdup(""));
	char *text = template_render(ctx->config->reports_templates, ctx->config->reports_language,
	                             "removed-part", vars);
	g_hash_table_destroy(vars);

	GMimeTextPart *part = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_charset(part, "utf-8");
	g_mime_text_part_set_text(part, text);
	g_mime_part_set_content_encoding(GMIME_PART(part), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	g_mime_object_set_disposition(GMIME_OBJECT(part), "inline");
	if (f->filename) {
		g_autofree char *name = g_strdup_printf("%s.removed.txt", f->filename);
		g_mime_part_set_filename(GMIME_PART(part), name);
	}
	g_object_set_data(G_OBJECT(part), "mqsift-replacement", GINT_TO_POINTER(1));
	g_free(text);
	return GMIME_OBJECT(part);
}

/* replace_whole - the body becomes a notice; the top-level type is set in the qf */
static void
replace_whole(const ScanContext *ctx, GMimeMessage *msg, const char *what, ScanReport *report)
{
	GHashTable *vars = template_vars(ctx, msg);

	g_hash_table_insert(vars, "report", g_strdup(what));
	g_hash_table_insert(vars, "filename", g_strdup("(the whole message)"));
	char *text = template_render(ctx->config->reports_templates, ctx->config->reports_language,
	                             "removed-message", vars);
	g_hash_table_destroy(vars);
	if (report->new_body)
		g_bytes_unref(report->new_body);
	report->new_body = g_bytes_new_take(text, strlen(text));
	g_free(report->new_content_type);
	report->new_content_type = g_strdup("text/plain; charset=utf-8");
	report->whole_message = TRUE;
}

/* add_finding - record a removed part */
static Finding *
add_finding(ScanReport *report, const char *path, GMimePart *part, const char *what,
            gboolean infected, GBytes *content)
{
	Finding *f = g_new0(Finding, 1);

	f->path = g_strdup(path);
	f->filename = part ? g_strdup(g_mime_part_get_filename(part)) : NULL;
	f->content_type = part ? g_mime_content_type_get_mime_type(
	                             g_mime_object_get_content_type(GMIME_OBJECT(part)))
	                       : g_strdup("message/rfc822");
	f->what = g_strdup(what);
	f->infected = infected;
	f->saved_name = g_strdup_printf("part-%u.bin", report->findings->len + 1);
	f->content = content ? g_bytes_ref(content) : NULL;
	g_ptr_array_add(report->findings, f);
	return f;
}

/*
 * add_inline_warning - put a short warning at the top of the first text/plain
 * part that is not one of our replacement texts (policy.inline_warning)
 */
static void
add_inline_warning(const ScanContext *ctx, GMimeMessage *msg, const ScanReport *report)
{
	GMimePartIter *it = g_mime_part_iter_new(GMIME_OBJECT(msg));

	do {
		GMimeObject *cur = g_mime_part_iter_get_current(it);

		if (cur == NULL || !GMIME_IS_TEXT_PART(cur) ||
		    !g_mime_content_type_is_type(g_mime_object_get_content_type(cur), "text",
		                                 "plain") ||
		    g_object_get_data(G_OBJECT(cur), "mqsift-replacement") != NULL)
			continue;
		GMimeTextPart *tp = GMIME_TEXT_PART(cur);
		g_autofree char *text = g_mime_text_part_get_text(tp);
		g_autofree char *vars_report = g_strdup_printf("%u", report->findings->len);
		GHashTable *vars = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(vars, "count", vars_report);
		g_autofree char *warning =
		    template_render(ctx->config->reports_templates, ctx->config->reports_language,
		                    "inline-warning", vars);
		g_hash_table_destroy(vars);
		g_autofree char *joined = g_strconcat(warning, "\n", text ? text : "", NULL);
		g_mime_text_part_set_charset(tp, "utf-8");
		g_mime_text_part_set_text(tp, joined);
		break;
	} while (g_mime_part_iter_next(it));
	g_mime_part_iter_free(it);
}

/* body_of - serialize the top-level object's content (no headers), LF newlines */
static GBytes *
body_of(GMimeMessage *msg)
{
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	GByteArray *ba = g_byte_array_new();
	GMimeStream *out = g_mime_stream_mem_new_with_byte_array(ba);
	GMimeFormatOptions *fmt = g_mime_format_options_new();

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
	g_mime_format_options_set_newline_format(fmt, GMIME_NEWLINE_FORMAT_UNIX);
	if (top != NULL)
		g_mime_object_write_content_to_stream(top, fmt, out);
	g_mime_format_options_free(fmt);
	g_object_unref(out);
	return g_byte_array_free_to_bytes(ba);
}

/* header_length - bytes of the header block, including the blank line */
static gsize
header_length(const char *message, gsize len)
{
	for (gsize i = 0; i + 1 < len; i++) {
		if (message[i] == '\n' && message[i + 1] == '\n')
			return i + 2;
		if (message[i] == '\n' && message[i + 1] == '\r' && i + 2 < len &&
		    message[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* is_engine_temp_name - names libclamav gives its own temporary files */
static gboolean
is_engine_temp_name(const char *name)
{
	return g_str_has_prefix(name, "clamav-") && g_str_has_suffix(name, ".tmp");
}

/* is_executable_type - libclamav types worth confirming with libmagic */
static gboolean
is_executable_type(const char *type)
{
	return type != NULL &&
	       (strcmp(type, "CL_TYPE_MSEXE") == 0 || strcmp(type, "CL_TYPE_ELF") == 0 ||
	        strcmp(type, "CL_TYPE_MACHO") == 0 || strcmp(type, "CL_TYPE_MACHO_UNIBIN") == 0);
}

typedef struct {
	const ScanContext *ctx;
	gboolean skip_level0_name; /* level 0 is the whole message, or a name checked already */
} Inspector;

/* inspect_file - the policy on each file libclamav unpacks (archives, nested mail) */
static char *
inspect_file(gpointer data, const char *name, const char *type, const void *buf, gsize len,
             guint level)
{
	const Inspector *in = data;
	const MqConfig *config = in->ctx->config;

	if (config->policy_filename_checks && name != NULL && !is_engine_temp_name(name) &&
	    !(level == 0 && in->skip_level0_name)) {
		char *why =
		    policy_check_filename_in(in->ctx->policy, in->ctx->rules_files, name, NULL);
		if (why != NULL) {
			if (level == 0)
				return why;
			char *inner = g_strdup_printf("%s (inside an attachment)", why);
			g_free(why);
			return inner;
		}
	}
	if (config->policy_filetype_checks && is_executable_type(type))
		return policy_check_filetype(in->ctx->policy, buf, len);
	return NULL;
}

/*
 * scan_with_policy - one engine scan with the inspector, then the names sorted
 * out: limit and encrypted-archive heuristics are not infections; an encrypted
 * archive is blocked or allowed by policy.encrypted_archives
 */
static void
scan_with_policy(const ScanContext *ctx, const void *data, gsize len, const char *name,
                 gboolean skip_level0_name, EngineResult *res)
{
	Inspector in = {ctx, skip_level0_name};

	res->inspect = inspect_file;
	res->inspect_data = &in;
	engine_scan_buffer(ctx->engine, data, len, name, res);
	res->inspect = NULL;
	for (guint i = 0; i < res->names->len;) {
		const char *n = g_ptr_array_index(res->names, i);

		if (g_str_has_prefix(n, "Heuristics.Limits.Exceeded")) {
			g_ptr_array_remove_index(res->names, i);
		} else if (g_str_has_prefix(n, "Heuristics.Encrypted")) {
			if (g_strcmp0(ctx->config->policy_encrypted_archives, "deny") == 0)
				g_ptr_array_add(
				    res->blocked,
				    g_strdup("encrypted archive (it cannot be scanned)"));
			g_ptr_array_remove_index(res->names, i);
		} else {
			i++;
		}
	}
}

/*
 * uuencoded_names - the file names of "begin <mode> <name>" lines in a text
 * part (uuencode pasted in the text: GMime does not split it out)
 */
static GPtrArray *
uuencoded_names(GBytes *content)
{
	static GRegex *re;
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	gsize len;
	const char *data = g_bytes_get_data(content, &len);
	GMatchInfo *mi = NULL;

	if (re == NULL)
		re = g_regex_new("^begin(?:-base64)? [0-7]{3,4} ([^\r\n]+?)\r?$",
		                 G_REGEX_MULTILINE | G_REGEX_RAW | G_REGEX_OPTIMIZE, 0, NULL);
	if (len == 0)
		return names;
	g_regex_match_full(re, data, (gssize)len, 0, 0, &mi, NULL);
	while (g_match_info_matches(mi) && names->len < 100) {
		g_ptr_array_add(names, g_match_info_fetch(mi, 1));
		g_match_info_next(mi, NULL);
	}
	g_match_info_free(mi);
	return names;
}

/*
 * check_inner_files - the policy (and, if @scan, the engine) on the files a
 * part carries inside it: TNEF attachments, uuencoded blocks in text.
 * Returns a newly allocated reason if one is banned; adds infections to @res.
 */
static char *
check_inner_files(const ScanContext *ctx, GMimePart *part, GBytes **content, gboolean scan,
                  EngineResult *res)
{
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	g_autofree char *type = g_mime_content_type_get_mime_type(ct);
	const char *filename = g_mime_part_get_filename(part);
	gboolean is_tnef = tnef_is_tnef(type, filename);
	gboolean is_text = g_mime_content_type_is_type(ct, "text", "*");
	char *blocked = NULL;

	if (!is_tnef && !is_text)
		return NULL;
	if (*content == NULL)
		*content = decode_part(part);
	if (is_tnef) {
		gsize len;
		const void *data = g_bytes_get_data(*content, &len);
		GPtrArray *files = tnef_extract(data, len, ctx->config->scanner_max_mime_parts);

		if (files == NULL)
			return NULL; /* unreadable: the engine's own TNEF scan still applies */
		for (guint i = 0; i < files->len && blocked == NULL; i++) {
			TnefFile *f = g_ptr_array_index(files, i);
			char *why = ctx->config->policy_filename_checks
			                ? policy_check_filename_in(ctx->policy, ctx->rules_files,
			                                           f->name, NULL)
			                : NULL;

			if (why != NULL) {
				blocked = g_strdup_printf("%s (in %s)", why,
				                          filename ? filename : "winmail.dat");
				g_free(why);
			}
			if (scan) {
				gsize flen;
				const void *fdata = g_bytes_get_data(f->data, &flen);
				scan_with_policy(ctx, fdata, flen, f->name, FALSE, res);
			}
		}
		g_ptr_array_unref(files);
		return blocked;
	}
	if (!ctx->config->policy_filename_checks)
		return NULL;
	GPtrArray *names = uuencoded_names(*content);
	for (guint i = 0; i < names->len && blocked == NULL; i++) {
		char *why = policy_check_filename_in(ctx->policy, ctx->rules_files,
		                                     g_ptr_array_index(names, i), NULL);

		if (why != NULL) {
			blocked = g_strdup_printf("%s (uuencoded in the text)", why);
			g_free(why);
		}
	}
	g_ptr_array_unref(names);
	return blocked;
}

/* walk_parts - the filename policy on every leaf and, if asked, a scan of each */
static void
walk_parts(const ScanContext *ctx, GMimeMessage *msg, gboolean scan_parts, ScanReport *report,
           gboolean *top_is_bad, gboolean *rewritten)
{
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	GMimePartIter *it;

	if (top == NULL)
		return;
	it = g_mime_part_iter_new(GMIME_OBJECT(msg));
	do {
		GMimeObject *cur = g_mime_part_iter_get_current(it);

		if (cur == NULL || !GMIME_IS_PART(cur))
			continue; /* multiparts and message/rfc822 containers: the iterator descends
			           */
		GMimePart *part = GMIME_PART(cur);
		g_autofree char *path = g_mime_part_iter_get_path(it);
		guint depth = 1;
		for (const char *p = path; *p; p++)
			depth += *p == '.';
		report->parts++;
		if (report->parts > ctx->config->scanner_max_mime_parts ||
		    depth > ctx->config->scanner_max_mime_depth) {
			report->limits = TRUE;
			break;
		}
		char *advice = NULL;
		char *blocked =
		    ctx->config->policy_filename_checks
		        ? policy_check_filename_in(ctx->policy, ctx->rules_files,
		                                   g_mime_part_get_filename(part), &advice)
		        : NULL;
		EngineResult res;
		engine_result_init(&res);
		GBytes *content = NULL;
		if (blocked == NULL)
			blocked = check_inner_files(ctx, part, &content, scan_parts, &res);
		if ((scan_parts || blocked) && content == NULL)
			content = decode_part(part);
		if (scan_parts || blocked) {
			gsize clen;
			const void *data = g_bytes_get_data(content, &clen);
			if (scan_parts)
				scan_with_policy(ctx, data, clen, g_mime_part_get_filename(part),
				                 TRUE, &res);
		}
		if (res.limits)
			report->limits = TRUE;
		if (blocked == NULL && res.blocked->len > 0)
			blocked = g_strdup(g_ptr_array_index(res.blocked, 0));
		gboolean infected = res.names->len > 0;
		if (infected || blocked) {
			g_autofree char *names = scan_join_names(res.names);
			Finding *f = add_finding(report, path, part, infected ? names : blocked,
			                         infected, content);
			if (!infected)
				f->advice = g_strdup(advice);
			if (infected)
				add_names(report->names, res.names);
			if (blocked && report->blocked == NULL)
				report->blocked = g_strdup(blocked);
			if (cur == top) {
				*top_is_bad = TRUE;
			} else {
				g_mime_part_iter_replace(it, replacement_part(ctx, msg, f));
				*rewritten = TRUE;
			}
		}
		if (content)
			g_bytes_unref(content);
		g_free(blocked);
		g_free(advice);
		engine_result_clear(&res);
	} while (g_mime_part_iter_next(it));
	g_mime_part_iter_free(it);
}

/* scan_message - see scan.h */
void
scan_message(const ScanContext *ctx, const char *message, gsize len, ScanReport *report)
{
	memset(report, 0, sizeof *report);
	report->findings = g_ptr_array_new_with_free_func(scan_finding_free);
	report->names = g_ptr_array_new_with_free_func(g_free);
	report->verdict = VERDICT_CLEAN;

	if (len > ctx->config->scanner_max_message_size) {
		report->limits = TRUE;
		if (g_strcmp0(ctx->config->scanner_on_limits, "block") == 0) {
			report->verdict = VERDICT_BLOCKED;
			report->blocked = g_strdup("message larger than scanner.max_message_size");
			add_finding(report, "message", NULL, report->blocked, FALSE, NULL);
			replace_whole(ctx, NULL, report->blocked, report);
		}
		return;
	}

	/* 1: the raw message, as a whole */
	EngineResult raw;
	engine_result_init(&raw);
	scan_with_policy(ctx, message, len, "message", TRUE, &raw);
	if (raw.error) {
		report->verdict = VERDICT_ERROR;
		report->detail = g_strdup_printf("scan failed: %s", raw.detail);
		engine_result_clear(&raw);
		return;
	}
	report->limits = raw.limits;
	gboolean raw_found = raw.names->len > 0 || raw.blocked->len > 0;

	/* 2, 3: the parts */

	GByteArray view = {(guint8 *)message, (guint)len}; /* read-only, see parse_message */
	GMimeMessage *msg = parse_message(&view);
	gboolean top_is_bad = FALSE, rewritten = FALSE;
	if (msg != NULL)
		walk_parts(ctx, msg, raw_found, report, &top_is_bad, &rewritten);

	if (raw_found) {
		/* what the raw scan found that no part explains still counts */
		add_names(report->names, raw.names);
		if (report->blocked == NULL && raw.blocked->len > 0)
			report->blocked = g_strdup(g_ptr_array_index(raw.blocked, 0));
	}
	if (report->names->len > 0)
		report->verdict = VERDICT_INFECTED;
	else if (report->blocked != NULL)
		report->verdict = VERDICT_BLOCKED;
	else if (report->limits && g_strcmp0(ctx->config->scanner_on_limits, "block") == 0) {
		report->verdict = VERDICT_BLOCKED;
		report->blocked = g_strdup("a scan limit was exceeded");
	}

	if (report->verdict != VERDICT_CLEAN) {
		g_autofree char *what = report->verdict == VERDICT_INFECTED
		                            ? scan_join_names(report->names)
		                            : g_strdup(report->blocked);
		const char *action = report->verdict == VERDICT_INFECTED
		                         ? ctx->config->policy_infected_action
		                         : ctx->config->policy_blocked_action;
		gboolean whole =
		    msg == NULL || top_is_bad || !rewritten || g_strcmp0(action, "replace") == 0;

		if (!whole && ctx->config->policy_inline_warning)
			add_inline_warning(ctx, msg, report);
		if (!whole) {
			/* 4: what goes out must be clean: rescan it */
			GBytes *body = body_of(msg);
			gsize hlen = header_length(message, len), blen;
			const char *b = g_bytes_get_data(body, &blen);
			GString *out = g_string_sized_new(hlen + blen);
			g_string_append_len(out, message, (gssize)hlen);
			g_string_append_len(out, b, (gssize)blen);
			EngineResult again;
			engine_result_init(&again);
			scan_with_policy(ctx, out->str, out->len, "rewritten", TRUE, &again);
			gboolean still =
			    again.error || again.names->len > 0 || again.blocked->len > 0;
			if (still) {
				whole = TRUE;
				g_bytes_unref(body);
			} else {
				report->new_body = body;
			}
			engine_result_clear(&again);
			g_string_free(out, TRUE);
		}
		if (whole) {
			if (report->findings->len == 0 || !top_is_bad)
				add_finding(report, "message", NULL, what,
				            report->verdict == VERDICT_INFECTED, NULL);
			replace_whole(ctx, msg, what, report);
		}
	}

	if (msg)
		g_object_unref(msg);
	engine_result_clear(&raw);
}
