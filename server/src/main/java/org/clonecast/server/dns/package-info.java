/**
 * The cluster DNS responder (docs/dns.md): an authoritative server for the cluster's zone and the
 * provisioning subnet's reverse zone, built on dnsjava's message classes and Netty.
 *
 * <ul>
 *   <li>{@link org.clonecast.server.dns.HostDirectory}: where the zone's names come from (the
 *       inventory, through {@link org.clonecast.server.dns.NodeDirectory});
 *   <li>{@link org.clonecast.server.dns.DnsZone}: one immutable snapshot of the zone's records;
 *   <li>{@link org.clonecast.server.dns.DnsAuthority}: query message in, response out, no I/O;
 *   <li>{@link org.clonecast.server.dns.DnsResponder}: wire bytes in, bytes (or silence) out:
 *       malformed input, EDNS (RFC 6891) and truncation, no I/O;
 *   <li>{@link org.clonecast.server.dns.DnsServer}: the thin Netty UDP and TCP shells, and the
 *       optional {@link org.clonecast.server.dns.Forwarder};
 *   <li>{@link org.clonecast.server.dns.DnsUpdater}: RFC 2136 updates signed with TSIG to a site's
 *       own DNS server.
 * </ul>
 */
package org.clonecast.server.dns;
