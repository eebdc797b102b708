/*
 * worker.c - fork, privilege drop, and the request/answer protocol
 */
#include "mqsift-build.h"

#include "scanner/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue/durable.h"
#include "queue/fault.h"

/* headers and addresses are bytes, not UTF-8 text: an 8-bit header must reach
 * the worker exactly as it is delivered (a GVariant "s" refuses invalid UTF-8) */
#define REQUEST_TYPE "(sayayaayayst)"
#define REPORT_TYPE "(ibbbuassssbaya(sssssbsay))"

struct Worker {
	pid_t pid;
	int fd;
};

/* send_fds - one packet carrying @n descriptors */
static gboolean
send_fds(int sock, const int *fds, int n)
{
	char byte = 'm';
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	memset(&ctl, 0, sizeof ctl);
	msg.msg_control = ctl.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * (gsize)n);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (gsize)n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (gsize)n);
	for (;;) {
		ssize_t r = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (r == 1)
			return TRUE;
		if (r < 0 && errno == EINTR)
			continue;
		return FALSE;
	}
}

/* recv_fds - one packet; up to @max descriptors into @fds; returns how many, -1 on EOF/error */
static int
recv_fds(int sock, int *fds, int max)
{
	char byte;
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof ctl.buf;
	ssize_t r;
	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	int n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int got[4];
		memcpy(got, CMSG_DATA(c), sizeof(int) * (gsize)MIN(k, 4));
		for (int i = 0; i < k && i < 4; i++) {
			if (n < max)
				fds[n++] = got[i];
			else
				close(got[i]);
		}
	}
	return n;
}

/* memfd_with - a sealed-size memfd holding @data */
static int
memfd_with(const char *name, const void *data, gsize len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	const char *p = data;

	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		p += w;
		len -= (gsize)w;
	}
	return fd;
}

/* report_to_variant - serialize a report */
static GVariant *
report_to_variant(const ScanReport *r)
{
	GVariantBuilder names, findings;

	g_variant_builder_init(&names, G_VARIANT_TYPE("as"));
	for (guint i = 0; r->names && i < r->names->len; i++)
		g_variant_builder_add(&names, "s", (char *)g_ptr_array_index(r->names, i));
	g_variant_builder_init(&findings, G_VARIANT_TYPE("a(sssssbsay)"));
	for (guint i = 0; r->findings && i < r->findings->len; i++) {
		const Finding *f = g_ptr_array_index(r->findings, i);
		gsize len = 0;
		const void *data = f->content ? g_bytes_get_data(f->content, &len) : NULL;
		g_variant_builder_add(
		    &findings, "(sssssbs@ay)", f->path, f->filename ? f->filename : "",
		    f->content_type ? f->content_type : "", f->what ? f->what : "",
		    f->advice ? f->advice : "", f->infected,
		    f->content && f->saved_name ? f->saved_name : "",
		    g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, data ? data : "", len, 1));
	}
	gsize blen = 0;
	const void *body = r->new_body ? g_bytes_get_data(r->new_body, &blen) : NULL;
	return g_variant_new(
	    "(ibbbuassssb@aya(sssssbsay))", (gint32)r->verdict, r->limits, r->whole_message,
	    r->unscanned, r->parts, &names, r->blocked ? r->blocked : "",
	    r->new_content_type ? r->new_content_type : "", r->detail ? r->detail : "",
	    r->new_body != NULL,
	    g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, body ? body : "", blen, 1), &findings);
}

/* empty_to_null - "" -> NULL, else a copy */
static char *
empty_to_null(const char *s)
{
	return s && *s ? g_strdup(s) : NULL;
}

/* report_from_variant - the master's side; @v is untrusted */
static gboolean
report_from_variant(GVariant *v, ScanReport *r)
{
	gint32 verdict;
	gboolean limits, whole, unscanned, has_body;
	guint32 parts;
	GVariantIter *names, *findings;
	const char *blocked, *ctype, *detail;
	GVariant *body;

	g_variant_get(v, "(ibbbuas&s&s&sb@aya(sssssbsay))", &verdict, &limits, &whole, &unscanned,
	              &parts, &names, &blocked, &ctype, &detail, &has_body, &body, &findings);
	memset(r, 0, sizeof *r);
	r->verdict =
	    verdict >= VERDICT_CLEAN && verdict <= VERDICT_ERROR ? (Verdict)verdict : VERDICT_ERROR;
	r->limits = limits;
	r->whole_message = whole;
	r->unscanned = unscanned;
	r->parts = parts;
	r->blocked = empty_to_null(blocked);
	r->new_content_type = empty_to_null(ctype);
	r->detail = empty_to_null(detail);
	r->names = g_ptr_array_new_with_free_func(g_free);
	const char *s;
	while (g_variant_iter_loop(names, "&s", &s))
		g_ptr_array_add(r->names, g_strdup(s));
	g_variant_iter_free(names);
	if (has_body) {
		gsize len;
		const void *data = g_variant_get_fixed_array(body, &len, 1);
		r->new_body = g_bytes_new(data, len);
	}
	g_variant_unref(body);
	r->findings = g_ptr_array_new_with_free_func(scan_finding_free);
	const char *path, *fname, *fct, *what, *advice, *saved;
	gboolean infected;
	GVariant *content;
	while (g_variant_iter_next(findings, "(&s&s&s&s&sb&s@ay)", &path, &fname, &fct, &what,
	                           &advice, &infected, &saved, &content)) {
		Finding *f = g_new0(Finding, 1);
		gsize len;
		const void *data = g_variant_get_fixed_array(content, &len, 1);
		f->path = g_strdup(path);
		f->filename = empty_to_null(fname);
		f->content_type = g_strdup(fct);
		f->what = g_strdup(what);
		f->advice = empty_to_null(advice);
		f->infected = infected;
		/* the saved name is built again here: never trust a path from a worker */
		f->saved_name = g_strdup_printf("part-%u.bin", r->findings->len + 1);
		f->content = *saved != '\0' ? g_bytes_new(data, len) : NULL;
		g_variant_unref(content);
		g_ptr_array_add(r->findings, f);
	}
	g_variant_iter_free(findings);
	return TRUE;
}

