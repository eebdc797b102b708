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
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/durable.h"
#include "queue/fault.h"
#include "queue/fdread.h"

typedef struct {
	QueueClaim *claim;
	char *out_df;
	char *out_tf;
	char *out_qf;
	gboolean marked; /* step 4 done: the inbound qf is now cf */
} CommitItem;

struct CommitBatch {
	QueueDir *out;
	mode_t mode;
	GArray *items;    /* of CommitItem */
	GArray *outcomes; /* of CommitOutcome, the last commit_finish()'s */
};

/* commit_item_rollback - undo a prepared, unmarked item; release its claim */
static void
commit_item_rollback(CommitItem *item)
{
	if (!item->marked) {
		unlink(item->out_tf);
		unlink(item->out_df);
	}
	qdir_claim_release(&item->claim);
	g_free(item->out_df);
	g_free(item->out_tf);
	g_free(item->out_qf);
}

/* commit_batch_new - an empty batch */
CommitBatch *
commit_batch_new(QueueDir *out, mode_t file_mode)
{
	CommitBatch *b = g_new0(CommitBatch, 1);

	b->out = out;
	b->mode = file_mode;
	b->items = g_array_new(FALSE, TRUE, sizeof(CommitItem));
	b->outcomes = g_array_new(FALSE, TRUE, sizeof(CommitOutcome));
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
		commit_item_rollback(&g_array_index((*batch)->items, CommitItem, i));
	g_array_free((*batch)->items, TRUE);
	g_array_free((*batch)->outcomes, TRUE);
	g_free(*batch);
	*batch = NULL;
}

/* file_exists - lstat succeeds */
static gboolean
file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* commit_clean_stale - remove leftovers of an uncommitted attempt */
gboolean
commit_clean_stale(QueueDir *out, const char *id, GError **error)
{
	g_autofree char *qf = qdir_file(out, "qf", id);
	g_autofree char *tf = qdir_file(out, "tf", id);
	g_autofree char *df = qdir_file(out, "df", id);

	if (file_exists(qf)) {
		g_set_error(error, QDIR_ERROR, QDIR_ERROR_SYSTEM,
		            "queue ID %s already exists in the outgoing queue (%s); "
		            "leaving the inbound message alone",
		            id, qf);
		return FALSE;
	}
	if (file_exists(tf) || file_exists(df)) {
		g_message("%s: removing the outgoing df/tf of an interrupted earlier attempt", id);
		if (!durable_unlink(tf, error) || !durable_unlink(df, error))
			return FALSE;
	}
	return TRUE;
}

/* commit_prepare - steps 1 and 2 */
gboolean
commit_prepare(CommitBatch *batch, QueueClaim *claim, const Qf *qf, GBytes *new_body,
               GError **error)
{
	QueueDir *out = batch->out;
	CommitItem item = {0};
	gid_t gid = qdir_gid(out);

	if (!commit_clean_stale(out, claim->id, error))
		return FALSE;
	item.out_df = qdir_file(out, "df", claim->id);
	item.out_tf = qdir_file(out, "tf", claim->id);
	item.out_qf = qdir_file(out, "qf", claim->id);

	gboolean ok;
	if (new_body == NULL) {
		ok = durable_link_or_copy(claim->df_path, item.out_df, batch->mode, gid, error);
	} else {
		gsize len;
		const void *data = g_bytes_get_data(new_body, &len);

		ok = durable_write_file_unsynced(item.out_df, data, len, batch->mode, gid, error);
	}
	if (!ok)
		goto fail;
	fault_point("commit:after-df");

	GString *text = qf_serialize(qf);
	ok =
	    durable_write_file_unsynced(item.out_tf, text->str, text->len, batch->mode, gid, error);
	g_string_free(text, TRUE);
	if (!ok) {
		unlink(item.out_df);
		goto fail;
	}
	fault_point("commit:after-tf");
	item.claim = claim;
	g_array_append_val(batch->items, item);
	return TRUE;
fail:
	g_free(item.out_df);
	g_free(item.out_tf);
	g_free(item.out_qf);
	return FALSE;
}

/* sync_dirs - fsync each distinct directory once */
static gboolean
sync_dirs(GPtrArray *dirs, GError **error)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
	gboolean ok = TRUE;

	for (guint i = 0; i < dirs->len && ok; i++) {
		const char *d = g_ptr_array_index(dirs, i);

		if (!g_hash_table_add(seen, (gpointer)d))
			continue;
		ok = durable_sync_dir(d, error);
	}
	g_hash_table_destroy(seen);
	return ok;
}

