/*
 * quarantine.c - the quarantine directory: store, list, show, release, purge
 *
 * DESCRIPTION
 *	The info file is one "key: value" line each; every value that comes
 *	from the message goes through untrusted_line() first, so a subject or
 *	a file name can neither add a line nor carry a terminal escape.  What
 *	is read back for "list" and "show" is checked again with
 *	untrusted_text() (entries written by older versions, the original
 *	headers of message.eml): nothing from a message reaches the
 *	administrator's terminal unescaped.
 */
#include "mqsift-build.h"

#include "scanner/quarantine.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/commit.h"
#include "queue/durable.h"
#include "rules/untrusted.h"

#define ENTRY_MODE 0600
#define DIR_MODE 0700

/* quarantine_ref - "YYYYMMDD/<id>" for today (UTC) */
char *
quarantine_ref(const char *id)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *day = g_date_time_format(now, "%Y%m%d");

	return g_strdup_printf("%s/%s", day, id);
}

/* quarantine_valid_ref - 8 digits, a slash, a queue ID: no way out of the directory */
gboolean
quarantine_valid_ref(const char *ref)
{
	if (ref == NULL || strlen(ref) < 10)
		return FALSE;
	for (int i = 0; i < 8; i++)
		if (!g_ascii_isdigit(ref[i]))
			return FALSE;
	return ref[8] == '/' && qdir_valid_id(ref + 9);
}

/* write_entry_file - one durable file of an entry */
static gboolean
write_entry_file(const char *dir, const char *name, const void *data, gsize len, GError **error)
{
	g_autofree char *path = g_build_filename(dir, name, NULL);

	return durable_write_file(path, data, len, ENTRY_MODE, (gid_t)-1, error);
}

/* remove_tree - rm -r of an entry directory (no symlinks followed); FALSE with @error */
static gboolean
remove_tree(const char *dir, GError **error)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, error);
	const char *name;

	if (d == NULL)
		return FALSE;
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(dir, name, NULL);
		struct stat st;

		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (!remove_tree(p, error))
				return FALSE;
		} else if (unlink(p) < 0) { /* lint: allow unlink */
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "cannot remove %s: %s", p, g_strerror(errno));
			return FALSE;
		}
	}
	if (rmdir(dir) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot remove %s: %s",
		            dir, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* quarantine_store - write one entry */
gboolean
quarantine_store(const MqConfig *config, const char *ref, const Qf *qf, const char *message,
                 gsize len, const ScanReport *report, GError **error)
{
	if (!quarantine_valid_ref(ref)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "\"%s\" is not a quarantine reference (YYYYMMDD/<queue id>)", ref);
		return FALSE;
	}
	g_autofree char *dir = g_build_filename(config->quarantine_dir, ref, NULL);
	g_autofree char *parent = g_path_get_dirname(dir);

	if (!durable_mkdir_p(parent, DIR_MODE, error))
		return FALSE;
	if (mkdir(dir, DIR_MODE) < 0) {
		if (errno != EEXIST) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "cannot create %s: %s", dir, g_strerror(errno));
			return FALSE;
		}
		/* a previous attempt died half way: start it again */
		remove_tree(dir, NULL); /* mkdir below says why if it failed */
		if (mkdir(dir, DIR_MODE) < 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "cannot create %s: %s", dir, g_strerror(errno));
			return FALSE;
		}
	}
	GString *env = qf_serialize(qf);
	GString *info = g_string_new(NULL);
	g_autofree char *status = scan_status_header(report);
	g_autofree char *subject = qf_header_get(qf, "Subject");
	g_autoptr(GPtrArray) rcpts = qf_recipients(qf);

	g_autofree char *sender = untrusted_line(qf_sender(qf), -1, 0);
	g_autofree char *subject_line = untrusted_line(subject, -1, 0);
	g_autofree char *status_line = untrusted_line(status, -1, 0);

	g_string_append_printf(info, "reference: %s\nreceived: %" G_GINT64_FORMAT "\n", ref,
	                       g_get_real_time() / G_USEC_PER_SEC);
	g_string_append_printf(info, "sender: %s\n", sender);
	for (guint i = 0; i < rcpts->len; i++) {
		g_autofree char *rcpt = untrusted_line(g_ptr_array_index(rcpts, i), -1, 0);
		g_string_append_printf(info, "recipient: %s\n", rcpt);
	}
	g_string_append_printf(info, "subject: %s\nverdict: %s\nstatus: %s\n", subject_line,
	                       scan_verdict_name(report->verdict), status_line);
	for (guint i = 0; i < report->findings->len; i++) {
		const Finding *f = g_ptr_array_index(report->findings, i);
		g_autofree char *path = untrusted_line(f->path, -1, 0);
		g_autofree char *name = untrusted_line(f->filename ? f->filename : "-", -1, 0);
		g_autofree char *type = untrusted_line(f->content_type, -1, 0);
		g_autofree char *what = untrusted_line(f->what, -1, 0);
		g_string_append_printf(info, "part: %s | %s | %s | %s | %s\n", path, name, type,
		                       what, f->content ? f->saved_name : "-");
	}
	gboolean ok = write_entry_file(dir, "message.eml", message, len, error) &&
	              write_entry_file(dir, "envelope", env->str, env->len, error);
	for (guint i = 0; ok && i < report->findings->len; i++) {
		const Finding *f = g_ptr_array_index(report->findings, i);
		gsize plen;
		const void *pdata;

		if (f->content == NULL)
			continue;
		pdata = g_bytes_get_data(f->content, &plen);
		ok = write_entry_file(dir, f->saved_name, pdata, plen, error);
	}
	/* "info" last: an entry without it is incomplete and is redone or purged */
	ok = ok && write_entry_file(dir, "info", info->str, info->len, error) &&
	     durable_sync_dir(dir, error) && durable_sync_dir(parent, error);
	g_string_free(env, TRUE);
	g_string_free(info, TRUE);
	if (!ok)
		remove_tree(dir, NULL); /* @error already says why */
	return ok;
}

