/*
 * spam.c - the per-message spam check: spamd and blocklists in one I/O
 * thread of the master, then scores, actions and headers
 *
 * DESCRIPTION
 *	Threads: the master thread creates a SpamCheck (spam_start), queues it
 *	and later reads its result (spam_finish); the I/O thread owns every
 *	socket, the resolver and the checks it is running.  They share only
 *	the incoming queue and the "done" flags, under Spam.lock.  A check
 *	has two references (master, thread) and is freed by whoever drops the
 *	last; a check freed by the master while running is cancelled.
 */
#include "mqsift-build.h"

#include "scanner/spam.h"

#include <errno.h>
#include <gio/gio.h>
#include <math.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config/rule.h"
#include "rules/untrusted.h"
#include "scanner/dnsbl.h"
#include "scanner/quarantine.h"
#include "scanner/quiesce.h"
#include "scanner/scan.h"
#include "scanner/spamd.h"

/* Server - a configured spamd and its circuit breaker */
typedef struct {
	SpamdServer addr;
	gint64 down_until; /* monotonic; 0: up */
	char *last_error;
} Server;

struct SpamCheck {
	Spam *owner;
	int refs; /* under Spam.lock */
	gboolean done, cancelled;
	/* set by spam_start, then read-only */
	char *id;
	GString *message; /* qf headers, blank line, df; NULL: not sent to spamd */
	char *skip_reason;
	char *ip;           /* looked up, or NULL */
	const char *listed; /* "allow" or "deny" when a list decided, else NULL */
	char *listed_by;    /* the entry that matched */
	/* the I/O thread's */
	guint server;
	SpamdCall *call;
	gint64 call_deadline;
	gboolean spamd_pending;
	DnsblEntry *dns;
	/* results (written by the thread before done) */
	gboolean spamd_ok;
	SpamdAnswer answer;
	GString *errors; /* "server: why; ..." */
	double dnsbl_weight;
	char *dnsbl_hits;
	char *dnsbl_timeouts;
};

struct Spam {
	const MqConfig *config;
	GArray *servers; /* of Server */
	Dnsbl *dnsbl;
	GThread *thread;
	Quiesce *gate; /* the thread parks there while the master forks */
	GMutex lock;
	GQueue incoming; /* of SpamCheck*, started by the master */
	int wake_fd;     /* eventfd: the master queued something, or stop */
	int done_fd;     /* eventfd: a check finished */
	gboolean stop;
	gint outstanding; /* checks queued or running (atomic) */
	/* the thread's own */
	GQueue waiting; /* not started yet (max_in_flight reached) */
	GPtrArray *running;
};

/* the GTUBE test string (SpamAssassin's own test pattern) */
static const char gtube_message[] =
    "Subject: mqsift lint: GTUBE\nFrom: lint@localhost\nTo: lint@localhost\n"
    "Message-ID: <gtube@mqsift.lint>\n\n"
    "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n";

const char *
spam_gtube(void)
{
	return gtube_message;
}

/* check_unref - drop one reference (takes the lock) */
static void
check_unref(Spam *spam, SpamCheck *c)
{
	g_mutex_lock(&spam->lock);
	gboolean last = --c->refs == 0;
	g_mutex_unlock(&spam->lock);
	if (!last)
		return;
	spamd_call_free(&c->call);
	if (c->message)
		g_string_free(c->message, TRUE);
	spamd_answer_clear(&c->answer);
	if (c->errors)
		g_string_free(c->errors, TRUE);
	g_free(c->id);
	g_free(c->skip_reason);
	g_free(c->ip);
	g_free(c->listed_by);
	g_free(c->dnsbl_hits);
	g_free(c->dnsbl_timeouts);
	g_free(c);
}

/* eventfd_poke - make @fd readable */
static void
eventfd_poke(int fd)
{
	guint64 one = 1;

	if (write(fd, &one, sizeof one) < 0 && errno != EAGAIN)
		g_warning("spam: eventfd: %s", g_strerror(errno));
}

/* eventfd_drain - reset @fd */
static void
eventfd_drain(int fd)
{
	guint64 v;

	while (read(fd, &v, sizeof v) > 0)
		;
}

/* server_available - not tripped */
static gboolean
server_available(const Server *s, gint64 now)
{
	return now >= s->down_until;
}

