/*
 * sandbox.c - namespaces, limits, Landlock and seccomp for the scan workers
 *
 * DESCRIPTION
 *	See sandbox.h for the order.  The seccomp filter's default action is
 *	SCMP_ACT_KILL_PROCESS, not an error code: libclamav treats many
 *	failed calls as "could not look at this part" and goes on, and a
 *	refused call must never turn into a part nobody scanned.  A killed
 *	worker is what the master already handles: the message is retried,
 *	then quarantined whole.  The calls a hostile parser would want
 *	(socket, connect, kill of another process, unshare, setns, ptrace,
 *	exec, fork) are refused with EPERM instead, so that the test probe
 *	can report them and an attempt is not mistaken for a crash loop.
 */
#include "mqsift-build.h"

#include "scanner/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

#define DEFAULT_TMPDIR "/run/mqsift/tmp"
#define FALLBACK_TMPDIR "/var/lib/mqsift/tmp"

/* Landlock beyond the installed headers (ABI 3 to 6), as in the kernel's uapi */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define MQ_LANDLOCK_NET_BIND_TCP (1ULL << 0)
#define MQ_LANDLOCK_NET_CONNECT_TCP (1ULL << 1)
#define MQ_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define MQ_LANDLOCK_SCOPE_SIGNAL (1ULL << 1)

/* RulesetAttr - struct landlock_ruleset_attr as of ABI 6 */
typedef struct {
	guint64 handled_access_fs;
	guint64 handled_access_net;
	guint64 scoped;
} RulesetAttr;

/* sandbox_status_clear - free */
void
sandbox_status_clear(SandboxStatus *status)
{
	g_free(status->scratch);
	memset(status, 0, sizeof *status);
}

/* sandbox_scratch_base - scanner.tmpdir, or the fallback when /run is absent */
char *
sandbox_scratch_base(const MqConfig *config)
{
	const char *dir = config->scanner_tmpdir;

	if (dir == NULL || *dir == '\0')
		dir = DEFAULT_TMPDIR;
	if (strcmp(dir, DEFAULT_TMPDIR) == 0 && !g_file_test("/run", G_FILE_TEST_IS_DIR))
		dir = FALLBACK_TMPDIR;
	return g_strdup(dir);
}

/* scratch_error - set @error about @path; FALSE */
static gboolean G_GNUC_PRINTF(3, 4)
    scratch_error(GError **error, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_autofree char *text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
	            "scanner.tmpdir %s: %s (refused: libclamav's temporary files must be private)",
	            path, text);
	return FALSE;
}

/* parent_trusted - @st (the parent's lstat) is root's and nobody else can plant names in it */
static gboolean
parent_trusted(const struct stat *st)
{
	if (!S_ISDIR(st->st_mode) || st->st_uid != 0)
		return FALSE;
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0)
		return TRUE;
	return (st->st_mode & S_ISVTX) != 0; /* /tmp-like: sticky, root-owned */
}

/* sandbox_scratch_prepare - the base directory, made and checked without following links */
gboolean
sandbox_scratch_prepare(const char *base, uid_t uid, gid_t gid, GError **error)
{
	if (!g_path_is_absolute(base))
		return scratch_error(error, base, "not an absolute path");
	g_autofree char *parent = g_path_get_dirname(base);
	g_autofree char *name = g_path_get_basename(base);
	if (strcmp(name, "/") == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return scratch_error(error, base, "not a directory name");
	/* the parent (root's, e.g. /run/mqsift) may be made here, as root, 0755 */
	if (g_mkdir_with_parents(parent, 0755) < 0)
		return scratch_error(error, base, "cannot create %s: %s", parent,
		                     g_strerror(errno));
	/* lint: allow open - the scratch space, not a queue file */
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (pfd < 0)
		return scratch_error(error, base, "cannot open %s: %s", parent, g_strerror(errno));
	struct stat pst;
	if (fstat(pfd, &pst) < 0 || !parent_trusted(&pst)) {
		close(pfd);
		return scratch_error(error, base,
		                     "its parent %s is not a root-owned directory closed to "
		                     "others (owner %d, mode %04o)",
		                     parent, (int)pst.st_uid, (unsigned)(pst.st_mode & 07777));
	}
	if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		close(pfd);
		return scratch_error(error, base, "mkdir: %s", g_strerror(e));
	}
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;
		close(pfd);
		return scratch_error(error, base, "%s", g_strerror(e));
	}
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
		close(pfd);
		return scratch_error(error, base, "exists and is not a directory (a symlink?)");
	}
	if (st.st_uid != uid && st.st_uid != 0) {
		close(pfd);
		return scratch_error(error, base,
		                     "exists and belongs to uid %d, not the workers' %d",
		                     (int)st.st_uid, (int)uid);
	}
	/* lint: allow openat - the scratch space, not a queue file */
	int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	close(pfd);
	if (dfd < 0)
		return scratch_error(error, base, "open: %s", g_strerror(errno));
	struct stat dst;
	/* what was checked is what is changed: fchown/fchmod on the opened directory */
	if (fstat(dfd, &dst) < 0 || dst.st_ino != st.st_ino || dst.st_dev != st.st_dev ||
	    (dst.st_uid != uid && geteuid() != 0) ||
	    (dst.st_uid != uid && fchown(dfd, uid, gid) < 0) ||
	    ((dst.st_mode & 07777) != 0700 && fchmod(dfd, 0700) < 0)) {
		int e = errno;
		close(dfd);
		return scratch_error(error, base, "cannot make it the workers' own: %s",
		                     g_strerror(e));
	}
	close(dfd);
	return TRUE;
}

