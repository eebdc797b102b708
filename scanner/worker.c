/*
 * worker.c - fork, sandbox, privilege drop, and the request/answer exchange
 *
 * DESCRIPTION
 *	The bytes exchanged are encoded and decoded in protocol.c; what a
 *	worker can reach is set up in sandbox.c.  This file forks, passes the
 *	descriptors, and holds the test-only hooks (MQSIFT_FAULT=worker:...)
 *	that make a worker misbehave on purpose.
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
#include <netinet/in.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue/fault.h"
#include "scanner/proctitle.h"
#include "scanner/protocol.h"
#include "scanner/quiesce.h"
#include "scanner/sandbox.h"

struct Worker {
	pid_t pid;
	int fd;
	guint messages;       /* requests sent */
	guint64 message_size; /* of the one in hand: bounds the answer */
	const MqConfig *config;
};

/* the worker forked before this one: the probe's sibling */
static pid_t last_spawned;

/* in a worker: its pool slot (from 1), for its process title */
static guint title_number;

/* title_scanning - "mqsift: worker N scanning ID", with only the ID's letters and digits */
static void
title_scanning(const char *id)
{
	char shown[32];
	gsize n = 0;

	/* the master sends a queue ID, but a title is no place to trust it */
	for (; *id && n < sizeof shown - 1; id++)
		if (g_ascii_isalnum(*id))
			shown[n++] = *id;
	shown[n] = '\0';
	proctitle_set("mqsift: worker %u scanning %s", title_number, shown);
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

/* probe_result - "refused (why)" or what happened, for the probe's log line */
static const char *
probe_result(int r, int err)
{
	static char buf[128];

	if (r >= 0)
		return "ALLOWED";
	g_snprintf(buf, sizeof buf, "refused (%s)", g_strerror(err));
	return buf;
}

/* worker_probe - test hook: try what a compromised worker would, and log each outcome */
static void
worker_probe(const MqConfig *config)
{
	const char *paths[] = {config->queue_incoming[0], config->queue_outgoing,
	                       config->quarantine_dir, config->reports_database, "/etc/passwd"};
	int uid = (int)getuid();

	for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC); /* lint: allow open */
		g_message("worker probe (uid %d): open %s: %s", uid, paths[i],
		          fd < 0 ? g_strerror(errno) : "opened");
		if (fd >= 0)
			close(fd);
	}
	int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_message("worker probe (uid %d): socket(AF_INET): %s", uid, probe_result(sock, errno));
	if (sock >= 0) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(25)};
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int r = connect(sock, (struct sockaddr *)&sin, sizeof sin);
		g_message("worker probe (uid %d): connect 127.0.0.1:25: %s", uid,
		          r == 0 ? "ALLOWED" : g_strerror(errno));
		close(sock);
	}
	sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_message("worker probe (uid %d): socket(AF_INET6): %s", uid, probe_result(sock, errno));
	if (sock >= 0)
		close(sock);
	/* signal 0: the permission check without harm if it were allowed */
	int r = kill(getppid(), 0);
	g_message("worker probe (uid %d): kill master %d: %s", uid, (int)getppid(),
	          probe_result(r, errno));
	if (last_spawned > 0) {
		r = kill(last_spawned, 0);
		g_message("worker probe (uid %d): kill sibling %d: %s", uid, (int)last_spawned,
		          probe_result(r, errno));
	}
	r = unshare(CLONE_NEWUSER);
	g_message("worker probe (uid %d): unshare(CLONE_NEWUSER): %s", uid, probe_result(r, errno));
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	if (child > 0)
		waitpid(child, NULL, 0);
	g_message("worker probe (uid %d): fork: %s", uid, probe_result(child, errno));
}

/*
 * bad_answer - test hooks: a worker that answers with what the master must
 * refuse, in a descriptor sent as the report's memfd; -2 when no hook is armed
 */
