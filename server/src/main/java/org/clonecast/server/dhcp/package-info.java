/**
 * The DHCP responder of {@code clonecast serve}: full DHCP or proxyDHCP on UDP 67, PXE boot-server
 * requests on UDP 4011, relayed requests by giaddr. {@link org.clonecast.server.dhcp.LeaseTable} is
 * the pure address machine, {@link org.clonecast.server.dhcp.DhcpResponder} turns a request into
 * replies, {@link org.clonecast.server.dhcp.DhcpHandler} is the thin Netty adapter that commits the
 * leases of a read burst in one transaction before the replies leave, and {@link
 * org.clonecast.server.dhcp.DhcpServer} binds the sockets to the provisioning interface. See
 * docs/dhcp.md.
 */
package org.clonecast.server.dhcp;
