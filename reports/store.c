/*
 * store.c - SQLite store of processed messages
 *
 * DESCRIPTION
 *	Values are bound, never spliced into SQL.  Every text that can come
 *	from a message (sender, recipients, subject, detail, the findings'
 *	names and types) is stored as untrusted_line() made it: one line of
 *	valid UTF-8 without controls or hidden characters, bounded, so that
 *	whoever reads the store (digests, reports, sqlite3 on a terminal)
 *	gets nothing that can forge a line or drive a terminal.
 */
#include "mqsift-build.h"

#include "reports/store.h"

#include <sqlite3.h>
#include <gio/gio.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "queue/durable.h"
#include "rules/untrusted.h"

struct Store {
	sqlite3 *db;
	sqlite3_stmt *insert_message;
	sqlite3_stmt *insert_finding;
	sqlite3_stmt *attempt_bump;
	sqlite3_stmt *attempt_get;
	sqlite3_stmt *attempt_clear;
	/*
	 * rows in attempts (only the master writes them): while none, asking
	 * about a message or forgetting it needs no query; -1 = unknown, ask
	 */
	gint64 attempt_rows;
	gboolean in_tx;
	GPtrArray *retry; /* SQL of rows that could not be written yet */
};

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS messages ("
    " id INTEGER PRIMARY KEY,"
    " queue_id TEXT NOT NULL,"
    " received INTEGER NOT NULL,"
    " sender TEXT NOT NULL,"
    " recipients TEXT NOT NULL,"
    " subject TEXT,"
    " size INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('clean','infected','blocked','error')),"
    " detail TEXT,"
    " action TEXT NOT NULL,"
    " quarantine TEXT,"
    " ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS messages_received ON messages(received);"
    "CREATE INDEX IF NOT EXISTS messages_queue_id ON messages(queue_id);"
    "CREATE TABLE IF NOT EXISTS findings ("
    " message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    " path TEXT, filename TEXT, content_type TEXT, what TEXT, infected INTEGER);"
    "CREATE INDEX IF NOT EXISTS findings_message ON findings(message);";

/*
 * Migrations: migrations[i] takes a store from version i+1 to i+2, in one
 * transaction with the new schema_version.  Append, never edit.
 */
static void store_flush_retries(Store *store);

static const char *const migrations[] = {
    /* 1 -> 2: the poison guard's attempts; an index for status reports */
    "CREATE TABLE IF NOT EXISTS attempts ("
    " queue_id TEXT PRIMARY KEY, count INTEGER NOT NULL, last INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS messages_status ON messages(status, received);",
    /* 2 -> 3: the master's queue depth samples, for the report's graphs */
    "CREATE TABLE IF NOT EXISTS queue_samples ("
    " t INTEGER NOT NULL, inbound INTEGER NOT NULL, outbound INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS queue_samples_t ON queue_samples(t);",
    /* 3 -> 4: releases from the quarantine (a second one is refused unless asked for) */
    "CREATE TABLE IF NOT EXISTS releases ("
    " ref TEXT NOT NULL, queue_id TEXT NOT NULL, released INTEGER NOT NULL,"
    " recipients TEXT NOT NULL, again INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS releases_ref ON releases(ref);",
    /* 4 -> 5: spam checks (issue #16); NULL spam = not checked */
    "ALTER TABLE messages ADD COLUMN spam TEXT;"
    "ALTER TABLE messages ADD COLUMN spam_score REAL;"
    "ALTER TABLE messages ADD COLUMN spam_tests TEXT;"
    "ALTER TABLE messages ADD COLUMN spam_dnsbl TEXT;",
};

/* store_error - set @error from the db */
static void
store_error(GError **error, sqlite3 *db, const char *what)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what,
	            db ? sqlite3_errmsg(db) : "out of memory");
}

/* store_version - the schema version recorded in meta */
static int
store_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = 0;

	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
	                       NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* store_migrate - bring the schema up to STORE_SCHEMA_VERSION */