/* Entry - one quarantined message as "quarantine list" shows it (texts as in info) */
typedef struct {
	char *ref;
	gint64 received;
	char *sender;
	char *recipients; /* ", "-joined */
	char *verdict;
	char *subject;
} Entry;

/* entry_clear - GArray clear func */
static void
entry_clear(gpointer p)
{
	Entry *e = p;

	g_free(e->ref);
	g_free(e->sender);
	g_free(e->recipients);
	g_free(e->verdict);
	g_free(e->subject);
}

/* entry_cmp - newest first, then by reference */
static gint
entry_cmp(gconstpointer a, gconstpointer b)
{
	const Entry *x = a, *y = b;

	if (x->received != y->received)
		return x->received > y->received ? -1 : 1;
	return -strcmp(x->ref, y->ref);
}

/* entry_parse - the fields of an info file (@ref already checked) */
static void
entry_parse(Entry *e, const char *ref, const char *info)
{
	g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
	GString *rcpts = g_string_new(NULL);

	memset(e, 0, sizeof *e);
	e->ref = g_strdup(ref);
	for (int k = 0; lines[k]; k++) {
		const char *l = lines[k];
		if (g_str_has_prefix(l, "received: "))
			e->received = g_ascii_strtoll(l + 10, NULL, 10);
		else if (g_str_has_prefix(l, "sender: ") && e->sender == NULL)
			e->sender = g_strdup(l + 8);
		else if (g_str_has_prefix(l, "verdict: ") && e->verdict == NULL)
			e->verdict = g_strdup(l + 9);
		else if (g_str_has_prefix(l, "subject: ") && e->subject == NULL)
			e->subject = g_strdup(l + 9);
		else if (g_str_has_prefix(l, "recipient: "))
			g_string_append_printf(rcpts, "%s%s", rcpts->len ? ", " : "", l + 11);
	}
	e->recipients = g_string_free(rcpts, FALSE);
	if (e->sender == NULL)
		e->sender = g_strdup("");
	if (e->verdict == NULL)
		e->verdict = g_strdup("?");
	if (e->subject == NULL)
		e->subject = g_strdup("");
}

/* contains_nocase - @needle in @hay, ignoring ASCII case */
static gboolean
contains_nocase(const char *hay, const char *needle)
{
	g_autofree char *h = g_ascii_strdown(hay, -1);
	g_autofree char *n = g_ascii_strdown(needle, -1);

	return strstr(h, n) != NULL;
}