/* sandbox_scratch_check - what sandbox_scratch_prepare would refuse, changing nothing */
gboolean
sandbox_scratch_check(const char *base, uid_t uid, GError **error)
{
	g_autofree char *parent = g_path_get_dirname(base);
	struct stat st;

	if (!g_path_is_absolute(base))
		return scratch_error(error, base, "not an absolute path");
	if (lstat(parent, &st) == 0 && !parent_trusted(&st))
		return scratch_error(error, base,
		                     "its parent %s is not a root-owned directory closed to others",
		                     parent);
	if (lstat(base, &st) < 0)
		return TRUE; /* made at start */
	if (!S_ISDIR(st.st_mode))
		return scratch_error(error, base, "exists and is not a directory (a symlink?)");
	if (st.st_uid != uid && st.st_uid != 0)
		return scratch_error(error, base,
		                     "exists and belongs to uid %d, not the workers' %d",
		                     (int)st.st_uid, (int)uid);
	return TRUE;
}

/* sandbox_scratch_free_space - statvfs, with a warning when low */
gint64
sandbox_scratch_free_space(const char *base, guint64 warn_below)
{
	struct statvfs sv;

	if (statvfs(base, &sv) < 0)
		return -1;
	guint64 avail = (guint64)sv.f_bavail * sv.f_frsize;
	if (warn_below > 0 && avail < warn_below)
		g_warning("scanner.tmpdir %s: only %" G_GUINT64_FORMAT
		          " KiB free (libclamav needs room for the largest part it unpacks; "
		          "a scan that cannot write is an error and the message is retried)",
		          base, avail / 1024);
	return (gint64)avail;
}

/* scratch_size - the private tmpfs: more than libclamav's own limits let it write */
static guint64
scratch_size(const MqConfig *config)
{
	guint64 size = MAX(config->scanner_max_scan_size, 4 * config->scanner_max_file_size);

	return MAX(size, 2 * config->scanner_max_message_size) + ((guint64)64 << 20);
}

