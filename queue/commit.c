/*
 * commit.c - the exactly-once commit from an inbound queue to the outgoing one
 *
 * DESCRIPTION
 *	See commit.h for the protocol.  Each step has a fault point
 *	("commit:<step>") so the crash tests can kill the process exactly
 *	there.  Directory fsyncs are done once per batch and per directory.
 */
#include "mqsift-build.h"

#include "queue/commit.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/durable.h"
#include "queue/fault.h"
#include "queue/fdread.h"

typedef struct {
	QueueClaim *claim;
	int tf_fd;       /* open until the batch is flushed (step 3) */
	int df_fd;       /* the new body's, until step 3; -1 for a link or a synced copy */
	gboolean marked; /* step 4 done: its batch's journal is durable */
} CommitItem;

/* Journal - one batch's commit record in one inbound queue (step 4) */
typedef struct {
	QueueDir *in;             /* borrowed: the claims' queue */
	char name[QDIR_NAME_MAX]; /* jf<ID> in its qf directory */
	int fd;                   /* holds its lock until it is removed */
	GString *text;            /* what it says, while it is written */
	guint count;              /* messages it names */
} Journal;

struct CommitBatch {
	QueueDir *out;
	mode_t mode;
	gboolean set_gid; /* new files need a chown to get the queue's group */
	GArray *items;    /* of CommitItem */
	GArray *outcomes; /* of CommitOutcome, the last commit_finish()'s */
	GArray *retired;  /* of Journal: a finished batch's, removed after the next
	                   * fsync of their directory (see step 9) */
};

/* the first line of a journal; its last is "end <count> <sha256 of the lines before>" */
#define JOURNAL_MAGIC "mqsift-commit-journal 1\n"
#define JOURNAL_MAX (16 * 1024 * 1024)

/*
 * committed_ids - messages of this process whose batch's journal is durable
 * but whose commit did not complete (a step failed): commit_prepare refuses
 * them until commit_recover() has completed them
 */
static GHashTable *committed_ids;

/*
 * Doubtful - the journal of a batch whose step 4 or 5 failed and whose
 * journal could not then be removed durably: its messages are held (in
 * committed_ids) until a recovery finds the journal gone for good, or
 * completes it
 */
typedef struct {
	char *dir;      /* the qf directory (for the log) */
	char *dir_key;  /* its queue's qdir_key() */
	char *name;     /* jf<ID> */
	GPtrArray *ids; /* of char*: the messages it names */
} Doubtful;

/* doubtful - of Doubtful*, this process's */
static GPtrArray *doubtful;

/*
 * held_key - a held message's key: its queue (qdir_key: however the
 * configuration spells its path, as a SIGHUP may change it while holds
 * stay) and its ID (two inbound queues may each hold a message with the
 * same ID)
 */
static char *
held_key(const char *dir, const char *id)
{
	return g_strconcat(dir, "/", id, NULL);
}

/* hold_id - @id of @in is committed but not complete: commit_prepare refuses it */
static void
hold_id(QueueDir *in, const char *id)
{
	g_autofree char *dir = qdir_key(in);

	if (committed_ids == NULL)
		committed_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_hash_table_add(committed_ids, held_key(dir, id));
}

/* unhold - @id of the queue whose qdir_key is @dir is no longer held */
static void
unhold(const char *dir, const char *id)
{
	if (committed_ids == NULL)
		return;
	g_autofree char *key = held_key(dir, id);
	g_hash_table_remove(committed_ids, key);
}

/* at_error - @error from errno for @what on the file @name of @dir_path */
static void
at_error(GError **error, int err, const char *what, const char *dir_path, const char *name)
{
	g_autofree char *path = g_build_filename(dir_path, name, NULL);

	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "%s %s: %s", what, path,
	            g_strerror(err));
}

/* close_fd - close and forget a descriptor */
static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* commit_item_rollback - undo a prepared, unmarked item; release its claim */
static void
commit_item_rollback(CommitBatch *batch, CommitItem *item)
{
	char name[QDIR_NAME_MAX];

	close_fd(&item->tf_fd);
	close_fd(&item->df_fd);
	if (!item->marked) {
		unlinkat(qdir_qf_fd(batch->out), qdir_name(name, "tf", item->claim->id), 0);
		unlinkat(qdir_df_fd(batch->out), qdir_name(name, "df", item->claim->id), 0);
	}
	qdir_claim_release(&item->claim);
}

/* journal_close - close a journal (releasing its lock); it stays on disk */
static void
journal_close(Journal *j)
{
	close_fd(&j->fd);
	if (j->text != NULL)
		g_string_free(j->text, TRUE);
	j->text = NULL;
}

/*
 * sync_in_dirs - fsync the qf directory of the inbound queue @d, and its df
 * and xf directories when they are others: the journal's name, and the step
 * 8 unlinks of the batch before, are durable
 */