/* read_memfd - the whole content of a memfd, bounded */
static GBytes *
read_memfd(int fd, gsize max, GError **error)
{
	return durable_read_fd(fd, max, error);
}

/* worker_drop_privileges - become @user for good */
gboolean
worker_drop_privileges(const char *user, GError **error)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "scanner.user \"%s\" does not exist (create it: adduser --system %s)",
		            user, user);
		return FALSE;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return TRUE;
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "not root: cannot switch the scan workers to %s", user);
		return FALSE;
	}
	if (chdir("/") < 0 || setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot switch to user %s: %s", user, g_strerror(errno));
		return FALSE;
	}
	if (setuid(0) == 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "privileges were not dropped (setuid(0) succeeded)");
		return FALSE;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	return TRUE;
}

/* worker_probe - test hook: show that the queues are out of reach */
static void
worker_probe(const MqConfig *config)
{
	const char *paths[] = {config->queue_incoming[0], config->queue_outgoing,
	                       config->quarantine_dir, config->reports_database};

	for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		g_message("worker probe (uid %d): open %s: %s", (int)getuid(), paths[i],
		          fd < 0 ? g_strerror(errno) : "opened");
		if (fd >= 0)
			close(fd);
	}
}

/* worker_handle - one request: scan, answer */
static gboolean
worker_handle(int sock, const MqConfig *config, Engine *engine, const Policy *policy)
{
	int fds[2] = {-1, -1};
	int n = recv_fds(sock, fds, 2);
	GError *error = NULL;

	if (n < 0)
		return FALSE; /* the master closed: exit */
	if (n != 2) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		return FALSE;
	}
	GBytes *reqb = read_memfd(fds[0], 64 * 1024 * 1024, &error);
	close(fds[0]);
	if (reqb == NULL) {
		close(fds[1]);
		return FALSE;
	}
	GVariant *req = g_variant_new_from_bytes(G_VARIANT_TYPE(REQUEST_TYPE), reqb, FALSE);
	const char *id, *headers, *sender, *ip, *ref;
	GVariantIter *rit;
	guint64 size;
	g_variant_get(req, "(&s^&ay^&ayaay^&ay&st)", &id, &headers, &sender, &rit, &ip, &ref,
	              &size);
	GPtrArray *rcpts = g_ptr_array_new_with_free_func(g_free);
	const char *rc;
	while (g_variant_iter_loop(rit, "^&ay", &rc))
		g_ptr_array_add(rcpts, g_strdup(rc));
	g_variant_iter_free(rit);
	g_ptr_array_add(rcpts, NULL);

	ScanReport report;
	Envelope env = {sender, (const char *const *)rcpts->pdata, *ip ? ip : NULL};
	MqConfig eff;
	config_for_message(config, &env, &eff);
	GPtrArray *rules_files = g_ptr_array_new();
	config_each_value(config, &env, "policy.filename_rules", rules_files);
	g_ptr_array_add(rules_files, NULL);
	ScanContext ctx = {&eff, engine, policy, ref, (const char *const *)rules_files->pdata};
	GString *message = g_string_new(headers);
	gsize len = (gsize)size;
	if (len <= config->scanner_max_message_size) {
		if (durable_append_fd(fds[1], message, config->scanner_max_message_size, &error))
			len = message->len;
	}
	close(fds[1]);
	if (error != NULL) {
		memset(&report, 0, sizeof report);
		report.findings = g_ptr_array_new();
		report.names = g_ptr_array_new();
		report.verdict = VERDICT_ERROR;
		report.detail = g_strdup_printf("cannot read the body: %s", error->message);
		g_clear_error(&error);
	} else if (!eff.scanner_scan) {
		memset(&report, 0, sizeof report);
		report.findings = g_ptr_array_new();
		report.names = g_ptr_array_new();
		report.unscanned = TRUE;
	} else {
		/* test-only hooks: a message that crashes or hangs its worker */
		if (strstr(message->str, "MQSIFT-TEST-CRASH") && fault_should_fail("worker:crash"))
			abort();
		if (strstr(message->str, "MQSIFT-TEST-HANG") && fault_should_fail("worker:hang"))
			for (;;)
				pause();
		scan_message(&ctx, message->str, len, &report);
	}
	if (fault_should_fail("worker:probe"))
		worker_probe(config);
	GVariant *v = g_variant_ref_sink(report_to_variant(&report));
	int out = memfd_with("mqsift-report", g_variant_get_data(v), g_variant_get_size(v));
	gboolean ok = out >= 0 && send_fds(sock, &out, 1);
	if (out >= 0)
		close(out);
	g_variant_unref(v);
	scan_report_clear(&report);
	g_string_free(message, TRUE);
	g_ptr_array_unref(rcpts);
	g_ptr_array_unref(rules_files);
	g_variant_unref(req);
	g_bytes_unref(reqb);
	return ok;
}

