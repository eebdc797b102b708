/*
 * commit.h - move messages from an inbound queue to the outgoing one, exactly once
 *
 * SUMMARY
 *	The durability contract (doc/commit-protocol.md tells why it holds).
 *	A message accepted by the inbound sendmail is delivered by the
 *	outgoing one once, whatever kills mqsift at whatever point.  Files are
 *	written unsynced (their writeback started at once); step 3 flushes
 *	just the batch's own files, all at once, and the directory fsyncs are
 *	grouped per batch.  Each step, what a crash right
 *	after it leaves, and what happens next ("recovery" is commit_recover()
 *	at the start of the next pass; "retry" means the message is still an
 *	ordinary inbound qf, claimed again, and commit_clean_stale() or
 *	commit_prepare() first removes the out df/tf the crash left):
 *
 *	  prepare (per message, inbound qf<ID> locked by the claim):
 *	    1. out df<ID>: hard link of the inbound df (body unchanged: its
 *	       data is already durable) or the new body, created O_EXCL,
 *	       written without fsync                 [fault commit:after-df]
 *	       crash: out df only, no tf, no qf -> retry.
 *	    2. out tf<ID>: the new control file, O_EXCL, no fsync
 *	                                             [fault commit:after-tf]
 *	       crash: out df + tf; sendmail ignores tf -> retry.
 *	  finish (per batch):
 *	    3. fdatasync of each tf and each new (not linked) df of the batch,
 *	       several at once, then fsync of the outgoing qf directory (and of
 *	       the df directory, when it is another one): every out df and tf,
 *	       data and names, is durable         [fault commit:after-sync-out]
 *	       (a linked df's data was durable already: the inbound sendmail
 *	       synced it before it accepted the message)
 *	       crash: as after 2 -> retry.
 *	    4. a journal jf<NEW-ID> in each inbound qf directory of the batch,
 *	       naming its messages (queue ID and inode of the qf),
 *	       O_EXCL, locked                    [fault commit:after-journal]
 *	       crash: a whole journal counts as step 5; one that is not whole
 *	       (power lost while it was written) is removed by recovery -> retry.
 *	    5. fdatasync of the journals, fsync of their directories (qf, and
 *	       df and xf when they are others): the commit point
 *	                                             [fault commit:after-mark]
 *	       crash: recovery renames each named inbound qf that is still the
 *	       same file to cf<ID>, fsyncs, removes the journal, then completes
 *	       each cf: renames the out tf to qf, removes the inbound df, xf
 *	       and cf.  The journals of the batch before are removed now: their
 *	       step 8 unlinks are durable with this fsync.
 *	    6. rename out tf<ID> -> qf<ID>, each message    [fault commit:after-qf]
 *	       crash: the outgoing sendmail may deliver it now; recovery finds
 *	       no tf (the message is committed) and removes the inbound files.
 *	       If the crash lost the rename, the tf is still there -> recovery
 *	       renames it.
 *	    7. fsync the outgoing qf directory: the qf files are durable.
 *	    8. unlink inbound df<ID> and xf<ID>     [fault commit:after-unlink-df]
 *	       then qf<ID>, release the lock; not flushed (a lost unlink is
 *	       redone by recovery, from the journal; the next batch's step 5
 *	       flushes the same directories).
 *	    9. the journal goes at the next batch's step 5 (or, at the end of
 *	       the pass, after an fsync of its directory).  A crash that loses
 *	       that unlink leaves a journal whose messages are gone: recovery
 *	       finds none of them (gone, or another inode) and removes it.
 *
 *	A recovery that cannot read a journal, or open a qf it names (other
 *	than: it is gone), fails and keeps the journal; a named qf someone
 *	holds locked (mailq's probe) is held: commit_is_held() says so, the
 *	pass does not claim it, and the next recovery completes it.
 *
 *	A whole journal alone decides: a message it names was committed (it is
 *	marked cf and completed by recovery); one that no whole journal names
 *	and that has no cf<ID> was not (it is retried, and the out df/tf are
 *	removed first).  An outbound
 *	qf<ID> is only ever made by renaming a complete, synced tf (sendmail
 *	ignores tf files), so it is never seen half-written, and it is made
 *	once.  A step that fails (not a crash: a full disk, an I/O error) before
 *	the commit point removes the journals, durably, and rolls the batch
 *	back; after it, leaves the batch to recovery (commit_prepare refuses its
 *	messages until then).  commit_inject() and commit_move_aside() put new messages in
 *	and take broken ones out with their own, per-file fsyncs.
 */