static gboolean
sync_in_dirs(QueueDir *d, GError **error)
{
	const char *qf = qdir_qf_dir(d), *df = qdir_df_dir(d), *xf = qdir_xf_dir(d);

	return durable_sync_dirfd(qdir_qf_fd(d), qf, error) &&
	       (strcmp(df, qf) == 0 || durable_sync_dirfd(qdir_df_fd(d), df, error)) &&
	       (strcmp(xf, qf) == 0 || strcmp(xf, df) == 0 ||
	        durable_sync_dirfd(qdir_xf_fd(d), xf, error));
}

/*
 * retire_journals - step 9: remove the journals of finished batches.  Their
 * batch's inbound unlinks must be durable first, or a crash could keep an
 * inbound qf and lose the journal that says it was committed: a directory
 * in @synced was just fsync'ed by the caller, any other is fsync'ed here.
 */
static void
retire_journals(CommitBatch *batch, GPtrArray *synced)
{
	for (guint i = 0; i < batch->retired->len; i++) {
		Journal *j = &g_array_index(batch->retired, Journal, i);
		g_autoptr(GError) error = NULL;
		gboolean sync = synced == NULL || !g_ptr_array_find(synced, j->in, NULL);

		if (sync && !sync_in_dirs(j->in, &error))
			g_warning("%s; its commit journal %s stays until the next pass",
			          error->message, j->name);
		else if (unlinkat(qdir_qf_fd(j->in), j->name, 0) == 0)
			fault_trace("unlink", j->name);
		journal_close(j);
	}
	g_array_set_size(batch->retired, 0);
}

/* commit_batch_new - an empty batch */
CommitBatch *
commit_batch_new(QueueDir *out, mode_t file_mode)
{
	CommitBatch *b = g_new0(CommitBatch, 1);

	b->out = out;
	b->mode = file_mode;
	b->set_gid = !qdir_gid_inherited(out);
	b->items = g_array_new(FALSE, TRUE, sizeof(CommitItem));
	b->outcomes = g_array_new(FALSE, TRUE, sizeof(CommitOutcome));
	b->retired = g_array_new(FALSE, TRUE, sizeof(Journal));
	return b;
}

/* commit_batch_size - prepared items */
guint
commit_batch_size(const CommitBatch *batch)
{
	return batch->items->len;
}

/* commit_outcome - the last finish's outcome of one message */
CommitOutcome
commit_outcome(const CommitBatch *batch, guint index)
{
	return index < batch->outcomes->len ? g_array_index(batch->outcomes, CommitOutcome, index)
	                                    : COMMIT_LEFT;
}

/* commit_batch_free - roll back and free */
void
commit_batch_free(CommitBatch **batch)
{
	if (batch == NULL || *batch == NULL)
		return;
	for (guint i = 0; i < (*batch)->items->len; i++)
		commit_item_rollback(*batch, &g_array_index((*batch)->items, CommitItem, i));
	retire_journals(*batch, NULL);
	g_array_free((*batch)->retired, TRUE);
	g_array_free((*batch)->items, TRUE);
	g_array_free((*batch)->outcomes, TRUE);
	g_free(*batch);
	*batch = NULL;
}

/* exists_at - fstatat succeeds (without following a link); AT_FDCWD for a path */
static gboolean
exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* commit_clean_stale - remove leftovers of an uncommitted attempt */
gboolean
commit_clean_stale(QueueDir *out, const char *id, GError **error)
{
	char qf[QDIR_NAME_MAX], tf[QDIR_NAME_MAX], df[QDIR_NAME_MAX];

	qdir_name(qf, "qf", id);
	qdir_name(tf, "tf", id);
	qdir_name(df, "df", id);
	if (exists_at(qdir_qf_fd(out), qf)) {
		g_autofree char *path = qdir_file(out, "qf", id);
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM,
		            "queue ID %s already exists in the outgoing queue (%s); "
		            "leaving the inbound message alone",
		            id, path);
		return FALSE;
	}
	if (exists_at(qdir_qf_fd(out), tf) || exists_at(qdir_df_fd(out), df)) {
		g_message("%s: removing the outgoing df/tf of an interrupted earlier attempt", id);
		if (unlinkat(qdir_qf_fd(out), tf, 0) < 0 && errno != ENOENT) {
			at_error(error, errno, "cannot remove", qdir_qf_dir(out), tf);
			return FALSE;
		}
		if (unlinkat(qdir_df_fd(out), df, 0) < 0 && errno != ENOENT) {
			at_error(error, errno, "cannot remove", qdir_df_dir(out), df);
			return FALSE;
		}
	}
	return TRUE;
}

/* link_body - step 1 for an unchanged body: link the inbound df (copy across filesystems) */
static gboolean
link_body(CommitBatch *batch, QueueClaim *claim, const char *df, GError **error)
{
	QueueDir *out = batch->out;

	if (fault_should_fail("link"))
		errno = ENOSPC;
	else {
		char buf[QDIR_NAME_MAX];
		const char *at_name;
		int at = qdir_claim_df_at(claim, buf, &at_name); /* where its d record says */
		if (linkat(at, at_name, qdir_df_fd(out), df, 0) == 0)
			return TRUE;
	}
	if (errno == EXDEV || errno == EPERM || errno == EMLINK) {
		g_autofree char *out_df = qdir_file(out, "df", claim->id);
		return durable_link_or_copy(claim->df_path, out_df, batch->mode, qdir_gid(out),
		                            error);
	}
	at_error(error, errno, "cannot link to", qdir_df_dir(out), df);
	return FALSE;
}

