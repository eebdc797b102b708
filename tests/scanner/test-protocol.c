/*
 * test-protocol.c - the worker protocol: round trips, bounds, descriptors the master refuses
 */
#include "mqsift-build.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "scanner/protocol.h"

static MqConfig *config;

/* sample_report - a report with every field set */
static void
sample_report(ScanReport *r)
{
	memset(r, 0, sizeof *r);
	r->verdict = VERDICT_INFECTED;
	r->limits = TRUE;
	r->parts = 3;
	r->names = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(r->names, g_strdup("Test.EICAR.NDB.UNOFFICIAL"));
	r->detail = g_strdup("detail");
	r->new_content_type = g_strdup("multipart/mixed; boundary=\"x\"");
	r->new_body = g_bytes_new_static("body\n", 5);
	r->findings = g_ptr_array_new_with_free_func(scan_finding_free);
	Finding *f = g_new0(Finding, 1);
	f->path = g_strdup("2.1");
	f->filename = g_strdup("eicar.com");
	f->content_type = g_strdup("application/octet-stream");
	f->what = g_strdup("Test.EICAR.NDB.UNOFFICIAL");
	f->infected = TRUE;
	f->saved_name = g_strdup("../../etc/passwd");
	f->content = g_bytes_new_static("X5O!", 4);
	g_ptr_array_add(r->findings, f);
}

/* decode - decode @b with the limits for a 1 MiB message */
static gboolean
decode(GBytes *b, ScanReport *out, GError **error)
{
	ProtocolReportLimits l = protocol_report_limits(config, 1024 * 1024);

	return protocol_decode_report(b, &l, out, error);
}

/* test_report_round_trip - what the worker encodes, the master decodes; saved names rebuilt */
static void
test_report_round_trip(void)
{
	ScanReport in, out;
	GError *error = NULL;

	sample_report(&in);
	g_autoptr(GBytes) b = protocol_encode_report(&in);
	g_assert_true(decode(b, &out, &error));
	g_assert_no_error(error);
	g_assert_cmpint(out.verdict, ==, VERDICT_INFECTED);
	g_assert_true(out.limits);
	g_assert_cmpuint(out.parts, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(out.names, 0), ==, "Test.EICAR.NDB.UNOFFICIAL");
	g_assert_cmpstr(out.new_content_type, ==, "multipart/mixed; boundary=\"x\"");
	g_assert_cmpuint(g_bytes_get_size(out.new_body), ==, 5);
	Finding *f = g_ptr_array_index(out.findings, 0);
	g_assert_cmpstr(f->path, ==, "2.1");
	g_assert_cmpstr(f->filename, ==, "eicar.com");
	g_assert_cmpstr(f->saved_name, ==, "part-1.bin");
	g_assert_cmpuint(g_bytes_get_size(f->content), ==, 4);
	scan_report_clear(&in);
	scan_report_clear(&out);
}

/* expect_refused - @r encoded must be refused with PROTOCOL_ERROR_BOUNDS */
static void
expect_refused(ScanReport *r, const char *why)
{
	ScanReport out;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) b = protocol_encode_report(r);

	g_test_message("%s", why);
	g_assert_false(decode(b, &out, &error));
	g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_BOUNDS);
	g_assert_null(out.names);
	scan_report_clear(r);
}

/* break_verdict_high - a verdict past the last one */
static void
break_verdict_high(ScanReport *r)
{
	r->verdict = 42;
}

/* break_verdict_negative - a verdict below the first one */
static void
break_verdict_negative(ScanReport *r)
{
	r->verdict = -1;
}

/* break_path - a finding whose path is not a MIME path */
static void
break_path(ScanReport *r)
{
	((Finding *)g_ptr_array_index(r->findings, 0))->path[0] = '/';
}

/* break_content_type - a header injected through the new Content-Type */
static void
break_content_type(ScanReport *r)
{
	g_free(r->new_content_type);
	r->new_content_type = g_strdup("text/plain\r\nBcc: everyone@example.com");
}

/* break_names_count - one signature name more than allowed */
static void
break_names_count(ScanReport *r)
{
	for (int i = 0; i < PROTOCOL_MAX_NAMES + 1; i++)
		g_ptr_array_add(r->names, g_strdup_printf("Name.%d", i));
}