#ifndef MQSIFT_QUEUE_COMMIT_H
#define MQSIFT_QUEUE_COMMIT_H

#include <glib.h>

#include "queue/qdir.h"
#include "queue/qf.h"

typedef struct CommitBatch CommitBatch;

/* commit_batch_new - a batch of messages going to @out (borrowed; must outlive the batch) */
CommitBatch *commit_batch_new(QueueDir *out, mode_t file_mode);

/*
 * commit_prepare - steps 1-2 for one claimed message (files unsynced).  @qf is the outbound
 * control file (serialized now); @new_body is the rewritten body, or NULL to
 * link the inbound df unchanged.  On success the batch owns @claim; on failure
 * nothing is left in the outgoing queue, @claim stays the caller's, and
 * @error says why (the message stays safe in its inbound queue).
 */
gboolean commit_prepare(CommitBatch *batch, QueueClaim *claim, const Qf *qf, GBytes *new_body,
                        GError **error);

/* commit_batch_size - messages prepared and not yet finished */
guint commit_batch_size(const CommitBatch *batch);

/*
 * commit_finish - steps 3-8 for every prepared message.  Returns FALSE with
 * @error if a step failed; messages not yet marked are rolled back (they stay
 * inbound), marked ones are completed by commit_recover().  Empties the batch.
 */
gboolean commit_finish(CommitBatch *batch, GError **error);

/* CommitOutcome - what the last commit_finish() did with one message */
typedef enum {
	COMMIT_LEFT,      /* not committed: it stays in its inbound queue */
	COMMIT_RECOVERED, /* marked (cf) but not yet visible outbound: the next
	                   * pass's commit_recover() completes it, exactly once */
	COMMIT_DONE,      /* visible to the outgoing sendmail */
	COMMIT_DOUBTFUL,  /* its journal could not be removed for sure: the next
	                   * pass completes it if the journal is there, else it
	                   * is an inbound message again (scanned anew) */
} CommitOutcome;

/*
 * commit_outcome - the outcome of the @index-th message (in the order of
 * commit_prepare) of the last commit_finish(); COMMIT_LEFT past the end
 */
CommitOutcome commit_outcome(const CommitBatch *batch, guint index);

/* commit_batch_free - roll back whatever is still prepared, free, clear the pointer */
void commit_batch_free(CommitBatch **batch);

/* commit_batch_free_ptr - commit_batch_free() for g_autoptr(CommitBatch) */
static inline void
commit_batch_free_ptr(CommitBatch *p)
{
	commit_batch_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CommitBatch, commit_batch_free_ptr)

/*
 * commit_clean_stale - for an inbound message that is not committed (its qf
 * is claimed), remove an out df/tf a crashed run left behind.  Returns FALSE
 * with @error if out qf<ID> exists: a queue ID clash to be resolved by hand.
 */
gboolean commit_clean_stale(QueueDir *out, const char *id, GError **error);

/*
 * commit_recover - complete every commit that a crash or a failed step
 * interrupted after step 5 (the journals, then the cf marks, in @in).
 * Returns the number completed, or -1 with @error.
 */
int commit_recover(QueueDir *in, QueueDir *out, GError **error);

/*
 * commit_is_held - whether the message @id of @in is committed but not
 * complete (a recovery will complete it): it is not to be claimed until then
 */
gboolean commit_is_held(QueueDir *in, const char *id);

/*
 * commit_inject - put a new message (a notice, a released message) into @out
 * under a new queue ID: df and tf created O_EXCL (a clash picks another ID),
 * fsync'ed, tf renamed to qf, directories fsync'ed.  Returns the new ID, or
 * NULL with @error (nothing is left behind).
 */
char *commit_inject(QueueDir *out, const Qf *qf, const char *body, gsize body_len, mode_t file_mode,
                    GError **error);

/*
 * commit_move_aside - move the inbound message @id (qf, df, xf, whatever
 * exists) into @dest_dir (created 0700), under the queue lock: copied or
 * linked, fsync'ed, then removed from the queue, qf first.  For control
 * files that can never be processed.  Returns FALSE with @error (nothing is
 * removed then); G_IO_ERROR_BUSY if the message is locked.
 */
gboolean commit_move_aside(QueueDir *in, const char *id, const char *dest_dir, GError **error);

#endif