/* write_body - step 1 for a new body: written, writeback started; -1 with @error */
static int
write_body(CommitBatch *batch, const char *df, GBytes *body, GError **error)
{
	g_autofree char *what = g_build_filename(qdir_df_dir(batch->out), df, NULL);
	gsize len;
	const void *data = g_bytes_get_data(body, &len);

	return durable_write_at(qdir_df_fd(batch->out), df, what, data, len, batch->mode,
	                        qdir_gid(batch->out), batch->set_gid, error);
}

/* commit_is_held - in committed_ids */
gboolean
commit_is_held(QueueDir *in, const char *id)
{
	if (committed_ids == NULL)
		return FALSE;
	g_autofree char *dir = qdir_key(in);
	g_autofree char *key = held_key(dir, id);
	return g_hash_table_contains(committed_ids, key);
}

/*
 * commit_prepare - steps 1 and 2.  The outgoing df and tf are created
 * O_EXCL: one left by a crashed attempt (the message is claimed and not
 * committed, so it is a leftover) makes the create fail, is removed, and
 * the create is tried once more.
 */
gboolean
commit_prepare(CommitBatch *batch, QueueClaim *claim, const Qf *qf, GBytes *new_body,
               GError **error)
{
	QueueDir *out = batch->out;
	CommitItem item = {.claim = claim, .tf_fd = -1, .df_fd = -1};
	char qfn[QDIR_NAME_MAX], tf[QDIR_NAME_MAX], df[QDIR_NAME_MAX];
	GError *local = NULL;

	if (commit_is_held(claim->dir, claim->id)) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_BUSY,
		            "%s: committed already; the next pass completes it", claim->id);
		return FALSE;
	}
	/* never overwrite an outgoing message: a queue ID clash leaves it inbound */
	if (exists_at(qdir_qf_fd(out), qdir_name(qfn, "qf", claim->id)))
		return commit_clean_stale(out, claim->id, error);
	qdir_name(tf, "tf", claim->id);
	qdir_name(df, "df", claim->id);
	for (int attempt = 0;; attempt++) {
		gboolean ok;
		if (new_body == NULL)
			ok = link_body(batch, claim, df, &local);
		else
			ok = (item.df_fd = write_body(batch, df, new_body, &local)) >= 0;
		if (ok)
			break;
		if (attempt > 0 || !g_error_matches(local, G_IO_ERROR, G_IO_ERROR_EXISTS) ||
		    !commit_clean_stale(out, claim->id, NULL)) {
			g_propagate_error(error, local);
			return FALSE;
		}
		g_clear_error(&local);
	}
	fault_point("commit:after-df");

	GString *text = qf_serialize(qf);
	g_autofree char *what = g_build_filename(qdir_qf_dir(out), tf, NULL);
	for (int attempt = 0;; attempt++) {
		item.tf_fd = durable_write_at(qdir_qf_fd(out), tf, what, text->str, text->len,
		                              batch->mode, qdir_gid(out), batch->set_gid, &local);
		if (item.tf_fd >= 0)
			break;
		if (attempt == 0 && g_error_matches(local, G_IO_ERROR, G_IO_ERROR_EXISTS) &&
		    unlinkat(qdir_qf_fd(out), tf, 0) == 0) {
			g_message("%s: removing the outgoing tf of an interrupted earlier attempt",
			          claim->id);
			g_clear_error(&local);
			continue;
		}
		g_propagate_error(error, local);
		close_fd(&item.df_fd);
		unlinkat(qdir_df_fd(out), df, 0);
		g_string_free(text, TRUE);
		return FALSE;
	}
	g_string_free(text, TRUE);
	fault_point("commit:after-tf");
	g_array_append_val(batch->items, item);
	return TRUE;
}

/* sync_out - step 3: the batch's df and tf files, contents and names, are durable */
static gboolean
sync_out(CommitBatch *batch, GError **error)
{
	QueueDir *out = batch->out;
	GArray *items = batch->items;
	g_autoptr(GArray) fds = g_array_sized_new(FALSE, FALSE, sizeof(int), 2 * items->len);

	for (guint i = 0; i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);
		g_array_append_val(fds, it->tf_fd);
		if (it->df_fd >= 0)
			g_array_append_val(fds, it->df_fd);
	}
	gboolean ok = durable_sync_fds((const int *)fds->data, fds->len, error);
	for (guint i = 0; i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);
		close_fd(&it->tf_fd);
		close_fd(&it->df_fd);
	}
	/* the names: the tf files in the qf directory, the df files (and links) in the df one */
	ok = ok && durable_sync_dirfd(qdir_qf_fd(out), qdir_qf_dir(out), error);
	if (ok && strcmp(qdir_df_dir(out), qdir_qf_dir(out)) != 0)
		ok = durable_sync_dirfd(qdir_df_fd(out), qdir_df_dir(out), error);
	return ok;
}

