/*
 * scan.c - raw scan, MIME walk, part scans, rewrite, verification
 *
 * DESCRIPTION
 *	See scan.h for the steps.  GMime traps (doc/design.md, "Library traps"):
 *	g_mime_message_foreach skips nested messages, so the walk uses
 *	GMimePartIter; a multipart without a boundary hides its parts in the
 *	prologue, so the raw scan and the final rescan are what guarantee that
 *	nothing infected is passed on.
 */
#include "mqsift-build.h"

#include "scanner/scan.h"

#include <errno.h>
#include <gio/gio.h>
#include <gmime/gmime.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/template.h"
#include "rules/untrusted.h"
#include "scanner/embedded.h"
#include "scanner/mime.h"
#include "scanner/seen.h"
#include "scanner/tnef.h"

/* scan_verdict_name - lower-case name of a verdict, as stored */
const char *
scan_verdict_name(Verdict verdict)
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
	g_free(report->ambiguous);
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
 * decode_part - the decoded content of a leaf part.  A part sent as it is
 * (7bit, 8bit, binary) is a range of the message GMime parsed in place: it
 * is returned without a copy, so the result lives no longer than the message
 * (add_finding copies what it keeps).
 */
static GBytes *
decode_part(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GByteArray *ba;

	if (content != NULL) {
		GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);
		GMimeStream *raw = g_mime_data_wrapper_get_stream(content);
		if ((enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT ||
		     enc == GMIME_CONTENT_ENCODING_8BIT || enc == GMIME_CONTENT_ENCODING_BINARY) &&
		    raw != NULL && GMIME_IS_STREAM_MEM(raw)) {
			GByteArray *whole = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(raw));
			gint64 start = raw->bound_start;
			gint64 end = raw->bound_end < 0 ? (gint64)whole->len : raw->bound_end;
			if (whole != NULL && start >= 0 && start <= end &&
			    end <= (gint64)whole->len)
				return g_bytes_new_static(whole->data + start,
				                          (gsize)(end - start));
		}
	}
	ba = g_byte_array_new();
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
	const char *host = ctx->settings->hostname;

	g_hash_table_insert(vars, "hostname", g_strdup(host && *host ? host : g_get_host_name()));
	g_hash_table_insert(vars, "postmaster", g_strdup(ctx->settings->postmaster));
	g_hash_table_insert(vars, "quarantine_id",
	                    g_strdup(ctx->quarantine_ref ? ctx->quarantine_ref : "(none)"));
	g_hash_table_insert(vars, "org", g_strdup(ctx->settings->org));
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_hash_table_insert(vars, "date", g_date_time_format(now, "%Y-%m-%d %H:%M:%S %z"));
	const char *subject = msg ? g_mime_message_get_subject(msg) : NULL;
	g_hash_table_insert(vars, "subject", untrusted_line(subject, -1, 200));
	InternetAddressList *from = msg ? g_mime_message_get_from(msg) : NULL;
	g_autofree char *sender = from ? internet_address_list_to_string(from, NULL, FALSE) : NULL;
	g_hash_table_insert(vars, "sender",
	                    sender ? untrusted_line(sender, -1, 200) : g_strdup("(unknown)"));
	return vars;
}