static gboolean
store_migrate(sqlite3 *db, const char *path, GError **error)
{
	int v = store_version(db);

	/* 0 is also what a value that is not a number, or no row at all, reads as */
	if (v < 1) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: unknown schema version %d",
		            path, v);
		return FALSE;
	}
	if (v > STORE_SCHEMA_VERSION) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "%s: schema version %d is newer than this mqsift knows (%d)", path, v,
		            STORE_SCHEMA_VERSION);
		return FALSE;
	}
	for (; v < STORE_SCHEMA_VERSION; v++) {
		char *err = NULL;
		g_autofree char *sql = g_strdup_printf(
		    "BEGIN; %s UPDATE meta SET value = '%d' WHERE key = 'schema_version'; COMMIT;",
		    migrations[v - 1], v + 1);
		if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "%s: migration to schema version %d failed: %s", path, v + 1,
			            err);
			sqlite3_free(err);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return FALSE;
		}
		g_message("%s: store migrated to schema version %d", path, v + 1);
	}
	return TRUE;
}

/* store_open - open and migrate */
Store *
store_open(const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	sqlite3 *db = NULL;
	char *err = NULL;

	if (!durable_mkdir_p(dir, 0750, error))
		return NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		store_error(error, db, path);
		sqlite3_close(db);
		return NULL;
	}
	/* a busy database must not hold up mail: wait briefly, then log and retry later */
	sqlite3_busy_timeout(db, 250);
	if (sqlite3_exec(db,
	                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
	                 "PRAGMA foreign_keys=ON;",
	                 NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(db, schema_v1, NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(db,
	                 "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1');",
	                 NULL, NULL, &err) != SQLITE_OK) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", path,
		            err ? err : "cannot create the schema");
		sqlite3_free(err);
		sqlite3_close(db);
		return NULL;
	}
	if (!store_migrate(db, path, error)) {
		sqlite3_close(db);
		return NULL;
	}
	Store *s = g_new0(Store, 1);
	s->db = db;
	s->retry = g_ptr_array_new_with_free_func(g_free);
	s->attempt_rows = -1;
	if (sqlite3_prepare_v2(db,
	                       "INSERT INTO messages (queue_id, received, sender, recipients, "
	                       "subject, size, status, detail, action, quarantine, ms, spam, "
	                       "spam_score, spam_tests, spam_dnsbl) VALUES "
	                       "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	                       -1, &s->insert_message, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO findings (message, path, filename, content_type, what, "
	                       "infected) VALUES (?,?,?,?,?,?)",
	                       -1, &s->insert_finding, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO attempts (queue_id, count, last) VALUES (?, 1, ?) "
	                       "ON CONFLICT(queue_id) DO UPDATE SET count = count + 1, last = ?",
	                       -1, &s->attempt_bump, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT count, last FROM attempts WHERE queue_id = ?", -1,
	                       &s->attempt_get, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM attempts WHERE queue_id = ?", -1, &s->attempt_clear,
	                       NULL) != SQLITE_OK) {
		store_error(error, db, path);
		store_close(&s);
		return NULL;
	}
	return s;
}

/* store_close - finalize and close */
void
store_close(Store **store)
{
	if (store == NULL || *store == NULL)
		return;
	Store *s = *store;
	if (s->in_tx)
		store_commit(s);
	if (s->retry && s->retry->len > 0)
		g_warning("store: %u row(s) could not be written before closing", s->retry->len);
	if (s->retry)
		g_ptr_array_unref(s->retry);
	sqlite3_finalize(s->insert_message);
	sqlite3_finalize(s->insert_finding);
	sqlite3_finalize(s->attempt_bump);
	sqlite3_finalize(s->attempt_get);
	sqlite3_finalize(s->attempt_clear);
	sqlite3_close(s->db);
	g_free(s);
	*store = NULL;
}

/* stored_message_clear - GArray clear func */
static void
stored_message_clear(gpointer p)
{
	StoredMessage *m = p;

	g_free(m->queue_id);
	g_free(m->sender);
	g_free(m->recipients);
	g_free(m->subject);
	g_free(m->status);
	g_free(m->detail);
	g_free(m->action);
	g_free(m->quarantine);
	g_free(m->spam);
	g_free(m->spam_dnsbl);
}