/* check_note_error - remember why a server failed this check */
static void
check_note_error(SpamCheck *c, const char *server, const char *why)
{
	if (c->errors == NULL)
		c->errors = g_string_new(NULL);
	if (c->errors->len)
		g_string_append(c->errors, "; ");
	g_string_append_printf(c->errors, "%s: %s", server, why);
}

/* start_call - the next available server from c->server on; FALSE when none is left */
static gboolean
start_call(Spam *spam, SpamCheck *c)
{
	gint64 now = g_get_monotonic_time();

	for (; c->server < spam->servers->len; c->server++) {
		Server *s = &g_array_index(spam->servers, Server, c->server);
		g_autoptr(GError) error = NULL;

		if (!server_available(s, now)) {
			check_note_error(c, s->addr.name, "skipped (failed recently)");
			continue;
		}
		c->call = spamd_call_new(&s->addr, spam->config->spam_spamd_command,
		                         spam->config->spam_spamd_user, c->message->str,
		                         c->message->len, &error);
		if (c->call != NULL) {
			c->call_deadline =
			    now + (gint64)MAX(spam->config->spam_spamd_timeout, 1) * G_USEC_PER_SEC;
			return TRUE;
		}
		g_warning("%s: spamd %s failed: %s; not used for %us", c->id, s->addr.name,
		          error->message, spam->config->spam_spamd_retry);
		check_note_error(c, s->addr.name, error->message);
		s->down_until = now + (gint64)spam->config->spam_spamd_retry * G_USEC_PER_SEC;
	}
	return FALSE;
}

/* server_failed - the current call failed: trip the breaker, try the next server */
static void
server_failed(Spam *spam, SpamCheck *c, const char *why)
{
	Server *s = &g_array_index(spam->servers, Server, c->server);

	g_warning("%s: spamd %s failed: %s; not used for %us", c->id, s->addr.name, why,
	          spam->config->spam_spamd_retry);
	check_note_error(c, s->addr.name, why);
	s->down_until =
	    g_get_monotonic_time() + (gint64)spam->config->spam_spamd_retry * G_USEC_PER_SEC;
	spamd_call_free(&c->call);
	c->server++;
	if (!start_call(spam, c))
		c->spamd_pending = FALSE;
}

/* check_begin - a check leaves the waiting line: spamd and the blocklists start */
static void
check_begin(Spam *spam, SpamCheck *c)
{
	g_mutex_lock(&spam->lock);
	gboolean cancelled = c->cancelled;
	g_mutex_unlock(&spam->lock);
	if (cancelled) {
		g_atomic_int_dec_and_test(&spam->outstanding);
		check_unref(spam, c);
		return;
	}
	if (c->listed == NULL && c->message != NULL && spam->servers->len > 0) {
		c->spamd_pending = start_call(spam, c);
		if (!c->spamd_pending && c->errors == NULL)
			check_note_error(c, "spamd", "no server");
	}
	if (c->listed == NULL && c->ip != NULL && spam->dnsbl != NULL)
		c->dns = dnsbl_lookup(spam->dnsbl, c->ip);
	g_ptr_array_add(spam->running, c);
}

/* check_complete - both parts over? then hand it back to the master */
static gboolean
check_complete(Spam *spam, SpamCheck *c)
{
	if (c->spamd_pending || (c->dns != NULL && !dnsbl_entry_done(c->dns)))
		return FALSE;
	if (c->dns != NULL) {
		c->dnsbl_weight = dnsbl_entry_weight(c->dns);
		c->dnsbl_hits = g_strdup(dnsbl_entry_hits(c->dns));
		c->dnsbl_timeouts = g_strdup(dnsbl_entry_timed_out(c->dns));
		c->dns = NULL;
	}
	g_mutex_lock(&spam->lock);
	c->done = TRUE;
	g_mutex_unlock(&spam->lock);
	g_atomic_int_dec_and_test(&spam->outstanding);
	eventfd_poke(spam->done_fd);
	check_unref(spam, c);
	return TRUE;
}

/* spam_wake - QuiesceWake: the thread's poll returns */
static void
spam_wake(gpointer data)
{
	eventfd_poke(((Spam *)data)->wake_fd);
}