/* break_name_length - a signature name one byte too long */
static void
break_name_length(ScanReport *r)
{
	g_ptr_array_add(r->names, g_strnfill(PROTOCOL_MAX_NAME_LEN + 1, 'A'));
}

/* break_detail_length - a detail one byte too long */
static void
break_detail_length(ScanReport *r)
{
	g_free(r->detail);
	r->detail = g_strnfill(PROTOCOL_MAX_TEXT_LEN + 1, 'd');
}

/* break_findings_count - more findings than the message can have parts */
static void
break_findings_count(ScanReport *r)
{
	for (guint i = 0; i < config->scanner_max_mime_parts + 20; i++) {
		Finding *f = g_new0(Finding, 1);
		f->path = g_strdup("1");
		g_ptr_array_add(r->findings, f);
	}
}

/* a report field pushed out of its bound, and the behaviour it shows */
typedef struct {
	const char *name;
	void (*spoil)(ScanReport *r);
} BoundsCase;

static const BoundsCase bounds_cases[] = {
    {"verdict-out-of-range-is-refused", break_verdict_high},
    {"negative-verdict-is-refused", break_verdict_negative},
    {"finding-path-that-is-not-a-mime-path-is-refused", break_path},
    {"header-injection-in-content-type-is-refused", break_content_type},
    {"too-many-signature-names-are-refused", break_names_count},
    {"signature-name-too-long-is-refused", break_name_length},
    {"detail-too-long-is-refused", break_detail_length},
    {"more-findings-than-parts-are-refused", break_findings_count},
};

/* test_report_bounds - one field out of its bound: the whole report is refused */
static void
test_report_bounds(gconstpointer data)
{
	const BoundsCase *bc = data;
	ScanReport r;

	sample_report(&r);
	bc->spoil(&r);
	expect_refused(&r, bc->name);
}

/* test_report_size - a report larger than the message allows is refused */
static void
test_report_size(void)
{
	ScanReport r, out;
	GError *error = NULL;

	sample_report(&r);
	g_bytes_unref(r.new_body);
	r.new_body = g_bytes_new_take(g_malloc0(8 * 1024 * 1024), 8 * 1024 * 1024);
	g_autoptr(GBytes) b = protocol_encode_report(&r);
	ProtocolReportLimits l = protocol_report_limits(config, 1000);
	g_assert_false(protocol_decode_report(b, &l, &out, &error));
	g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_BOUNDS);
	g_clear_error(&error);
	scan_report_clear(&r);
}

/* test_report_garbage - bytes that are not a report in normal form */
static void
test_report_garbage(void)
{
	ScanReport out;
	GError *error = NULL;
	guchar junk[512];

	for (int round = 0; round < 200; round++) {
		for (gsize i = 0; i < sizeof junk; i++)
			junk[i] = (guchar)g_test_rand_int();
		g_autoptr(GBytes) b = g_bytes_new(junk, (gsize)g_test_rand_int_range(0, 512));
		if (decode(b, &out, &error))
			scan_report_clear(&out); /* accepted: then it was valid, and bounded */
		g_clear_error(&error);
	}
	/* a truncated valid report */
	ScanReport r;
	sample_report(&r);
	g_autoptr(GBytes) full = protocol_encode_report(&r);
	g_autoptr(GBytes) cut = g_bytes_new_from_bytes(full, 0, g_bytes_get_size(full) - 7);
	g_assert_false(decode(cut, &out, &error));
	g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_MALFORMED);
	g_clear_error(&error);
	scan_report_clear(&r);
}