/* add_dir - @dir to @dirs, once */
static void
add_dir(GPtrArray *dirs, QueueDir *dir)
{
	if (!g_ptr_array_find(dirs, dir, NULL))
		g_ptr_array_add(dirs, dir);
}

/* sync_qf_dirs - fsync the qf directory of each queue in @dirs */
static gboolean
sync_qf_dirs(GPtrArray *dirs, GError **error)
{
	for (guint i = 0; i < dirs->len; i++) {
		QueueDir *d = g_ptr_array_index(dirs, i);
		if (!durable_sync_dirfd(qdir_qf_fd(d), qdir_qf_dir(d), error))
			return FALSE;
	}
	return TRUE;
}

/* journal_for - the journal of @in among @journals, added if new */
static Journal *
journal_for(GArray *journals, QueueDir *in)
{
	for (guint i = 0; i < journals->len; i++) {
		Journal *j = &g_array_index(journals, Journal, i);
		if (j->in == in)
			return j;
	}
	Journal j = {.in = in, .fd = -1, .text = g_string_new(JOURNAL_MAGIC)};
	g_array_append_val(journals, j);
	return &g_array_index(journals, Journal, journals->len - 1);
}

/* journal_seal - the last line: how many messages, and a checksum of what precedes */
static void
journal_seal(GString *text, guint count)
{
	g_autofree char *sum =
	    g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)text->str, text->len);

	g_string_append_printf(text, "end %u %s\n", count, sum);
}

/*
 * create_journal - the file of @j, under a new name (jf<new queue ID>),
 * created O_EXCL and locked; FALSE with @error
 */
static gboolean
create_journal(Journal *j, GError **error)
{
	int dfd = qdir_qf_fd(j->in);

	for (int attempt = 0; attempt < 20; attempt++) {
		g_autofree char *id = qdir_new_id();
		g_autofree char *what = NULL;
		g_autoptr(GError) local = NULL;

		qdir_name(j->name, "jf", id);
		what = g_build_filename(qdir_qf_dir(j->in), j->name, NULL);
		j->fd = durable_write_at(dfd, j->name, what, j->text->str, j->text->len, 0600,
		                         (gid_t)-1, FALSE, &local);
		if (j->fd >= 0) {
			/* a committer's lock: recovery leaves a locked journal alone */
			if (!qdir_lock_fd(j->in, j->fd, FALSE)) {
				g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY, "cannot lock %s",
				            what);
				return FALSE; /* unwrite_journals removes it */
			}
			return TRUE;
		}
		if (!g_error_matches(local, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
			g_propagate_error(error, g_steal_pointer(&local));
			return FALSE;
		}
	}
	g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM, "no free journal name in %s",
	            qdir_qf_dir(j->in));
	return FALSE;
}

/*
 * write_journals - step 4: each inbound queue of the batch gets a journal
 * naming its messages, each by queue ID and by the inode of its qf (a
 * journal left behind then never names a later message that got the same
 * ID; the journal is in the qf's directory, so on its filesystem); then step 5: all of them flushed
 * at once, then their directories, which are added to @dirs.  Until that returned, nothing outside
 * mqsift's own files has changed.
 */
static gboolean
write_journals(CommitBatch *batch, GArray *journals, GPtrArray *dirs, GError **error)
{
	GArray *items = batch->items;

	for (guint i = 0; i < items->len; i++) {
		QueueClaim *c = g_array_index(items, CommitItem, i).claim;
		Journal *j = journal_for(journals, c->dir);

		g_string_append_printf(j->text, "%s %ju\n", c->id, (uintmax_t)c->st.st_ino);
		j->count++;
	}
	g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
	for (guint i = 0; i < journals->len; i++) {
		Journal *j = &g_array_index(journals, Journal, i);
		journal_seal(j->text, j->count);
		add_dir(dirs, j->in);
		if (!create_journal(j, error))
			return FALSE;
		g_array_append_val(fds, j->fd);
	}
	fault_point("commit:after-journal");
	if (!durable_sync_fds((const int *)fds->data, fds->len, error))
		return FALSE;
	for (guint i = 0; i < dirs->len; i++)
		if (!sync_in_dirs(g_ptr_array_index(dirs, i), error))
			return FALSE;
	return TRUE;
}

/*
 * unwrite_journals - a failed step 4 or 5: remove the journals, durably,
 * before anything of the batch is rolled back (a journal that outlived its
 * batch's out tf would make recovery count it committed).  FALSE if that
 * cannot be done: the batch is then left to recovery, each journal recorded
 * as doubtful with the messages it names (see recover_doubtful).
 */