/* io_thread - the poll loop */
static gpointer
io_thread(gpointer data)
{
	Spam *spam = data;
	GArray *fds = g_array_new(FALSE, TRUE, sizeof(struct pollfd));
	GPtrArray *owners = g_ptr_array_new(); /* SpamCheck* of each spamd fd */

	for (;;) {
		/* holding nothing: where it waits while the master forks */
		quiesce_point(spam->gate);
		g_mutex_lock(&spam->lock);
		gboolean stop = spam->stop;
		SpamCheck *c;
		while ((c = g_queue_pop_head(&spam->incoming)) != NULL)
			g_queue_push_tail(&spam->waiting, c);
		g_mutex_unlock(&spam->lock);
		if (stop)
			break;
		/* cancelled checks go; waiting ones start while there is room */
		for (guint i = 0; i < spam->running->len;) {
			c = g_ptr_array_index(spam->running, i);
			gboolean cancelled;
			g_mutex_lock(&spam->lock);
			cancelled = c->cancelled;
			g_mutex_unlock(&spam->lock);
			if (cancelled) {
				spamd_call_free(&c->call);
				g_ptr_array_remove_index(spam->running, i);
				g_atomic_int_dec_and_test(&spam->outstanding);
				check_unref(spam, c);
			} else {
				i++;
			}
		}
		while (spam->running->len < spam->config->spam_max_in_flight &&
		       (c = g_queue_pop_head(&spam->waiting)) != NULL)
			check_begin(spam, c);
		for (guint i = 0; i < spam->running->len;)
			if (check_complete(spam, g_ptr_array_index(spam->running, i)))
				g_ptr_array_remove_index(spam->running, i);
			else
				i++;
		if (spam->running->len == 0 && spam->dnsbl && !dnsbl_busy(spam->dnsbl))
			dnsbl_forget_idle(spam->dnsbl); /* the batch is over: its cache goes */
		/* what to wait for */
		g_array_set_size(fds, 0);
		g_ptr_array_set_size(owners, 0);
		struct pollfd w = {.fd = spam->wake_fd, .events = POLLIN};
		g_array_append_val(fds, w);
		gint64 now = g_get_monotonic_time(), next = G_MAXINT64;
		for (guint i = 0; i < spam->running->len; i++) {
			c = g_ptr_array_index(spam->running, i);
			if (c->call == NULL)
				continue;
			struct pollfd p = {.fd = spamd_call_fd(c->call),
			                   .events = spamd_call_events(c->call)};
			g_array_append_val(fds, p);
			g_ptr_array_add(owners, c);
			next = MIN(next, c->call_deadline);
		}
		guint dns_from = fds->len;
		int timeout = -1;
		if (spam->dnsbl)
			timeout = dnsbl_pollfds(spam->dnsbl, fds);
		if (next != G_MAXINT64) {
			int t = next <= now ? 0 : (int)MIN((next - now + 999) / 1000, 60000);
			timeout = timeout < 0 ? t : MIN(timeout, t);
		}
		if (poll((struct pollfd *)fds->data, fds->len, timeout) < 0 && errno != EINTR)
			g_warning("spam: poll: %s", g_strerror(errno));
		struct pollfd *pf = (struct pollfd *)fds->data;
		if (pf[0].revents)
			eventfd_drain(spam->wake_fd);
		now = g_get_monotonic_time();
		for (guint i = 0; i < owners->len; i++) {
			c = g_ptr_array_index(owners, i);
			if (c->call == NULL)
				continue;
			if (pf[i + 1].revents) {
				g_autoptr(GError) error = NULL;
				int rc = spamd_call_step(c->call, &c->answer, &error);
				if (rc == 1) {
					spamd_call_free(&c->call);
					c->spamd_ok = TRUE;
					c->spamd_pending = FALSE;
				} else if (rc < 0) {
					server_failed(spam, c, error->message);
				}
			} else if (now >= c->call_deadline) {
				g_autofree char *why =
				    g_strdup_printf("no answer within spam.spamd_timeout (%us)",
				                    spam->config->spam_spamd_timeout);
				server_failed(spam, c, why);
			}
		}
		if (spam->dnsbl)
			dnsbl_process(spam->dnsbl, pf + dns_from, fds->len - dns_from);
	}
	/* stopping: whatever runs is abandoned (the master frees its side) */
	for (guint i = 0; i < spam->running->len; i++) {
		SpamCheck *c = g_ptr_array_index(spam->running, i);
		spamd_call_free(&c->call);
		c->dns = NULL;
		check_unref(spam, c);
	}
	g_ptr_array_set_size(spam->running, 0);
	SpamCheck *c;
	while ((c = g_queue_pop_head(&spam->waiting)) != NULL)
		check_unref(spam, c);
	g_array_free(fds, TRUE);
	g_ptr_array_unref(owners);
	quiesce_leave(spam->gate);
	return NULL;
}