/* entry_wanted - does @f let @e through */
static gboolean
entry_wanted(const Entry *e, const QuarantineFilter *f)
{
	return f == NULL || ((f->since == 0 || e->received >= f->since) &&
	                     (f->from == NULL || contains_nocase(e->sender, f->from)) &&
	                     (f->to == NULL || contains_nocase(e->recipients, f->to)) &&
	                     (f->verdict == NULL || strcmp(e->verdict, f->verdict) == 0));
}

/* unreadable - @error for a directory of the quarantine this user cannot read */
static void
unreadable(GError **error, const char *dir, GError *why)
{
	g_set_error(error, G_FILE_ERROR, why->code,
	            "cannot read the quarantine (%s): %s; it is readable by root only", dir,
	            why->message);
}

/* atoi_day - the number in @len digits of @day at @at (digits checked by the caller) */
static int
atoi_day(const char *day, int at, int len)
{
	int v = 0;

	for (int i = at; i < at + len; i++)
		v = v * 10 + (day[i] - '0');
	return v;
}

/* read_day - the entries of one day directory into @entries; FALSE with @error */
static gboolean
read_day(const MqConfig *config, const char *day, GArray *entries, GError **error)
{
	g_autofree char *daydir = g_build_filename(config->quarantine_dir, day, NULL);
	g_autoptr(GError) local = NULL;
	g_autoptr(GDir) d = g_dir_open(daydir, 0, &local);
	const char *name;

	if (d == NULL) {
		unreadable(error, daydir, local);
		return FALSE;
	}
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree char *ref = g_strdup_printf("%s/%s", day, name);
		g_autofree char *infop = g_build_filename(daydir, name, "info", NULL);
		g_autofree char *info = NULL;

		if (!quarantine_valid_ref(ref))
			continue; /* not an entry mqsift wrote */
		g_clear_error(&local);
		if (!g_file_get_contents(infop, &info, NULL, &local)) {
			if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_ACCES)) {
				unreadable(error, infop, local);
				return FALSE;
			}
			continue; /* being written (info comes last), or half removed */
		}
		Entry e;
		entry_parse(&e, ref, info);
		if (e.received == 0) { /* no date in the info: midnight of the reference's day */
			g_autoptr(GDateTime) dt = g_date_time_new_utc(
			    atoi_day(day, 0, 4), atoi_day(day, 4, 2), atoi_day(day, 6, 2), 0, 0, 0);
			e.received = dt ? g_date_time_to_unix(dt) : 0;
		}
		g_array_append_val(entries, e);
	}
	return TRUE;
}

/* format_date - "YYYY-MM-DD HH:MM:SS" (UTC) of a unix time; newly allocated */
static char *
format_date(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

	return dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S") : g_strdup("?");
}

/*
 * release_state - "released as ID", "released N times, last as ID" or
 * "release interrupted" for an entry that was released; NULL if never
 */
static char *
release_state(const MqConfig *config, const char *ref)
{
	g_autofree char *relp = g_build_filename(config->quarantine_dir, ref, "released", NULL);
	g_autofree char *pendp = g_build_filename(config->quarantine_dir, ref, "releasing", NULL);
	g_autofree char *rel = NULL;

	if (g_file_get_contents(relp, &rel, NULL, NULL) && *rel != '\0') {
		g_auto(GStrv) rl = g_strsplit(g_strchomp(rel), "\n", -1);
		g_auto(GStrv) last = g_strsplit(rl[g_strv_length(rl) - 1], " ", 3);
		guint times = g_strv_length(rl);
		const char *id = last[0] && last[1] ? last[1] : "?";

		return times > 1 ? g_strdup_printf("released %u times, last as %s", times, id)
		                 : g_strdup_printf("released as %s", id);
	}
	if (g_file_test(pendp, G_FILE_TEST_EXISTS))
		return g_strdup("release interrupted");
	return NULL;
}