static gboolean
unwrite_journals(CommitBatch *batch, GArray *journals, GPtrArray *dirs)
{
	gboolean ok = TRUE;

	for (guint i = 0; i < journals->len; i++) {
		Journal *j = &g_array_index(journals, Journal, i);
		if (j->fd >= 0 && unlinkat(qdir_qf_fd(j->in), j->name, 0) < 0 && errno != ENOENT)
			ok = FALSE;
	}
	ok = ok && sync_qf_dirs(dirs, NULL);
	for (guint i = 0; i < journals->len; i++) {
		Journal *j = &g_array_index(journals, Journal, i);
		if (!ok) {
			Doubtful *d = g_new0(Doubtful, 1);
			d->dir = g_strdup(qdir_qf_dir(j->in));
			d->dir_key = qdir_key(j->in);
			d->name = g_strdup(j->name); /* "" if it was never created */
			d->ids = g_ptr_array_new_with_free_func(g_free);
			for (guint k = 0; k < batch->items->len; k++) {
				QueueClaim *c = g_array_index(batch->items, CommitItem, k).claim;
				if (c->dir == j->in)
					g_ptr_array_add(d->ids, g_strdup(c->id));
			}
			if (doubtful == NULL)
				doubtful = g_ptr_array_new();
			g_ptr_array_add(doubtful, d);
		}
		journal_close(j);
	}
	return ok;
}

/* commit_finish - steps 3 to 8 for the whole batch */
gboolean
commit_finish(CommitBatch *batch, GError **error)
{
	GArray *items = batch->items;
	QueueDir *out = batch->out;
	char from[QDIR_NAME_MAX], to[QDIR_NAME_MAX];
	gboolean ok = TRUE, in_doubt = FALSE;
	guint i;

	g_array_set_size(batch->outcomes, items->len); /* all COMMIT_LEFT */
	if (items->len == 0)
		return TRUE;
	/*
	 * 3: the df and tf files, content and names, are durable before anything
	 * points at them: only the batch's own files are flushed (their writeback
	 * started when they were written), all at once, then their directories
	 */
	ok = sync_out(batch, error);
	fault_point("commit:after-sync-out");

	/* 4, 5: the batch's journals say it is committed, durably */
	g_autoptr(GArray) journals = g_array_new(FALSE, TRUE, sizeof(Journal));
	GPtrArray *dirs = g_ptr_array_new();
	ok = ok && write_journals(batch, journals, dirs, error);
	if (ok) {
		for (i = 0; i < items->len; i++)
			g_array_index(items, CommitItem, i).marked = TRUE;
		fault_point("commit:after-mark");
		retire_journals(batch, dirs); /* the batch before's: see step 9 */
	} else {
		in_doubt = !unwrite_journals(batch, journals, dirs);
		for (i = 0; in_doubt && i < items->len; i++) /* recovery decides, on the journal */
			g_array_index(items, CommitItem, i).marked = TRUE;
	}
	g_ptr_array_free(dirs, TRUE);
	/* 6, 7: make each marked message visible to the outgoing sendmail */
	for (i = 0; ok && i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);
		int dfd = qdir_qf_fd(out);

		if (fault_should_fail("commit:publish")) { /* tests: a batch failing part way */
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "simulated failure (commit:publish)");
			ok = FALSE;
			break;
		}
		ok = durable_renameat(dfd, qdir_name(from, "tf", it->claim->id),
		                      qdir_name(to, "qf", it->claim->id), qdir_qf_dir(out), error);
		if (ok) {
			g_array_index(batch->outcomes, CommitOutcome, i) = COMMIT_DONE;
			fault_point("commit:after-qf");
		}
	}
	ok = ok && durable_sync_dirfd(qdir_qf_fd(out), qdir_qf_dir(out), error);
	/*
	 * 8: the inbound copy goes, the qf last, under the lock.  Not flushed
	 * here: a lost unlink is redone by recovery (the journal names the
	 * message), and the next batch's step 5 flushes the same directories.
	 */
	for (i = 0; ok && i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);
		QueueDir *in = it->claim->dir;

		char buf[QDIR_NAME_MAX];
		const char *at_name;
		int at = qdir_claim_df_at(it->claim, buf, &at_name);

		if (unlinkat(at, at_name, 0) < 0 && errno != ENOENT) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "cannot remove %s: %s", it->claim->df_path, g_strerror(errno));
			ok = FALSE;
		} else if (unlinkat(qdir_xf_fd(in), qdir_name(from, "xf", it->claim->id), 0) < 0 &&
		           errno != ENOENT) {
			at_error(error, errno, "cannot remove", qdir_xf_dir(in), from);
			ok = FALSE;
		}
		fault_point("commit:after-unlink-df");
		if (ok && unlinkat(qdir_qf_fd(in), qdir_name(from, "qf", it->claim->id), 0) < 0 &&
		    errno != ENOENT) {
			at_error(error, errno, "cannot remove", qdir_qf_dir(in), from);
			ok = FALSE;
		}
	}
	/*
	 * Anything left here failed part way: unmarked items roll back (they
	 * stay inbound); marked ones are left to commit_recover(), which finds
	 * them in the journal, and are refused by commit_prepare() until then.
	 * A finished batch's journals are removed after the next batch's step 5.
	 */
	for (i = 0; i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);
		CommitOutcome *o = &g_array_index(batch->outcomes, CommitOutcome, i);
		if (!ok && it->marked) {
			hold_id(it->claim->dir, it->claim->id);
			if (*o != COMMIT_DONE)
				*o = in_doubt ? COMMIT_DOUBTFUL : COMMIT_RECOVERED;
		}
		commit_item_rollback(batch, it);
	}
	for (i = 0; i < journals->len; i++) {
		Journal *j = &g_array_index(journals, Journal, i);
		if (ok && j->fd >= 0)
			g_array_append_val(batch->retired, *j); /* keeps its descriptor and lock */
		else
			journal_close(j);
	}
	g_array_set_size(items, 0);
	return ok;
}