/* spam_new - servers, resolver, thread */
Spam *
spam_new(const MqConfig *config, GError **error)
{
	gboolean have_spamd = config->spam_spamd && config->spam_spamd[0];
	gboolean have_dnsbl = config->spam_dnsbl_zones && config->spam_dnsbl_zones[0];

	if (!have_spamd && !have_dnsbl)
		return NULL;
	g_autoptr(Spam) s = g_new0(Spam, 1);
	s->config = config;
	s->servers = g_array_new(FALSE, TRUE, sizeof(Server));
	s->running = g_ptr_array_new();
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	g_mutex_init(&s->lock);
	g_queue_init(&s->incoming);
	g_queue_init(&s->waiting);
	for (int i = 0; have_spamd && config->spam_spamd[i]; i++) {
		Server srv = {0};
		if (!spamd_server_parse(config->spam_spamd[i], &srv.addr, error))
			return NULL;
		g_array_append_val(s->servers, srv);
	}
	if (have_dnsbl) {
		s->dnsbl = dnsbl_new(config->spam_dnsbl_zones, config->spam_dns_servers,
		                     MAX(config->spam_dnsbl_timeout, 1) * 1000, error);
		if (s->dnsbl == NULL)
			return NULL;
	}
	if (s->wake_fd < 0 || s->done_fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "eventfd: %s",
		            g_strerror(errno));
		return NULL;
	}
	s->gate = quiesce_new("spam", spam_wake, s);
	s->thread = g_thread_new("spam", io_thread, s);
	return g_steal_pointer(&s);
}

/* spam_free - stop and free */
void
spam_free(Spam **spam)
{
	if (spam == NULL || *spam == NULL)
		return;
	Spam *s = *spam;
	if (s->thread) {
		g_mutex_lock(&s->lock);
		s->stop = TRUE;
		g_mutex_unlock(&s->lock);
		eventfd_poke(s->wake_fd);
		g_thread_join(s->thread);
	}
	quiesce_free(&s->gate);
	SpamCheck *c;
	while ((c = g_queue_pop_head(&s->incoming)) != NULL)
		check_unref(s, c);
	dnsbl_free(&s->dnsbl);
	for (guint i = 0; i < s->servers->len; i++)
		spamd_server_clear(&g_array_index(s->servers, Server, i).addr);
	g_array_free(s->servers, TRUE);
	g_ptr_array_unref(s->running);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->done_fd >= 0)
		close(s->done_fd);
	g_mutex_clear(&s->lock);
	g_free(s);
	*spam = NULL;
}

/* list_match - the entry of @list matching @sender or @ip, or NULL */
static const char *
list_match(char **list, const char *sender, const char *ip)
{
	g_autofree char *lower = sender ? g_ascii_strdown(sender, -1) : NULL;
	g_autoptr(GInetAddress) a = ip ? g_inet_address_new_from_string(ip) : NULL;

	for (int i = 0; list && list[i]; i++) {
		const char *e = list[i];
		if (strchr(e, '@') != NULL) {
			g_autofree char *pat = g_ascii_strdown(e, -1);
			if (lower && *lower && g_pattern_match_simple(pat, lower))
				return e;
			continue;
		}
		GInetAddressMask *m = g_inet_address_mask_new_from_string(e, NULL);
		if (m != NULL) {
			gboolean in = a != NULL && g_inet_address_mask_matches(m, a);
			g_object_unref(m);
			if (in)
				return e;
		} else if (lower && *lower) {
			/* a bare domain: the sender's domain or a subdomain of it */
			const char *at = strrchr(lower, '@');
			g_autofree char *dom = g_ascii_strdown(e, -1);
			if (at && (strcmp(at + 1, dom) == 0 ||
			           (g_str_has_suffix(at + 1, dom) &&
			            at[1 + strlen(at + 1) - strlen(dom) - 1] == '.')))
				return e;
		}
	}
	return NULL;
}

