/**
 * udpcast-compatible receiving (docs/ref/udpcast-protocol.md §3.2): a thin Netty driver around
 * {@link org.clonecast.protocol.udpcast.UdpcastReceiverMachine} so a stock {@code udp-sender} can
 * feed the agent.
 */
package org.clonecast.agent.udpcast;
