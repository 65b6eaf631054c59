/**
 * DHCP and BOOTP (RFC 2131, RFC 2132) with the PXE additions (RFC 4578, PXE 2.1, UEFI HTTP boot):
 * {@link org.clonecast.protocol.dhcp.DhcpPacket} with its typed {@link
 * org.clonecast.protocol.dhcp.DhcpOption}s, RFC-named constants in {@link
 * org.clonecast.protocol.dhcp.Dhcp}, and what a PXE client says about itself in {@link
 * org.clonecast.protocol.dhcp.Pxe}.
 *
 * <p>Pure code: no sockets, threads or clocks. Every type is immutable and thread-safe.
 */
package org.clonecast.protocol.dhcp;