/* mount_private_scratch - base/w<pid> as a tmpfs only this worker sees; FALSE if not possible */
static gboolean
mount_private_scratch(const MqConfig *config, const char *base, const struct passwd *pw,
                      GError **error)
{
	/* lint: allow open - the scratch space, not a queue file */
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (bfd < 0 || fstat(bfd, &st) < 0 || st.st_uid != pw->pw_uid || (st.st_mode & 0077)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "scanner.tmpdir %s is not the workers' private directory", base);
		if (bfd >= 0)
			close(bfd);
		return FALSE;
	}
	g_autofree char *name = g_strdup_printf("w%d", (int)getpid());
	/* no link is followed: mkdirat, then the directory opened with O_NOFOLLOW */
	if (mkdirat(bfd, name, 0700) < 0 && errno != EEXIST) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "mkdir %s/%s: %s",
		            base, name, g_strerror(errno));
		close(bfd);
		return FALSE;
	}
	/* lint: allow openat - the scratch space, not a queue file */
	int dfd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(bfd);
	if (dfd < 0 || fchown(dfd, pw->pw_uid, pw->pw_gid) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s/%s: %s", base,
		            name, g_strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return FALSE;
	}
	g_autofree char *target = g_strdup_printf("/proc/self/fd/%d", dfd);
	g_autofree char *opts =
	    g_strdup_printf("size=%" G_GUINT64_FORMAT "k,nr_inodes=65536,mode=0700,uid=%d,gid=%d",
	                    scratch_size(config) / 1024, (int)pw->pw_uid, (int)pw->pw_gid);
	int r = mount("mqsift-scratch", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts);
	int e = errno;
	close(dfd);
	if (r < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
		            "cannot mount the private scratch tmpfs: %s", g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

/* sandbox_enter_as_root - the namespaces and the private scratch only root can make */
gboolean
sandbox_enter_as_root(const MqConfig *config, const char *base, SandboxStatus *status,
                      GError **error)
{
	memset(status, 0, sizeof *status);
	if (geteuid() != 0)
		return TRUE; /* an unprivileged test run: the other protections still apply */
	if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot give the worker empty namespaces: %s", g_strerror(errno));
		return FALSE;
	}
	status->netns = TRUE;
	/* mounts made from here on stay in this worker */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "cannot make the worker's mounts private: %s", g_strerror(errno));
		return FALSE;
	}
	struct passwd *pw = getpwnam(config->scanner_user);
	g_autoptr(GError) local = NULL;
	if (pw == NULL)
		return TRUE; /* worker_drop_privileges says why */
	if (mount_private_scratch(config, base, pw, &local)) {
		status->private_tmpfs = TRUE;
		status->scratch = g_strdup_printf("%s/w%d", base, (int)getpid());
	} else {
		/* the shared directory still works; the free-space check guards it */
		g_message("worker: %s; using %s as it is", local->message, base);
	}
	return TRUE;
}

/* remove_tree_at - remove @name under @dfd, never following a link (the worker's own files) */
static void
remove_tree_at(int dfd, const char *name, int depth)
{
	/* lint: allow unlinkat - the scratch space, not a queue file */
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT || depth > 16)
		return;
	/* lint: allow openat - the scratch space, not a queue file */
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			remove_tree_at(dirfd(d), e->d_name, depth + 1);
	closedir(d);
	/* lint: allow unlinkat - the scratch space, not a queue file */
	unlinkat(dfd, name, AT_REMOVEDIR);
}

/* sweep_stale - remove w<pid> directories whose worker is gone (a killed worker's files) */
static void
sweep_stale(int bfd)
{
	int fd = dup(bfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char *end;
		if (e->d_name[0] != 'w' || !g_ascii_isdigit(e->d_name[1]))
			continue;
		guint64 pid = g_ascii_strtoull(e->d_name + 1, &end, 10);
		if (*end != '\0' || pid == 0 || pid > G_MAXINT)
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			remove_tree_at(bfd, e->d_name, 0);
	}
	closedir(d);
}

/* scratch_enter - the worker's own directory under @base, as the worker user (@made: already
 * there, a private tmpfs) */
static char *
scratch_enter(const char *base, gboolean made, GError **error)
{
	/* lint: allow open - the scratch space, not a queue file */
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (bfd < 0 || fstat(bfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0077) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
		            "scanner.tmpdir %s is not this worker's private directory: %s", base,
		            bfd < 0 ? g_strerror(errno) : "wrong owner or mode");
		if (bfd >= 0)
			close(bfd);
		return NULL;
	}
	sweep_stale(bfd);
	g_autofree char *name = g_strdup_printf("w%d", (int)getpid());
	if (made) {
		close(bfd);
		return g_build_filename(base, name, NULL);
	}
	remove_tree_at(bfd, name, 0);
	if (mkdirat(bfd, name, 0700) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "mkdir %s/%s: %s",
		            base, name, g_strerror(errno));
		close(bfd);
		return NULL;
	}
	close(bfd);
	return g_build_filename(base, name, NULL);
}

/* set_limit - setrlimit, never above the hard limit already there */
static gboolean
set_limit(int resource, rlim_t soft, rlim_t hard)
{
	struct rlimit cur, want;

	if (getrlimit(resource, &cur) < 0)
		return FALSE;
	want.rlim_max = cur.rlim_max == RLIM_INFINITY ? hard : MIN(hard, cur.rlim_max);
	want.rlim_cur = MIN(soft, want.rlim_max);
	return setrlimit(resource, &want) == 0;
}