/* the longest text read back from one column */
#define COLUMN_MAX 8192

/* column_text - a text column made safe to show (one line), never NULL */
static char *
column_text(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return untrusted_text(t ? t : "", sqlite3_column_bytes(st, i), COLUMN_MAX, 0);
}

/* store_messages_between - the rows of a period */
GArray *
store_messages_between(Store *store, gint64 since, gint64 until, GError **error)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(
	        store->db,
	        "SELECT queue_id, received, sender, recipients, subject, size, status, "
	        "detail, action, quarantine, ms, spam, spam_score, spam_dnsbl FROM messages "
	        "WHERE received >= ? AND received < ? ORDER BY received, id",
	        -1, &st, NULL) != SQLITE_OK) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "store: %s",
		            sqlite3_errmsg(store->db));
		return NULL;
	}
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	g_autoptr(GArray) rows = g_array_new(FALSE, TRUE, sizeof(StoredMessage));
	g_array_set_clear_func(rows, stored_message_clear);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		StoredMessage m = {column_text(st, 0),
		                   sqlite3_column_int64(st, 1),
		                   column_text(st, 2),
		                   column_text(st, 3),
		                   column_text(st, 4),
		                   sqlite3_column_int64(st, 5),
		                   column_text(st, 6),
		                   column_text(st, 7),
		                   column_text(st, 8),
		                   column_text(st, 9),
		                   sqlite3_column_int64(st, 10),
		                   column_text(st, 11),
		                   sqlite3_column_type(st, 12) == SQLITE_NULL
		                       ? NAN
		                       : sqlite3_column_double(st, 12),
		                   column_text(st, 13)};
		g_array_append_val(rows, m);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "store: %s",
		            sqlite3_errmsg(store->db));
		return NULL;
	}
	return g_steal_pointer(&rows);
}