/* test_request_round_trip - master to worker */
static void
test_request_round_trip(void)
{
	const char *rcpts[] = {"a@example.com", "b@example.com", NULL};
	ProtocolRequest in = {"6AOTEST", "Subject: x\n\n", "s@example.org",
	                      rcpts,     "192.0.2.1",      "20261124/6AOTEST",
	                      1234};
	ProtocolRequest out;
	GError *error = NULL;
	g_autoptr(GBytes) b = protocol_encode_request(&in);

	g_assert_true(protocol_decode_request(b, &out, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(out.id, ==, "6AOTEST");
	g_assert_cmpstr(out.recipients[1], ==, "b@example.com");
	g_assert_null(out.recipients[2]);
	g_assert_cmpuint(out.size, ==, 1234);
	protocol_request_clear(&out);
}

/* test_paths - the MIME path syntax */
static void
test_paths(void)
{
	g_assert_true(protocol_path_is_valid("message"));
	g_assert_true(protocol_path_is_valid("0"));
	g_assert_true(protocol_path_is_valid("2.1.13"));
	g_assert_false(protocol_path_is_valid(""));
	g_assert_false(protocol_path_is_valid("1..2"));
	g_assert_false(protocol_path_is_valid(".1"));
	g_assert_false(protocol_path_is_valid("../x"));
	g_assert_false(protocol_path_is_valid("1.2."));
}

/* patterned - @len bytes that differ from one offset to the next */
static GBytes *
patterned(gsize len)
{
	guint8 *data = g_malloc(len);

	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)(i * 7 + 3);
	return g_bytes_new_take(data, len);
}

/* test_small_and_large - a small memfd is copied, a large one mapped: both read whole */
static void
test_small_and_large(void)
{
	for (gsize len = 1; len <= 1024 * 1024; len *= 4) {
		g_autoptr(GBytes) b = patterned(len);
		g_autoptr(GError) error = NULL;
		int fd = protocol_memfd_new("t", b);
		g_assert_cmpint(fd, >=, 0);
		g_autoptr(GBytes) got = protocol_read_sealed(fd, len, &error);
		g_assert_no_error(error);
		g_assert_true(g_bytes_equal(got, b));
		close(fd);
	}
}

/* test_sealed_only - /dev/zero, an unsealed memfd, a regular file, too large: refused */
static void
test_sealed_only(void)
{
	GError *error = NULL;
	g_autoptr(GBytes) data = g_bytes_new_static("hello", 5);

	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(zero, >=, 0);
	g_assert_null(protocol_read_sealed(zero, 1 << 20, &error));
	g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR);
	g_clear_error(&error);
	close(zero);

	int unsealed = memfd_create("t", MFD_CLOEXEC);
	g_assert_cmpint(write(unsealed, "hello", 5), ==, 5);
	g_assert_null(protocol_read_sealed(unsealed, 1 << 20, &error));
	g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR);
	g_clear_error(&error);
	/* sealed against shrinking only: a writer could still change it under the reader */
	close(unsealed);
	unsealed = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	g_assert_cmpint(write(unsealed, "hello", 5), ==, 5);
	g_assert_cmpint(fcntl(unsealed, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), ==, 0);
	g_assert_null(protocol_read_sealed(unsealed, 1 << 20, &error));
	g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR);
	g_clear_error(&error);
	close(unsealed);

	int sealed = protocol_memfd_new("t", data);
	g_assert_cmpint(sealed, >=, 0);
	g_assert_null(protocol_read_sealed(sealed, 4, &error));
	g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR);
	g_clear_error(&error);
	g_autoptr(GBytes) got = protocol_read_sealed(sealed, 5, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(got, data));
	/* it cannot be changed after the check */
	g_assert_cmpint(write(sealed, "x", 1), <, 0);
	g_assert_cmpint(ftruncate(sealed, 1), <, 0);
	close(sealed);
}

/* pair - a SOCK_SEQPACKET socket pair, as between the master and a worker */
static void
pair(int sv[2])
{
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), ==, 0);
}

/* raw_send - one packet of @len bytes of @data with @n descriptors, as a broken peer would */
static void
raw_send(int sock, const char *data, gsize len, const int *fds, int n)
{
	g_assert_true(protocol_send_raw(sock, data, len, fds, n));
}

/* open_fds - how many descriptors this process has open */
static guint
open_fds(void)
{
	g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
	guint n = 0;

	while (g_dir_read_name(d) != NULL)
		n++;
	return n;
}

/*
 * test_packets_round_trip - small data travels inside the packet (no memfd
 * made), large data in a sealed memfd; the descriptors sent with it arrive
 */