static int
bad_answer(int zero_fd)
{
	if (zero_fd >= 0)
		return dup(zero_fd); /* endless */
	if (fault_should_fail("worker:reply-unsealed")) {
		int fd = memfd_create("mqsift-report", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, 4096) < 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (fault_should_fail("worker:reply-garbage")) {
		guchar junk[4096];
		for (gsize i = 0; i < sizeof junk; i++)
			junk[i] = (guchar)g_random_int();
		g_autoptr(GBytes) b = g_bytes_new(junk, sizeof junk);
		return protocol_memfd_new("mqsift-report", b);
	}
	if (fault_should_fail("worker:reply-verdict")) {
		ScanReport r = {.verdict = 42};
		g_autoptr(GBytes) b = protocol_encode_report(&r);
		return protocol_memfd_new("mqsift-report", b);
	}
	return -2;
}

/*
 * worker_membomb - test hook: touch memory until the address-space limit
 * stops it (malloc fails, g_malloc aborts); bounded at twice the limit in
 * case none is set (a sanitizer build)
 */
static void
worker_membomb(const MqConfig *config)
{
	guint64 bound = 2 * MAX(config->scanner_max_memory, (guint64)256 << 20);
	GPtrArray *chunks = g_ptr_array_new();

	for (guint64 used = 0; used < bound; used += 16 << 20) {
		char *p = g_malloc(16 << 20);
		memset(p, 0x5a, 16 << 20);
		g_ptr_array_add(chunks, p);
	}
	abort(); /* no limit stopped it: die as the limit would have made it */
}

/*
 * test_hook - test hooks: @fault armed and @marker somewhere in the message
 * (the message is not searched when no test armed @fault)
 */
static gboolean
test_hook(const ScanMessageMap *map, const char *marker, const char *fault)
{
	return fault_armed(fault) && map->msg != NULL &&
	       memmem(map->msg, map->len, marker, strlen(marker)) != NULL;
}

/* worker_handle - one request: scan, answer */
static gboolean
worker_handle(int sock, const MqConfig *config, Engine *engine, const Policy *policy, int zero_fd)
{
	int df_fd = -1;
	GBytes *reqb = NULL;
	g_autoptr(GError) error = NULL;

	if (!protocol_recv(sock, 64 * 1024 * 1024, &reqb, &df_fd, 1, &error)) {
		if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED))
			g_critical("worker: bad request: %s", error->message);
		return FALSE; /* the master closed (exit), or sent what it never sends */
	}
	sandbox_message_begin(config);
	ProtocolRequest req;
	if (!protocol_decode_request(reqb, &req, &error)) {
		g_critical("worker: bad request: %s", error->message);
		close(df_fd);
		g_bytes_unref(reqb);
		return FALSE;
	}
	title_scanning(req.id);
	GPtrArray *rcpts = g_ptr_array_new_with_free_func(g_free);
	for (gsize i = 0; req.recipients[i]; i++)
		g_ptr_array_add(rcpts, g_strdup(req.recipients[i]));
	g_ptr_array_add(rcpts, NULL);

	ScanReport report;
	const char *ip = req.client_ip, *ref = req.quarantine_ref;
	Envelope env = {req.sender, (const char *const *)rcpts->pdata, *ip ? ip : NULL};
	MqConfig eff;
	config_for_message(config, &env, &eff);
	GPtrArray *rules_files = g_ptr_array_new();
	config_each_value(config, &env, "policy.filename_rules", rules_files);
	g_ptr_array_add(rules_files, NULL);
	ScanSettings settings;
	scan_settings_from_config(&eff, &settings);
	ScanContext ctx = {&settings, engine, policy, ref, (const char *const *)rules_files->pdata};
	/* the df mapped, not copied: see scan_message_map */
	ScanMessageMap map = {0};
	const char *message = req.headers;
	gsize len = (gsize)req.size;
	if (len <= config->scanner_max_message_size &&
	    scan_message_map(req.headers, df_fd, config->scanner_max_message_size, &map, &error)) {
		message = map.msg;
		len = map.len;
	}
	if (error != NULL) {
		memset(&report, 0, sizeof report);
		report.findings = g_ptr_array_new();
		report.names = g_ptr_array_new();
		report.verdict = VERDICT_ERROR;
		report.detail = g_strdup_printf("cannot read the body: %s", error->message);
	} else if (!eff.scanner_scan) {
		memset(&report, 0, sizeof report);
		report.findings = g_ptr_array_new();
		report.names = g_ptr_array_new();
		report.unscanned = TRUE;
	} else {
		/* test-only hooks: a message that crashes or hangs its worker */
		if (test_hook(&map, "MQSIFT-TEST-CRASH", "worker:crash") &&
		    fault_should_fail("worker:crash"))
			abort();
		if (test_hook(&map, "MQSIFT-TEST-HANG", "worker:hang") &&
		    fault_should_fail("worker:hang"))
			for (;;)
				pause();
		/* a memory and a CPU bomb, as a hostile message could make libclamav or
		 * GMime behave: the worker's limits (RLIMIT_AS, RLIMIT_CPU) must end them */
		if (test_hook(&map, "MQSIFT-TEST-MEMBOMB", "worker:membomb") &&
		    fault_should_fail("worker:membomb"))
			worker_membomb(config);
		if (test_hook(&map, "MQSIFT-TEST-CPUBOMB", "worker:cpubomb") &&
		    fault_should_fail("worker:cpubomb"))
			for (volatile guint64 spin = 0;; spin++)
				;
		gboolean scan_error_hook =
		    test_hook(&map, "MQSIFT-TEST-ERROR", "worker:scan-error");
		/* what the checks above read is let go before libclamav parses the message */
		scan_message_map_release(&map);
		scan_message_body_fd(&ctx, message, len, map.msg != NULL ? df_fd : -1,
		                     len - map.body_len, &report);
		/* test-only: a message whose scan always fails */
		if (scan_error_hook && fault_should_fail("worker:scan-error")) {
			scan_report_clear(&report);
			report.findings = g_ptr_array_new_with_free_func(scan_finding_free);
			report.names = g_ptr_array_new_with_free_func(g_free);
			report.verdict = VERDICT_ERROR;
			report.detail = g_strdup("scan failed: simulated error");
		}
	}
	if (fault_should_fail("worker:probe"))
		worker_probe(config);
	int bad = bad_answer(zero_fd);
	gboolean ok;
	if (bad == -2) {
		GBytes *b = protocol_encode_report(&report);
		ok = protocol_answer(sock, b);
		g_bytes_unref(b);
	} else {
		ok = bad >= 0 && protocol_send_raw(sock, "m", 1, &bad, 1); /* as a memfd report */
		if (bad >= 0)
			close(bad);
	}
	scan_report_clear(&report);
	scan_message_map_clear(&map);
	close(df_fd);
	g_ptr_array_unref(rcpts);
	g_ptr_array_unref(rules_files);
	protocol_request_clear(&req);
	g_bytes_unref(reqb);
	proctitle_set("mqsift: worker %u idle", title_number);
	return ok;
}