/* replacement_part - the text/plain part that stands where a bad part was */
static GMimeObject *
replacement_part(const ScanContext *ctx, GMimeMessage *msg, const Finding *f)
{
	GHashTable *vars = template_vars(ctx, msg);

	g_hash_table_insert(vars, "filename", g_strdup(f->filename ? f->filename : "(no name)"));
	g_hash_table_insert(vars, "report", untrusted_line(f->what, -1, 0));
	g_hash_table_insert(vars, "advice",
	                    f->advice ? g_strdup_printf("\n%s\n", f->advice) : g_strdup(""));
	char *text = template_render(ctx->settings->templates, ctx->settings->language,
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
	char *text = template_render(ctx->settings->templates, ctx->settings->language,
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
	const char *name = part ? g_mime_part_get_filename(part) : NULL;
	/* the name goes into a MIME parameter, a template, the quarantine, logs */
	f->filename = name ? untrusted_filename(name, 0) : NULL;
	g_autofree char *type = part ? g_mime_content_type_get_mime_type(
	                                   g_mime_object_get_content_type(GMIME_OBJECT(part)))
	                             : NULL;
	f->content_type = type ? untrusted_line(type, -1, 200) : g_strdup("message/rfc822");
	f->what = g_strdup(what);
	f->infected = infected;
	f->saved_name = g_strdup_printf("part-%u.bin", report->findings->len + 1);
	/* a copy: @content may be a range of the message (decode_part) */
	f->content = content
	                 ? g_bytes_new(g_bytes_get_data(content, NULL), g_bytes_get_size(content))
	                 : NULL;
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
		g_autofree char *warning = template_render(
		    ctx->settings->templates, ctx->settings->language, "inline-warning", vars);
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

/* Layer - a file libclamav has entered and not yet left */
typedef struct {
	guint level;
	const char *type; /* libclamav's type name (static in libclamav) */
	SeenVerdict *v;   /* where what is found in it is recorded, or NULL */
} Layer;

/* Scan - the state of one scan_message call */
typedef struct {
	const ScanContext *ctx;
	Seen *seen;           /* every content scanned, with its verdict */
	GPtrArray *ambiguous; /* of MimeFinding* */
	guint scans;          /* libclamav scans run (for tests and the log) */
	gboolean reuse;       /* trust the seen verdicts (no limit hit in the raw scan) */
	const char *message;  /* the whole message, as given */
	gsize len;
	gsize body_offset;    /* where the bytes of the body descriptor begin in it */
	guint alternatives;   /* other readings walked (a guessed boundary) */
	gboolean force_whole; /* found in a reading the rewrite cannot follow */
} Scan;

/* Inspector - the hooks' state during one libclamav scan */
typedef struct {
	Scan *scan;
	GArray *stack;             /* of Layer */
	gboolean skip_level0_name; /* level 0 is the whole message, or a name checked already */
	gboolean record_level0;    /* level 0 is a part: record its verdict */
	gboolean limits;           /* a file was cut at scanner.max_file_size */
} Inspector;

/* is_container_type - files whose children are parts of the mail, as GMime may see them */
static gboolean
is_container_type(const char *type)
{
	return type != NULL &&
	       (strcmp(type, "CL_TYPE_MAIL") == 0 || strcmp(type, "CL_TYPE_TNEF") == 0 ||
	        strcmp(type, "CL_TYPE_UUENCODED") == 0 || strcmp(type, "CL_TYPE_BINHEX") == 0);
}

/* mark_layers - a name or a reason found in the innermost file counts for every file around it */
static void
mark_layers(Inspector *in, const char *name, const char *blocked, gboolean limits)
{
	for (guint i = 0; i < in->stack->len; i++) {
		SeenVerdict *v = g_array_index(in->stack, Layer, i).v;
		if (v == NULL)
			continue;
		if (name != NULL)
			seen_verdict_add_name(v, name);
		if (blocked != NULL && v->blocked == NULL)
			v->blocked = g_strdup(blocked);
		v->limits |= limits;
	}
}

/* policy_on_file - the filename and filetype policy on one file libclamav unpacked */
static char *
policy_on_file(const Inspector *in, const char *name, const char *type, const void *buf, gsize len,
               guint level)
{
	const ScanContext *ctx = in->scan->ctx;
	const ScanSettings *settings = ctx->settings;

	if (settings->filename_checks && name != NULL && !is_engine_temp_name(name) &&
	    !(level == 0 && in->skip_level0_name)) {
		char *why = policy_check_filename_in(ctx->policy, ctx->rules_files, name, NULL);
		if (why != NULL) {
			if (level == 0)
				return why;
			char *inner = g_strdup_printf("%s (inside an attachment)", why);
			g_free(why);
			return inner;
		}
	}
	if (settings->filetype_checks && is_executable_type(type))
		return policy_check_filetype(ctx->policy, buf, len);
	return NULL;
}

/*
 * inspect_file - libclamav enters a file: record it when it is a part of the
 * mail (so the GMime walk can reuse its verdict), skip it when the same bytes
 * were already scanned clean, and apply the policy to it
 */
static char *
inspect_file(gpointer data, const char *name, const char *type, const void *buf, gsize len,
             guint level, gboolean *skip)
{
	Inspector *in = data;
	const ScanSettings *settings = in->scan->ctx->settings;
	Layer layer = {level, type, NULL};

	while (in->stack->len > 0 &&
	       g_array_index(in->stack, Layer, in->stack->len - 1).level >= level)
		g_array_set_size(in->stack, in->stack->len - 1);
	const Layer *parent =
	    in->stack->len > 0 ? &g_array_index(in->stack, Layer, in->stack->len - 1) : NULL;
	gboolean part = (level == 0 && in->record_level0) ||
	                (level > 0 && parent != NULL &&
	                 (parent->level == 0 || is_container_type(parent->type)));
	if (part && buf != NULL) {
		SeenVerdict *v = seen_lookup(in->scan->seen, buf, len);
		if (v != NULL && level > 0 && seen_is_clean(v) && in->scan->reuse)
			*skip = TRUE; /* the same bytes again: a bomb is scanned once */
		else if (v == NULL || !v->done)
			layer.v = seen_add(in->scan->seen, buf, len);
	}
	g_array_append_val(in->stack, layer);
	/* libclamav cuts a file at max_file_size without a word: a file that long was cut */
	guint64 cut = settings->max_file_size & ~(guint64)4095;
	if (level > 0 && cut > 0 && len >= cut) {
		in->limits = TRUE;
		mark_layers(in, NULL, NULL, TRUE);
	}
	char *why = policy_on_file(in, name, type, buf, len, level);
	if (why != NULL)
		mark_layers(in, NULL, why, FALSE);
	return why;
}

/* leave_file - libclamav is done with the innermost file: its verdict is complete */
static void
leave_file(gpointer data)
{
	Inspector *in = data;

	if (in->stack->len == 0)
		return;
	Layer *top = &g_array_index(in->stack, Layer, in->stack->len - 1);
	if (top->v != NULL)
		top->v->done = TRUE;
	g_array_set_size(in->stack, in->stack->len - 1);
}

/* found_in_file - a signature matched in the innermost file */
static void
found_in_file(gpointer data, const char *signature)
{
	mark_layers(data, signature, NULL,
	            g_str_has_prefix(signature, "Heuristics.Limits.Exceeded"));
}

/*
 * sort_names - limit and encrypted-archive heuristics are not infections; an
 * encrypted archive is blocked or allowed by policy.encrypted_archives
 */
static void
sort_names(const ScanContext *ctx, EngineResult *res)
{
	for (guint i = 0; i < res->names->len;) {
		const char *n = g_ptr_array_index(res->names, i);

		if (g_str_has_prefix(n, "Heuristics.Limits.Exceeded")) {
			res->limits = TRUE;
			g_ptr_array_remove_index(res->names, i);
		} else if (g_str_has_prefix(n, "Heuristics.Encrypted")) {
			if (g_strcmp0(ctx->settings->encrypted_archives, "deny") == 0)
				g_ptr_array_add(
				    res->blocked,
				    g_strdup("encrypted archive (it cannot be scanned)"));
			g_ptr_array_remove_index(res->names, i);
		} else {
			i++;
		}
	}
}

static void scan_hooked(Scan *scan, const void *data, gsize len, int body_fd, const char *name,
                        gboolean skip_level0_name, gboolean record_level0, EngineResult *res);

/*
 * scan_with_policy - one engine scan with the hooks, then the names sorted
 * out.  @record_level0: @data is a part of the message, record its verdict.
 */
static void
scan_with_policy(Scan *scan, const void *data, gsize len, const char *name,
                 gboolean skip_level0_name, gboolean record_level0, EngineResult *res)
{
	scan_hooked(scan, data, len, -1, name, skip_level0_name, record_level0, res);
}

/*
 * a message this large is read by libclamav from its descriptor, page by
 * page, and not from its mapping (which would stay paged in while libclamav
 * holds its own parse); a smaller one is scanned from memory, which costs
 * libclamav less per message
 */
#define SPLIT_SCAN_MIN (1024 * 1024)

/*
 * scan_hooked - scan_with_policy(), where @body_fd >= 0 holds the bytes of
 * @data from scan->body_offset on: for a large message they are read from
 * it, not from @data
 */
static void
scan_hooked(Scan *scan, const void *data, gsize len, int body_fd, const char *name,
            gboolean skip_level0_name, gboolean record_level0, EngineResult *res)
{
	Inspector in = {scan, g_array_new(FALSE, FALSE, sizeof(Layer)), skip_level0_name,
	                record_level0, FALSE};

	res->inspect = inspect_file;
	res->leave = leave_file;
	res->found = found_in_file;
	res->inspect_data = &in;
	scan->scans++;
	struct stat st;
	if (body_fd >= 0 && scan->body_offset <= len && len >= SPLIT_SCAN_MIN)
		engine_scan_split(scan->ctx->engine, data, scan->body_offset, body_fd,
		                  len - scan->body_offset, name, res);
	else if (body_fd >= 0 && (fstat(body_fd, &st) < 0 || scan->body_offset > len ||
	                          (guint64)st.st_size < len - scan->body_offset)) {
		/* @data maps a file that holds less than it says: never a clean verdict */
		res->error = TRUE;
		res->detail = g_strdup("cannot read the message body");
	} else
		engine_scan_buffer(scan->ctx->engine, data, len, name, res);
	res->inspect = NULL;
	res->leave = NULL;
	res->found = NULL;
	res->inspect_data = NULL;
	g_array_unref(in.stack);
	res->limits |= in.limits;
	sort_names(scan->ctx, res);
}

/*
 * lookup_body_text - the recorded verdict of a text body that libclamav's
 * parser read with the line end before the boundary (GMime, as RFC 2046
 * says, gives that line end to the boundary).  Only for text without a file
 * name: body text is shown, not saved, and the two readings differ only in
 * the last byte, which no body signature needs.
 */
static SeenVerdict *
lookup_body_text(Scan *scan, const void *data, gsize len)
{
	GByteArray *with_eol = g_byte_array_sized_new((guint)len + 2);
	SeenVerdict *v;

	g_byte_array_append(with_eol, data, (guint)len);
	g_byte_array_append(with_eol, (const guint8 *)"\n", 1);
	v = seen_lookup(scan->seen, with_eol->data, with_eol->len);
	if (v == NULL) {
		g_byte_array_set_size(with_eol, (guint)len);
		g_byte_array_append(with_eol, (const guint8 *)"\r\n", 2);
		v = seen_lookup(scan->seen, with_eol->data, with_eol->len);
	}
	g_byte_array_unref(with_eol);
	return v;
}

/*
 * scan_content - the verdict on one decoded content: the one recorded when
 * libclamav's own mail parser extracted the same bytes, else a scan of its
 * own.  @body_text: a text part without a name (see lookup_body_text).
 */
static void
scan_content(Scan *scan, const void *data, gsize len, const char *name, gboolean body_text,
             EngineResult *res)
{
	SeenVerdict *v = NULL;

	if (len == 0)
		return;
	if (scan->reuse) {
		v = seen_lookup(scan->seen, data, len);
		if ((v == NULL || !v->done) && body_text)
			v = lookup_body_text(scan, data, len);
	}
	if (v != NULL && v->done) {
		add_names(res->names, v->names);
		if (v->blocked)
			g_ptr_array_add(res->blocked, g_strdup(v->blocked));
		res->limits |= v->limits;
		sort_names(scan->ctx, res);
		return;
	}
	g_debug("%s (%zu bytes): not read so by libclamav's mail parser, scanned on its own",
	        name ? name : "a part", len);
	scan_with_policy(scan, data, len, name, TRUE, TRUE, res);
}

/* check_names - the policy on every name of a part; a newly allocated reason, or NULL */
static char *
check_names(const ScanContext *ctx, GPtrArray *names, char **advice)
{
	if (!ctx->settings->filename_checks)
		return NULL;
	for (guint i = 0; i < names->len; i++) {
		char *why = policy_check_filename_in(ctx->policy, ctx->rules_files,
		                                     g_ptr_array_index(names, i), advice);
		if (why != NULL)
			return why;
	}
	return NULL;
}

/* first_blocked - the first reason of @res, newly allocated, or NULL */
static char *
first_blocked(const EngineResult *res)
{
	return res->blocked->len > 0 ? g_strdup(g_ptr_array_index(res->blocked, 0)) : NULL;
}

/*
 * check_inner_files - the files a part carries inside it (TNEF attachments;
 * uuencode, yEnc and BinHex blocks in text): every name through the policy,
 * every content scanned unless libclamav already did.  Returns a newly
 * allocated reason if one is banned; adds infections to @res.
 */
static char *
check_inner_files(Scan *scan, GMimePart *part, GBytes *content, EngineResult *res)
{
	const ScanContext *ctx = scan->ctx;
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	g_autofree char *type = g_mime_content_type_get_mime_type(ct);
	const char *filename = g_mime_part_get_filename(part);
	gsize len;
	const char *data = g_bytes_get_data(content, &len);
	GPtrArray *files = NULL;
	const char *where = NULL;
	char *blocked = NULL;

	if (tnef_is_tnef(type, filename)) {
		files = tnef_extract(data, len, ctx->settings->max_mime_parts);
		g_autofree char *shown = filename ? untrusted_filename(filename, 0) : NULL;
		where = shown ? shown : "winmail.dat";
		if (files == NULL)
			return NULL; /* unreadable: the engine's own TNEF scan still applies */
		for (guint i = 0; i < files->len; i++) {
			TnefFile *f = g_ptr_array_index(files, i);
			char *why = blocked == NULL ? check_names(ctx, f->names, NULL) : NULL;
			if (why != NULL) {
				blocked = g_strdup_printf("%s (in %s)", why, where);
				g_free(why);
			}
			if (f->incomplete)
				mime_finding_add(scan->ambiguous, TRUE,
				                 "TNEF properties mqsift cannot read (in %s)",
				                 where);
			gsize flen;
			const void *fdata = g_bytes_get_data(f->data, &flen);
			scan_content(scan, fdata, flen, f->name, FALSE, res);
			if (f->data_prop != NULL) {
				fdata = g_bytes_get_data(f->data_prop, &flen);
				scan_content(scan, fdata, flen, f->name, FALSE, res);
			}
		}
		g_ptr_array_unref(files);
		return blocked;
	}
	if (len == 0 || !embedded_may_hold(data, len))
		return NULL;
	files =
	    embedded_files(data, len, ctx->settings->max_mime_parts, ctx->settings->max_file_size);
	for (guint i = 0; i < files->len; i++) {
		EmbeddedFile *f = g_ptr_array_index(files, i);
		g_autoptr(GPtrArray) names = g_ptr_array_new();
		g_ptr_array_add(names, f->name);
		char *why = blocked == NULL ? check_names(ctx, names, NULL) : NULL;
		if (why != NULL) {
			blocked = g_strdup_printf("%s (%s in the text)", why, f->kind);
			g_free(why);
		}
		gsize flen;
		const void *fdata = g_bytes_get_data(f->data, &flen);
		scan_content(scan, fdata, flen, f->name, FALSE, res);
		res->limits |= f->truncated;
	}
	g_ptr_array_unref(files);
	return blocked;
}

static void walk_parts(Scan *scan, GMimeMessage *msg, ScanReport *report, gboolean *top_is_bad,
                       gboolean *rewritten);
static GMimeMessage *parse_message(GByteArray *view, GPtrArray *ambiguous);

/*
 * walk_alternative - a multipart GMime found no part in (no boundary, or one
 * that never appears) while its text has a "--X" line: read it again with
 * that boundary, as a lenient client would, and walk what comes out.  What
 * is found there cannot be removed part by part: the whole message goes.
 */
static void
walk_alternative(Scan *scan, GMimeMultipart *mp, ScanReport *report)
{
	const char *pre = g_mime_multipart_get_prologue(mp);
	g_autofree char *guess = pre ? mime_guess_boundary(pre) : NULL;

	if (guess == NULL || scan->alternatives >= 4)
		return;
	scan->alternatives++;
	GString *text = g_string_new(NULL);
	g_autofree char *quoted = g_strescape(guess, NULL);
	g_string_printf(
	    text, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"%s\"\n\n", quoted);
	g_string_append(text, pre);
	const char *epi = g_mime_multipart_get_epilogue(mp);
	if (epi)
		g_string_append(text, epi);
	GByteArray view = {(guint8 *)text->str, (guint)text->len};
	GPtrArray *ignored = g_ptr_array_new_with_free_func(mime_finding_free);
	GMimeMessage *alt = parse_message(&view, ignored);
	guint before = report->findings->len;
	if (alt != NULL) {
		gboolean top_bad = FALSE, rewritten = FALSE;
		walk_parts(scan, alt, report, &top_bad, &rewritten);
		g_object_unref(alt);
	}
	if (report->findings->len > before)
		scan->force_whole = TRUE;
	mime_finding_add(scan->ambiguous, FALSE,
	                 "a multipart without parts, read again with the boundary it holds");
	g_ptr_array_unref(ignored);
	g_string_free(text, TRUE);
}

/*
 * check_container_names - the policy on the names a multipart or a message
 * part carries; a banned one blocks the message whole (the container cannot
 * be replaced by a text part without dropping what it holds)
 */
static void
check_container_names(Scan *scan, GMimeObject *obj, const char *path, ScanReport *report)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

	mime_part_names(obj, path, names, scan->ambiguous);
	char *why = check_names(scan->ctx, names, NULL);
	if (why == NULL)
		return;
	if (report->blocked == NULL)
		report->blocked = g_strdup_printf(
		    "%s (a %s part)", why, GMIME_IS_MULTIPART(obj) ? "multipart" : "message");
	scan->force_whole = TRUE;
	g_free(why);
}

/* part_depth - MIME depth of a GMimePartIter path ("1.2.3": 3) */
static guint
part_depth(const char *path)
{
	guint depth = 1;

	for (const char *p = path; *p; p++)
		depth += *p == '.';
	return depth;
}

/*
 * walk_parts - every part GMime sees: the ambiguity checks on its headers,
 * the policy on every name of each leaf, its decoded content scanned (or its
 * verdict taken from the raw scan), bad leaves replaced
 */
static void
walk_parts(Scan *scan, GMimeMessage *msg, ScanReport *report, gboolean *top_is_bad,
           gboolean *rewritten)
{
	const ScanContext *ctx = scan->ctx;
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	GMimePartIter *it;
	guint objects = 0;

	if (top == NULL)
		return;
	mime_check_headers(GMIME_OBJECT(msg), "message", scan->ambiguous);
	mime_check_headers(top, "0", scan->ambiguous);
	if (GMIME_IS_MULTIPART(top)) {
		mime_check_multipart(GMIME_MULTIPART(top), scan->message, scan->len, "0",
		                     scan->ambiguous);
		if (g_mime_multipart_get_count(GMIME_MULTIPART(top)) == 0)
			walk_alternative(scan, GMIME_MULTIPART(top), report);
	}
	it = g_mime_part_iter_new(GMIME_OBJECT(msg));
	do {
		GMimeObject *cur = g_mime_part_iter_get_current(it);

		if (cur == NULL)
			continue;
		g_autofree char *path = g_mime_part_iter_get_path(it);
		if (++objects > ctx->settings->max_mime_parts ||
		    part_depth(path) > ctx->settings->max_mime_depth) {
			report->limits = TRUE;
			break;
		}
		mime_check_headers(cur, path, scan->ambiguous);
		if (GMIME_IS_MULTIPART(cur) && cur != top) {
			mime_check_multipart(GMIME_MULTIPART(cur), scan->message, scan->len, path,
			                     scan->ambiguous);
			if (g_mime_multipart_get_count(GMIME_MULTIPART(cur)) == 0)
				walk_alternative(scan, GMIME_MULTIPART(cur), report);
		}
		if (GMIME_IS_MESSAGE_PART(cur)) {
			GMimeMessage *inner =
			    g_mime_message_part_get_message(GMIME_MESSAGE_PART(cur));
			if (inner != NULL)
				mime_check_headers(GMIME_OBJECT(inner), path, scan->ambiguous);
		}
		if (!GMIME_IS_PART(cur)) {
			/* multiparts and message/rfc822 containers: the iterator descends;
			 * a name on the container itself is still a name a client shows
			 * ("forward.hta" on a message/rfc822 part) */
			check_container_names(scan, cur, path, report);
			continue;
		}
		GMimePart *part = GMIME_PART(cur);
		report->parts++;
		g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
		mime_part_names(cur, path, names, scan->ambiguous);
		mime_check_encoding(part, path, scan->ambiguous);
		GBytes *content = decode_part(part);
		gsize clen;
		const void *data = g_bytes_get_data(content, &clen);
		if (g_mime_content_type_is_type(g_mime_object_get_content_type(cur), "application",
		                                "applefile")) {
			char *real = mime_applefile_name(data, clen);
			if (real != NULL)
				g_ptr_array_add(names, real);
		}
		char *advice = NULL;
		char *blocked = check_names(ctx, names, &advice);
		EngineResult res;
		engine_result_init(&res);
		GMimeContentType *ct = g_mime_object_get_content_type(cur);
		const char *disposition = g_mime_object_get_disposition(cur);
		gboolean body_text =
		    names->len == 0 && ct != NULL && g_mime_content_type_is_type(ct, "text", "*") &&
		    g_ascii_strcasecmp(disposition ? disposition : "inline", "attachment") != 0;
		scan_content(scan, data, clen, g_mime_part_get_filename(part), body_text, &res);
		char *inner = check_inner_files(scan, part, content, &res);
		if (blocked == NULL)
			blocked = inner;
		else
			g_free(inner);
		if (res.limits)
			report->limits = TRUE;
		if (blocked == NULL)
			blocked = first_blocked(&res);
		gboolean infected = res.names->len > 0;
		if (infected || blocked) {
			g_autofree char *found = scan_join_names(res.names);
			Finding *f = add_finding(report, path, part, infected ? found : blocked,
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
		g_bytes_unref(content);
		g_free(blocked);
		g_free(advice);
		engine_result_clear(&res);
	} while (g_mime_part_iter_next(it));
	g_mime_part_iter_free(it);
}

/* on_parser_warning - GMime's parser saw something two readers could read two ways */
static void
on_parser_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
	mime_parser_warning(code, item, data);
}

/*
 * parse_message - GMime parse of the message in place: @view points at the
 * caller's buffer (no copy; GMime only reads it), and the parts GMime keeps
 * are ranges of it, so @view and the buffer must outlive the message.
 * Parser warnings go to @ambiguous.
 */
static GMimeMessage *
parse_message(GByteArray *view, GPtrArray *ambiguous)
{
	GMimeStream *stream = g_mime_stream_mem_new();
	g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(stream), view); /* frees its own */
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeParserOptions *options = g_mime_parser_options_new();

	g_mime_parser_options_set_warning_callback(options, on_parser_warning, ambiguous);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, options);
	g_mime_parser_options_free(options);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

/* fresh_boundaries - every multipart of the rewritten message gets a new random boundary */
static void
fresh_boundaries(GMimeMessage *msg)
{
	GMimePartIter *it = g_mime_part_iter_new(GMIME_OBJECT(msg));
	GMimeObject *top = g_mime_message_get_mime_part(msg);

	if (top != NULL && GMIME_IS_MULTIPART(top))
		g_mime_multipart_set_boundary(GMIME_MULTIPART(top), NULL);
	do {
		GMimeObject *cur = g_mime_part_iter_get_current(it);
		if (cur != NULL && GMIME_IS_MULTIPART(cur))
			g_mime_multipart_set_boundary(GMIME_MULTIPART(cur), NULL);
	} while (g_mime_part_iter_next(it));
	g_mime_part_iter_free(it);
}

/* ambiguity_text - the findings that hide something, joined; NULL if none */
static char *
ambiguity_text(GPtrArray *findings, gboolean hiding_only)
{
	GString *s = NULL;

	for (guint i = 0; i < findings->len; i++) {
		const MimeFinding *f = g_ptr_array_index(findings, i);
		if (hiding_only && !f->hides)
			continue;
		if (s == NULL)
			s = g_string_new(NULL);
		else
			g_string_append(s, "; ");
		g_string_append(s, f->what);
		if (s->len > 300) {
			g_string_append(s, "; ...");
			break;
		}
	}
	return s ? g_string_free(s, FALSE) : NULL;
}

/* scan_settings_from_config - the keys a scan reads */
void
scan_settings_from_config(const MqConfig *config, ScanSettings *settings)
{
	*settings = (ScanSettings){
	    .max_message_size = config->scanner_max_message_size,
	    .max_file_size = config->scanner_max_file_size,
	    .max_mime_depth = config->scanner_max_mime_depth,
	    .max_mime_parts = config->scanner_max_mime_parts,
	    .on_limits = config->scanner_on_limits,
	    .on_ambiguous = config->mime_on_ambiguous,
	    .filename_checks = config->policy_filename_checks,
	    .filetype_checks = config->policy_filetype_checks,
	    .encrypted_archives = config->policy_encrypted_archives,
	    .infected_action = config->policy_infected_action,
	    .blocked_action = config->policy_blocked_action,
	    .inline_warning = config->policy_inline_warning,
	    .hostname = config->scanner_hostname,
	    .postmaster = config->notify_postmaster,
	    .org = config->reports_org,
	    .templates = config->reports_templates,
	    .language = config->reports_language,
	};
}

/* scan_message_map - see scan.h */
gboolean
scan_message_map(const char *headers, int body_fd, gsize max_size, ScanMessageMap *map,
                 GError **error)
{
	struct stat st;
	gsize hlen = strlen(headers);
	gsize page = (gsize)sysconf(_SC_PAGESIZE);

	memset(map, 0, sizeof *map);
	if (fstat(body_fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a regular file");
		return FALSE;
	}
	if ((guint64)st.st_size > max_size) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
		            "file larger than %" G_GSIZE_FORMAT " bytes", max_size);
		return FALSE;
	}
	/* the headers end where the first page of the file begins */
	gsize head_pages = (hlen + page - 1) / page * page;
	map->body_len = (gsize)st.st_size;
	map->base_len = MAX(head_pages + (map->body_len + page - 1) / page * page, page);
	map->base =
	    mmap(NULL, map->base_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map->base == MAP_FAILED) {
		map->base = NULL;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "mmap: %s",
		            g_strerror(errno));
		return FALSE;
	}
	if (map->body_len > 0) {
		map->body = mmap(map->base + head_pages, map->body_len, PROT_READ,
		                 MAP_PRIVATE | MAP_FIXED, body_fd, 0);
		if (map->body == MAP_FAILED) {
			int err = errno;
			munmap(map->base, map->base_len);
			memset(map, 0, sizeof *map);
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "mmap: %s",
			            g_strerror(err));
			return FALSE;
		}
	}
	memcpy(map->base + head_pages - hlen, headers, hlen);
	if (head_pages > 0)
		mprotect(map->base, head_pages, PROT_READ);
	map->msg = map->base + head_pages - hlen;
	map->len = hlen + map->body_len;
	return TRUE;
}