/* store_begin - open a transaction for a batch */
void
store_begin(Store *store)
{
	if (!store->in_tx && sqlite3_exec(store->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
		store->in_tx = TRUE;
	if (store->retry->len > 0)
		store_flush_retries(store);
}

/* store_commit - close the batch's transaction */
void
store_commit(Store *store)
{
	if (!store->in_tx)
		return;
	if (sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		g_warning("store: cannot commit: %s", sqlite3_errmsg(store->db));
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		store->attempt_rows = -1;
	}
	store->in_tx = FALSE;
}

/* bind_text - NULL-safe text binding */
static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

#define MAX_RETRY_ROWS 10000
/* detail holds every signature name found: longer than one header line may be */
#define DETAIL_MAX 8192

/* SafeRow - a row with every text made safe (owned copies) */
typedef struct {
	StoreRow row;
	GPtrArray *strings; /* what the copies own */
	GArray *findings;   /* of StoreFinding */
} SafeRow;

/* safe - @text made safe into @sr (NULL stays NULL) */
static const char *
safe(SafeRow *sr, const char *text, gsize max)
{
	if (text == NULL)
		return NULL;
	char *s = untrusted_line(text, -1, max);
	g_ptr_array_add(sr->strings, s);
	return s;
}

/* safe_row_init - a copy of @row whose texts are safe to store */
static void
safe_row_init(SafeRow *sr, const StoreRow *row)
{
	sr->row = *row;
	sr->strings = g_ptr_array_new_with_free_func(g_free);
	sr->findings = g_array_sized_new(FALSE, TRUE, sizeof(StoreFinding), row->n_findings);
	sr->row.queue_id = safe(sr, row->queue_id, 0);
	sr->row.sender = safe(sr, row->sender, 0);
	sr->row.recipients = safe(sr, row->recipients, DETAIL_MAX);
	sr->row.subject = safe(sr, row->subject, 0);
	sr->row.detail = safe(sr, row->detail, DETAIL_MAX);
	sr->row.action = safe(sr, row->action, 0);
	sr->row.quarantine = safe(sr, row->quarantine, 0);
	sr->row.spam = safe(sr, row->spam, 0);
	sr->row.spam_tests = safe(sr, row->spam_tests, DETAIL_MAX);
	sr->row.spam_dnsbl = safe(sr, row->spam_dnsbl, 0);
	for (guint i = 0; i < row->n_findings; i++) {
		const StoreFinding *f = &row->findings[i];
		StoreFinding c = {safe(sr, f->path, 0), safe(sr, f->filename, 0),
		                  safe(sr, f->content_type, 0), safe(sr, f->what, DETAIL_MAX),
		                  f->infected};
		g_array_append_val(sr->findings, c);
	}
	sr->row.findings = (const StoreFinding *)sr->findings->data;
}

/* safe_row_clear - free the copies */
static void
safe_row_clear(SafeRow *sr)
{
	g_ptr_array_unref(sr->strings);
	g_array_unref(sr->findings);
}

/* store_keep_for_retry - a row the database refused (busy, full): keep it as SQL */
static void
store_keep_for_retry(Store *store, const StoreRow *row)
{
	if (store->retry->len >= MAX_RETRY_ROWS) {
		g_warning("store: %u rows wait for the database already; dropping the row of %s",
		          store->retry->len, row->queue_id);
		return;
	}
	char score[G_ASCII_DTOSTR_BUF_SIZE] = "NULL";
	if (row->spam != NULL && !isnan(row->spam_score))
		g_ascii_dtostr(score, sizeof score, row->spam_score);
	char *sql = sqlite3_mprintf(
	    "INSERT INTO messages (queue_id, received, sender, recipients, subject, size, "
	    "status, detail, action, quarantine, ms, spam, spam_score, spam_tests, spam_dnsbl) "
	    "VALUES (%Q, %lld, %Q, %Q, %Q, %lld, %Q, %Q, %Q, %Q, %lld, %Q, %s, %Q, %Q);",
	    row->queue_id, (long long)row->received, row->sender ? row->sender : "",
	    row->recipients ? row->recipients : "", row->subject, (long long)row->size, row->status,
	    row->detail, row->action ? row->action : "", row->quarantine, (long long)row->ms,
	    row->spam, score, row->spam_tests, row->spam_dnsbl);
	if (sql != NULL) {
		g_ptr_array_add(store->retry, g_strdup(sql));
		sqlite3_free(sql);
	}
}

/* store_flush_retries - write the rows kept while the database refused them */
static void
store_flush_retries(Store *store)
{
	guint done = 0;

	while (done < store->retry->len) {
		if (sqlite3_exec(store->db, g_ptr_array_index(store->retry, done), NULL, NULL,
		                 NULL) != SQLITE_OK)
			break;
		done++;
	}
	if (done > 0) {
		g_ptr_array_remove_range(store->retry, 0, done);
		g_message("store: %u delayed row(s) written", done);
	}
}

/* store_pending_retries - rows waiting */
guint
store_pending_retries(const Store *store)
{
	return store->retry->len;
}

/* store_prune - bounded growth */
int
store_prune(Store *store, guint keep_days)
{
	g_autofree char *sql =
	    g_strdup_printf("DELETE FROM messages WHERE received < %" G_GINT64_FORMAT ";"
	                    "DELETE FROM attempts WHERE last < %" G_GINT64_FORMAT ";"
	                    "DELETE FROM queue_samples WHERE t < %" G_GINT64_FORMAT ";",
	                    g_get_real_time() / G_USEC_PER_SEC - (gint64)keep_days * 86400,
	                    g_get_real_time() / G_USEC_PER_SEC - (gint64)keep_days * 86400,
	                    g_get_real_time() / G_USEC_PER_SEC - (gint64)keep_days * 86400);

	if (keep_days == 0)
		return 0;
	int before = sqlite3_total_changes(store->db);
	store->attempt_rows = -1;
	if (sqlite3_exec(store->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		g_warning("store: prune: %s", sqlite3_errmsg(store->db));
		return -1;
	}
	return sqlite3_total_changes(store->db) - before;
}

/* store_add_safe - one message and its findings, texts already made safe */
static gboolean
store_add_safe(Store *store, const StoreRow *row, GError **error)
{
	sqlite3_stmt *st = store->insert_message;

	sqlite3_reset(st);
	bind_text(st, 1, row->queue_id);
	sqlite3_bind_int64(st, 2, row->received);
	bind_text(st, 3, row->sender ? row->sender : "");
	bind_text(st, 4, row->recipients ? row->recipients : "");
	bind_text(st, 5, row->subject);
	sqlite3_bind_int64(st, 6, row->size);
	bind_text(st, 7, row->status);
	bind_text(st, 8, row->detail);
	bind_text(st, 9, row->action ? row->action : "");
	bind_text(st, 10, row->quarantine);
	sqlite3_bind_int64(st, 11, row->ms);
	bind_text(st, 12, row->spam);
	if (row->spam != NULL && !isnan(row->spam_score))
		sqlite3_bind_double(st, 13, row->spam_score);
	else
		sqlite3_bind_null(st, 13);
	bind_text(st, 14, row->spam_tests);
	bind_text(st, 15, row->spam_dnsbl);
	int rc = sqlite3_step(st);
	sqlite3_reset(st); /* a statement left running would block the batch's COMMIT */
	if (rc != SQLITE_DONE) {
		store_error(error, store->db, "store: insert");
		store_keep_for_retry(store, row);
		return FALSE;
	}
	sqlite3_int64 id = sqlite3_last_insert_rowid(store->db);
	for (guint i = 0; i < row->n_findings; i++) {
		const StoreFinding *f = &row->findings[i];
		sqlite3_stmt *fs = store->insert_finding;

		sqlite3_reset(fs);
		sqlite3_bind_int64(fs, 1, id);
		bind_text(fs, 2, f->path);
		bind_text(fs, 3, f->filename);
		bind_text(fs, 4, f->content_type);
		bind_text(fs, 5, f->what);
		sqlite3_bind_int(fs, 6, f->infected);
		rc = sqlite3_step(fs);
		sqlite3_reset(fs);
		if (rc != SQLITE_DONE) {
			store_error(error, store->db, "store: insert finding");
			return FALSE;
		}
	}
	return TRUE;
}

/* store_add_claimed - a row from a message's control file */
gboolean
store_add_claimed(Store *store, const char *queue_id, const Qf *qf, gint64 size, const char *detail,
                  const char *action, const char *quarantine, GError **error)
{
	g_autofree char *rcpts = qf_recipients_text(qf);
	g_autofree char *subject = qf_header_get(qf, "Subject");
	StoreRow row = {.queue_id = queue_id,
	                .received = g_get_real_time() / G_USEC_PER_SEC,
	                .sender = qf_sender(qf),
	                .recipients = rcpts,
	                .subject = subject,
	                .size = size,
	                .status = "error",
	                .detail = detail,
	                .action = action,
	                .quarantine = quarantine};

	return store_add(store, &row, error);
}

/* store_add - one message and its findings */
gboolean
store_add(Store *store, const StoreRow *row, GError **error)
{
	SafeRow sr;

	safe_row_init(&sr, row);
	gboolean ok = store_add_safe(store, &sr.row, error);
	safe_row_clear(&sr);
	return ok;
}

/* attempt_rows - rows in attempts, counted again when unknown (-1 if the count fails) */
static gint64
attempt_rows(Store *store)
{
	sqlite3_stmt *st = NULL;

	if (store->attempt_rows >= 0)
		return store->attempt_rows;
	if (sqlite3_prepare_v2(store->db, "SELECT count(*) FROM attempts", -1, &st, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		store->attempt_rows = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return store->attempt_rows;
}

/* store_attempt_bump - one more failed attempt */
guint
store_attempt_bump(Store *store, const char *queue_id, gint64 now)
{
	sqlite3_stmt *st = store->attempt_bump;

	store->attempt_rows = -1; /* a new row or not: counted again when needed */
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, queue_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		g_warning("store: attempts: %s", sqlite3_errmsg(store->db));
	sqlite3_reset(st);
	return store_attempt_get(store, queue_id, NULL);
}

/* store_attempt_get - count and last time */
guint
store_attempt_get(Store *store, const char *queue_id, gint64 *last)
{
	sqlite3_stmt *st = store->attempt_get;
	guint count = 0;

	if (attempt_rows(store) == 0)
		return 0; /* the common case: no message ever failed */
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, queue_id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		count = (guint)sqlite3_column_int(st, 0);
		if (last)
			*last = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st); /* a statement left running would block a COMMIT */
	return count;
}

/* store_attempt_clear - forget a message's attempts */
void
store_attempt_clear(Store *store, const char *queue_id)
{
	sqlite3_stmt *st = store->attempt_clear;

	if (attempt_rows(store) == 0)
		return;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, queue_id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_DONE && store->attempt_rows > 0)
		store->attempt_rows -= sqlite3_changes(store->db);
	else
		store->attempt_rows = -1;
	sqlite3_reset(st);
}

/* store_release_add - one release from the quarantine */
gboolean
store_release_add(Store *store, const char *ref, const char *queue_id, gint64 when,
                  const char *recipients, gboolean again, GError **error)
{
	sqlite3_stmt *st = NULL;
	g_autofree char *safe_rcpts = untrusted_line(recipients, -1, 4096);
	gboolean ok = FALSE;

	if (sqlite3_prepare_v2(store->db,
	                       "INSERT INTO releases (ref, queue_id, released, recipients, again) "
	                       "VALUES (?,?,?,?,?)",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, queue_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, when);
		sqlite3_bind_text(st, 4, safe_rcpts, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 5, again ? 1 : 0);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	if (!ok)
		store_error(error, store->db, "store: releases");
	sqlite3_finalize(st);
	return ok;
}

/* store_release_count - releases of one entry */
guint
store_release_count(Store *store, const char *ref)
{
	sqlite3_stmt *st = NULL;
	guint n = 0;

	if (sqlite3_prepare_v2(store->db, "SELECT count(*) FROM releases WHERE ref = ?", -1, &st,
	                       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = (guint)sqlite3_column_int(st, 0);
	}
	sqlite3_finalize(st);
	return n;
}

/* store_sample_add - one row of queue_samples */
void
store_sample_add(Store *store, gint64 t, guint inbound, guint outbound)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(store->db,
	                       "INSERT INTO queue_samples (t, inbound, outbound) VALUES (?,?,?)",
	                       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, t);
		sqlite3_bind_int64(st, 2, inbound);
		sqlite3_bind_int64(st, 3, outbound);
		if (sqlite3_step(st) != SQLITE_DONE)
			g_warning("store: queue sample: %s", sqlite3_errmsg(store->db));
	}
	sqlite3_finalize(st);
}

/* store_samples_between - the samples of a period */
GArray *
store_samples_between(Store *store, gint64 since, gint64 until, GError **error)
{
	sqlite3_stmt *st = NULL;
	g_autoptr(GArray) a = g_array_new(FALSE, TRUE, sizeof(QueueSample));
	int rc;

	if (sqlite3_prepare_v2(store->db,
	                       "SELECT t, inbound, outbound FROM queue_samples WHERE t >= ? AND "
	                       "t < ? ORDER BY t",
	                       -1, &st, NULL) != SQLITE_OK) {
		store_error(error, store->db, "store: samples");
		return NULL;
	}
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		QueueSample q = {sqlite3_column_int64(st, 0), (guint)sqlite3_column_int(st, 1),
		                 (guint)sqlite3_column_int(st, 2)};
		g_array_append_val(a, q);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_error(error, store->db, "store: samples");
		return NULL;
	}
	return g_steal_pointer(&a);
}

/* the most buckets one query may return */
#define BUCKETS_MAX 100000

/* bucket_count - how many @width buckets from @since cover [@since, @until), or -1 with @error */
static gint64
bucket_count(gint64 since, gint64 until, gint64 width, GError **error)
{
	g_assert(width > 0);
	gint64 n = until > since ? (until - since + width - 1) / width : 0;
	if (n > BUCKETS_MAX) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "store: %" G_GINT64_FORMAT " buckets asked for (at most %d)", n,
		            BUCKETS_MAX);
		return -1;
	}
	return n;
}