/* spam_start - decide what is asked, read the message, queue the check */
SpamCheck *
spam_start(Spam *spam, const MqConfig *eff, const char *id, const Qf *qf, int df_fd, gint64 df_size)
{
	if (spam == NULL || !eff->spam_check)
		return NULL;
	SpamCheck *c = g_new0(SpamCheck, 1);
	g_autofree char *sender = envelope_strip(g_strdup(qf_sender(qf)));
	g_autofree char *ip = qf_client_ip(qf);
	const char *hit;

	c->refs = 2;
	c->owner = spam;
	c->id = g_strdup(id);
	if ((hit = list_match(eff->spam_allow, sender, ip)) != NULL) {
		c->listed = "allow";
		c->listed_by = g_strdup(hit);
	} else if ((hit = list_match(eff->spam_deny, sender, ip)) != NULL) {
		c->listed = "deny";
		c->listed_by = g_strdup(hit);
	}
	if (c->listed == NULL && spam->servers->len > 0) {
		GString *m = qf_headers_text(qf);
		g_string_append_c(m, '\n');
		if ((guint64)m->len + (guint64)df_size > eff->spam_max_size) {
			c->skip_reason = g_strdup_printf("not sent to spamd: %" G_GUINT64_FORMAT
			                                 " bytes > spam.max_size",
			                                 (guint64)m->len + (guint64)df_size);
			g_string_free(m, TRUE);
		} else {
			gsize at = m->len;
			g_string_set_size(m, at + (gsize)df_size);
			gsize got = 0;
			while (got < (gsize)df_size) {
				ssize_t r = pread(df_fd, m->str + at + got, (gsize)df_size - got,
				                  (off_t)got);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					break;
				got += (gsize)r;
			}
			g_string_set_size(m, at + got);
			c->message = m;
		}
	}
	if (c->listed == NULL && spam->dnsbl != NULL &&
	    dnsbl_address_eligible(ip, eff->spam_trusted_networks))
		c->ip = g_strdup(ip);
	g_atomic_int_inc(&spam->outstanding);
	g_mutex_lock(&spam->lock);
	g_queue_push_tail(&spam->incoming, c);
	g_mutex_unlock(&spam->lock);
	eventfd_poke(spam->wake_fd);
	return c;
}

/* spam_check_done - finished? */
gboolean
spam_check_done(const SpamCheck *check)
{
	if (check == NULL)
		return TRUE;
	/* a plain read: done only goes FALSE -> TRUE, and the thread wrote it under
	 * the lock before poking done_fd; spam_finish takes the lock again */
	return g_atomic_int_get((const gint *)&check->done);
}

/*
 * spam_check_bound - one check: every server's timeout plus the blocklists';
 * times the rounds of max_in_flight that the checks queued now may wait for
 */
gint64
spam_check_bound(const Spam *spam)
{
	if (spam == NULL)
		return 0;
	gint64 one = ((gint64)spam->servers->len * MAX(spam->config->spam_spamd_timeout, 1) +
	              MAX(spam->config->spam_dnsbl_timeout, 1) + 1) *
	             G_USEC_PER_SEC;
	guint queued = (guint)g_atomic_int_get(&spam->outstanding);
	return one * (1 + queued / MAX(spam->config->spam_max_in_flight, 1));
}

/* spam_notify_fd / drain */
int
spam_notify_fd(const Spam *spam)
{
	return spam ? spam->done_fd : -1;
}

void
spam_notify_drain(Spam *spam)
{
	if (spam)
		eventfd_drain(spam->done_fd);
}

/* spam_check_free - the master's reference; a running check is cancelled */
void
spam_check_free(SpamCheck **check)
{
	if (check == NULL || *check == NULL)
		return;
	SpamCheck *c = *check;
	Spam *spam = c->owner;
	*check = NULL;
	g_mutex_lock(&spam->lock);
	c->cancelled = TRUE;
	g_mutex_unlock(&spam->lock);
	eventfd_poke(spam->wake_fd);
	check_unref(spam, c);
}

/* has_action - @word in @actions ("forward" matches "forward ADDRESS") */
static const char *
has_action(char **actions, const char *word)
{
	gsize n = strlen(word);

	for (int i = 0; actions && actions[i]; i++)
		if (strncmp(actions[i], word, n) == 0 &&
		    (actions[i][n] == '\0' || actions[i][n] == ' '))
			return actions[i];
	return NULL;
}