/*
 * scan_message_map_release - the file's pages are its own, unchanged (a
 * private read-only mapping): dropped, they come back from the page cache
 */
void
scan_message_map_release(ScanMessageMap *map)
{
	if (map->body != NULL)
		madvise(map->body, map->body_len, MADV_DONTNEED);
}

/* scan_message_map_clear - unmap and clear */
void
scan_message_map_clear(ScanMessageMap *map)
{
	if (map->base != NULL)
		munmap(map->base, map->base_len);
	memset(map, 0, sizeof *map);
}

/* scan_message - see scan.h */
void
scan_message(const ScanContext *ctx, const char *message, gsize len, ScanReport *report)
{
	scan_message_body_fd(ctx, message, len, -1, 0, report);
}

/* scan_message_body_fd - see scan.h */
void
scan_message_body_fd(const ScanContext *ctx, const char *message, gsize len, int body_fd,
                     gsize body_offset, ScanReport *report)
{
	memset(report, 0, sizeof *report);
	report->findings = g_ptr_array_new_with_free_func(scan_finding_free);
	report->names = g_ptr_array_new_with_free_func(g_free);
	report->verdict = VERDICT_CLEAN;

	if (len > ctx->settings->max_message_size) {
		report->limits = TRUE;
		if (g_strcmp0(ctx->settings->on_limits, "block") == 0) {
			report->verdict = VERDICT_BLOCKED;
			report->blocked = g_strdup("message larger than scanner.max_message_size");
			add_finding(report, "message", NULL, report->blocked, FALSE, NULL);
			replace_whole(ctx, NULL, report->blocked, report);
		}
		return;
	}
	Scan scan = {ctx,
	             seen_new(1024 * 1024, 2 * len + 1024 * 1024),
	             g_ptr_array_new_with_free_func(mime_finding_free),
	             0,
	             TRUE,
	             message,
	             len,
	             body_offset,
	             0,
	             FALSE};
	GMimeMessage *msg = NULL;
	g_autofree char *hidden = NULL;

	/* 1: the raw message, as libclamav's own mail parser reads it; every file
	 * it extracts is recorded with its verdict */
	EngineResult raw;
	engine_result_init(&raw);
	/* a message whose body is a file mapping: libclamav reads the body from the
	 * descriptor, so the mapping is not paged in while libclamav holds its own
	 * parse of the message (the GMime walk below pages it in afterwards) */
	scan_hooked(&scan, message, len, body_fd, "message", TRUE, FALSE, &raw);
	if (raw.error) {
		report->verdict = VERDICT_ERROR;
		report->detail = g_strdup_printf("scan failed: %s", raw.detail);
		goto out;
	}
	report->limits = raw.limits;
	/* a limit in the raw scan (the mail's own layers count toward libclamav's
	 * recursion budget): every part is scanned again on its own */
	scan.reuse = !raw.limits;

	/* 2, 3: every part as GMime reads it: names, ambiguity, content not yet scanned */
	GByteArray view = {(guint8 *)message, (guint)len}; /* read-only, see parse_message */
	mime_check_raw(message, len, scan.ambiguous);
	msg = parse_message(&view, scan.ambiguous);
	gboolean top_is_bad = FALSE, rewritten = FALSE;
	if (msg != NULL)
		walk_parts(&scan, msg, report, &top_is_bad, &rewritten);

	/* what the raw scan found that no part explains still counts */
	add_names(report->names, raw.names);
	if (report->blocked == NULL && raw.blocked->len > 0)
		report->blocked = g_strdup(g_ptr_array_index(raw.blocked, 0));
	hidden = ambiguity_text(scan.ambiguous, TRUE);
	report->ambiguous = ambiguity_text(scan.ambiguous, FALSE);
	gboolean block_ambiguous =
	    hidden != NULL && g_strcmp0(ctx->settings->on_ambiguous, "block") == 0;
	if (report->names->len > 0)
		report->verdict = VERDICT_INFECTED;
	else if (report->blocked != NULL)
		report->verdict = VERDICT_BLOCKED;
	else if (block_ambiguous) {
		report->verdict = VERDICT_BLOCKED;
		report->blocked = g_strdup_printf("ambiguous MIME: %s", hidden);
	} else if (report->limits && g_strcmp0(ctx->settings->on_limits, "block") == 0) {
		report->verdict = VERDICT_BLOCKED;
		report->blocked = g_strdup("a scan limit was exceeded");
	}

	if (report->verdict != VERDICT_CLEAN) {
		g_autofree char *what = report->verdict == VERDICT_INFECTED
		                            ? scan_join_names(report->names)
		                            : g_strdup(report->blocked);
		const char *action = report->verdict == VERDICT_INFECTED
		                         ? ctx->settings->infected_action
		                         : ctx->settings->blocked_action;
		/* an ambiguous structure is never rewritten part by part: which part
		 * is "the" attachment depends on the reader */
		gboolean whole = msg == NULL || top_is_bad || !rewritten || block_ambiguous ||
		                 scan.force_whole || g_strcmp0(action, "replace") == 0;

		if (!whole && ctx->settings->inline_warning)
			add_inline_warning(ctx, msg, report);
		if (!whole) {
			/* 4: what goes out must be clean: rescan it (contents already
			 * scanned clean are passed over, so a bomb is not paid twice) */
			fresh_boundaries(msg);
			GBytes *body = body_of(msg);
			gsize hlen = header_length(message, len), blen;
			const char *b = g_bytes_get_data(body, &blen);
			GString *out = g_string_sized_new(hlen + blen);
			g_string_append_len(out, message, (gssize)hlen);
			g_string_append_len(out, b, (gssize)blen);
			EngineResult again;
			engine_result_init(&again);
			scan_with_policy(&scan, out->str, out->len, "rewritten", TRUE, FALSE,
			                 &again);
			gboolean still =
			    again.error || again.names->len > 0 || again.blocked->len > 0;
			if (still) {
				whole = TRUE;
				g_bytes_unref(body);
			} else {
				report->new_body = body;
				GMimeObject *top = g_mime_message_get_mime_part(msg);
				GMimeContentType *ct = g_mime_object_get_content_type(top);
				/* the top-level boundary changed: the header in the qf must follow
				 */
				report->new_content_type = g_mime_content_type_encode(ct, NULL);
				g_strstrip(report->new_content_type);
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
out:
	report->scans = scan.scans;
	if (msg)
		g_object_unref(msg);
	engine_result_clear(&raw);
	seen_free(&scan.seen);
	g_ptr_array_unref(scan.ambiguous);
}