/* worker_main - the forked worker: sandbox, then one message after another */
static void G_GNUC_NORETURN
worker_main(int sock, const MqConfig *config, Engine *engine, const Policy *policy, guint number)
{
	GError *local = NULL;
	SandboxStatus status;

	/* before the sandbox: prctl is a system call, the title per message is not */
	title_number = number;
	proctitle_name("mqsift-worker");
	proctitle_set("mqsift: worker %u idle", title_number);
	/* a service stop signals every process of the unit: the master ends a
	 * worker (EOF on its socket, or SIGKILL at the deadline), never a signal
	 * that would look like a message killing it */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	/* the master's other descriptors (queues, store, locks) stay behind */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != sock)
			close(fd);
	/* test-only: an answer that never ends (opened before Landlock closes /dev) */
	int zero_fd = fault_should_fail("worker:reply-devzero")
	                  ? open("/dev/zero", O_RDONLY | O_CLOEXEC) /* lint: allow open */
	                  : -1;
	g_autofree char *base = sandbox_scratch_base(config);
	if (!sandbox_enter_as_root(config, base, &status, &local) ||
	    !worker_drop_privileges(config->scanner_user, &local) ||
	    !sandbox_enter(config, base, &status, &local) ||
	    !engine_set_tmpdir(engine, status.scratch, &local)) {
		g_critical("worker: %s", local->message);
		_exit(3);
	}
	g_debug("worker %d: netns %s, seccomp %s, landlock %s (ABI %d), scratch %s%s",
	        (int)getpid(), status.netns ? "yes" : "no", status.seccomp ? "yes" : "no",
	        status.landlock ? "yes" : "no", status.landlock_abi, status.scratch,
	        status.private_tmpfs ? " (private tmpfs)" : "");
	srand((unsigned)getpid()); /* libclamav's advice for forked scanners */
	while (worker_handle(sock, config, engine, policy, zero_fd))
		;
	_exit(0);
}