/* append_folded - "tests=A,B,..." folded into header continuation lines */
static void
append_folded(GString *h, const char *tests)
{
	gsize line = h->len;
	g_auto(GStrv) names = g_strsplit(tests, ",", -1);

	g_string_append(h, "tests=");
	for (int i = 0; names[i]; i++) {
		if (i)
			g_string_append_c(h, ',');
		if (h->len - line + strlen(names[i]) > 74) {
			g_string_append(h, "\n\t");
			line = h->len;
		}
		g_string_append(h, names[i]);
	}
}

/* add_headers - X-Spam-Status, -Score, -Level, -DNSBL */
static void
add_headers(Qf *out, const SpamOutcome *o, double required)
{
	char num[G_ASCII_DTOSTR_BUF_SIZE];
	GString *status = g_string_new(NULL);
	gboolean spam = g_strcmp0(o->status, "yes") == 0 || g_strcmp0(o->status, "high") == 0;

	if (g_strcmp0(o->status, "unchecked") == 0) {
		g_string_append(status, "Unchecked");
		if (o->detail)
			g_string_append(status, " (spamd unavailable)");
	} else {
		g_string_append(status, spam ? "Yes" : "No");
		if (o->has_score) {
			g_string_append_printf(status, ", score=%.1f required=%.1f ", o->score,
			                       required);
			append_folded(status, o->tests ? o->tests : "");
		} else if (o->detail) {
			g_autofree char *d = untrusted_line(o->detail, -1, 200);
			g_string_append_printf(status, " (%s)", d);
		}
	}
	qf_add_header(out, "X-Spam-Status", status->str);
	g_string_free(status, TRUE);
	if (o->has_score) {
		g_snprintf(num, sizeof num, "%.1f", o->score);
		qf_add_header(out, "X-Spam-Score", num);
		int stars = o->score >= 1 ? (int)MIN(o->score, 50) : 0;
		if (stars > 0) {
			char level[51];
			memset(level, '*', (gsize)stars);
			level[stars] = '\0';
			qf_add_header(out, "X-Spam-Level", level);
		}
	}
	if (o->dnsbl && *o->dnsbl)
		qf_add_header(out, "X-Spam-DNSBL", o->dnsbl);
}

/* quarantine_copy - keep the original of a spam message */
static gboolean
quarantine_copy(const MqConfig *eff, const QueueClaim *claim, const char *ref, const SpamOutcome *o,
                GError **error)
{
	g_autoptr(GString) msg = qdir_claim_read_message(claim, NULL, error);
	ScanReport rep = {0};
	gboolean ok;

	if (msg == NULL)
		return FALSE;
	rep.verdict = VERDICT_CLEAN;
	rep.findings = g_ptr_array_new_with_free_func(scan_finding_free);
	rep.names = g_ptr_array_new_with_free_func(g_free);
	Finding *f = g_new0(Finding, 1);
	f->path = g_strdup("message");
	f->content_type = g_strdup("message/rfc822");
	f->what = o->has_score ? g_strdup_printf("spam (score %.1f%s%s)", o->score,
	                                         o->dnsbl && *o->dnsbl ? ", listed in " : "",
	                                         o->dnsbl && *o->dnsbl ? o->dnsbl : "")
	                       : g_strdup_printf("spam (%s)", o->dnsbl && *o->dnsbl
	                                                          ? o->dnsbl
	                                                          : (o->detail ? o->detail : "-"));
	g_ptr_array_add(rep.findings, f);
	ok = quarantine_store(eff, ref, claim->qf, msg->str, msg->len, &rep, error);
	scan_report_clear(&rep);
	return ok;
}