/* quarantine_list - every entry the filter lets through, newest first */
int
quarantine_list(const MqConfig *config, const QuarantineFilter *filter, GString *out,
                GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(GDir) top = g_dir_open(config->quarantine_dir, 0, &local);
	g_autoptr(GArray) entries = g_array_new(FALSE, TRUE, sizeof(Entry));
	const char *name;
	int n = 0;

	g_array_set_clear_func(entries, entry_clear);
	if (top == NULL && !g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		unreadable(error, config->quarantine_dir, local);
		return -1;
	}
	while (top != NULL && (name = g_dir_read_name(top)) != NULL)
		if (strlen(name) == 8 && strspn(name, "0123456789") == 8 &&
		    !read_day(config, name, entries, error))
			return -1;
	g_array_sort(entries, entry_cmp);
	g_string_append(out, "REFERENCE\tDATE (UTC)\tVERDICT\tSENDER\tRECIPIENTS\tSUBJECT\n");
	for (guint i = 0; i < entries->len; i++) {
		const Entry *e = &g_array_index(entries, Entry, i);
		if (!entry_wanted(e, filter))
			continue;
		/* one line per entry: no field may hold a tab, a newline or an escape */
		g_autofree char *date = format_date(e->received);
		g_autofree char *s_sender = untrusted_text(e->sender, -1, 0, 0);
		g_autofree char *s_rcpts = untrusted_text(e->recipients, -1, 0, 0);
		g_autofree char *released = release_state(config, e->ref);
		g_autofree char *verdict = released
		                               ? g_strdup_printf("%s (%s)", e->verdict, released)
		                               : g_strdup(e->verdict);
		g_autofree char *s_verdict = untrusted_text(verdict, -1, 0, 0);
		g_autofree char *s_subject = untrusted_text(e->subject, -1, 0, 0);
		g_string_append_printf(out, "%s\t%s\t%s\t%s\t%s\t%s\n", e->ref, date, s_verdict,
		                       s_sender, s_rcpts, s_subject);
		n++;
	}
	return n;
}

/*
 * read_entry - the file @what and message.eml of the entry @ref, after
 * checking that @ref cannot lead out of the quarantine
 */
static gboolean
read_entry(const MqConfig *config, const char *ref, const char *what, char **data, gsize *len,
           char **msg, gsize *mlen, GError **error)
{
	if (!quarantine_valid_ref(ref)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "\"%s\" is not a quarantine reference (YYYYMMDD/<queue id>)", ref);
		return FALSE;
	}
	g_autofree char *path = g_build_filename(config->quarantine_dir, ref, what, NULL);
	g_autofree char *msgp = g_build_filename(config->quarantine_dir, ref, "message.eml", NULL);
	return g_file_get_contents(path, data, len, error) &&
	       g_file_get_contents(msgp, msg, mlen, error);
}

/* quarantine_show - info and the original headers */
gboolean
quarantine_show(const MqConfig *config, const char *ref, GString *out, GError **error)
{
	g_autofree char *info = NULL, *msg = NULL;
	gsize ilen, mlen;

	if (!read_entry(config, ref, "info", &info, &ilen, &msg, &mlen, error))
		return FALSE;
	/* the info file and the original headers, checked again: they go to a terminal */
	g_autofree char *safe_info = untrusted_text(info, (gssize)ilen, 0, UNTRUSTED_KEEP_NEWLINES);
	g_auto(GStrv) lines = g_strsplit(safe_info, "\n", -1);
	const char *end = memmem(msg, mlen, "\n\n", 2);
	g_autofree char *headers =
	    untrusted_text(msg, end ? end - msg + 1 : (gssize)mlen, 0, UNTRUSTED_KEEP_NEWLINES);
	for (int i = 0; lines[i] && *lines[i]; i++) {
		char *end_num = NULL;
		gint64 t = g_str_has_prefix(lines[i], "received: ")
		               ? g_ascii_strtoll(lines[i] + 10, &end_num, 10)
		               : 0;
		if (t > 0 && end_num && *end_num == '\0') {
			g_autofree char *date = format_date(t);
			g_string_append_printf(out, "received: %s UTC\n", date);
		} else {
			g_string_append_printf(out, "%s\n", lines[i]);
		}
	}
	g_string_append(out, "\n");
	g_string_append(out, headers);
	return TRUE;
}