/* commit_finish - steps 3 to 8 for the whole batch */
gboolean
commit_finish(CommitBatch *batch, GError **error)
{
	GArray *items = batch->items;
	gboolean ok = TRUE;
	guint i;

	g_array_set_size(batch->outcomes, items->len); /* all COMMIT_LEFT */
	if (items->len == 0)
		return TRUE;
	/*
	 * 3: the df and tf files, content and names, are durable before anything
	 * points at them: one syncfs for the whole batch instead of an fsync per
	 * file and directory (the bodies were written unsynced in step 1-2)
	 */
	GPtrArray *dirs = g_ptr_array_new();
	struct stat qst, dst;
	gboolean df_elsewhere = stat(qdir_qf_dir(batch->out), &qst) == 0 &&
	                        stat(qdir_df_dir(batch->out), &dst) == 0 &&
	                        qst.st_dev != dst.st_dev;
	ok = durable_sync_fs(qdir_qf_dir(batch->out), error) &&
	     (!df_elsewhere || durable_sync_fs(qdir_df_dir(batch->out), error));
	fault_point("commit:after-sync-out");

	/* 4: mark every inbound message as committing */
	for (i = 0; ok && i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);
		char *cf = qdir_file(it->claim->dir, "cf", it->claim->id);

		ok = durable_rename(it->claim->qf_path, cf, error);
		if (ok) {
			it->marked = TRUE;
			g_free(it->claim->qf_path);
			it->claim->qf_path = cf;
			g_ptr_array_add(dirs, (gpointer)qdir_qf_dir(it->claim->dir));
			fault_point("commit:after-mark");
		} else {
			g_free(cf);
		}
	}
	/* 5: the marks are durable before the outbound qf appears */
	if (ok)
		ok = sync_dirs(dirs, error);
	g_ptr_array_set_size(dirs, 0);
	/* 6, 7: make each marked message visible to the outgoing sendmail */
	for (i = 0; ok && i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);

		ok = durable_rename(it->out_tf, it->out_qf, error);
		if (ok) {
			g_array_index(batch->outcomes, CommitOutcome, i) = COMMIT_DONE;
			fault_point("commit:after-qf");
		}
	}
	if (ok) {
		g_ptr_array_add(dirs, (gpointer)qdir_qf_dir(batch->out));
		ok = sync_dirs(dirs, error);
		g_ptr_array_set_size(dirs, 0);
	}
	/* 8: the inbound copy goes, the cf marker last, under the lock */
	for (i = 0; ok && i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);
		g_autofree char *xf = qdir_file(it->claim->dir, "xf", it->claim->id);

		if (!durable_unlink(it->claim->df_path, error) || !durable_unlink(xf, error))
			ok = FALSE;
		fault_point("commit:after-unlink-df");
		if (ok && !durable_unlink(it->claim->qf_path, error))
			ok = FALSE;
		if (ok)
			g_ptr_array_add(dirs, (gpointer)qdir_qf_dir(it->claim->dir));
	}
	if (ok)
		sync_dirs(dirs, NULL); /* not needed for correctness: a lost unlink is recovered */
	g_ptr_array_free(dirs, TRUE);
	/*
	 * Anything left here failed part way: unmarked items roll back (they
	 * stay inbound); marked ones keep their cf marker for commit_recover().
	 */
	for (i = 0; i < items->len; i++) {
		CommitItem *it = &g_array_index(items, CommitItem, i);
		CommitOutcome *o = &g_array_index(batch->outcomes, CommitOutcome, i);
		if (*o != COMMIT_DONE && it->marked)
			*o = COMMIT_RECOVERED;
		commit_item_rollback(it);
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
		return file_exists(qf) ? 0 : 1;
	}
	if (file_exists(qf)) {
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

/* commit_recover - finish commits interrupted after their mark */
int
commit_recover(QueueDir *in, QueueDir *out, GError **error)
{
	GPtrArray *ids = qdir_list(in, "cf", error);
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
		if (!ok) {
			g_ptr_array_unref(ids);
			return -1;
		}
		g_message("%s: completed a commit interrupted by a crash", id);
		done++;
	}
	g_ptr_array_unref(ids);
	return done;
}

/* commit_inject - a new message straight into the outgoing queue */
char *
commit_inject(QueueDir *out, const Qf *qf, const char *body, gsize body_len, mode_t file_mode,
              GError **error)
{
	gid_t gid = qdir_gid(out);

	for (int attempt = 0; attempt < 20; attempt++) {
		char *id = qdir_new_id();
		g_autofree char *df = qdir_file(out, "df", id);
		g_autofree char *tf = qdir_file(out, "tf", id);
		g_autofree char *qf_path = qdir_file(out, "qf", id);
		GError *local = NULL;

		if (file_exists(qf_path) || file_exists(tf) ||
		    !durable_write_file(df, body, body_len, file_mode, gid, &local)) {
			if (local == NULL ||
			    g_error_matches(local, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
				g_clear_error(&local);
				g_free(id);
				continue; /* queue ID clash: take the next one */
			}
			g_propagate_error(error, local);
			g_free(id);
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
			g_free(id);
			return NULL;
		}
		/* queued now: a failed directory fsync cannot be undone, only reported */
		if (!durable_sync_dir(qdir_qf_dir(out), &local)) {
			g_warning("%s: %s", id, local->message);
			g_clear_error(&local);
		}
		return id;
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

		if (!file_exists(src))
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
