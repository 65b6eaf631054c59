/**
 * The multicast sender: Netty adapters around {@link org.clonecast.protocol.mcast.SenderMachine}.
 */
package org.clonecast.server.mcast;