/* address_space_now - the worker's mapped bytes (the engine, inherited) */
static guint64
address_space_now(void)
{
	g_autofree char *text = NULL;

	if (!g_file_get_contents("/proc/self/statm", &text, NULL, NULL))
		return 0;
	return g_ascii_strtoull(text, NULL, 10) * (guint64)sysconf(_SC_PAGESIZE);
}

/* cpu_seconds_used - user + system time so far */
static rlim_t
cpu_seconds_used(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (rlim_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
}

/* per_message_cpu - the CPU seconds one message may take */
static rlim_t
per_message_cpu(const MqConfig *config)
{
	return (rlim_t)MAX(2 * (guint64)config->scanner_max_scan_time, 10);
}

/* set_rlimits - memory, CPU, files, file size, cores */
static gboolean
set_rlimits(const MqConfig *config, SandboxStatus *status)
{
	gboolean ok = TRUE;
	guint64 as = config->scanner_max_memory;

#if defined(__SANITIZE_ADDRESS__)
	as = G_MAXUINT64; /* ASan reserves terabytes of shadow: no address-space limit */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	as = G_MAXUINT64;
#endif
#endif
	if (as == 0) /* automatic: what is mapped now (the engine) and 1 GiB to scan with */
		as = address_space_now() + ((guint64)1 << 30);
	if (as != G_MAXUINT64) {
		ok = set_limit(RLIMIT_AS, (rlim_t)as, (rlim_t)as) && ok;
		status->max_memory = as;
	}
	/* temporary files and the answer's memfd: a part, a rewritten message */
	guint64 fsize = MAX(config->scanner_max_file_size, config->scanner_max_scan_size);
	fsize = MAX(fsize, 4 * config->scanner_max_message_size) + ((guint64)64 << 20);
	ok = set_limit(RLIMIT_FSIZE, (rlim_t)fsize, (rlim_t)fsize) && ok;
	ok = set_limit(RLIMIT_NOFILE, 256, 256) && ok;
	ok = set_limit(RLIMIT_CORE, 0, 0) && ok;
	/* CPU: the hard limit covers the worker's life; sandbox_message_begin moves the soft one */
	guint max_msgs = MAX(config->scanner_max_messages_per_worker, 1);
	rlim_t hard = cpu_seconds_used() + per_message_cpu(config) * (rlim_t)max_msgs + 60;
	ok = set_limit(RLIMIT_CPU, cpu_seconds_used() + per_message_cpu(config), hard) && ok;
	status->rlimits = ok;
	return ok;
}

/* sandbox_message_begin - a fresh CPU budget for the next message */
void
sandbox_message_begin(const MqConfig *config)
{
	struct rlimit cur;

	if (getrlimit(RLIMIT_CPU, &cur) < 0)
		return;
	cur.rlim_cur = MIN(cpu_seconds_used() + per_message_cpu(config), cur.rlim_max);
	setrlimit(RLIMIT_CPU, &cur);
}

/* sandbox_landlock_abi - ask the kernel */
int
sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

/* fs_access_for - the filesystem rights the kernel's ABI knows */
static guint64
fs_access_for(int abi)
{
	guint64 all = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
	              LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
	              LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	              LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
	              LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
	              LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	              LANDLOCK_ACCESS_FS_MAKE_SYM;

	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		all |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return all;
}

/* allow_path - one path-beneath rule; a path that does not exist is skipped */
static gboolean
allow_path(int ruleset, const char *path, guint64 access, guint64 handled)
{
	/* lint: allow open - the landlock rule of a path, not a queue file */
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR;
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		          LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_EXECUTE |
		          LANDLOCK_ACCESS_FS_IOCTL_DEV;
	struct landlock_path_beneath_attr pb = {.allowed_access = access & handled,
	                                        .parent_fd = fd};
	long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	int e = errno;
	close(fd);
	if (r < 0)
		g_debug("landlock: cannot allow %s: %s", path, g_strerror(e));
	return r == 0;
}

/* add_read_only - allow reading each of @paths */
static void
add_read_only(int ruleset, GPtrArray *paths, guint64 handled)
{
	const guint64 ro = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

	for (guint i = 0; i < paths->len; i++)
		allow_path(ruleset, g_ptr_array_index(paths, i), ro, handled);
}

/* read_only_paths - what scanning reads after the fork (found by running the tests) */
static GPtrArray *
read_only_paths(const MqConfig *config)
{
	GPtrArray *p = g_ptr_array_new_with_free_func(g_free);

	/* replacement texts, read per message in the recipients' language */
	g_ptr_array_add(p, g_strdup(config->reports_templates));
	/* the recipients' filename rules files */
	GPtrArray *rules = g_ptr_array_new();
	config_all_values(config, "policy.filename_rules", rules);
	for (guint i = 0; i < rules->len; i++) {
		const char *r = g_ptr_array_index(rules, i);
		if (r != NULL && *r != '\0')
			g_ptr_array_add(p, g_strdup(r));
	}
	g_ptr_array_unref(rules);
	/* iconv modules GMime loads for a charset it meets the first time */
	g_ptr_array_add(p, g_strdup("/usr/lib/x86_64-linux-gnu/gconv"));
	g_ptr_array_add(p, g_strdup("/usr/lib/aarch64-linux-gnu/gconv"));
	g_ptr_array_add(p, g_strdup("/usr/lib/gconv"));
	g_ptr_array_add(p, g_strdup("/usr/lib64/gconv"));
	/* dates in replacement texts */
	g_ptr_array_add(p, g_strdup("/etc/localtime"));
	g_ptr_array_add(p, g_strdup("/usr/share/zoneinfo"));
	return p;
}

/* enter_landlock - the ruleset: scratch read-write, a few paths read-only, no TCP, no signals */
static gboolean
enter_landlock(const MqConfig *config, const char *scratch, SandboxStatus *status, GError **error)
{
	int abi = sandbox_landlock_abi();

	status->landlock_abi = abi;
	if (abi <= 0)
		return TRUE; /* not in this kernel: said by lint and the start-up line */
	RulesetAttr attr = {.handled_access_fs = fs_access_for(abi)};
	if (abi >= 4)
		attr.handled_access_net = MQ_LANDLOCK_NET_BIND_TCP | MQ_LANDLOCK_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = MQ_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | MQ_LANDLOCK_SCOPE_SIGNAL;
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (rs < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "landlock_create_ruleset (ABI %d): %s", abi, g_strerror(errno));
		return FALSE;
	}
	guint64 rw =
	    attr.handled_access_fs & ~(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	                               LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	                               LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	                               LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_IOCTL_DEV);
	if (!allow_path(rs, scratch, rw, attr.handled_access_fs)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "landlock: cannot allow the scratch directory %s", scratch);
		close(rs);
		return FALSE;
	}
	g_autoptr(GPtrArray) ro = read_only_paths(config);
	add_read_only(rs, ro, attr.handled_access_fs);
	if (syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
		            "landlock_restrict_self: %s", g_strerror(errno));
		close(rs);
		return FALSE;
	}
	close(rs);
	status->landlock = TRUE;
	return TRUE;
}