/* ref_cmp - GPtrArray sort of references */
static gint
ref_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* quarantine_resolve - a reference, or the one entry of a bare queue ID */
char *
quarantine_resolve(const MqConfig *config, const char *text, GError **error)
{
	if (quarantine_valid_ref(text)) {
		g_autofree char *dir = g_build_filename(config->quarantine_dir, text, NULL);
		if (g_file_test(dir, G_FILE_TEST_IS_DIR))
			return g_strdup(text);
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no quarantine entry %s",
		            text);
		return NULL;
	}
	if (text == NULL || !qdir_valid_id(text)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "\"%s\" is neither a quarantine reference (YYYYMMDD/<queue id>) nor "
		            "a queue ID",
		            text ? text : "");
		return NULL;
	}
	GDir *top = g_dir_open(config->quarantine_dir, 0, NULL);
	g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
	const char *day;
	while (top != NULL && (day = g_dir_read_name(top)) != NULL) {
		g_autofree char *ref = g_strdup_printf("%s/%s", day, text);
		g_autofree char *dir = g_build_filename(config->quarantine_dir, ref, NULL);
		if (quarantine_valid_ref(ref) && g_file_test(dir, G_FILE_TEST_IS_DIR))
			g_ptr_array_add(found, g_steal_pointer(&ref));
	}
	if (top != NULL)
		g_dir_close(top);
	if (found->len == 1)
		return g_strdup(g_ptr_array_index(found, 0));
	if (found->len == 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
		            "no quarantine entry for queue ID %s", text);
		return NULL;
	}
	g_ptr_array_sort(found, ref_cmp);
	g_ptr_array_add(found, NULL);
	g_autofree char *all = g_strjoinv(", ", (char **)found->pdata);
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
	            "queue ID %s is in several entries (%s): name one", text, all);
	return NULL;
}

/* quarantine_released - the release history of an entry, or NULL */
char *
quarantine_released(const MqConfig *config, const char *ref)
{
	g_autofree char *path = g_build_filename(config->quarantine_dir, ref, "released", NULL);
	char *text = NULL;

	if (!quarantine_valid_ref(ref) || !g_file_get_contents(path, &text, NULL, NULL))
		return NULL;
	if (*text == '\0') {
		g_free(text);
		return NULL;
	}
	return text;
}

/* valid_address - an address for --to: printable, no spaces, brackets or quotes */
static gboolean
valid_address(const char *a)
{
	const char *s = a;
	gsize n = strlen(a);

	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		s = a + 1;
		n -= 2;
	}
	if (n == 0 || n > 320 || memchr(s, '@', n) == NULL)
		return FALSE;
	for (gsize i = 0; i < n; i++) {
		guchar c = (guchar)s[i];
		if (c <= 0x20 || c >= 0x7F || strchr("<>()[]\\,;:\"", c) != NULL)
			return FALSE;
	}
	return TRUE;
}

/* record_release - append "<time> <id> <recipients>" to the entry's released file */
static gboolean
record_release(const char *dir, const char *id, const char *rcpts, GError **error)
{
	g_autofree char *path = g_build_filename(dir, "released", NULL);
	g_autofree char *tmp = g_build_filename(dir, "released.new", NULL);
	g_autofree char *old = NULL;
	g_autofree char *safe = untrusted_line(rcpts, -1, 0);

	g_file_get_contents(path, &old, NULL, NULL);
	g_autofree char *text = g_strdup_printf("%s%" G_GINT64_FORMAT " %s %s\n", old ? old : "",
	                                        g_get_real_time() / G_USEC_PER_SEC, id, safe);
	durable_unlink(tmp, NULL); /* an earlier attempt that died half way */
	return durable_write_file(tmp, text, strlen(text), ENTRY_MODE, (gid_t)-1, error) &&
	       durable_rename(tmp, path, error) && durable_sync_dir(dir, error);
}

