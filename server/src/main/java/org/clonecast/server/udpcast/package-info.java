/**
 * udpcast-compatible sending (docs/ref/udpcast-protocol.md §3.1): a thin Netty driver around {@link
 * org.clonecast.protocol.udpcast.UdpcastSenderMachine} so stock {@code udp-receiver}s can be fed.
 */
package org.clonecast.server.udpcast;