/* rule - add one seccomp rule; a call this architecture lacks is skipped */
static gboolean
rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
     const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return TRUE;
	int r = seccomp_rule_add_array(ctx, action, nr, n, args);
	if (r < 0)
		g_debug("seccomp: %s: %s", name, g_strerror(-r));
	return r == 0;
}

/* what scanning needs: found by running the scanner and golden tests under the filter */
static const char *const allowed_calls[] = {"read",
                                            "write",
                                            "readv",
                                            "writev",
                                            "pread64",
                                            "pwrite64",
                                            "lseek",
                                            "close",
                                            "fstat",
                                            "newfstatat",
                                            "statx",
                                            "stat",
                                            "lstat",
                                            "fstatfs",
                                            "statfs",
                                            "openat",
                                            "open",
                                            "access",
                                            "faccessat",
                                            "faccessat2",
                                            "readlink",
                                            "readlinkat",
                                            "getdents64",
                                            "getcwd",
                                            "mmap",
                                            "munmap",
                                            "mremap",
                                            "mprotect",
                                            "brk",
                                            "madvise",
                                            "futex",
                                            "futex_waitv",
                                            "rt_sigaction",
                                            "rt_sigprocmask",
                                            "rt_sigreturn",
                                            "sigaltstack",
                                            "getpid",
                                            "gettid",
                                            "getppid",
                                            "getuid",
                                            "geteuid",
                                            "getgid",
                                            "getegid",
                                            "getresuid",
                                            "getresgid",
                                            "getgroups",
                                            "clock_gettime",
                                            "clock_getres",
                                            "gettimeofday",
                                            "time",
                                            "nanosleep",
                                            "clock_nanosleep",
                                            "exit",
                                            "exit_group",
                                            "fcntl",
                                            "dup",
                                            "dup2",
                                            "dup3",
                                            "ftruncate",
                                            "fallocate",
                                            "fsync",
                                            "fdatasync",
                                            "fadvise64",
                                            "unlink",
                                            "unlinkat",
                                            "mkdir",
                                            "mkdirat",
                                            "rmdir",
                                            "rename",
                                            "renameat",
                                            "renameat2",
                                            "chmod",
                                            "fchmod",
                                            "fchmodat",
                                            "umask",
                                            "getrandom",
                                            "sendmsg",
                                            "recvmsg",
                                            "sendto",
                                            "recvfrom",
                                            "memfd_create",
                                            "getrusage",
                                            "getrlimit",
                                            "setrlimit",
                                            "sched_yield",
                                            "sched_getaffinity",
                                            "uname",
                                            "sysinfo",
                                            "poll",
                                            "ppoll",
                                            "pselect6",
                                            "select",
                                            "pipe",
                                            "pipe2",
                                            "rseq",
                                            "set_robust_list",
                                            "get_robust_list",
                                            "set_tid_address",
                                            "restart_syscall",
                                            "membarrier",
                                            "eventfd2",
                                            "close_range",
                                            "times",
                                            "alarm",
                                            "pause",
                                            "flock",
                                            "utimensat",
                                            "shutdown",
                                            "getsockopt",
                                            "epoll_create1",
                                            "epoll_ctl",
                                            "epoll_wait",
                                            "epoll_pwait",
                                            "arch_prctl",
                                            "prctl",
                                            NULL};

