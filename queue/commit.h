/*
 * commit.h - move messages from an inbound queue to the outgoing queue, exactly once
 *
 * SUMMARY
 *	The commit protocol of design.md, with the fsyncs of a batch grouped:
 *
 *	  prepare (per message, inbound qf locked):
 *	    1. out df<ID>: hard link of the inbound df (body unchanged) or the new
 *	       body, created O_EXCL, fsync'ed
 *	    2. out tf<ID>: the new control file, O_EXCL, fsync'ed
 *	  finish (per batch):
 *	    3. fsync the outgoing df and qf directories (once)
 *	    4. rename inbound qf<ID> -> cf<ID> ("committing": sendmail ignores it)
 *	    5. fsync the inbound qf directories (once)
 *	    6. rename out tf<ID> -> qf<ID>
 *	    7. fsync the outgoing qf directory (once)
 *	    8. unlink inbound df<ID>, xf<ID>, then cf<ID>; release the lock
 *
 *	The cf<ID> marker decides recovery: without it the message was not
 *	committed (stale out df/tf are removed and it is done again); with it
 *	the message was, and recovery finishes steps 6 and 8.  The outgoing
 *	qf is written nowhere else, so a message is delivered once.
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
 * commit_prepare - steps 1-2 for one claimed message.  @qf is the outbound
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
 * commit_recover - complete every commit that a crash interrupted after step
 * 4 (cf markers in @in).  Returns the number completed, or -1 with @error.
 */
int commit_recover(QueueDir *in, QueueDir *out, GError **error);

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