/*
 * recover_finish_tf - step 6 for a marked message, if its out tf is ours:
 * renamed to qf under its lock.  A tf that someone holds locked is the
 * outbound sendmail's own (it rewrites a deferred message's qf through
 * tf<ID>, locked with flock): left alone.  So is any tf beside an existing
 * out qf, since mqsift never writes a tf when the qf exists.  Returns 0
 * when the message counts as committed, 1 to retry later (an empty tf:
 * someone just created it), -1 with @error.
 */
static int
recover_finish_tf(QueueDir *out, const char *id, const char *tf, const char *qf, GError **error)
{
	struct stat st;
	int tfd = open(tf, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

	if (tfd < 0) {
		if (errno == ENOENT)
			return 0;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "open %s: %s", tf,
		            g_strerror(errno));
		return -1;
	}
	if (!qdir_lock_fd(out, tfd, FALSE)) {
		close(tfd);
		g_message("%s: %s is locked (the outgoing sendmail's): left alone", id, tf);
		return exists_at(AT_FDCWD, qf) ? 0 : 1;
	}
	if (exists_at(AT_FDCWD, qf)) {
		close(tfd);
		g_message("%s: %s is not mqsift's (the qf exists): left alone", id, tf);
		return 0;
	}
	if (fstat(tfd, &st) < 0 || st.st_size == 0) {
		close(tfd);
		return 1;
	}
	/* step 6 not done: the tf is complete (fsync'ed before the mark) */
	gboolean ok = durable_rename(tf, qf, error);
	close(tfd);
	return ok ? 0 : -1;
}

/* recover_data_file - the inbound df of a marked message (its cf may have a d record) */
static char *
recover_data_file(QueueDir *in, const char *id, int cf_fd)
{
	g_autoptr(GBytes) bytes = fdread_bytes(cf_fd, 16 * 1024 * 1024, NULL);
	gsize len = 0;
	const char *data = bytes ? g_bytes_get_data(bytes, &len) : NULL;
	Qf *qf = data ? qf_parse(data, len, NULL) : NULL;
	char *df = qf ? qdir_data_file(in, id, qf, NULL) : NULL;

	qf_free(&qf);
	return df ? df : qdir_file(in, "df", id);
}

/*
 * journal_entries - the messages a complete journal names, as "ID INO"
 * lines; NULL if @data is not a whole journal (its batch was not committed)
 */
static gchar **
journal_entries(const char *data, gsize len)
{
	gsize magic = strlen(JOURNAL_MAGIC);

	if (len < magic || memcmp(data, JOURNAL_MAGIC, magic) != 0 || data[len - 1] != '\n' ||
	    memchr(data, '\0', len) != NULL)
		return NULL;
	const char *end = g_strrstr_len(data, (gssize)len - 1, "\nend ");
	if (end == NULL)
		return NULL;
	end++; /* the last line */
	g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data,
	                                                   (gsize)(end - data));
	g_autofree char *body = g_strndup(data + magic, (gsize)(end - data) - magic);
	g_auto(GStrv) lines = g_strsplit(body, "\n", -1);
	guint n = g_strv_length(lines) - 1; /* the body ends with a newline */
	g_autofree char *want = g_strdup_printf("end %u %s\n", n, sum);
	if (strlen(want) != len - (gsize)(end - data) || memcmp(end, want, strlen(want)) != 0)
		return NULL;
	g_free(lines[n]);
	lines[n] = NULL;
	return g_steal_pointer(&lines);
}

/* lock_briefly - the lock on @fd, waiting a little for a reader's probe (mailq) to let go */
static gboolean
lock_briefly(QueueDir *in, int fd)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		if (qdir_lock_fd(in, fd, FALSE))
			return TRUE;
		g_usleep(10000);
	}
	return FALSE;
}

/*
 * mark_committed - a message a journal names, if its inbound qf is still
 * there and is the same file: renamed to cf<ID>, the mark the rest of
 * recovery completes.  0 when done (or nothing to do: the qf is gone, or is
 * another file), 1 when someone holds the qf locked (it is held: see
 * hold_id; try again at the next recovery), -1 with @error (the journal is kept).
 */