/* spam_finish - verdict, headers, actions */
SpamFinish
spam_finish(Spam *spam, SpamCheck *c, const MqConfig *eff, QueueClaim *claim, const char *ref,
            gboolean virus_clean, Qf *out, SpamOutcome *o, GError **error)
{
	memset(o, 0, sizeof *o);
	g_mutex_lock(&spam->lock); /* pairs with the thread's write of the results */
	g_mutex_unlock(&spam->lock);
	gboolean listed =
	    c->dnsbl_hits && *c->dnsbl_hits && c->dnsbl_weight >= eff->spam_dnsbl_threshold;
	GString *detail = g_string_new(NULL);

	if (c->dnsbl_hits && *c->dnsbl_hits)
		o->dnsbl = g_strdup(c->dnsbl_hits);
	if (c->listed != NULL) {
		o->status = strcmp(c->listed, "allow") == 0 ? "no" : "high";
		g_string_append_printf(detail, "%s-listed (%s)", c->listed, c->listed_by);
	} else if (c->spamd_ok) {
		o->has_score = TRUE;
		o->score = c->answer.score;
		o->tests = g_strdup(c->answer.tests);
		o->status = o->score >= eff->spam_high_level  ? "high"
		            : o->score >= eff->spam_tag_level ? "yes"
		            : listed                          ? "yes"
		                                              : "no";
	} else if (c->message != NULL && spam->servers->len > 0) {
		/* spamd was asked and nobody answered */
		g_string_append_printf(detail, "spamd failed: %s",
		                       c->errors ? c->errors->str : "no server");
		if (listed) {
			o->status = "yes";
		} else if (strcmp(eff->spam_on_error, "defer") == 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "spam check failed (%s); deferred (spam.on_error: defer)",
			            detail->str);
			o->status = "unchecked";
			o->detail = g_string_free(detail, FALSE);
			o->action = g_strdup("deferred");
			return SPAM_FINISH_DEFER;
		} else {
			o->status = "unchecked";
		}
	} else {
		/* blocklists only, or too large for spamd */
		if (c->skip_reason)
			g_string_append(detail, c->skip_reason);
		o->status = listed ? "yes" : "no";
	}
	if (c->dnsbl_timeouts && *c->dnsbl_timeouts)
		g_string_append_printf(detail, "%sdnsbl timeout: %s", detail->len ? "; " : "",
		                       c->dnsbl_timeouts);
	o->detail =
	    detail->len ? g_string_free(detail, FALSE) : (g_string_free(detail, TRUE), NULL);

	/* ours only: what came with the message would lie */
	static const char *const ours[] = {"X-Spam-Status", "X-Spam-Score", "X-Spam-Level",
	                                   "X-Spam-DNSBL", "X-Spam-Flag"};
	for (gsize i = 0; i < G_N_ELEMENTS(ours); i++)
		qf_remove_header(out, ours[i]);
	add_headers(out, o, eff->spam_tag_level);

	gboolean is_spam = strcmp(o->status, "yes") == 0 || strcmp(o->status, "high") == 0;
	if (!is_spam) {
		o->action = g_strdup(strcmp(o->status, "unchecked") == 0 ? "deliver (unchecked)"
		                                                         : "deliver");
		return SPAM_FINISH_COMMIT;
	}
	if (!virus_clean) {
		o->action = g_strdup("headers only (virus verdict first)");
		return SPAM_FINISH_COMMIT;
	}
	char **actions =
	    strcmp(o->status, "high") == 0 ? eff->spam_high_actions : eff->spam_actions;
	GString *done = g_string_new(NULL);
	gboolean deliver = has_action(actions, "deliver") != NULL;
	const char *fwd = has_action(actions, "forward");

	if (has_action(actions, "header")) {
		qf_add_header(out, "X-Spam-Flag", "YES");
		g_string_append(done, "header, ");
	}
	if (has_action(actions, "subject_tag") && eff->spam_subject_tag && *eff->spam_subject_tag) {
		g_autofree char *subject = qf_header_get(out, "Subject");
		if (!(subject && g_str_has_prefix(subject, eff->spam_subject_tag))) {
			g_autofree char *tagged =
			    g_strdup_printf("%s %s", eff->spam_subject_tag, subject ? subject : "");
			qf_set_header(out, "Subject", tagged);
		}
		g_string_append(done, "subject_tag, ");
	}
	if (has_action(actions, "quarantine")) {
		if (!quarantine_copy(eff, claim, ref, o, error)) {
			/* never lose it: deliver instead, tagged, and say so */
			g_prefix_error(error, "cannot quarantine spam, delivered instead: ");
			g_string_append(done, "deliver (quarantine failed)");
			o->action = g_string_free(done, FALSE);
			return SPAM_FINISH_COMMIT;
		}
		o->quarantine = g_strdup(ref);
		g_string_append(done, "quarantine, ");
	}
	if (fwd != NULL) {
		const char *addr = fwd + 7 + strspn(fwd + 7, " \t");
		if (!deliver)
			qf_remove_recipients(out);
		qf_add_recipient(out, addr);
		g_string_append_printf(done, "forward %s, ", addr);
	}
	if (deliver || fwd != NULL) {
		if (deliver)
			g_string_append(done, "deliver");
		else
			g_string_truncate(done, done->len - 2);
		o->action = g_string_free(done, FALSE);
		return SPAM_FINISH_COMMIT;
	}
	/* neither delivered nor forwarded: quarantined (or deleted, by choice) */
	if (!qdir_claim_remove(claim, error)) {
		g_prefix_error(error, "cannot remove spam from the queue: ");
		g_string_free(done, TRUE);
		o->action = g_strdup("left in queue");
		return SPAM_FINISH_DEFER;
	}
	g_string_append(done, has_action(actions, "delete") ? "delete" : "not delivered");
	o->action = g_string_free(done, FALSE);
	return SPAM_FINISH_DISCARDED;
}