/* refused with EPERM: what a compromised parser would reach for */
static const char *const refused_calls[] = {"socket",
                                            "socketpair",
                                            "connect",
                                            "bind",
                                            "listen",
                                            "accept",
                                            "accept4",
                                            "unshare",
                                            "setns",
                                            "fork",
                                            "vfork",
                                            "execve",
                                            "execveat",
                                            "ptrace",
                                            "process_vm_readv",
                                            "process_vm_writev",
                                            "pidfd_open",
                                            "pidfd_send_signal",
                                            "pidfd_getfd",
                                            "rt_sigqueueinfo",
                                            "rt_tgsigqueueinfo",
                                            "mount",
                                            "umount2",
                                            "chroot",
                                            "pivot_root",
                                            "setuid",
                                            "setgid",
                                            "setreuid",
                                            "setregid",
                                            "setresuid",
                                            "setresgid",
                                            "setgroups",
                                            "keyctl",
                                            "add_key",
                                            "request_key",
                                            "bpf",
                                            "perf_event_open",
                                            "userfaultfd",
                                            "io_uring_setup",
                                            "io_uring_enter",
                                            "io_uring_register",
                                            "kcmp",
                                            "move_mount",
                                            "open_tree",
                                            "fsopen",
                                            "symlink",
                                            "symlinkat",
                                            "link",
                                            "linkat",
                                            "chown",
                                            "fchown",
                                            "fchownat",
                                            "lchown",
                                            "mknod",
                                            "mknodat",
                                            "personality",
                                            "seccomp",
                                            "landlock_create_ruleset",
                                            "landlock_add_rule",
                                            "landlock_restrict_self",
                                            "ioctl",
                                            "prlimit64",
                                            "kill",
                                            "tkill",
                                            "tgkill",
                                            "clone",
                                            NULL};