static int
mark_committed(QueueDir *in, const char *line, GError **error)
{
	g_auto(GStrv) f = g_strsplit(line, " ", 2);
	char qf[QDIR_NAME_MAX], cf[QDIR_NAME_MAX];
	struct stat st;

	if (g_strv_length(f) != 2 || !qdir_valid_id(f[0]))
		return 0; /* cannot be: the checksum held */
	g_autofree char *what = g_build_filename(qdir_qf_dir(in), qdir_name(qf, "qf", f[0]), NULL);
	int fd = openat(qdir_qf_fd(in), qf, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0; /* its commit went as far as removing it */
	if (fd < 0 || fstat(fd, &st) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot open %s, named by a commit journal: %s", what,
		            g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_ino != (ino_t)g_ascii_strtoull(f[1], NULL, 10)) {
		close(fd); /* a later message that got the same ID */
		return 0;
	}
	if (!lock_briefly(in, fd)) {
		close(fd);
		hold_id(in, f[0]);
		g_message("%s: locked; its commit is completed at the next pass", what);
		return 1;
	}
	gboolean ok = durable_renameat(qdir_qf_fd(in), qf, qdir_name(cf, "cf", f[0]), what, error);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * recover_doubtful - the doubtful journals of @in (unwrite_journals): one
 * that is gone for good (its directory fsync'ed since) no longer holds its
 * messages, which are then ordinary inbound messages again, retried; one
 * still there was just judged by recover_journals, or is left for later
 */
static void
recover_doubtful(QueueDir *in)
{
	gboolean synced = FALSE;
	g_autofree char *dir = qdir_key(in);

	for (guint i = 0; doubtful != NULL && i < doubtful->len;) {
		Doubtful *d = g_ptr_array_index(doubtful, i);
		struct stat st;

		gboolean gone = strcmp(d->dir_key, dir) == 0 &&
		                (*d->name == '\0' ||
		                 (fstatat(qdir_qf_fd(in), d->name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		                  errno == ENOENT));
		if (gone && !synced)
			synced = durable_sync_dirfd(qdir_qf_fd(in), d->dir, NULL);
		if (!gone || !synced) {
			i++;
			continue;
		}
		for (guint k = 0; k < d->ids->len; k++)
			unhold(d->dir_key, g_ptr_array_index(d->ids, k));
		g_ptr_array_unref(d->ids);
		g_free(d->dir);
		g_free(d->dir_key);
		g_free(d->name);
		g_free(d);
		g_ptr_array_remove_index(doubtful, i);
	}
}

/*
 * recover_journals - every journal in @in: a whole one's messages get the cf
 * mark (durably) and it goes; one that is not whole goes (its batch was not
 * committed: its messages are retried).  A journal someone holds locked is
 * a batch being committed: left alone.  mqsift runs once per queue (its
 * pid file's lock), so no committer is between creating and locking one.
 */
static gboolean
recover_journals(QueueDir *in, GError **error)
{
	g_autoptr(GPtrArray) ids = qdir_list(in, "jf", error);
	int dfd = qdir_qf_fd(in);
	g_autofree char *dir = qdir_key(in);

	if (ids == NULL)
		return FALSE;
	for (guint i = 0; i < ids->len; i++) {
		char name[QDIR_NAME_MAX];
		int fd = -1;
		qdir_name(name, "jf", g_ptr_array_index(ids, i));
		if (fault_should_fail("journal-open")) /* tests: a master out of descriptors */
			errno = EMFILE;
		else
			fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0) {
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			            "cannot open the commit journal %s/%s: %s", qdir_qf_dir(in),
			            name, g_strerror(errno));
			return FALSE; /* not known: no message of this queue may be claimed */
		}
		if (!qdir_lock_fd(in, fd, FALSE)) {
			int err = errno;
			close(fd);
			if (err == EWOULDBLOCK || err == EAGAIN || err == EACCES)
				continue; /* a batch being committed */
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err),
			            "cannot lock the commit journal %s/%s: %s", qdir_qf_dir(in),
			            name, g_strerror(err));
			return FALSE;
		}
		g_autoptr(GBytes) bytes = fdread_bytes(fd, JOURNAL_MAX, error);
		if (bytes == NULL) {
			close(fd); /* kept: only a journal read whole may be judged */
			g_prefix_error(error, "commit journal %s/%s: ", qdir_qf_dir(in), name);
			return FALSE;
		}
		gsize len = 0;
		const char *data = g_bytes_get_data(bytes, &len);
		g_auto(GStrv) entries = journal_entries(data, len);
		int pending = 0;
		for (gsize k = 0; entries != NULL && entries[k] != NULL; k++) {
			int r = mark_committed(in, entries[k], error);
			if (r < 0) {
				close(fd);
				return FALSE;
			}
			pending += r;
			if (r == 0) {
				g_autofree char *id =
				    g_strndup(entries[k], strcspn(entries[k], " "));
				unhold(dir, id);
			}
		}
		if (entries == NULL)
			g_message(
			    "%s/%s: an unfinished commit journal (its batch was not committed)",
			    qdir_qf_dir(in), name);
		/* the marks are durable before the journal that made them goes */
		gboolean ok = TRUE;
		if (pending == 0) {
			if (entries != NULL)
				ok = sync_in_dirs(in, error);
			if (ok && unlinkat(dfd, name, 0) == 0)
				fault_trace("unlink", name);
		}
		close(fd);
		if (!ok)
			return FALSE;
	}
	return TRUE;
}