/* BucketRow - copy one result row (column 0: the bucket's index) into its bucket */
typedef void (*BucketRow)(sqlite3_stmt *st, gpointer bucket);

/*
 * bucket_series - every @width bucket of [@since, @until) as a GArray of
 * @elem-sized elements, each starting with its gint64 start time, the rest
 * zero; then @sql (?1 = @since, ?2 = @until, ?3 = @width, one row per
 * non-empty bucket, its index first) fills them through @row.  NULL with
 * @error.
 */
static GArray *
bucket_series(Store *store, const char *sql, gint64 since, gint64 until, gint64 width, guint elem,
              BucketRow row, const char *what, GError **error)
{
	sqlite3_stmt *st = NULL;
	gint64 n = bucket_count(since, until, width, error);
	int rc;

	if (n < 0)
		return NULL;
	g_autoptr(GArray) a = g_array_sized_new(FALSE, TRUE, elem, (guint)n);
	g_array_set_size(a, (guint)n);
	for (gint64 i = 0; i < n; i++)
		*(gint64 *)(void *)(a->data + i * elem) = since + i * width;
	if (sqlite3_prepare_v2(store->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_error(error, store->db, what);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int64(st, 2, until);
	sqlite3_bind_int64(st, 3, width);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		gint64 i = sqlite3_column_int64(st, 0);
		if (i >= 0 && i < n)
			row(st, a->data + i * elem);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_error(error, store->db, what);
		return NULL;
	}
	return g_steal_pointer(&a);
}

/* traffic_row - BucketRow of store_traffic() */
static void
traffic_row(sqlite3_stmt *st, gpointer bucket)
{
	StoreTraffic *b = bucket;

	b->clean = (guint)sqlite3_column_int64(st, 1);
	b->spam = (guint)sqlite3_column_int64(st, 2);
	b->infected = (guint)sqlite3_column_int64(st, 3);
	b->blocked = (guint)sqlite3_column_int64(st, 4);
	b->error = (guint)sqlite3_column_int64(st, 5);
}

/* store_traffic - counts by verdict per bucket, grouped in SQL */
GArray *
store_traffic(Store *store, gint64 since, gint64 until, gint64 width, GError **error)
{
	G_STATIC_ASSERT(offsetof(StoreTraffic, start) == 0);
	/* the range on received uses messages_received; spam is NULL when not checked */
	return bucket_series(
	    store,
	    "SELECT (received - ?1) / ?3 AS bucket,"
	    " sum(status = 'clean' AND coalesce(spam, '') NOT IN ('yes', 'high')),"
	    " sum(status = 'clean' AND coalesce(spam, '') IN ('yes', 'high')),"
	    " sum(status = 'infected'), sum(status = 'blocked'),"
	    " sum(status NOT IN ('clean', 'infected', 'blocked'))"
	    " FROM messages WHERE received >= ?1 AND received < ?2 GROUP BY bucket",
	    since, until, width, sizeof(StoreTraffic), traffic_row, "store: traffic", error);
}

/* depth_row - BucketRow of store_queue_depths() */
static void
depth_row(sqlite3_stmt *st, gpointer bucket)
{
	StoreQueueDepth *b = bucket;

	b->sampled = TRUE;
	b->inbound = (guint)sqlite3_column_int64(st, 1);
	b->outbound = (guint)sqlite3_column_int64(st, 2);
}

/* store_queue_depths - the deepest sample per bucket, grouped in SQL */
GArray *
store_queue_depths(Store *store, gint64 since, gint64 until, gint64 width, GError **error)
{
	G_STATIC_ASSERT(offsetof(StoreQueueDepth, start) == 0);
	return bucket_series(store,
	                     "SELECT (t - ?1) / ?3 AS bucket, max(inbound), max(outbound)"
	                     " FROM queue_samples WHERE t >= ?1 AND t < ?2 GROUP BY bucket",
	                     since, until, width, sizeof(StoreQueueDepth), depth_row,
	                     "store: queue depths", error);
}