static void
test_packets_round_trip(void)
{
	int sv[2];

	pair(sv);
	for (gsize len = 1; len <= 256 * 1024; len *= 2) {
		g_autoptr(GBytes) b = patterned(len);
		g_autoptr(GBytes) got = NULL;
		g_autoptr(GError) error = NULL;
		int body = open("/dev/null", O_RDONLY | O_CLOEXEC), fd = -1;
		struct stat st1, st2;

		g_assert_true(protocol_send(sv[0], b, &body, 1));
		g_assert_true(protocol_recv(sv[1], len, &got, &fd, 1, &error));
		g_assert_no_error(error);
		g_assert_true(g_bytes_equal(got, b));
		g_assert_cmpint(fstat(body, &st1), ==, 0);
		g_assert_cmpint(fstat(fd, &st2), ==, 0);
		g_assert_cmpuint(st1.st_ino, ==, st2.st_ino); /* the same file */
		close(body);
		close(fd);
	}
	/* without descriptors, as a report goes */
	g_autoptr(GBytes) small = g_bytes_new_static("report", 6);
	g_autoptr(GBytes) got = NULL;
	g_assert_true(protocol_send(sv[1], small, NULL, 0));
	g_assert_true(protocol_recv(sv[0], 100, &got, NULL, 0, NULL));
	g_assert_true(g_bytes_equal(got, small));
	/* the peer closes: G_IO_ERROR_CLOSED, not a protocol error */
	close(sv[1]);
	g_autoptr(GError) error = NULL;
	g_assert_false(protocol_recv(sv[0], 100, &got, NULL, 0, &error));
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED);
	close(sv[0]);
}

/*
 * test_packets_refused - what a hostile worker could send instead of a
 * report: each refused, and every descriptor it came with closed
 */
static void
test_packets_refused(void)
{
	static const char too_long_tag[] = "i";
	g_autofree char *big = g_malloc0(PROTOCOL_INLINE_MAX + 2);
	g_autoptr(GBytes) data = g_bytes_new_static("hello", 5);
	int sv[2];

	pair(sv);
	guint before = open_fds();
	int extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int sealed = protocol_memfd_new("t", data);
	int unsealed = memfd_create("t", MFD_CLOEXEC);
	g_assert_cmpint(write(unsealed, "hello", 5), ==, 5);
	big[0] = 'i';
	struct {
		const char *what;
		const char *data;
		gsize len;
		int fds[2];
		int n;
		gsize max;
	} cases[] = {
	    {"an empty packet with descriptors", "", 0, {extra, sealed}, 2, 100},
	    {"an inline report with a descriptor", "ihello", 6, {extra}, 1, 100},
	    {"an inline report larger than its bound", "ihello", 6, {0}, 0, 4},
	    {"an empty inline report", too_long_tag, 1, {0}, 0, 100},
	    {"an inline packet longer than any", big, PROTOCOL_INLINE_MAX + 2, {0}, 0, 1 << 20},
	    {"a memfd report without its memfd", "m", 1, {0}, 0, 100},
	    {"a memfd report with a descriptor more", "m", 1, {sealed, extra}, 2, 100},
	    {"a memfd report with data beside it", "mhello", 6, {sealed}, 1, 100},
	    {"an unsealed memfd", "m", 1, {unsealed}, 1, 100},
	    {"a memfd larger than its bound", "m", 1, {sealed}, 1, 4},
	    {"a packet of unknown form", "xhello", 6, {extra}, 1, 100},
	};
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GBytes) got = NULL;
		g_autoptr(GError) error = NULL;

		raw_send(sv[1], cases[i].data, cases[i].len, cases[i].fds, cases[i].n);
		if (g_test_verbose())
			g_printerr("%s\n", cases[i].what);
		g_assert_false(protocol_recv(sv[0], cases[i].max, &got, NULL, 0, &error));
		g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR);
		g_assert_null(got);
	}
	/* more descriptors than any packet carries, up to more than a receiver
	 * makes room for: none is kept */
	for (int n = 4; n <= 16; n += 4) {
		int many[16];
		g_autoptr(GBytes) got = NULL;
		g_autoptr(GError) error = NULL;
		for (int i = 0; i < n; i++)
			many[i] = extra;
		raw_send(sv[1], "ihello", 6, many, n);
		g_assert_false(protocol_recv(sv[0], 100, &got, NULL, 0, &error));
		g_assert_error(error, PROTOCOL_ERROR, PROTOCOL_ERROR_DESCRIPTOR);
	}
	close(extra);
	close(sealed);
	close(unsealed);
	g_assert_cmpuint(open_fds(), ==, before); /* nothing that came was kept */
	close(sv[0]);
	close(sv[1]);
}

/*
 * test_peer_that_does_not_read - a worker that stops reading (hung, or
 * hostile) cannot block the master's sends: the most requests a worker holds
 * (16), each as large as travels inline, then as many more in memfds, all
 * go without waiting (before, the sixth 32 KB request blocked the master for
 * good; found by review)
 */