/* worker_spawn - fork a worker */
Worker *
worker_spawn(const MqConfig *config, Engine *engine, const Policy *policy, guint number,
             GError **error)
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
	/* the master runs threads: they park while it forks (quiesce.h) */
	pid_t pid = quiesce_fork();
	if (pid < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "fork: %s",
		            g_strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		worker_main(sv[1], config, engine, policy, number);
	}
	close(sv[1]);
	protocol_socket_prepare(sv[0]); /* the requests it will hold always fit */
	last_spawned = pid;
	Worker *w = g_new0(Worker, 1);
	w->pid = pid;
	w->fd = sv[0];
	w->config = config;
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

/* worker_messages - how many messages it was given */
guint
worker_messages(const Worker *worker)
{
	return worker->messages;
}

/* worker_request_encode - the request as it travels */
GBytes *
worker_request_encode(const WorkRequest *req)
{
	g_autofree char *headers = g_strndup(req->headers, req->headers_len);
	ProtocolRequest pr = {req->id,           headers,        req->sender,
	                      req->recipients,   req->client_ip, req->quarantine_ref,
	                      (guint64)req->size};

	return protocol_encode_request(&pr);
}

/* worker_send_encoded - a request already encoded, and the body */
gboolean
worker_send_encoded(Worker *worker, GBytes *request, int df_fd, GError **error)
{
	gboolean ok = protocol_send(worker->fd, request, &df_fd, 1);

	if (!ok)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "worker %d is gone",
		            (int)worker->pid);
	worker->messages++;
	return ok;
}

/* worker_send - encode, send */
gboolean
worker_send(Worker *worker, const WorkRequest *req, GError **error)
{
	g_autoptr(GBytes) request = worker_request_encode(req);
	gboolean ok = worker_send_encoded(worker, request, req->df_fd, error);

	worker->message_size = req->size;
	return ok;
}

/* worker_receive_sized - the answer about a message of @message_size bytes, checked */
gboolean
worker_receive_sized(Worker *worker, guint64 message_size, ScanReport *report, GError **error)
{
	ProtocolReportLimits limits = protocol_report_limits(worker->config, message_size);
	g_autoptr(GError) local = NULL;
	g_autoptr(GBytes) b = NULL;

	memset(report, 0, sizeof *report);
	if (!protocol_recv(worker->fd, limits.max_bytes, &b, NULL, 0, &local)) {
		if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_CLOSED))
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "worker %d died",
			            (int)worker->pid);
		else
			g_propagate_error(error, g_steal_pointer(&local));
		return FALSE;
	}
	return protocol_decode_report(b, &limits, report, error);
}

/* worker_receive - the answer to the one request worker_send() sent */
gboolean
worker_receive(Worker *worker, ScanReport *report, GError **error)
{
	return worker_receive_sized(worker, worker->message_size, report, error);
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
	g_debug("worker %d stopped", (int)(*worker)->pid);
	g_free(*worker);
	*worker = NULL;
}