/* commit_recover - finish commits interrupted after their mark */
int
commit_recover(QueueDir *in, QueueDir *out, GError **error)
{
	if (!recover_journals(in, error))
		return -1;
	recover_doubtful(in);

	g_autoptr(GPtrArray) ids = qdir_list(in, "cf", error);
	int done = 0;

	if (ids == NULL)
		return -1;
	for (guint i = 0; i < ids->len; i++) {
		const char *id = g_ptr_array_index(ids, i);
		g_autofree char *cf = qdir_file(in, "cf", id);
		g_autofree char *in_df = NULL;
		g_autofree char *in_xf = qdir_file(in, "xf", id);
		g_autofree char *tf = qdir_file(out, "tf", id);
		g_autofree char *qf = qdir_file(out, "qf", id);
		int fd = open(cf, O_RDWR | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0)
			continue;
		if (!qdir_lock_fd(in, fd, FALSE)) {
			close(fd); /* someone is committing it right now */
			continue;
		}
		in_df = recover_data_file(in, id, fd);
		gboolean ok = TRUE;
		int pending = recover_finish_tf(out, id, tf, qf, error);
		if (pending < 0)
			ok = FALSE;
		else if (pending > 0) {
			close(fd); /* a tf that may not be ours is being written: next time */
			continue;
		}
		/*
		 * The out qf exists, or was already delivered: either way, committed.
		 * Its name is made durable before the inbound copy goes, whether the
		 * rename was ours just now or the crashed run's (step 7 may not
		 * have happened).
		 */
		if (ok)
			ok = durable_sync_dir(qdir_qf_dir(out), error);
		if (ok)
			ok = durable_unlink(in_df, error) && durable_unlink(in_xf, error) &&
			     durable_unlink(cf, error);
		close(fd);
		if (!ok)
			return -1;
		g_message("%s: completed a commit interrupted by a crash", id);
		done++;
	}
	return done;
}

/* commit_inject - a new message straight into the outgoing queue */
char *
commit_inject(QueueDir *out, const Qf *qf, const char *body, gsize body_len, mode_t file_mode,
              GError **error)
{
	gid_t gid = qdir_gid(out);

	for (int attempt = 0; attempt < 20; attempt++) {
		g_autofree char *id = qdir_new_id();
		g_autofree char *df = qdir_file(out, "df", id);
		g_autofree char *tf = qdir_file(out, "tf", id);
		g_autofree char *qf_path = qdir_file(out, "qf", id);
		g_autoptr(GError) local = NULL;

		if (exists_at(AT_FDCWD, qf_path) || exists_at(AT_FDCWD, tf) ||
		    !durable_write_file(df, body, body_len, file_mode, gid, &local)) {
			if (local == NULL || g_error_matches(local, G_IO_ERROR, G_IO_ERROR_EXISTS))
				continue; /* queue ID clash: take the next one */
			g_propagate_error(error, g_steal_pointer(&local));
			return NULL;
		}
		GString *text = qf_serialize(qf);
		gboolean ok = durable_write_file(tf, text->str, text->len, file_mode, gid, error);
		g_string_free(text, TRUE);
		if (ok)
			ok = durable_sync_dir(qdir_df_dir(out), error) &&
			     durable_sync_dir(qdir_qf_dir(out), error) &&
			     durable_rename(tf, qf_path, error);
		if (!ok) {
			unlink(tf);
			unlink(df);
			return NULL;
		}
		/* queued now: a failed directory fsync cannot be undone, only reported */
		if (!durable_sync_dir(qdir_qf_dir(out), &local))
			g_warning("%s: %s", id, local->message);
		return g_steal_pointer(&id);
	}
	g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM, "no free queue ID in %s", qdir_path(out));
	return NULL;
}

/* commit_move_aside - take an unprocessable message out of the queue, keeping it */
gboolean
commit_move_aside(QueueDir *in, const char *id, const char *dest_dir, GError **error)
{
	static const char *const prefixes[] = {"qf", "df", "xf"};
	g_autofree char *qf = qdir_file(in, "qf", id);
	int fd = open(qf, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	gboolean ok = TRUE;

	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "open %s: %s", qf,
		            g_strerror(errno));
		return FALSE;
	}
	if (!qdir_lock_fd(in, fd, FALSE)) {
		close(fd);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY, "%s is locked", qf);
		return FALSE;
	}
	if (!durable_mkdir_p(dest_dir, 0700, error)) {
		close(fd);
		return FALSE;
	}
	for (gsize i = 0; ok && i < G_N_ELEMENTS(prefixes); i++) {
		g_autofree char *src = qdir_file(in, prefixes[i], id);
		g_autofree char *name = g_strconcat(prefixes[i], id, NULL);
		g_autofree char *dst = g_build_filename(dest_dir, name, NULL);

		if (!exists_at(AT_FDCWD, src))
			continue;
		unlink(dst); /* an earlier attempt that died half way */
		ok = durable_link_or_copy(src, dst, 0600, (gid_t)-1, error);
	}
	/* the copies and the name of their directory are durable before the queue's go */
	g_autofree char *dest_parent = g_path_get_dirname(dest_dir);
	ok = ok && durable_sync_dir(dest_dir, error) && durable_sync_dir(dest_parent, error);
	for (gsize i = 0; ok && i < G_N_ELEMENTS(prefixes); i++) {
		g_autofree char *src = qdir_file(in, prefixes[i], id);
		ok = durable_unlink(src, error);
	}
	close(fd);
	return ok;
}