/* quarantine_release - re-inject the original, once unless asked again */
char *
quarantine_release(const MqConfig *config, QueueDir *out, const char *ref,
                   const QuarantineRelease *how, GError **error)
{
	static const QuarantineRelease defaults = {NULL, FALSE};
	g_autofree char *env = NULL, *msg = NULL;
	gsize elen, mlen;

	if (how == NULL)
		how = &defaults;
	for (int i = 0; how->to && how->to[i]; i++)
		if (!valid_address(how->to[i])) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "\"%s\" is not an address (user@domain)", how->to[i]);
			return NULL;
		}
	if (!read_entry(config, ref, "envelope", &env, &elen, &msg, &mlen, error))
		return NULL;
	g_autofree char *dir = g_build_filename(config->quarantine_dir, ref, NULL);
	/* one release at a time per entry: two at once would both pass the check */
	/* lint: allow open (the entry's directory, only to flock it) */
	int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot lock %s: %s",
		            dir, g_strerror(errno));
		if (lock >= 0)
			close(lock);
		return NULL;
	}
	g_autofree char *pending = g_build_filename(dir, "releasing", NULL);
	g_autofree char *history = quarantine_released(config, ref);
	if (!how->again && (history != NULL || g_file_test(pending, G_FILE_TEST_EXISTS))) {
		g_autofree char *last = NULL;
		if (history != NULL) {
			g_auto(GStrv) lines = g_strsplit(g_strchomp(history), "\n", -1);
			last = g_strdup(lines[g_strv_length(lines) - 1]);
		}
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
		            "%s was already released%s%s%s; --again releases it once more", ref,
		            last ? " (last: "
		                 : " (a release was interrupted: see the outgoing "
		                   "queue and the mail log",
		            last ? last : "", ")");
		close(lock);
		return NULL;
	}
	Qf *qf = qf_parse(env, elen, error);
	if (qf == NULL) {
		close(lock);
		return NULL;
	}
	/* the body is what follows the header block, as the qf headers were stored apart */
	const char *sep = memmem(msg, mlen, "\n\n", 2);
	const char *body = sep ? sep + 2 : msg + mlen;
	g_autofree char *status = g_strdup_printf("Released from quarantine (%s)", ref);

	qf_sanitize_for_outbound(qf);
	qf_set_header(qf, "X-Virus-Status", status);
	if (how->to != NULL && how->to[0] != NULL)
		qf_set_recipients(qf, how->to);
	g_autofree char *rcpts = qf_recipients_text(qf);
	/* the intent first: a crash after the inject must not let a second release pass */
	char *id = NULL;
	g_autoptr(GError) mark_error = NULL;
	gboolean marked =
	    durable_write_file(pending, ref, strlen(ref), ENTRY_MODE, (gid_t)-1, &mark_error);
	if (!marked && g_error_matches(mark_error, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
		marked = TRUE; /* --again after an interrupted release */
		g_clear_error(&mark_error);
	}
	if (marked)
		id = commit_inject(out, qf, body, (gsize)(msg + mlen - body),
		                   config->queue_file_mode, error);
	else
		g_propagate_error(error, g_steal_pointer(&mark_error));
	qf_free(&qf);
	if (id != NULL) {
		g_autoptr(GError) local = NULL;
		if (!record_release(dir, id, rcpts, &local)) {
			g_warning("%s: released as %s, but cannot record it: %s", ref, id,
			          local->message);
		} else {
			durable_unlink(pending, NULL);
		}
	} else if (history == NULL) {
		durable_unlink(pending, NULL); /* nothing went out */
	}
	close(lock);
	return id;
}

/* quarantine_purge - drop day directories older than keep_days */
gboolean
quarantine_purge(const MqConfig *config, guint *purged, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(GDir) top = g_dir_open(config->quarantine_dir, 0, &local);
	const char *name;

	*purged = 0;
	if (top == NULL) {
		if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return TRUE; /* nothing was ever quarantined */
		unreadable(error, config->quarantine_dir, local);
		return FALSE;
	}
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autoptr(GDateTime) limit = g_date_time_add_days(now, -(gint)config->quarantine_keep_days);
	g_autofree char *cut = g_date_time_format(limit, "%Y%m%d");
	while ((name = g_dir_read_name(top)) != NULL) {
		if (strlen(name) != 8 || strspn(name, "0123456789") != 8 || strcmp(name, cut) >= 0)
			continue;
		g_autofree char *day = g_build_filename(config->quarantine_dir, name, NULL);
		g_autoptr(GArray) entries = g_array_new(FALSE, TRUE, sizeof(Entry));
		g_array_set_clear_func(entries, entry_clear);
		if (!read_day(config, name, entries, error))
			return FALSE;
		if (!remove_tree(day, error))
			return FALSE;
		for (guint i = 0; i < entries->len; i++) {
			const Entry *e = &g_array_index(entries, Entry, i);
			g_autofree char *date = format_date(e->received);
			g_message(
			    "quarantine purge: removed %s (received %s UTC, from %s, to %s, %s, "
			    "subject %s)",
			    e->ref, date, e->sender, e->recipients, e->verdict, e->subject);
		}
		guint entries_n = entries->len;
		*purged += entries_n;
	}
	return TRUE;
}