/* enter_seccomp - the filter; see the file header for the default action */
static gboolean
enter_seccomp(SandboxStatus *status, GError **error)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	gboolean ok = ctx != NULL;
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	const scmp_datum_t self = (scmp_datum_t)getpid();

	for (int i = 0; ok && allowed_calls[i]; i++)
		ok = rule(ctx, SCMP_ACT_ALLOW, allowed_calls[i], 0, NULL);
	for (int i = 0; ok && refused_calls[i]; i++) {
		const char *c = refused_calls[i];
		if (strcmp(c, "kill") == 0 || strcmp(c, "tgkill") == 0 || strcmp(c, "tkill") == 0 ||
		    strcmp(c, "prlimit64") == 0) {
			/* itself only (abort() raises SIGABRT; setrlimit is prlimit64(0, ...)) */
			struct scmp_arg_cmp is_self = SCMP_A0_32(SCMP_CMP_EQ, self);
			struct scmp_arg_cmp not_self = SCMP_A0_32(SCMP_CMP_NE, self);
			if (strcmp(c, "prlimit64") == 0) {
				is_self = SCMP_A0_32(SCMP_CMP_EQ, 0);
				not_self = SCMP_A0_32(SCMP_CMP_NE, 0);
			}
			ok = rule(ctx, SCMP_ACT_ALLOW, c, 1, &is_self) &&
			     rule(ctx, eperm, c, 1, &not_self);
		} else if (strcmp(c, "clone") == 0) {
			/* threads, never a new process or namespace */
			struct scmp_arg_cmp thread =
			    SCMP_A0_64(SCMP_CMP_MASKED_EQ,
			               CLONE_THREAD | CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID |
			                   CLONE_NEWNS,
			               CLONE_THREAD);
			ok = rule(ctx, SCMP_ACT_ALLOW, c, 1, &thread);
			struct scmp_arg_cmp no_thread =
			    SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
			ok = ok && rule(ctx, eperm, c, 1, &no_thread);
		} else if (strcmp(c, "ioctl") == 0) {
			/* isatty() on stderr only */
			struct scmp_arg_cmp tcgets = SCMP_A1_32(SCMP_CMP_EQ, 0x5401 /* TCGETS */);
			struct scmp_arg_cmp other = SCMP_A1_32(SCMP_CMP_NE, 0x5401);
			ok = rule(ctx, SCMP_ACT_ALLOW, c, 1, &tcgets) &&
			     rule(ctx, eperm, c, 1, &other);
		} else {
			ok = rule(ctx, eperm, c, 0, NULL);
		}
	}
	/* clone3 cannot be filtered by its flags: ENOSYS makes glibc use clone */
	ok = ok && rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	if (ok) {
		int r = seccomp_load(ctx);
		ok = r == 0;
		if (!ok)
			errno = -r;
	}
	if (!ok)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
		            "cannot load the seccomp filter: %s", g_strerror(errno));
	if (ctx)
		seccomp_release(ctx);
	status->seccomp = ok;
	return ok;
}

/* sandbox_enter - scratch, limits, Landlock, seccomp */
gboolean
sandbox_enter(const MqConfig *config, const char *base, SandboxStatus *status, GError **error)
{
	/* the syslog socket is opened now: no socket() is allowed later */
	if (access("/dev/log", W_OK) == 0)
		openlog("mqsift", LOG_PID | LOG_NDELAY, LOG_MAIL);
	char *scratch = scratch_enter(base, status->private_tmpfs, error);
	if (scratch == NULL)
		return FALSE;
	g_free(status->scratch);
	status->scratch = scratch;
	if (!set_rlimits(config, status))
		g_warning("worker: some resource limits could not be set");
	if (!enter_landlock(config, status->scratch, status, error))
		return FALSE;
	return enter_seccomp(status, error);
}

/* sandbox_describe - for lint */
char *
sandbox_describe(const MqConfig *config)
{
	int abi = sandbox_landlock_abi();
	GString *s = g_string_new("worker sandbox: ");

	g_string_append(s, geteuid() == 0 ? "network namespace (empty)"
	                                  : "NO network namespace (not root)");
	g_string_append(s, ", seccomp filter (libseccomp, unknown calls kill the worker)");
	if (abi > 0)
		g_string_append_printf(s, ", Landlock ABI %d%s%s", abi,
		                       abi >= 4 ? " (TCP denied)" : "",
		                       abi >= 6 ? " (signals scoped)" : "");
	else
		g_string_append(s, ", NO Landlock (the kernel lacks it: only permissions keep "
		                   "workers out of the filesystem)");
	if (config->scanner_max_memory)
		g_string_append_printf(s, ", RLIMIT_AS %" G_GUINT64_FORMAT " MiB",
		                       config->scanner_max_memory >> 20);
	else
		g_string_append(s, ", RLIMIT_AS engine + 1024 MiB");
	g_string_append_printf(s,
	                       ", RLIMIT_CPU %u s per message, RLIMIT_NOFILE 256, RLIMIT_CORE 0, "
	                       "recycled after %u messages",
	                       (guint)MAX(2 * config->scanner_max_scan_time, 10),
	                       config->scanner_max_messages_per_worker);
	return g_string_free(s, FALSE);
}
