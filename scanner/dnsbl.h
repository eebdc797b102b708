/*
 * dnsbl.h - DNS blocklist look-ups of client addresses, asynchronous (c-ares)
 *
 * SUMMARY
 *	A Dnsbl holds the configured zones (each with a weight), a c-ares
 *	channel (the system's resolvers, or spam.dns_servers) and a cache of
 *	the addresses looked up: one DnsblEntry per address, shared by every
 *	message from it, so a batch asks once per address and zone.  An
 *	address is listed in a zone when the zone answers an A record in
 *	127.0.0.0/8 (127.255.255.0/24, the "you may not query" codes, is not a
 *	listing).  Each entry has a deadline (spam.dnsbl_timeout): what has not
 *	answered by then counts as not listed and is named in the entry's
 *	timed_out list.
 *
 *	Not thread-safe: one thread (spam.c's I/O thread, or lint) drives it
 *	with dnsbl_pollfds() / dnsbl_process().
 */
#ifndef MQSIFT_SCANNER_DNSBL_H
#define MQSIFT_SCANNER_DNSBL_H

#include <glib.h>
#include <poll.h>

typedef struct Dnsbl Dnsbl;

/* DnsblEntry - the look-ups of one address (owned by the cache; use the accessors) */
typedef struct DnsblEntry DnsblEntry;

/*
 * dnsbl_new - @zones: "zone" or "zone=weight" each (weight 1 by default);
 * @servers: "ADDRESS" or "ADDRESS:PORT" ("[v6]:port"), empty or NULL for
 * the system's resolv.conf; @timeout_ms per address.  NULL with @error.
 */
Dnsbl *dnsbl_new(char **zones, char **servers, guint timeout_ms, GError **error);

/* dnsbl_free - cancel what is in flight, free, clear the pointer */
void dnsbl_free(Dnsbl **dnsbl);

/* dnsbl_free_ptr - dnsbl_free() for g_autoptr(Dnsbl) */
static inline void
dnsbl_free_ptr(Dnsbl *p)
{
	dnsbl_free(&p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Dnsbl, dnsbl_free_ptr)

/* dnsbl_n_zones - how many zones are configured */
guint dnsbl_n_zones(const Dnsbl *dnsbl);

/*
 * dnsbl_address_eligible - FALSE for addresses that are never looked up:
 * not an IP address, loopback, private (RFC 1918, fc00::/7), link-local,
 * CGNAT (100.64/10), unspecified, or inside one of @trusted (CIDRs).
 */
gboolean dnsbl_address_eligible(const char *ip, char **trusted);

/* dnsbl_query_name - "4.3.2.1.zone" (IPv6: 32 nibbles); newly allocated, NULL if not an address */
char *dnsbl_query_name(const char *ip, const char *zone);

/*
 * dnsbl_lookup - the entry of @ip, started now unless cached.  Borrowed:
 * valid until dnsbl_forget_idle() or dnsbl_free().
 */
DnsblEntry *dnsbl_lookup(Dnsbl *dnsbl, const char *ip);

/* dnsbl_entry_done - every zone answered or the deadline passed */
gboolean dnsbl_entry_done(const DnsblEntry *entry);

/* dnsbl_entry_weight - the sum of the weights of the zones that list it */
double dnsbl_entry_weight(const DnsblEntry *entry);

/* dnsbl_entry_hits - the zones that list it, space-separated ("" if none); borrowed */
const char *dnsbl_entry_hits(const DnsblEntry *entry);

/* dnsbl_entry_timed_out - the zones that did not answer in time, space-separated; borrowed */
const char *dnsbl_entry_timed_out(const DnsblEntry *entry);

/*
 * dnsbl_pollfds - append the resolver's sockets to @fds; returns the
 * milliseconds until the next deadline (-1: none).
 */
int dnsbl_pollfds(Dnsbl *dnsbl, GArray *fds);

/* dnsbl_process - after poll(): handle the sockets in @fds[@from..] and every deadline */
void dnsbl_process(Dnsbl *dnsbl, const struct pollfd *fds, guint n);

/* dnsbl_busy - any look-up still running */
gboolean dnsbl_busy(const Dnsbl *dnsbl);

/* dnsbl_forget_idle - empty the cache of finished entries (between batches) */
void dnsbl_forget_idle(Dnsbl *dnsbl);

/* dnsbl_lookup_sync - one address in every zone, blocking at most the timeout (lint) */
DnsblEntry *dnsbl_lookup_sync(Dnsbl *dnsbl, const char *ip);

#endif