/* spam_outcome_clear - free */
void
spam_outcome_clear(SpamOutcome *o)
{
	g_clear_pointer(&o->tests, g_free);
	g_clear_pointer(&o->dnsbl, g_free);
	g_clear_pointer(&o->detail, g_free);
	g_clear_pointer(&o->action, g_free);
	g_clear_pointer(&o->quarantine, g_free);
	o->status = NULL;
}

/* spam_lint - PING and GTUBE per spamd, 127.0.0.2 per zone */
gboolean
spam_lint(const MqConfig *config, GString *report, GString *problems)
{
	gboolean ok = TRUE;
	guint timeout = MAX(config->spam_spamd_timeout, 1) * 1000;

	for (int i = 0; config->spam_spamd && config->spam_spamd[i]; i++) {
		SpamdServer srv;
		SpamdAnswer ans = {0};
		g_autoptr(GError) error = NULL;
		const char *name = config->spam_spamd[i];

		if (!spamd_server_parse(name, &srv, &error)) {
			g_string_append_printf(problems, "%s\n", error->message);
			ok = FALSE;
			continue;
		}
		if (!spamd_call_sync(&srv, "PING", NULL, 0, timeout, &ans, &error)) {
			g_string_append_printf(problems, "spamd %s: PING: %s\n", name,
			                       error->message);
			ok = FALSE;
		} else if (spamd_answer_clear(&ans),
		           !spamd_call_sync(&srv, "SYMBOLS", gtube_message, strlen(gtube_message),
		                            timeout, &ans, &error)) {
			g_string_append_printf(problems, "spamd %s: GTUBE: %s\n", name,
			                       error->message);
			ok = FALSE;
		} else if (!ans.is_spam || ans.score < config->spam_high_level) {
			g_string_append_printf(problems,
			                       "spamd %s: the GTUBE test message scored %.1f: not "
			                       "spam (is spamd's rule set loaded?)\n",
			                       name, ans.score);
			ok = FALSE;
		} else {
			g_string_append_printf(report, "spamd %s: PONG; GTUBE scored %.1f (%s)\n",
			                       name, ans.score, ans.tests);
		}
		spamd_answer_clear(&ans);
		spamd_server_clear(&srv);
	}
	if (config->spam_dnsbl_zones && config->spam_dnsbl_zones[0]) {
		g_autoptr(GError) error = NULL;
		Dnsbl *d = dnsbl_new(config->spam_dnsbl_zones, config->spam_dns_servers,
		                     MAX(config->spam_dnsbl_timeout, 1) * 1000, &error);
		if (d == NULL) {
			g_string_append_printf(problems, "%s\n", error->message);
			return FALSE;
		}
		/* one zone at a time, so that each is named */
		for (int i = 0; config->spam_dnsbl_zones[i]; i++) {
			char *one[] = {config->spam_dnsbl_zones[i], NULL};
			Dnsbl *z = dnsbl_new(one, config->spam_dns_servers,
			                     MAX(config->spam_dnsbl_timeout, 1) * 1000, NULL);
			DnsblEntry *e = dnsbl_lookup_sync(z, "127.0.0.2");
			if (*dnsbl_entry_hits(e)) {
				g_string_append_printf(report, "dnsbl %s: 127.0.0.2 is listed\n",
				                       config->spam_dnsbl_zones[i]);
			} else {
				g_string_append_printf(
				    problems, "dnsbl %s: the test entry 127.0.0.2 is %s\n",
				    config->spam_dnsbl_zones[i],
				    *dnsbl_entry_timed_out(e) ? "unanswered (timeout)"
				                              : "not listed");
				ok = FALSE;
			}
			dnsbl_free(&z);
		}
		dnsbl_free(&d);
	}
	return ok;
}