static void
test_peer_that_does_not_read(void)
{
	int sv[2];

	pair(sv);
	g_autofree char *big = g_malloc0(PROTOCOL_INLINE_MAX + 1);
	g_autoptr(GBytes) inline_req = g_bytes_new(big, PROTOCOL_INLINE_MAX);
	g_autoptr(GBytes) memfd_req = g_bytes_new(big, PROTOCOL_INLINE_MAX + 1);
	int body = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* a blocked send would hang the test: fail it instead */
	g_assert_cmpint(fcntl(sv[0], F_SETFL, O_NONBLOCK), ==, 0);
	for (int i = 0; i < 32; i++)
		g_assert_true(protocol_send(sv[0], i < 16 ? inline_req : memfd_req, &body, 1));
	/* and each arrives whole, in order */
	for (int i = 0; i < 32; i++) {
		g_autoptr(GBytes) got = NULL;
		int fd = -1;
		g_assert_true(protocol_recv(sv[1], PROTOCOL_INLINE_MAX + 1, &got, &fd, 1, NULL));
		g_assert_true(g_bytes_equal(got, i < 16 ? inline_req : memfd_req));
		close(fd);
	}
	close(body);
	close(sv[0]);
	close(sv[1]);
}

/*
 * sends_without_blocking - in a child given 3 s, send 16 requests of the
 * largest inline size on @sock, which nobody reads; how many went (-1: the
 * child was blocked in a send)
 */
static int
sends_without_blocking(int sock)
{
	pid_t pid = fork();

	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		g_autofree char *big = g_malloc0(PROTOCOL_INLINE_MAX);
		g_autoptr(GBytes) req = g_bytes_new(big, PROTOCOL_INLINE_MAX);
		int body = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int sent = 0;
		alarm(3);
		while (sent < 16 && protocol_send(sock, req, &body, 1))
			sent++;
		_exit(sent);
	}
	int status;
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * test_small_send_buffer - on a host whose net.core.wmem_default is small,
 * a worker that stops reading still cannot block the master: the master's
 * end is given room for the 16 requests a worker holds, and a send that
 * finds no room fails instead of waiting (before, the memfd sent when an
 * inline packet found no room waited for ever; found by review)
 */
static void
test_small_send_buffer(void)
{
	int small = 61440; /* the kernel doubles it: 120 KB, room for 14 */

	for (int prepared = 0; prepared < 2; prepared++) {
		int sv[2];
		pair(sv);
		g_assert_cmpint(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), ==,
		                0);
		if (prepared)
			protocol_socket_prepare(sv[0]);
		int sent = sends_without_blocking(sv[0]);
		g_assert_cmpint(sent, >=, 0); /* never blocked */
		if (prepared)
			g_assert_cmpint(sent, ==, 16); /* and the pool's depth fits */
		close(sv[0]);
		close(sv[1]);
	}
}

/* main - register */
int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	config = config_defaults();
	g_test_add_func("/protocol/report/decodes-what-the-worker-encodes", test_report_round_trip);
	for (gsize i = 0; i < G_N_ELEMENTS(bounds_cases); i++) {
		g_autofree char *path =
		    g_strconcat("/protocol/report/", bounds_cases[i].name, NULL);
		g_test_add_data_func(path, &bounds_cases[i], test_report_bounds);
	}
	g_test_add_func("/protocol/report/larger-than-the-message-is-refused", test_report_size);
	g_test_add_func("/protocol/report/garbage-is-refused", test_report_garbage);
	g_test_add_func("/protocol/request/decodes-what-the-master-encodes",
	                test_request_round_trip);
	g_test_add_func("/protocol/mime-path-syntax-is-checked", test_paths);
	g_test_add_func("/protocol/only-sealed-bounded-memfds-are-read", test_sealed_only);
	g_test_add_func("/protocol/small-copied-and-large-mapped-read-whole", test_small_and_large);
	g_test_add_func("/protocol/packet/inline-or-memfd-arrive-whole-with-descriptors",
	                test_packets_round_trip);
	g_test_add_func("/protocol/packet/malformed-packets-are-refused-and-closed",
	                test_packets_refused);
	g_test_add_func("/protocol/packet/peer-that-does-not-read-never-blocks-the-sender",
	                test_peer_that_does_not_read);
	g_test_add_func("/protocol/packet/small-send-buffer-never-blocks-the-sender",
	                test_small_send_buffer);
	int status = g_test_run();
	config_free(&config);
	return status;
}