/* worker_spawn - fork a worker */
Worker *
worker_spawn(const MqConfig *config, Engine *engine, const Policy *policy, GError **error)
{
	int sv[2];

	if (getpwnam(config->scanner_user) == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "scanner.user \"%s\" does not exist (create it: adduser --system "
		            "--no-create-home %s)",
		            config->scanner_user, config->scanner_user);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "socketpair: %s",
		            g_strerror(errno));
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "fork: %s",
		            g_strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		GError *local = NULL;
		close(sv[0]);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		/* the master's other descriptors (queues, store, locks) stay behind */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != sv[1])
				close(fd);
		if (!worker_drop_privileges(config->scanner_user, &local)) {
			g_critical("worker: %s", local->message);
			_exit(3);
		}
		srand((unsigned)getpid()); /* libclamav's advice for forked scanners */
		while (worker_handle(sv[1], config, engine, policy))
			;
		_exit(0);
	}
	close(sv[1]);
	Worker *w = g_new0(Worker, 1);
	w->pid = pid;
	w->fd = sv[0];
	return w;
}

/* worker_fd - accessor */
int
worker_fd(const Worker *worker)
{
	return worker->fd;
}

/* worker_pid - accessor */
pid_t
worker_pid(const Worker *worker)
{
	return worker->pid;
}

/* worker_send - the request as two descriptors */
gboolean
worker_send(Worker *worker, const WorkRequest *req, GError **error)
{
	GVariantBuilder rcpts;

	g_variant_builder_init(&rcpts, G_VARIANT_TYPE("aay"));
	for (gsize i = 0; req->recipients && req->recipients[i]; i++)
		g_variant_builder_add(&rcpts, "^ay", req->recipients[i]);
	g_autofree char *headers = g_strndup(req->headers, req->headers_len);
	GVariant *v = g_variant_ref_sink(
	    g_variant_new("(s^ay^ayaay^ayst)", req->id, headers, req->sender ? req->sender : "",
	                  &rcpts, req->client_ip ? req->client_ip : "",
	                  req->quarantine_ref ? req->quarantine_ref : "", (guint64)req->size));
	int fds[2];
	fds[0] = memfd_with("mqsift-request", g_variant_get_data(v), g_variant_get_size(v));
	fds[1] = req->df_fd;
	gboolean ok = fds[0] >= 0 && send_fds(worker->fd, fds, 2);
	if (fds[0] >= 0)
		close(fds[0]);
	g_variant_unref(v);
	if (!ok)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "worker %d is gone",
		            (int)worker->pid);
	return ok;
}

/* worker_receive - the answer */
gboolean
worker_receive(Worker *worker, ScanReport *report, GError **error)
{
	int fd = -1;
	int n = recv_fds(worker->fd, &fd, 1);

	if (n != 1) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "worker %d died",
		            (int)worker->pid);
		return FALSE;
	}
	GBytes *b = read_memfd(fd, (gsize)G_MAXINT32, error);
	close(fd);
	if (b == NULL)
		return FALSE;
	GVariant *v =
	    g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(REPORT_TYPE), b, FALSE));
	gboolean ok = report_from_variant(v, report);
	g_variant_unref(v);
	g_bytes_unref(b);
	return ok;
}

/* reap - wait for the process, bounded */
static void
reap(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		g_usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* worker_kill - SIGKILL and reap */
void
worker_kill(Worker **worker)
{
	if (worker == NULL || *worker == NULL)
		return;
	kill((*worker)->pid, SIGKILL);
	close((*worker)->fd);
	waitpid((*worker)->pid, NULL, 0);
	g_free(*worker);
	*worker = NULL;
}

/* worker_stop - EOF on its socket makes it exit */
void
worker_stop(Worker **worker)
{
	if (worker == NULL || *worker == NULL)
		return;
	close((*worker)->fd);
	reap((*worker)->pid);
	g_free(*worker);
	*worker = NULL;
}
