/**
 * The multicast receiver: Netty adapters around {@link
 * org.clonecast.protocol.mcast.ReceiverMachine}.
 */
package org.clonecast.agent.mcast;
